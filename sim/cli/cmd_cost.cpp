// trainsim cost: simulate the run once, then its rental cost, energy and
// electricity bill, and what it costs on an owned cluster.
#include <iostream>

#include "sim/cli/commands.hpp"
#include "sim/config/load.hpp"
#include "sim/parallel/moe_routing_registry.hpp"
#include "sim/studies/dollar_cost.hpp"
#include "sim/run/simulate_run.hpp"
#include "sim/topology/fabric_registry.hpp"

namespace trainsim::cli {

namespace {

struct CostOptions {
  ConfigOptions config;
  std::string fidelity = "symmetric";
  int ramp_points = 5;
  int jobs = 2;
};

int run(const CostOptions& o) {
  const auto overrides = parse_overrides(o.config.set_args);
  const ClusterSpec cluster = load_cluster(o.config.cluster_path, overrides);
  check_fabric(cluster);
  const WorkloadSpec workload = load_workload(o.config.workload_path, overrides);
  parallel::check_moe_routing(workload);
  check_workload_fits_cluster(workload, cluster);
  RunRequest request;
  request.fidelity = o.fidelity == "full" ? Fidelity::full : Fidelity::symmetric;
  request.ramp_points = o.ramp_points;
  request.jobs = o.jobs;
  const RunCost cost = run_cost(simulate_run(cluster, workload, request), cluster);
  if (o.config.format == "json")
    std::cout << to_json(cost).dump(2) << '\n';
  else
    std::cout << to_text(cost);
  return 0;
}

}  // namespace

void register_cost(CLI::App& app, Action& action) {
  static CostOptions opts;
  auto* cmd = app.add_subcommand(
      "cost", "Cost of the simulated run: rental, energy and electricity, and on an owned cluster (capex + power)");
  add_cluster_option(*cmd, opts.config);
  add_workload_option(*cmd, opts.config);
  add_set_option(*cmd, opts.config);
  add_format_option(*cmd, opts.config, {"text", "json"});
  cmd->add_option("--fidelity", opts.fidelity,
                  "full: every GPU and flow; symmetric (default): one pipeline of representatives")
      ->check(CLI::IsMember({"full", "symmetric"}));
  cmd->add_option("--ramp-points", opts.ramp_points,
                  "Batch sizes simulated over the batch ramp, full batch included (default 5; <2: none)");
  cmd->add_option("--jobs", opts.jobs, "Batch-ramp simulations run side by side, one process each (default 2)")
      ->check(CLI::Range(1, 256));
  cmd->callback([&action] { action = [] { return run(opts); }; });
}

}  // namespace trainsim::cli
