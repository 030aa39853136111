#include "sim/run/simulate_run.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <unordered_set>
#include <vector>

#include <unistd.h>

#include "sim/config/error.hpp"
#include "sim/engine/platform.hpp"
#include "sim/engine/step_executor.hpp"
#include "sim/parallel/memory.hpp"
#include "sim/parallel/schedule.hpp"
#include "sim/run/process_pool.hpp"

namespace trainsim {

namespace {

// The smallest batch at or above `batch` (a multiple of dp × micro_batch) whose
// micro-batch count the schedule accepts.
int smallest_valid_batch(const WorkloadSpec& w, int batch) {
  const int unit = w.parallelism.dp * w.training.micro_batch;
  int m = std::max(1, batch / unit);
  for (int tries = 0; tries < 4 * w.parallelism.pp + 8; ++tries, ++m) {
    try {
      (void)make_schedule(w.parallelism.schedule, w.parallelism.pp, m, w.parallelism.virtual_stages);
      return m * unit;
    } catch (const std::invalid_argument&) {
    }
  }
  return batch;
}

// Ramp points below the full batch, each simulated in its own process.
std::vector<RampPoint> simulate_ramp(const ClusterSpec& cluster, const WorkloadSpec& workload,
                                     const RunRequest& request, std::vector<std::string>& notes) {
  std::vector<RampPoint> ramp;
  if (!workload.training.batch_ramp || request.ramp_points < 2) return ramp;
  const int b0 = workload.training.batch_ramp->start_sequences;
  const int b1 = workload.training.global_batch;
  for (int i = 0; i < request.ramp_points - 1; ++i) {
    RampPoint p;
    // In 64 bits: (b1 - b0) x i passes 2^31 with a batch near the integer key's limit
    // and --allow-large's 1000 ramp points; the quotient is at most b1.
    p.global_batch = static_cast<int>(b0 + std::int64_t{b1 - b0} * i / (request.ramp_points - 1));
    p.simulated_batch = smallest_valid_batch(workload, p.global_batch);
    if (p.simulated_batch != p.global_batch)
      notes.push_back(fmt::format("batch-ramp point {} sequences simulated as {} (the {} schedule needs that many "
                                  "micro-batches at dp {}); per-token time taken from it (assumption)",
                                  p.global_batch, p.simulated_batch, schedule_name(workload.parallelism.schedule),
                                  workload.parallelism.dp));
    ramp.push_back(p);
  }
  std::vector<NumbersJob> sims;
  for (const RampPoint& p : ramp)
    sims.push_back([&cluster, &workload, &request, batch = p.simulated_batch] {
      const StepProgram prog = build_step_program(cluster, workload, batch, request.fidelity);
      const auto x = engine::execute_step(cluster, prog, {.network = request.network_model});
      return std::vector<double>{x.makespan_s, prog.tokens_per_step, x.mean_gpu_power_w()};
    });
  const auto values = run_isolated_all(sims, request.jobs);
  for (std::size_t i = 0; i < ramp.size(); ++i) {
    ramp[i].step_time_s = values[i].at(0);
    ramp[i].seconds_per_token = values[i].at(0) / values[i].at(1);
    ramp[i].gpu_power_w = values[i].at(2);
  }
  return ramp;
}

// Stragglers: the same full-batch step with every GPU at nominal speed, in a child
// process, before this process creates its simulator (SimGrid exists once per process).
std::optional<double> nominal_step_s(const ClusterSpec& cluster, const WorkloadSpec& workload,
                                     const RunRequest& request) {
  if (!cluster.stragglers) return std::nullopt;
  ClusterSpec nominal = cluster;
  nominal.stragglers.reset();
  return run_isolated([&nominal, &workload, &request] {
           const StepProgram prog =
               build_step_program(nominal, workload, workload.training.global_batch, request.fidelity);
           return std::vector<double>{engine::execute_step(nominal, prog, {.network = request.network_model}).makespan_s};
         })
      .at(0);
}

void set_straggler_outcome(StepResult& result, const StepProgram& program, std::optional<double> nominal_s) {
  if (!nominal_s) return;
  StragglerOutcome s;
  s.pacing_gpu = program.pacing_gpu;
  s.pacing_speed = program.pacing_speed;
  s.nominal_step_s = *nominal_s;
  s.slowdown = result.step_time_s / *nominal_s;
  result.stragglers = s;
}

double physical_memory_bytes() {
  return static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGE_SIZE));
}

std::string mebibytes(double bytes) { return fmt::format("{:.0f} MiB", bytes / (1 << 20)); }

}  // namespace

