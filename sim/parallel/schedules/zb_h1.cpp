// ZB-H1 (Qi et al., "Zero Bubble Pipeline Parallelism", ICLR 2024, §2.1): the
// 1F1B order with each backward split into B (input gradient, on the critical
// path) and W (weight gradient). Rank r postpones its W passes by r, so every
// rank holds pp micro-batches in flight (forward done, W not yet) like 1F1B's
// first rank, and the B chain runs upstream at b - w per stage; in the drain each
// B is followed by one postponed W (filling the wait for the next gradient) and
// the last r W run at the end.
#include <algorithm>
#include <deque>

#include "sim/parallel/schedules/common.hpp"

namespace trainsim::schedules {
namespace {

constexpr char kName[] = "zb-h1";

void build(PipelineSchedule& s) {
  const int m = s.microbatches;
  for (int r = 0; r < s.pp; ++r) {
    auto& ops = s.ranks[r];
    const int warmup = std::min(s.pp - r - 1, m);
    std::deque<ChunkRef> pending_w;
    auto backward = [&](int mb) {
      ops.push_back(op_b(PassKind::B, {mb, r}));
      pending_w.push_back({mb, r});
    };
    auto weight = [&] {
      ops.push_back(op_b(PassKind::W, pending_w.front()));
      pending_w.pop_front();
    };
    for (int mb = 0; mb < warmup; ++mb) ops.push_back(op_f({mb, r}));
    for (int k = 0; k < m - warmup; ++k) {
      ops.push_back(op_f({warmup + k, r}));
      backward(k);
      if (static_cast<int>(pending_w.size()) > r) weight();
    }
    for (int mb = m - warmup; mb < m; ++mb) {
      backward(mb);
      weight();
    }
    while (!pending_w.empty()) weight();
  }
}

std::optional<ScheduleRuleBreak> rules(const ScheduleShape& shape) { return at_least_pp_microbatches(kName, shape); }

}  // namespace

ScheduleDescriptor zb_h1_schedule() {
  return {.name = kName,
          .aliases = {"zb_h1", "zbh1", "zb1p"},
          .description = "ZB-H1 / ZB1P (zero bubble): 1F1B with input (B) and weight (W) gradients split, W postponed",
          .reads_virtual_stages = false,
          .num_stages = one_stage_per_rank,
          .rules = rules,
          .build = build,
          .rank_of = rank_is_stage};
}

}  // namespace trainsim::schedules
