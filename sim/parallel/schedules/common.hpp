#pragma once
// What several schedule files share: the op constructors, the plain placement
// (pp stages, stage s on rank s) and the rules that more than one schedule has.
#include <functional>
#include <optional>
#include <string>

#include "sim/parallel/schedule.hpp"
#include "sim/parallel/schedule_descriptor.hpp"

namespace trainsim::schedules {

// A descriptor with the defaults (one stage per rank, no rules); the schedule
// file sets what else its schedule needs.
[[nodiscard]] ScheduleDescriptor describe(std::string name, std::string description,
                                          void (*build)(PipelineSchedule&));

inline PipelineOp op_f(ChunkRef c) { return {PassKind::F, c, {}}; }
inline PipelineOp op_b(PassKind k, ChunkRef c) { return {k, {}, c}; }
inline PipelineOp op_fb(ChunkRef f, ChunkRef b) { return {PassKind::FB, f, b}; }

// The 1F1B order of rank r (PipeDream-flush): pp-r-1 warm-up forwards, then one
// forward and one backward in turn, then the remaining backwards (`draining`).
// 1F1B and ZB-H1 both run it.
void one_f_one_b_order(int pp, int r, int microbatches, const std::function<void(int microbatch)>& forward,
                       const std::function<void(int microbatch, bool draining)>& backward);
// `name needs at least pp = N micro-batches` (a rank's warm-up holds pp of them).
[[nodiscard]] std::optional<ScheduleRuleBreak> at_least_pp_microbatches(const std::string& name,
                                                                       const ScheduleShape& shape);
// `name needs an even pp, got N`.
[[nodiscard]] std::optional<ScheduleRuleBreak> even_pp(const std::string& name, const ScheduleShape& shape);
// `name needs an even number of micro-batches, at least 2 x pp = N` (DualPipe's two halves).
[[nodiscard]] std::optional<ScheduleRuleBreak> even_microbatches_two_per_rank(const std::string& name,
                                                                             const ScheduleShape& shape);

}  // namespace trainsim::schedules
