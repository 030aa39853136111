#include "sim/parallel/schedule_registry.hpp"

#include <stdexcept>

#include "sim/config/suggest.hpp"
#include "sim/config/yaml_reader.hpp"

// The registered schedules, in listing order: ONE line each, naming the function
// in sim/parallel/schedules/ that describes the schedule. Adding a schedule is a
// new file there and a line here.
#define TRAINSIM_SCHEDULES(REGISTER) \
  REGISTER(gpipe_schedule)           \
  REGISTER(one_f_one_b_schedule)     \
  REGISTER(interleaved_schedule)     \
  REGISTER(zb_h1_schedule)           \
  REGISTER(dualpipe_schedule)        \
  REGISTER(dualpipev_schedule)       \
  REGISTER(naive_schedule)

namespace trainsim {
namespace schedules {
#define TRAINSIM_DECLARE_SCHEDULE(describe) ScheduleDescriptor describe();
TRAINSIM_SCHEDULES(TRAINSIM_DECLARE_SCHEDULE)
#undef TRAINSIM_DECLARE_SCHEDULE
}  // namespace schedules

const std::vector<ScheduleDescriptor>& registered_schedules() {
#define TRAINSIM_LIST_SCHEDULE(describe) schedules::describe(),
  static const std::vector<ScheduleDescriptor> all = {TRAINSIM_SCHEDULES(TRAINSIM_LIST_SCHEDULE)};
#undef TRAINSIM_LIST_SCHEDULE
  return all;
}

const ScheduleDescriptor* find_schedule(std::string_view name) {
  for (const ScheduleDescriptor& d : registered_schedules()) {
    if (d.name == name) return &d;
    for (const std::string& alias : d.aliases)
      if (alias == name) return &d;
  }
  return nullptr;
}

const ScheduleDescriptor& schedule_named(std::string_view name) {
  if (const ScheduleDescriptor* d = find_schedule(name)) return *d;
  throw std::invalid_argument(unknown_schedule_message(name));
}

std::string unknown_schedule_message(std::string_view written) {
  std::vector<std::string> names, spellings;
  for (const ScheduleDescriptor& d : registered_schedules()) {
    names.push_back(d.name);
    spellings.push_back(d.name);
    spellings.insert(spellings.end(), d.aliases.begin(), d.aliases.end());
  }
  return config::expected_one_of(config::printable(written), names, spellings);
}

std::string rule_message(const ScheduleRuleBreak& broken, const std::string& got) {
  return broken.key == "training.global_batch" ? broken.message + "; got " + got : broken.message;
}

std::string schedule_names(std::string_view separator) {
  std::string out;
  for (const ScheduleDescriptor& d : registered_schedules())
    out += (out.empty() ? "" : std::string(separator)) + d.name;
  return out;
}

std::string schedules_reading_virtual_stages() {
  std::string out;
  for (const ScheduleDescriptor& d : registered_schedules())
    if (d.reads_virtual_stages) out += (out.empty() ? "" : " or ") + d.name;
  return out;
}

}  // namespace trainsim
