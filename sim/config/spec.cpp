#include "sim/config/spec.hpp"

namespace trainsim {

// Spelled as in the YAML files.
const char* to_string(Precision p) { return p == Precision::fp8 ? "fp8" : "bf16"; }

const char* to_string(Fabric f) {
  switch (f) {
    case Fabric::fat_tree: return "fat-tree";
    case Fabric::multi_plane_fat_tree: return "multi-plane-fat-tree";
    case Fabric::rail_optimized: return "rail-optimized";
    case Fabric::clos3: return "clos3";
  }
  return "?";
}

const char* to_string(AttentionKind k) {
  switch (k) {
    case AttentionKind::mha: return "mha";
    case AttentionKind::gqa: return "gqa";
    case AttentionKind::mla: return "mla";
  }
  return "?";
}

const char* to_string(RoutingKind r) { return r == RoutingKind::zipf ? "zipf" : "balanced"; }

}  // namespace trainsim
