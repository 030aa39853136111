#pragma once
// Executes a step program on the SimGrid platform: compute tasks as Execs on
// their GPU's host, transfer tasks as one Comm per transfer (joined by a
// zero-work Exec), dependencies as activity dependencies. Returns when every
// task has run.
#include <vector>

#include "sim/config/spec.hpp"
#include "sim/parallel/step_program.hpp"

namespace trainsim::engine {

struct TaskRecord {
  double start_s = 0;
  double end_s = 0;
};

struct StepExecution {
  std::vector<TaskRecord> tasks;  // indexed like the program's vertices
  double makespan_s = 0;
};

// Creates the process's simulator for `cluster` on first use (SimGrid allows one
// engine per process), then runs `program` from the current simulated time;
// records are relative to that start.
[[nodiscard]] StepExecution execute_step(const ClusterSpec& cluster, const StepProgram& program);

}  // namespace trainsim::engine
