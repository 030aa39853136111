#pragma once
// One StepResult per `trainsim run`: metrics of the simulated step, the whole
// run integrated over the batch ramp, and exporters (text, JSON, CSV, Chrome
// trace). Results are never assembled in main.
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "sim/config/spec.hpp"
#include "sim/engine/step_executor.hpp"
#include "sim/parallel/memory.hpp"
#include "sim/parallel/step_program.hpp"
#include "sim/reliability/goodput.hpp"
#include "sim/report/schedule_phases.hpp"

namespace trainsim {

// Step time at one batch size (a point of the batch ramp).
struct RampPoint {
  int global_batch = 0;      // sequences asked for
  int simulated_batch = 0;   // sequences simulated (raised to the schedule's minimum if needed)
  double step_time_s = 0;
  double seconds_per_token = 0;
  double gpu_power_w = 0;    // mean power of a GPU over the step (SimGrid host-energy plugin)
};

// Stragglers (issue 16): the slowest GPU and what it costs the step.
struct StragglerOutcome {
  int pacing_gpu = -1;         // the slowest GPU, which paces its synchronous groups
  double pacing_speed = 1;     // its compute speed, a fraction of nominal
  double nominal_step_s = 0;   // the same step with every GPU at nominal speed
  double slowdown = 1;         // step_time_s / nominal_step_s
};

struct StepResult {
  std::string cluster_name, workload_name, schedule, fidelity;
  int num_gpus = 0, simulated_gpus = 0, microbatches = 0;
  ParallelismSpec parallelism;
  double step_time_s = 0;
  double tokens_per_step = 0;
  double tokens_per_s = 0;
  double model_flops_per_token_causal = 0, model_flops_per_token_noncausal = 0;
  double tflops_per_gpu_causal = 0, tflops_per_gpu_noncausal = 0;
  double mfu_causal = 0, mfu_noncausal = 0;  // against the dense BF16 peak
  double gpu_hours_per_trillion_tokens = 0, days_per_trillion_tokens = 0;
  double total_tokens = 0, total_gpu_hours = 0, total_days = 0, cost_usd = 0;
  double energy_mwh = 0;                 // whole run, facility (× PUE)
  double gpu_busy_fraction = 0;          // mean over simulated GPUs
  double gpu_power_w = 0;                // mean GPU power over the full-batch step, before PUE
  std::map<std::string, double> breakdown;  // seconds per category, per GPU (mean); sums to step_time_s
  std::vector<RampPoint> ramp;
  std::vector<std::string> notes;        // assumptions the run had to make
  std::size_t tasks = 0;
  GpuMemory memory;                      // peak HBM per GPU by part (set by sim/run)
  SchedulePhases phases;                 // the schedule's phases per pipeline rank (schedule_phases.hpp)
  std::optional<reliability::GoodputReport> goodput;  // the cluster's reliability section: the run with failures
  std::optional<StragglerOutcome> stragglers;         // the cluster's stragglers section (set by sim/run)
};

// Metrics of one executed step program (the full-batch step).
[[nodiscard]] StepResult summarize_step(const ClusterSpec& cluster, const WorkloadSpec& workload,
                                        const StepProgram& program, const engine::StepExecution& execution);

// Whole-run figures from the full-batch step and the ramp points: per-token time
// interpolated linearly in tokens over the ramp, then the full batch to the end.
void integrate_run(StepResult& result, const ClusterSpec& cluster, const WorkloadSpec& workload);

// The "memory" object of the JSON output: HBM size, fit, largest rank and its
// parts, and every rank's parts (bytes).
[[nodiscard]] nlohmann::ordered_json memory_json(const GpuMemory& m);
// The per-GPU memory block of the text output (a loud line first when it does not fit).
[[nodiscard]] std::string memory_text(const GpuMemory& m);

// Last-resort guard (the input ranges make it unreachable): std::logic_error "non-finite PATH in
// the output" for the first inf or NaN number in `j`; to_json, to_text, to_csv and the trace call it.
void require_finite(const nlohmann::ordered_json& j, const std::string& path);

[[nodiscard]] nlohmann::ordered_json to_json(const StepResult& r);
[[nodiscard]] std::string to_text(const StepResult& r);
[[nodiscard]] std::string to_csv(const StepResult& r);  // header line + one row
// Chrome trace (opens in Perfetto): a process per simulated GPU, a thread per stream.
[[nodiscard]] std::string to_chrome_trace(const StepProgram& program, const engine::StepExecution& execution);

}  // namespace trainsim
