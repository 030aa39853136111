// 1F1B (PipeDream-flush, Narayanan et al. 2021): on rank r, pp-r-1 warm-up
// forwards, then one forward and one full backward in turn, then the drain.
#include "sim/parallel/schedules/common.hpp"

namespace trainsim::schedules {
namespace {

constexpr char kName[] = "1f1b";

void build(PipelineSchedule& s) {
  for (int r = 0; r < s.pp; ++r)
    one_f_one_b_order(
        s.pp, r, s.microbatches, [&](int mb) { s.ranks[r].push_back(op_f({mb, r})); },
        [&](int mb, bool /*draining*/) { s.ranks[r].push_back(op_b(PassKind::BW, {mb, r})); });
}

std::optional<ScheduleRuleBreak> rules(const ScheduleShape& shape) { return at_least_pp_microbatches(kName, shape); }

}  // namespace

ScheduleDescriptor one_f_one_b_schedule() {
  ScheduleDescriptor d = describe(kName,
                                  "1F1B (PipeDream-flush): warm-up forwards, then one forward and one backward in turn",
                                  build);
  d.aliases = {"one_f_one_b"};
  d.rules = rules;
  return d;
}

}  // namespace trainsim::schedules
