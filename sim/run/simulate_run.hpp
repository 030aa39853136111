#pragma once
// The `trainsim run` pipeline as one call, for every command that needs a
// simulated run (run, claim, cost, validate): build the step program, execute it
// on SimGrid, summarize, and integrate the whole run over the batch ramp.
#include <optional>
#include <string>

#include "sim/config/spec.hpp"
#include "sim/engine/step_executor.hpp"
#include "sim/parallel/step_program.hpp"
#include "sim/reliability/goodput.hpp"
#include "sim/report/step_result.hpp"

namespace trainsim {

struct RunRequest {
  Fidelity fidelity = Fidelity::symmetric;
  engine::NetworkModel network_model = engine::NetworkModel::bundled;  // how flows become SimGrid flows
  int ramp_points = 5;  // batch sizes simulated over the ramp, full batch included; <2: none
  int jobs = 2;         // simulations side by side, one process each
  // A full-fidelity run estimated above this many bytes is refused before anything
  // is built; empty: 80% of this machine's physical memory.
  std::optional<double> max_memory_bytes;
};

// One step at the full global batch, summarized (no ramp, no whole-run figures
// beyond the per-trillion-token ones); request.fidelity and the memory guard apply.
// Creates this process's simulator: call it in a child (run_isolated, see
// process_pool.hpp) when the process needs several simulations.
[[nodiscard]] StepResult simulate_step(const ClusterSpec& cluster, const WorkloadSpec& workload,
                                       const RunRequest& request);

// What a full-fidelity step would hold in memory, estimated before building it: the
// symmetric program's tasks, dependency edges, transfers and records, scaled by
// simulated GPUs (a representative's tasks and flows stand for each of its peers').
// SimGrid's in-flight activities and the platform are not counted (small next to
// the program at scale, see README Performance).
struct MemoryEstimate {
  double bytes = 0;
  double tasks = 0;      // in the full program
  double transfers = 0;  // GPU-to-GPU flows in the full program
};
[[nodiscard]] MemoryEstimate estimate_full_fidelity_memory(const ClusterSpec& cluster, const WorkloadSpec& workload);

// CPU seconds a full-fidelity step of `need` takes on the executor and network model that
// run it, and its peak memory (resident bytes), from scripts/bench measurements (see the
// constants' comment in simulate_run.cpp). With bundled flows the estimate takes the
// bundles to form where the workload's all-to-alls are balanced (an MoE model with
// balanced routing; see engine::kReferenceAtMostSimFlowsPerFlow), and not elsewhere.
struct RunCostEstimate {
  double cpu_s = 0;
  double peak_bytes = 0;
};
[[nodiscard]] RunCostEstimate estimate_full_fidelity_cost(const MemoryEstimate& need, const WorkloadSpec& workload,
                                                          engine::NetworkModel network);

// The memory guard: throws InputError (`--fidelity full: ... above the --max-memory
// limit ...`) when request.fidelity is full and the estimate is above the limit.
// simulate_step and simulate_run call it first; commands that fork simulations
// call it before forking, to refuse once instead of once per child.
void check_full_fidelity_fits(const ClusterSpec& cluster, const WorkloadSpec& workload, const RunRequest& request);

// The whole run: ramp points in child processes, then the full-batch step in
// this process (so call it once per process). `chrome_trace`, when given,
// receives the full-batch step's trace.
[[nodiscard]] StepResult simulate_run(const ClusterSpec& cluster, const WorkloadSpec& workload,
                                      const RunRequest& request, std::string* chrome_trace = nullptr);

// The run with failures (issue 16), when the cluster has a reliability section:
// sets result.goodput from the idealised run's per-token time (its ramp points, or
// the full-batch step alone). run, sweep and claim call it after simulate_run /
// simulate_step; no simulator is created.
void add_goodput(StepResult& result, const ClusterSpec& cluster, const WorkloadSpec& workload,
                 const reliability::GoodputRequest& request);

}  // namespace trainsim
