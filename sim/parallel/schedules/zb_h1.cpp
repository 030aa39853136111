// ZB-H1 (Qi et al., "Zero Bubble Pipeline Parallelism", ICLR 2024, §2.1): the
// 1F1B order with each backward split into B (input gradient, on the critical
// path) and W (weight gradient). Rank r postpones its W passes by r, so every
// rank holds pp micro-batches in flight (forward done, W not yet) like 1F1B's
// first rank, and the B chain runs upstream at b - w per stage; in the drain each
// B is followed by one postponed W (filling the wait for the next gradient) and
// the last r W run at the end.
#include <deque>

#include "sim/parallel/schedules/common.hpp"

namespace trainsim::schedules {
namespace {

constexpr char kName[] = "zb-h1";

void build(PipelineSchedule& s) {
  for (int r = 0; r < s.pp; ++r) {
    auto& ops = s.ranks[r];
    std::deque<ChunkRef> pending_w;
    auto weight = [&] {
      ops.push_back(op_b(PassKind::W, pending_w.front()));
      pending_w.pop_front();
    };
    // 1F1B's order; after each B one postponed W once r of them wait (in the
    // drain, always one).
    one_f_one_b_order(
        s.pp, r, s.microbatches, [&](int mb) { ops.push_back(op_f({mb, r})); },
        [&](int mb, bool draining) {
          ops.push_back(op_b(PassKind::B, {mb, r}));
          pending_w.push_back({mb, r});
          if (draining || static_cast<int>(pending_w.size()) > r) weight();
        });
    while (!pending_w.empty()) weight();
  }
}

std::optional<ScheduleRuleBreak> rules(const ScheduleShape& shape) { return at_least_pp_microbatches(kName, shape); }

}  // namespace

ScheduleDescriptor zb_h1_schedule() {
  ScheduleDescriptor d =
      describe(kName, "ZB-H1 / ZB1P (zero bubble): 1F1B with B and W split, W postponed into the bubble", build);
  d.aliases = {"zb_h1", "zbh1", "zb1p"};
  d.rules = rules;
  return d;
}

}  // namespace trainsim::schedules
