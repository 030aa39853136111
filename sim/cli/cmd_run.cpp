// trainsim run: simulate one training step (and the batch-ramp points), report
// GPU-hours and days per trillion tokens, cost, energy, breakdown, trace.
#include <fmt/format.h>

#include <unistd.h>

#include <fstream>
#include <iostream>

#include "sim/cli/commands.hpp"
#include "sim/config/load.hpp"
#include "sim/config/units.hpp"
#include "sim/parallel/moe_routing_registry.hpp"
#include "sim/run/simulate_run.hpp"
#include "sim/topology/fabric_registry.hpp"

namespace trainsim::cli {

namespace {

struct RunOptions {
  ConfigOptions config;
  std::string fidelity = "symmetric";
  std::string trace_path;
  int ramp_points = 5;
  int jobs = 2;
  std::string max_memory;  // empty: 80% of this machine's RAM
};

double physical_memory_bytes() {
  return static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGE_SIZE));
}

std::string mebibytes(double bytes) { return fmt::format("{:.0f} MiB", bytes / (1 << 20)); }

// Full fidelity holds every GPU's tasks and flows: refuse, before building them,
// a run whose estimated memory is above the limit.
void check_full_fidelity_fits(const ClusterSpec& cluster, const WorkloadSpec& workload, const RunOptions& o) {
  double limit = 0.8 * physical_memory_bytes();
  if (!o.max_memory.empty()) {
    try {
      limit = units::memory_bytes(o.max_memory);
    } catch (const std::exception& e) {
      throw InputError({"--max-memory " + o.max_memory, 0, 0}, e.what());
    }
  }
  const MemoryEstimate need = estimate_full_fidelity_memory(cluster, workload);
  if (need.bytes > limit)
    throw InputError({"--fidelity full", 0, 0},
                     fmt::format("a full-fidelity step of {} GPUs needs about {} ({:.3g} tasks, {:.3g} flows; "
                                 "estimate), above the --max-memory limit of {}; use --fidelity symmetric, "
                                 "or raise --max-memory",
                                 cluster.num_gpus(), mebibytes(need.bytes), need.tasks, need.transfers,
                                 mebibytes(limit)));
}

int run(const RunOptions& o) {
  const auto overrides = parse_overrides(o.config.set_args);
  const ClusterSpec cluster = load_cluster(o.config.cluster_path, overrides);
  check_fabric(cluster);
  const WorkloadSpec workload = load_workload(o.config.workload_path, overrides);
  parallel::check_moe_routing(workload);
  check_workload_fits_cluster(workload, cluster);
  if (o.fidelity == "full") check_full_fidelity_fits(cluster, workload, o);
  RunRequest request;
  request.fidelity = o.fidelity == "full" ? Fidelity::full : Fidelity::symmetric;
  request.ramp_points = o.ramp_points;
  request.jobs = o.jobs;
  // Open the trace file first: an unwritable path is an input error, not a lost simulation.
  std::ofstream trace_out;
  if (!o.trace_path.empty()) {
    trace_out.open(o.trace_path);
    if (!trace_out) throw InputError({o.trace_path, 0, 0}, "cannot write the trace file");
  }
  std::string trace;
  const StepResult result = simulate_run(cluster, workload, request, o.trace_path.empty() ? nullptr : &trace);
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
  static RunOptions opts;
  auto* cmd = app.add_subcommand("run", "Simulate a training step; GPU-hours and days per trillion tokens");
  add_cluster_option(*cmd, opts.config);
  add_workload_option(*cmd, opts.config);
  add_set_option(*cmd, opts.config);
  add_format_option(*cmd, opts.config, {"text", "json", "csv"});
  cmd->add_option("--fidelity", opts.fidelity,
                  "full: every GPU and flow; symmetric (default): one pipeline of representatives")
      ->check(CLI::IsMember({"full", "symmetric"}));
  cmd->add_option("--trace", opts.trace_path, "Write a Chrome trace (Perfetto) of the simulated step");
  cmd->add_option("--ramp-points", opts.ramp_points,
                  "Batch sizes simulated over the batch ramp, full batch included (default 5; <2: none)");
  cmd->add_option("--jobs", opts.jobs, "Batch-ramp simulations run side by side, one process each (default 2)")
      ->check(CLI::Range(1, 256));
  cmd->add_option("--max-memory", opts.max_memory,
                  "Refuse a full-fidelity run whose estimated memory is above this (e.g. 16GiB; default: 80% of RAM)");
  cmd->callback([&action] { action = [] { return run(opts); }; });
}

}  // namespace trainsim::cli