MemoryEstimate estimate_full_fidelity_memory(const ClusterSpec& cluster, const WorkloadSpec& workload) {
  const StepProgram p = build_step_program(cluster, workload, workload.training.global_batch, Fidelity::symmetric);
  double bytes = 0, transfers = 0, names_bytes = 0, tasks = 0;
  const auto& g = p.graph;
  std::unordered_set<const void*> lists;  // transfer lists counted (tasks share them: TransferList)
  std::unordered_set<const void*> names;  // names counted (every replica's task shares one: TaskName)
  const std::unordered_set<int> simulated(p.simulated_gpus.begin(), p.simulated_gpus.end());
  std::vector<int> involved;
  for (std::size_t v = 0; v < num_vertices(g); ++v) {
    const StepTask& t = g[v];
    // Each simulated GPU holds its own copy of a collective's task; the full step holds one
    // task for every GPU the collective involves (an EP dispatch: one for its 64 GPUs). So a
    // task stands for (its simulated GPUs / its GPUs) full-step tasks per simulated replica.
    involved_gpus(t, involved);
    const auto on_simulated = std::count_if(involved.begin(), involved.end(), [&](int gpu) { return simulated.contains(gpu); });
    const double weight = involved.empty() ? 1.0 : static_cast<double>(on_simulated) / static_cast<double>(involved.size());
    // The task; its name, once (a full step's replicas of a task share it: not scaled); its
    // transfer list, once however many tasks share it (a vector and shared_ptr's control
    // block, then the transfers); its two row starts in the graph (StepGraph: out and in);
    // its execution record and the runner's two counters (DagRunner: unfinished predecessors,
    // running activities); its entries in the report's per-GPU buckets (every GPU it involves).
    static const std::size_t kInlineName = std::string().capacity();  // short names live in the string itself
    double task_bytes = sizeof(StepTask) + 2 * sizeof(TaskId) + sizeof(engine::TaskRecord) + 2 * sizeof(int) +
                        sizeof(std::size_t) * involved.size();
    if (const auto& name = t.name.shared(); name && names.insert(name.get()).second)
      names_bytes += sizeof(std::string) + 2 * sizeof(void*) + (name->capacity() > kInlineName ? name->capacity() + 1 : 0);
    if (const auto& list = t.transfers.shared(); list && lists.insert(list.get()).second)
      task_bytes += sizeof(*list) + 2 * sizeof(void*) + list->capacity() * sizeof(parallel::Transfer);
    bytes += weight * task_bytes;
    tasks += weight;
    transfers += static_cast<double>(t.transfers.size());
  }
  // An edge: its target in the out-rows, its source and its index in the in-rows.
  bytes += static_cast<double>(num_edges(g)) * 3 * sizeof(TaskId);
  const double scale = static_cast<double>(p.num_gpus) / std::max<std::size_t>(1, p.simulated_gpus.size());
  // Plus what any run holds: libraries, SimGrid's engine and platform (scripts/bench: a
  // symmetric run of the 128-GPU cut peaks at 40 MiB).
  constexpr double kProcessBytes = 40.0 * (1 << 20);
  return {kProcessBytes + names_bytes + bytes * scale, tasks * scale, transfers * scale};
}

// scripts/bench fullscale (DeepSeek-V3 full, one step), CPU user+sys seconds on the 2-core
// project machine (AMD EPYC, idle), executables linked with jemalloc, at 128 / 256 / 512 /
// 1024 / 2048 GPUs (3.21e6 / 7.32e6 / 1.83e7 / 5.11e7 / 1.02e8 flows):
// - per-pair flows (2026-12-01): the actors took 3.55 / 8.87 / 38.4 / 153 / 363 s: through
//   128 and 2048, 3.55 s x (flows / 3.21e6)^1.34 (within -6 % to +21 % of 256 to 1024); the
//   reference took 2.42 / 6.99 / 50.4 s at 128 / 256 / 512: through 128 and 512, 2.42 s x
//   (flows / 3.21e6)^1.74;
// - bundled flows, balanced routing, bundles over GPUs within a fabric region (2026-12-01,
//   load 1.2): the reference took 0.59 / 1.31 / 2.63 / 6.14 / 15.3 s, 35.2 s at 4096 GPUs
//   (2.06e8 flows) and 352 s at 16,384 (8.44e8). The growth steepens with the cluster
//   (GPUs^1.13 from 128 to 1024, ^1.66 from 4096 to 16,384: SimGrid 3.32 walks maestro's
//   list of running flows at every completion, and its max-min solver a connected part of
//   the sharing problem at every event, both growing with the flows). So c + a x f + b x f^2 with
//   f = flows / 3.21e6, through 128, 2048 and 16,384 GPUs: 0.230 s + 0.357 s x f +
//   0.00373 s x f^2 (256 / 512 / 1024 / 4096 GPUs: -19 / -9 / +12 / +9 %). Skewed routing
//   forms fewer bundles and runs on the actors (engine::kReferenceAtMostSimFlowsPerFlow) as
//   per-pair flows would.
// Peak RSS was 1.05 / 1.04 / 1.03 / 1.01 / 1.00 times the memory estimate at 128 / 256 /
// 512 / 1024 / 2048 GPUs (2026-12-01, tasks beside the graph, interned names; README,
// Performance).
RunCostEstimate estimate_full_fidelity_cost(const MemoryEstimate& need, const WorkloadSpec& workload,
                                            engine::NetworkModel network) {
  constexpr double kFlowsAt128 = 3.21e6;
  constexpr double kActorsCpuSAt128 = 3.55, kActorsExponent = 1.34;
  constexpr double kReferenceCpuSAt128 = 2.42, kReferenceExponent = 1.74;
  constexpr double kBundledCpuS = 0.230, kBundledCpuSPerFlowUnit = 0.357, kBundledCpuSPerFlowUnitSquared = 0.00373;
  const double growth = need.transfers / kFlowsAt128;
  const bool bundles = network == engine::NetworkModel::bundled && workload.model.moe &&
                       workload.model.moe->routing == "balanced";
  const auto asked = engine::executor_from_environment();
  double cpu_s = 0;
  if (bundles && asked.value_or(engine::Executor::reference) == engine::Executor::reference)
    cpu_s = kBundledCpuS + kBundledCpuSPerFlowUnit * growth + kBundledCpuSPerFlowUnitSquared * growth * growth;
  else if (asked.value_or(engine::Executor::actors) == engine::Executor::actors)
    cpu_s = kActorsCpuSAt128 * std::pow(growth, kActorsExponent);
  else
    cpu_s = kReferenceCpuSAt128 * std::pow(growth, kReferenceExponent);
  return {cpu_s, need.bytes};
}

