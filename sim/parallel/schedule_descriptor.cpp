#include "sim/parallel/schedule_descriptor.hpp"

namespace trainsim {

int one_stage_per_rank(int pp, int /*virtual_stages*/) { return pp; }

int rank_is_stage(const PipelineSchedule& /*s*/, int /*microbatch*/, int stage) { return stage; }

std::optional<ScheduleRuleBreak> no_rules(const ScheduleShape& /*shape*/) { return std::nullopt; }

}  // namespace trainsim
