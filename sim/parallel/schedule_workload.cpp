// The schedule of a loaded workload: its name checked against the registry and
// its rules applied, with errors at the workload's own keys. The config stage
// reads parallelism.schedule as text; it cannot see the schedules (this stage).
#include <stdexcept>
#include <string>

#include "sim/config/error.hpp"
#include "sim/parallel/schedule.hpp"
#include "sim/parallel/schedule_registry.hpp"

namespace trainsim {
namespace {

[[noreturn]] void fail(const WorkloadSpec& w, const std::string& key, const std::string& message) {
  throw InputError(w.mark_of(key), key + ": " + message);
}

}  // namespace

const ScheduleDescriptor& schedule_of(const WorkloadSpec& w) {
  const std::string& written = w.parallelism.schedule;
  if (const ScheduleDescriptor* d = find_schedule(written)) return *d;
  throw InputError(w.parallelism.schedule_mark, "parallelism.schedule: " + unknown_schedule_message(written));
}

void check_workload_schedule(const WorkloadSpec& w) {
  const ScheduleDescriptor& schedule = schedule_of(w);
  const ParallelismSpec& p = w.parallelism;
  if (!schedule.reads_virtual_stages && p.virtual_stages != 1)
    fail(w, "parallelism.virtual_stages", "virtual_stages " + std::to_string(p.virtual_stages) +
                                              " applies only to schedule " + schedules_reading_virtual_stages());
  if (!schedule.reads_virtual_stages && p.microbatch_group != 0)
    fail(w, "parallelism.microbatch_group", "microbatch_group " + std::to_string(p.microbatch_group) +
                                                " applies only to schedule " + schedules_reading_virtual_stages());
  const int m = w.micro_batches_per_step();
  if (const auto broken = schedule.rules({p.pp, m, p.virtual_stages, w.model.layers, p.microbatch_group}))
    fail(w, broken->key,
         rule_message(*broken, std::to_string(m) + " micro-batches per step (global_batch " +
                                   std::to_string(w.training.global_batch) + " / (dp " + std::to_string(p.dp) +
                                   " x micro_batch " + std::to_string(w.training.micro_batch) + "))"));
}

PipelineSchedule workload_schedule(const WorkloadSpec& w, int global_batch) {
  const ParallelismSpec& p = w.parallelism;
  const int microbatches = global_batch / (p.dp * w.training.micro_batch);
  try {
    return make_schedule(schedule_of(w), p.pp, microbatches, p.virtual_stages, p.microbatch_group);
  } catch (const std::invalid_argument& e) {
    throw InputError(w.mark_of("parallelism.schedule"),
                     std::string(e.what()) + " (global batch " + std::to_string(global_batch) + " sequences = " +
                         std::to_string(microbatches) + " micro-batches per pipeline)");
  }
}

}  // namespace trainsim
