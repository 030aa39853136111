// DualPipeV (dualpipev.py, the "cut-in-half" DualPipe): one direction, 2*pp
// stages in a V: stage s < pp on rank s, stage s >= pp on rank 2*pp-1-s. Phase 0
// of rank r is stage r, phase 1 stage 2pp-1-r.
#include "sim/parallel/schedules/common.hpp"
#include "sim/parallel/schedules/dual_rank.hpp"

namespace trainsim::schedules {
namespace {

constexpr char kName[] = "dualpipev";

void build(PipelineSchedule& s) {
  const int pp = s.pp;
  for (int r = 0; r < pp; ++r) {
    auto chunk = [=](int phase, int i) { return ChunkRef{i, phase == 0 ? r : 2 * pp - 1 - r}; };
    build_dual_rank(s.ranks[r], pp, r, s.microbatches, chunk);
  }
}

int num_stages(int pp, int /*virtual_stages*/) { return 2 * pp; }

int rank_of(const PipelineSchedule& s, int /*microbatch*/, int stage) {
  return stage < s.pp ? stage : 2 * s.pp - 1 - stage;
}

// dualpipev.py: an even number of micro-batches, at least 2 x pp. The schedule
// itself runs on any pp; workload files have always been held to an even pp as
// for DualPipe, and still are (model_layers > 0 marks a workload's shape).
std::optional<ScheduleRuleBreak> rules(const ScheduleShape& shape) {
  if (shape.model_layers > 0) {
    if (auto broken = even_pp(kName, shape)) return broken;
  }
  return even_microbatches_two_per_rank(kName, shape);
}

}  // namespace

ScheduleDescriptor dualpipev_schedule() {
  ScheduleDescriptor d = describe(kName,
                                  "DualPipeV: DualPipe cut in half, 2 stages per rank in a V, one direction", build);
  d.num_stages = num_stages;
  d.rules = rules;
  d.rank_of = rank_of;
  return d;
}

}  // namespace trainsim::schedules
