// trainsim run: simulate one training step (and the batch-ramp points), report
// GPU-hours and days per trillion tokens, cost, energy, breakdown, trace.
#include <fstream>
#include <iostream>

#include "sim/cli/commands.hpp"
#include "sim/run/simulate_run.hpp"

namespace trainsim::cli {

namespace {

struct RunCommandOptions {
  ConfigOptions config;
  RunOptions run;
  std::string trace_path;
  bool allow_oversubscribed_memory = false;
};

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
  opts = {};  // the defaults again: a process may register its commands more than once (tests/fuzz)
  auto* cmd = app.add_subcommand("run", "Simulate a training step; GPU-hours and days per trillion tokens");
  add_config_options(*cmd, opts.config, {"text", "json", "csv"});
  add_run_options(*cmd, opts.run);
  add_allow_oversubscribed_memory_option(*cmd, opts.allow_oversubscribed_memory);
  cmd->add_option("--trace", opts.trace_path, "Write a Chrome trace (Perfetto) of the simulated step");
  cmd->callback([&action] { action = [] { return run(opts); }; });
}

}  // namespace trainsim::cli
