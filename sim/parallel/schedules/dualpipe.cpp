// DualPipe (DeepSeek-V3 report §3.2.1; dualpipe.py): micro-batches 0..N/2-1
// enter at rank 0 and run stage s on rank s; N/2..N-1 enter at rank pp-1 and run
// stage s on rank pp-1-s. Phase 0 of a rank is the direction in which it sits in
// the first half of the pipeline (stage h = min(r, pp-1-r)), phase 1 the other
// (stage pp-1-h).
#include <algorithm>

#include "sim/parallel/schedules/common.hpp"
#include "sim/parallel/schedules/dual_rank.hpp"

namespace trainsim::schedules {
namespace {

constexpr char kName[] = "dualpipe";

void build(PipelineSchedule& s) {
  const int pp = s.pp, half = s.microbatches / 2;
  for (int r = 0; r < pp; ++r) {
    const int h = std::min(r, pp - 1 - r);
    const bool first_half = r < pp / 2;
    auto chunk = [=](int phase, int i) {
      const bool down = (phase == 0) == first_half;  // direction entering at rank 0
      const int mb = down ? i : half + i;
      const int stage = phase == 0 ? h : pp - 1 - h;
      return ChunkRef{mb, stage};
    };
    build_dual_rank(s.ranks[r], pp / 2, h, half, chunk);
  }
}

int rank_of(const PipelineSchedule& s, int microbatch, int stage) {
  return microbatch < s.microbatches / 2 ? stage : s.pp - 1 - stage;
}

// dualpipe.py: an even number of ranks, and an even number of micro-batches, at least 2 x pp.
std::optional<ScheduleRuleBreak> rules(const ScheduleShape& shape) {
  if (auto broken = even_pp(kName, shape)) return broken;
  return even_microbatches_two_per_rank(kName, shape);
}

}  // namespace

ScheduleDescriptor dualpipe_schedule() {
  ScheduleDescriptor d =
      describe(kName, "DualPipe (DeepSeek-V3): micro-batches from both ends, forward and backward overlapped", build);
  d.rules = rules;
  d.rank_of = rank_of;
  return d;
}

}  // namespace trainsim::schedules
