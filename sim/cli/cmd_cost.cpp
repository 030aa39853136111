// trainsim cost: simulate the run once, then its rental cost, energy and
// electricity bill, and what it costs on an owned cluster.
#include <iostream>

#include "sim/cli/commands.hpp"
#include "sim/run/simulate_run.hpp"
#include "sim/studies/dollar_cost.hpp"

namespace trainsim::cli {

namespace {

struct CostOptions {
  ConfigOptions config;
  RunOptions run;
};

int run(const CostOptions& o) {
  const Inputs configs = load_configs(o.config);
  const RunCost cost =
      run_cost(simulate_run(configs.cluster, configs.workload, run_request(o.run)), configs.cluster);
  if (o.config.format == "json")
    std::cout << to_json(cost).dump(2) << '\n';
  else
    std::cout << to_text(cost);
  return 0;
}

}  // namespace

void register_cost(CLI::App& app, Action& action) {
  static CostOptions opts;
  opts = {};  // the defaults again: a process may register its commands more than once (tests/fuzz)
  auto* cmd = app.add_subcommand(
      "cost", "Cost of the simulated run: rental, energy and electricity, and on an owned cluster (capex + power)");
  add_config_options(*cmd, opts.config, {"text", "json"});
  add_run_options(*cmd, opts.run);
  cmd->callback([&action] { action = [] { return run(opts); }; });
}

}  // namespace trainsim::cli
