#pragma once
// Executes a step program on the SimGrid platform: transfer tasks as one Comm per
// transfer, compute tasks on their GPU's compute stream (a max-min shared processor,
// timed by the engine: dag_runner.hpp); a task starts when its predecessors have
// finished. Returns when every task has run.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "sim/config/spec.hpp"
#include "sim/parallel/step_program.hpp"

namespace trainsim::engine {

struct TaskRecord {
  double start_s = 0;
  double end_s = 0;
};

// One directed platform link over the step (ExecuteOptions::audit_links).
struct LinkAudit {
  std::size_t link = 0;                  // engine::LinkIndex
  double bandwidth_bytes_per_s = 0;      // capacity as simulated (after efficiency)
  double bytes = 0;                      // carried during the step
  double peak_load_bytes_per_s = 0;      // highest instantaneous load during the step
};

// Who creates and waits on the SimGrid activities (same DAG semantics, same model):
//   actors:    one SimGrid actor per GPU on its host, owning the sending and
//              receiving sides of its flows (mailbox comms), so every
//              activity sits in a short per-actor list (actor_executor.cpp);
//   reference: maestro creates every activity from the completion callback (one
//              actor-less Comm per flow): SimGrid 3.32 walks maestro's list of every
//              running activity at each completion, a cost that grows with the step.
enum class Executor { actors, reference };

struct StepExecution {
  std::vector<TaskRecord> tasks;  // indexed like the program's vertices
  double makespan_s = 0;
  // Seconds each of program.simulated_gpus computed (one compute task or more running).
  std::vector<double> gpu_busy_s;
  // Energy of each of program.simulated_gpus over the step (joules): idle power
  // throughout, busy power while it computes (gpu.power; as SimGrid's host-energy
  // plugin counts a one-core host).
  std::vector<double> gpu_energy_j;
  std::vector<LinkAudit> links;   // with audit_links: every link that carried bytes
  std::size_t simgrid_flows = 0;  // SimGrid flows started (a bundle is one: NetworkModel)
  Executor executor = Executor::reference;  // the executor that ran it

  // Mean power of a simulated GPU over the step (watts); 0 without energy records.
  [[nodiscard]] double mean_gpu_power_w() const {
    if (gpu_energy_j.empty() || makespan_s <= 0) return 0;
    double joules = 0;
    for (double j : gpu_energy_j) joules += j;
    return joules / static_cast<double>(gpu_energy_j.size()) / makespan_s;
  }
};


// The executor a run with per-pair flows uses unless told (bundled full fidelity: see
// kReferenceAtMostSimFlowsPerFlow): TRAINSIM_EXECUTOR=actors|reference in the environment
// (internal: for comparisons and scripts/bench), else by fidelity: the actors for full
// fidelity, the reference for symmetric (scripts/bench, CPU seconds on the 2-core machine,
// 2026-11-30, compute tasks timed by the engine: full 128 GPUs actors 1.5x the reference's
// CPU, 256 GPUs 0.8x, and the reference's one list of running flows grows with the
// cluster; symmetric 2048 GPUs 2x; README, Performance). std::invalid_argument on another
// value.
[[nodiscard]] Executor default_executor(Fidelity fidelity);
// TRAINSIM_EXECUTOR's executor, if it names one (std::invalid_argument on another value).
[[nodiscard]] std::optional<Executor> executor_from_environment();

// How a transfer task's flows become SimGrid flows (both executors):
//   per_pair: one SimGrid flow per flow (source GPU, destination GPU): the reference;
//   bundled:  a task's flows with equal bytes and equal route latency, from any GPUs (an
//             all-to-all's flows of one hop kind, a ring step's flows) as one SimGrid
//             flow that crosses every member's links, each as often as members cross it
//             (platform.cpp, Bundles): the same max-min shares as long as its members
//             would move at one rate. Flows of unequal size (skewed routing) bundle only
//             with their equals.
enum class NetworkModel { per_pair, bundled };
// Bundle endpoints a GPU has under the bundled model; a bundle takes one of the first
// member GPU that has one left. The default 2048-GPU step gives out 2,432 of its 8,192
// (56 GPUs give all 4, and later members' GPUs take the rest), the 128-GPU Zipf cut 179
// of 512 (6 GPUs give all 4).
inline constexpr int kBundleSlotsPerGpu = 4;
// Full fidelity, bundled, no executor asked for: the reference executor when the bundles
// carry the step's flows in at most this many SimGrid flows per flow, else the actors.
// The reference walks one list of every running flow at each completion, which few flows
// make cheap and which then saves the actors' simcalls and wake-ups: DeepSeek-V3 full
// with balanced routing gives 0.022-0.031 SimGrid flows per flow on the 128-GPU cuts
// (tests/test_engine_bundles.cpp) and 0.027 at 2048 GPUs; bundles of one GPU's flows gave
// 0.15-0.21 at 256-1024 GPUs and ran 2-3x faster on the reference than on the actors.
// Zipf-skewed routing gives 0.89 on the 128-GPU cut (0.98-0.99 with bundles of one GPU's
// flows, which ran faster on the actors from 512 GPUs: scripts/bench, 2026-12-01).
// Between the two: an assumption.
inline constexpr double kReferenceAtMostSimFlowsPerFlow = 0.5;

struct ExecuteOptions {
  // The platform's bundle endpoints are made with the process's simulator, so the first
  // step of the process decides whether there are any: a later step asking for bundles on
  // a platform without them runs flows of their own.
  NetworkModel network = NetworkModel::per_pair;
  // Record every link's bytes and peak load (SimGrid's link-load plugin). Fixed when
  // the process's simulator is created: the first execute_step decides.
  bool audit_links = false;
  // Empty: TRAINSIM_EXECUTOR's, else for full fidelity with bundles as
  // kReferenceAtMostSimFlowsPerFlow says, else default_executor(the program's fidelity).
  std::optional<Executor> executor = std::nullopt;
  // Reference executor only: each transfer task's flows start in an order shuffled with
  // this seed instead of the program's (0). Flows that start at one instant and share
  // links can end in another order under SimGrid 3.32, and what follows them with them:
  // tests measure that band with it (test_engine_executors.cpp).
  std::uint64_t flow_order_seed = 0;
};

// Progress of the step being executed: simulated seconds since its start, tasks
// finished, tasks in all. Called at most four times a second of wall time while a step
// runs, and once when it has finished (done == total).
using ProgressReport = std::function<void(double simulated_s, std::size_t done, std::size_t total)>;
// Process-wide: every later execute_step reports through it (empty: none, the default).
void set_progress_report(ProgressReport report);

// Creates the process's simulator for `cluster` on first use (SimGrid allows one
// engine per process), then runs `program` from the current simulated time;
// records are relative to that start.
[[nodiscard]] StepExecution execute_step(const ClusterSpec& cluster, const StepProgram& program,
                                         const ExecuteOptions& options = {});

}  // namespace trainsim::engine
