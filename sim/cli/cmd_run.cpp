// trainsim run: simulate one training step (and the batch-ramp points), report
// GPU-hours and days per trillion tokens, cost, energy, breakdown, trace.
#include <fmt/format.h>

#include <fstream>
#include <iostream>

#include "sim/cli/commands.hpp"
#include "sim/config/load.hpp"
#include "sim/engine/isolated.hpp"
#include "sim/engine/step_executor.hpp"
#include "sim/parallel/schedule.hpp"
#include "sim/parallel/step_program.hpp"
#include "sim/report/step_result.hpp"

namespace trainsim::cli {

namespace {

struct RunOptions {
  ConfigOptions config;
  std::string fidelity = "symmetric";
  std::string trace_path;
  int ramp_points = 5;
  int jobs = 2;
};

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

int run(const RunOptions& o) {
  const auto overrides = parse_overrides(o.config.set_args);
  const ClusterSpec cluster = load_cluster(o.config.cluster_path, overrides);
  const WorkloadSpec workload = load_workload(o.config.workload_path, overrides);
  check_workload_fits_cluster(workload, cluster);
  const Fidelity fidelity = o.fidelity == "full" ? Fidelity::full : Fidelity::symmetric;

  // Batch-ramp points first, each in its own process (one SimGrid engine per process).
  std::vector<RampPoint> ramp;
  std::vector<std::string> notes;
  if (workload.training.batch_ramp && o.ramp_points >= 2) {
    const int b0 = workload.training.batch_ramp->start_sequences;
    const int b1 = workload.training.global_batch;
    for (int i = 0; i < o.ramp_points - 1; ++i) {
      RampPoint p;
      p.global_batch = b0 + (b1 - b0) * i / (o.ramp_points - 1);
      p.simulated_batch = smallest_valid_batch(workload, p.global_batch);
      if (p.simulated_batch != p.global_batch)
        notes.push_back(fmt::format("batch-ramp point {} sequences simulated as {} (the {} schedule needs that many "
                                    "micro-batches at dp {}); per-token time taken from it (assumption)",
                                    p.global_batch, p.simulated_batch, schedule_name(workload.parallelism.schedule),
                                    workload.parallelism.dp));
      ramp.push_back(p);
    }
    std::vector<std::function<std::vector<double>()>> sims;
    for (const RampPoint& p : ramp)
      sims.push_back([&cluster, &workload, fidelity, batch = p.simulated_batch] {
        const StepProgram prog = build_step_program(cluster, workload, batch, fidelity);
        const auto x = engine::execute_step(cluster, prog);
        return std::vector<double>{x.makespan_s, prog.tokens_per_step};
      });
    const auto values = engine::run_isolated_all(sims, o.jobs);
    for (std::size_t i = 0; i < ramp.size(); ++i) {
      ramp[i].step_time_s = values[i].at(0);
      ramp[i].seconds_per_token = values[i].at(0) / values[i].at(1);
    }
  }

  const StepProgram program = build_step_program(cluster, workload, workload.training.global_batch, fidelity);
  const auto execution = engine::execute_step(cluster, program);
  StepResult result = summarize_step(cluster, workload, program, execution);
  if (!ramp.empty())
    ramp.push_back({workload.training.global_batch, workload.training.global_batch, result.step_time_s,
                    result.step_time_s / result.tokens_per_step});
  result.ramp = ramp;
  result.notes = notes;
  integrate_run(result, cluster, workload);

  if (!o.trace_path.empty()) {
    std::ofstream out(o.trace_path);
    if (!out) throw InputError({o.trace_path, 0, 0}, "cannot write the trace file");
    out << to_chrome_trace(program, execution) << '\n';
  }
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
  cmd->callback([&action] { action = [] { return run(opts); }; });
}

}  // namespace trainsim::cli
