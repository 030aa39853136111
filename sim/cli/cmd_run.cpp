// trainsim run: simulate one training step (and the batch-ramp points), report
// GPU-hours and days per trillion tokens, cost, energy, breakdown, trace.
#include <iostream>

#include <fmt/format.h>
#include <unistd.h>

#include "sim/cli/commands.hpp"
#include "sim/engine/step_executor.hpp"
#include "sim/report/output_file.hpp"
#include "sim/run/simulate_run.hpp"

namespace trainsim::cli {

namespace {

struct RunCommandOptions {
  ConfigOptions config;
  RunOptions run;
  std::string trace_path;
  bool allow_oversubscribed_memory = false;
  reliability::GoodputRequest goodput;  // --seeds, --checkpoint-interval
};

// On a terminal only (stderr), so output files and captured runs never see it: before
// a full-fidelity run, its estimated CPU time and memory; while a step runs, a progress
// line redrawn in place (simulated time, tasks done) by this process, not by the
// children that simulate ramp points.
void show_progress_on_terminal(const Inputs& configs, const RunRequest& request) {
  if (isatty(STDERR_FILENO) == 0) return;
  if (request.fidelity == Fidelity::full) {
    const MemoryEstimate need = estimate_full_fidelity_memory(configs.cluster, configs.workload);
    const RunCostEstimate cost = estimate_full_fidelity_cost(need, configs.workload, request.network_model);
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
  refuse_outputs_over_inputs({{"--trace", o.trace_path}},
                             {{"--cluster", o.config.cluster_path}, {"--workload", o.config.workload_path}});
  // Open the trace file first: an unwritable path is an input error, not a lost simulation.
  OutputFile trace_out(o.trace_path);
  const Inputs configs = load_configs(o.config);
  (void)checked_gpu_memory(configs, o.allow_oversubscribed_memory);
  std::string trace;
  show_progress_on_terminal(configs, run_request(o.run));
  StepResult result = simulate_run(configs.cluster, configs.workload, run_request(o.run),
                                   o.trace_path.empty() ? nullptr : &trace);
  add_goodput(result, configs.cluster, configs.workload, o.goodput);
  trace_out.commit(trace + '\n');
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
  opts = {};  // the defaults again: a process may register its commands more than once (tests/fuzz)
  auto* cmd = app.add_subcommand("run", "Simulate a training step; GPU-hours and days per trillion tokens");
  add_config_options(*cmd, opts.config, {"text", "json", "csv"});
  add_run_options(*cmd, opts.run);
  add_allow_oversubscribed_memory_option(*cmd, opts.allow_oversubscribed_memory);
  cmd->add_option("--trace", opts.trace_path, "Write a Chrome trace (Perfetto) of the simulated step");
  cmd->add_option("--seeds", opts.goodput.seeds, "Runs with failures simulated (a cluster with a reliability section)")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  cmd->add_option_function<std::size_t>(
         "--checkpoint-interval", [](std::size_t steps) { opts.goodput.interval_steps = steps; },
         "Steps between checkpoints in the run with failures; default: the interval that minimises the wall time")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 40));
  cmd->callback([&action] { action = [] { return run(opts); }; });
}

}  // namespace trainsim::cli
