#include "sim/config/spec.hpp"

namespace trainsim {

// Spelled as in the YAML files.
const char* to_string(Precision p) { return p == Precision::fp8 ? "fp8" : "bf16"; }

const char* to_string(AttentionKind k) {
  switch (k) {
    case AttentionKind::mha: return "mha";
    case AttentionKind::gqa: return "gqa";
    case AttentionKind::mla: return "mla";
  }
  return "?";
}

}  // namespace trainsim
