#pragma once
// What several schedule files share: the op constructors, the plain placement
// (pp stages, stage s on rank s) and the rules that more than one schedule has.
#include <optional>
#include <string>

#include "sim/parallel/schedule.hpp"
#include "sim/parallel/schedule_descriptor.hpp"

namespace trainsim::schedules {

inline PipelineOp op_f(ChunkRef c) { return {PassKind::F, c, {}}; }
inline PipelineOp op_b(PassKind k, ChunkRef c) { return {k, {}, c}; }
inline PipelineOp op_fb(ChunkRef f, ChunkRef b) { return {PassKind::FB, f, b}; }

// One model stage per rank: pp stages, stage s on rank s.
[[nodiscard]] int one_stage_per_rank(int pp, int virtual_stages);
[[nodiscard]] int rank_is_stage(const PipelineSchedule& s, int microbatch, int stage);

[[nodiscard]] std::optional<ScheduleRuleBreak> no_rules(const ScheduleShape& shape);
// `name needs at least pp = N micro-batches` (a rank's warm-up holds pp of them).
[[nodiscard]] std::optional<ScheduleRuleBreak> at_least_pp_microbatches(const std::string& name,
                                                                       const ScheduleShape& shape);
// `name needs an even pp, got N`.
[[nodiscard]] std::optional<ScheduleRuleBreak> even_pp(const std::string& name, const ScheduleShape& shape);
// `name needs an even number of micro-batches, at least 2 x pp = N` (DualPipe's two halves).
[[nodiscard]] std::optional<ScheduleRuleBreak> even_microbatches_two_per_rank(const std::string& name,
                                                                             const ScheduleShape& shape);

}  // namespace trainsim::schedules
