#include "sim/parallel/schedules/common.hpp"

#include <algorithm>
#include <utility>

namespace trainsim::schedules {

ScheduleDescriptor describe(std::string name, std::string description, void (*build)(PipelineSchedule&)) {
  ScheduleDescriptor d;
  d.name = std::move(name);
  d.description = std::move(description);
  d.build = build;
  return d;
}

void one_f_one_b_order(int pp, int r, int microbatches, const std::function<void(int)>& forward,
                       const std::function<void(int, bool)>& backward) {
  const int m = microbatches;
  const int warmup = std::min(pp - r - 1, m);
  for (int mb = 0; mb < warmup; ++mb) forward(mb);
  for (int k = 0; k < m - warmup; ++k) {
    forward(warmup + k);
    backward(k, false);
  }
  for (int mb = m - warmup; mb < m; ++mb) backward(mb, true);
}

std::optional<ScheduleRuleBreak> at_least_pp_microbatches(const std::string& name, const ScheduleShape& shape) {
  if (shape.microbatches >= shape.pp) return std::nullopt;
  return ScheduleRuleBreak{"training.global_batch",
                           name + " needs at least pp = " + std::to_string(shape.pp) + " micro-batches"};
}

std::optional<ScheduleRuleBreak> even_pp(const std::string& name, const ScheduleShape& shape) {
  if (shape.pp % 2 == 0) return std::nullopt;
  return ScheduleRuleBreak{"parallelism.pp", name + " needs an even pp, got " + std::to_string(shape.pp)};
}

std::optional<ScheduleRuleBreak> even_microbatches_two_per_rank(const std::string& name, const ScheduleShape& shape) {
  if (shape.microbatches % 2 == 0 && shape.microbatches >= 2LL * shape.pp) return std::nullopt;
  return ScheduleRuleBreak{"training.global_batch",
                           name + " needs an even number of micro-batches, at least 2 x pp = " +
                               std::to_string(2LL * shape.pp)};
}

}  // namespace trainsim::schedules
