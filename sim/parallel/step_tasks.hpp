#pragma once
// Task primitives of the step program: a task with its dependencies, a compute
// task in its GPU stream's program order, a collective as one transfer task
// per phase. Every task the builder creates goes through these.
#include <string>
#include <vector>

#include "sim/parallel/collectives.hpp"
#include "sim/parallel/step_build.hpp"

namespace trainsim::step {

// Adds `task` after every task of `deps` that is not kNone; returns its id.
int add_task(StepBuild& b, StepTask task, const std::vector<int>& deps);

// A compute task on replica d of rank r, after `deps` and the previous task of its stream.
int add_compute(StepBuild& b, int r, int d, Stream stream, Category cat, const std::string& name,
                TaskSeconds seconds, double flops, std::vector<int> deps);
// The same for a task no communication kernel slows (HBM-bound: the optimizer).
int add_compute(StepBuild& b, int r, int d, Stream stream, Category cat, const std::string& name, double seconds,
                double flops, std::vector<int> deps);

// One transfer task per phase of `plan` that keeps transfers for the simulated
// GPUs, chained; the first after `deps`. Returns the last (or kNone).
int add_collective(StepBuild& b, const parallel::CollectivePlan& plan, Category cat, const std::string& name,
                   int owner_gpu, std::vector<int> deps, Stream stream = Stream::comm);

}  // namespace trainsim::step