// Full fidelity holds every GPU's tasks and flows: refuse, before building them,
// a run whose estimated memory is above the limit.
void check_full_fidelity_fits(const ClusterSpec& cluster, const WorkloadSpec& workload, const RunRequest& request) {
  if (request.fidelity != Fidelity::full) return;
  const double limit = request.max_memory_bytes.value_or(0.8 * physical_memory_bytes());
  const MemoryEstimate need = estimate_full_fidelity_memory(cluster, workload);
  if (need.bytes > limit)
    throw InputError({"--fidelity full", 0, 0},
                     fmt::format("a full-fidelity step of {} GPUs needs about {} ({:.3g} tasks, {:.3g} flows; "
                                 "estimate), above the --max-memory limit of {}; use --fidelity symmetric, "
                                 "or raise --max-memory",
                                 cluster.num_gpus(), mebibytes(need.bytes), need.tasks, need.transfers,
                                 mebibytes(limit)));
}

namespace {

// The full-batch step in this process (after any child that must run before SimGrid
// starts here): the step at nominal speed first when there are stragglers, then the
// step, its summary, memory and straggler outcome, and its Chrome trace when asked.
StepResult full_batch_step(const ClusterSpec& cluster, const WorkloadSpec& workload, const RunRequest& request,
                           std::string* chrome_trace = nullptr) {
  const std::optional<double> nominal_s = nominal_step_s(cluster, workload, request);
  const StepProgram program =
      build_step_program(cluster, workload, workload.training.global_batch, request.fidelity);
  const auto execution = engine::execute_step(cluster, program, {.network = request.network_model});
  StepResult result = summarize_step(cluster, workload, program, execution);
  result.memory = plan_gpu_memory(cluster, workload);
  set_straggler_outcome(result, program, nominal_s);
  if (chrome_trace) *chrome_trace = to_chrome_trace(program, execution);
  return result;
}

}  // namespace

StepResult simulate_step(const ClusterSpec& cluster, const WorkloadSpec& workload, const RunRequest& request) {
  if (engine::simulations_refused()) throw engine::SimulationRefused();  // before building the step (fuzzing)
  check_full_fidelity_fits(cluster, workload, request);
  return full_batch_step(cluster, workload, request);
}

StepResult simulate_run(const ClusterSpec& cluster, const WorkloadSpec& workload, const RunRequest& request,
                        std::string* chrome_trace) {
  if (engine::simulations_refused()) throw engine::SimulationRefused();  // before building the step (fuzzing)
  check_full_fidelity_fits(cluster, workload, request);
  std::vector<std::string> notes;
  std::vector<RampPoint> ramp = simulate_ramp(cluster, workload, request, notes);
  StepResult result = full_batch_step(cluster, workload, request, chrome_trace);
  if (!ramp.empty())
    ramp.push_back({workload.training.global_batch, workload.training.global_batch, result.step_time_s,
                    result.step_time_s / result.tokens_per_step, result.gpu_power_w});
  result.ramp = ramp;
  result.notes.insert(result.notes.end(), notes.begin(), notes.end());
  integrate_run(result, cluster, workload);
  return result;
}

void add_goodput(StepResult& result, const ClusterSpec& cluster, const WorkloadSpec& workload,
                 const reliability::GoodputRequest& request) {
  if (!cluster.reliability) return;
  std::vector<reliability::RampCurvePoint> curve;
  for (const RampPoint& p : result.ramp) curve.push_back({static_cast<double>(p.global_batch), p.seconds_per_token});
  if (curve.empty())
    curve.push_back({static_cast<double>(workload.training.global_batch), result.step_time_s / result.tokens_per_step});
  // The idealised run's seconds: integrated over the ramp (simulate_run), or the
  // full-batch step's rate over every token (simulate_step leaves total_days at 0).
  const double ideal_s = result.total_days > 0 ? result.total_days * 86400
                                               : workload.training.tokens * result.step_time_s / result.tokens_per_step;
  result.goodput = reliability::simulate_goodput(cluster, workload, curve, ideal_s, result.step_time_s, request);
}

}  // namespace trainsim
