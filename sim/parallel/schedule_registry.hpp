#pragma once
// The registered pipeline schedules (the one list is in schedule_registry.cpp):
// lookup by name or alias, and the listings for help texts and messages.
#include <string>
#include <string_view>
#include <vector>

#include "sim/parallel/schedule_descriptor.hpp"

namespace trainsim {

// In registration order.
[[nodiscard]] const std::vector<ScheduleDescriptor>& registered_schedules();

// The schedule with this name or alias; nullptr when none has it.
[[nodiscard]] const ScheduleDescriptor* find_schedule(std::string_view name);

// The schedule with this name or alias; throws std::invalid_argument with
// unknown_schedule_message(name) when none has it.
[[nodiscard]] const ScheduleDescriptor& schedule_named(std::string_view name);

// `expected one of gpipe, 1f1b, ..., got "dual-pipe"; did you mean "dualpipe"?`
[[nodiscard]] std::string unknown_schedule_message(std::string_view written);

// The message of a broken rule; `got` says what the micro-batch count was, for
// the rules about it (key training.global_batch): "...; got 20 micro-batches".
[[nodiscard]] std::string rule_message(const ScheduleRuleBreak& broken, const std::string& got);

// The canonical names joined by `separator`: "gpipe | 1f1b | ...".
[[nodiscard]] std::string schedule_names(std::string_view separator);

// The names of the schedules that read virtual_stages, joined by " or ".
[[nodiscard]] std::string schedules_reading_virtual_stages();

}  // namespace trainsim
