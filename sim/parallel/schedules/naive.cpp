// Naive model parallelism (the baseline of the GPipe paper, Huang et al. 2019,
// Fig. 2b): one micro-batch at a time goes forward through every stage and then
// backward through every stage before the next one starts, so no two ranks ever
// work at once. Each rank runs F then full backward per micro-batch; the
// dependency rules alone keep the next forward waiting for the last backward.
// Bubble with chunk times f, b and no transfer latency: (pp-1) m (f+b).
#include "sim/parallel/schedules/common.hpp"

namespace trainsim::schedules {
namespace {

void build(PipelineSchedule& s) {
  for (int r = 0; r < s.pp; ++r) {
    for (int mb = 0; mb < s.microbatches; ++mb) {
      s.ranks[r].push_back(op_f({mb, r}));
      s.ranks[r].push_back(op_b(PassKind::BW, {mb, r}));
    }
  }
}

}  // namespace

ScheduleDescriptor naive_schedule() {
  return describe("naive", "naive model parallelism: one micro-batch at a time through every stage, no overlap", build);
}

}  // namespace trainsim::schedules
