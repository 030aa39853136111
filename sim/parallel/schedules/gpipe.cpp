// GPipe (Huang et al., NeurIPS 2019): every forward, then every full backward,
// micro-batches in order. Runs on any pp and micro-batch count.
#include "sim/parallel/schedules/common.hpp"

namespace trainsim::schedules {
namespace {

void build(PipelineSchedule& s) {
  for (int r = 0; r < s.pp; ++r) {
    auto& ops = s.ranks[r];
    for (int mb = 0; mb < s.microbatches; ++mb) ops.push_back(op_f({mb, r}));
    for (int mb = 0; mb < s.microbatches; ++mb) ops.push_back(op_b(PassKind::BW, {mb, r}));
  }
}

}  // namespace

ScheduleDescriptor gpipe_schedule() {
  return describe("gpipe", "GPipe: every forward, then every full backward", build);
}

}  // namespace trainsim::schedules
