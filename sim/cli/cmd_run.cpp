// trainsim run: simulate one training step (and the batch-ramp points), report
// GPU-hours and days per trillion tokens, cost, energy, breakdown, trace.
#include <fstream>
#include <iostream>

#include <fmt/format.h>
#include <unistd.h>

#include "sim/cli/commands.hpp"
#include "sim/engine/step_executor.hpp"
#include "sim/run/simulate_run.hpp"

namespace trainsim::cli {

namespace {

struct RunCommandOptions {
  ConfigOptions config;
  RunOptions run;
  std::string trace_path;
  bool allow_oversubscribed_memory = false;
};

// On a terminal only (stderr), so output files and captured runs never see it: before
// a full-fidelity run, its estimated CPU time and memory; while a step runs, a progress
// line redrawn in place (simulated time, tasks done) by this process, not by the
// children that simulate ramp points.
void show_progress_on_terminal(const Inputs& configs, const RunRequest& request) {
  if (isatty(STDERR_FILENO) == 0) return;
  if (request.fidelity == Fidelity::full) {
    const MemoryEstimate need = estimate_full_fidelity_memory(configs.cluster, configs.workload);
    const RunCostEstimate cost = estimate_full_fidelity_cost(need);
    std::cerr << fmt::format("trainsim: full fidelity, {} GPUs: {:.3g} tasks, {:.3g} flows per step; estimated "
                             "{:.0f} CPU-s and {:.0f} MiB peak per step (scripts/bench)\n",
                             configs.cluster.num_gpus(), need.tasks, need.transfers, cost.cpu_s,
                             cost.peak_bytes / (1 << 20));
  }
  const pid_t owner = getpid();
  engine::set_progress_report([owner](double simulated_s, std::size_t done, std::size_t total) {
    if (getpid() != owner) return;
    if (done == total) {
      std::cerr << "\r\033[K" << std::flush;
      return;
    }
    std::cerr << fmt::format("\r\033[Ktrainsim: step at {:.4f} simulated s, {} of {} tasks done ({:.0f} %)",
                             simulated_s, done, total, 100.0 * static_cast<double>(done) / static_cast<double>(total))
              << std::flush;
  });
}

int run(const RunCommandOptions& o) {
  const Inputs configs = load_configs(o.config);
  (void)checked_gpu_memory(configs, o.allow_oversubscribed_memory);
  // Open the trace file first: an unwritable path is an input error, not a lost simulation.
  std::ofstream trace_out;
  if (!o.trace_path.empty()) {
    trace_out.open(o.trace_path);
    if (!trace_out) throw InputError({o.trace_path, 0, 0}, "cannot write the trace file");
  }
  std::string trace;
  show_progress_on_terminal(configs, run_request(o.run));
  const StepResult result = simulate_run(configs.cluster, configs.workload, run_request(o.run),
                                         o.trace_path.empty() ? nullptr : &trace);
  if (trace_out.is_open()) trace_out << trace << '\n';
  if (o.config.format == "json")
    std::cout << to_json(result).dump(2) << '\n';
  else if (o.config.format == "csv")
    std::cout << to_csv(result);
  else
    std::cout << to_text(result);
  return 0;
}

}  // namespace

void register_run(CLI::App& app, Action& action) {
  static RunCommandOptions opts;
  auto* cmd = app.add_subcommand("run", "Simulate a training step; GPU-hours and days per trillion tokens");
  add_config_options(*cmd, opts.config, {"text", "json", "csv"});
  add_run_options(*cmd, opts.run);
  add_allow_oversubscribed_memory_option(*cmd, opts.allow_oversubscribed_memory);
  cmd->add_option("--trace", opts.trace_path, "Write a Chrome trace (Perfetto) of the simulated step");
  cmd->callback([&action] { action = [] { return run(opts); }; });
}

}  // namespace trainsim::cli
