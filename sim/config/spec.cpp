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

const char* to_string(Schedule s) {
  switch (s) {
    case Schedule::gpipe: return "gpipe";
    case Schedule::one_f_one_b: return "1f1b";
    case Schedule::interleaved: return "interleaved";
    case Schedule::zb_h1: return "zb-h1";
    case Schedule::dualpipe: return "dualpipe";
    case Schedule::dualpipev: return "dualpipev";
  }
  return "?";
}

}  // namespace trainsim
