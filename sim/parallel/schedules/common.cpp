#include "sim/parallel/schedules/common.hpp"

namespace trainsim::schedules {

int one_stage_per_rank(int pp, int /*virtual_stages*/) { return pp; }

int rank_is_stage(const PipelineSchedule& /*s*/, int /*microbatch*/, int stage) { return stage; }

std::optional<ScheduleRuleBreak> no_rules(const ScheduleShape& /*shape*/) { return std::nullopt; }

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
  return ScheduleRuleBreak{"training.global_batch", name + " needs an even number of micro-batches, at least 2 x pp = " +
                                                        std::to_string(2LL * shape.pp)};
}

}  // namespace trainsim::schedules
