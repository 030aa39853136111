// 1F1B (PipeDream-flush): rank r runs pp-r-1 warm-up forwards, then alternates
// one forward and one full backward, then drains the remaining backwards.
#include <algorithm>

#include "sim/parallel/schedules/common.hpp"

namespace trainsim::schedules {
namespace {

constexpr char kName[] = "1f1b";

void build(PipelineSchedule& s) {
  const int m = s.microbatches;
  for (int r = 0; r < s.pp; ++r) {
    auto& ops = s.ranks[r];
    const int warmup = std::min(s.pp - r - 1, m);
    for (int mb = 0; mb < warmup; ++mb) ops.push_back(op_f({mb, r}));
    for (int k = 0; k < m - warmup; ++k) {
      ops.push_back(op_f({warmup + k, r}));
      ops.push_back(op_b(PassKind::BW, {k, r}));
    }
    for (int mb = m - warmup; mb < m; ++mb) ops.push_back(op_b(PassKind::BW, {mb, r}));
  }
}

std::optional<ScheduleRuleBreak> rules(const ScheduleShape& shape) { return at_least_pp_microbatches(kName, shape); }

}  // namespace

ScheduleDescriptor one_f_one_b_schedule() {
  return {.name = kName,
          .aliases = {"one_f_one_b"},
          .description = "1F1B (PipeDream-flush): warm-up forwards, then one forward and one backward in turn",
          .reads_virtual_stages = false,
          .num_stages = one_stage_per_rank,
          .rules = rules,
          .build = build,
          .rank_of = rank_is_stage};
}

}  // namespace trainsim::schedules
