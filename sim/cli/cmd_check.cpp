// trainsim check: load the cluster and the workload, cross-check them, and print
// a short summary. Exit 0 when both are valid; an input error exits 2 with one line.
#include <iostream>
#include <memory>
#include <string>

#include "sim/calibrate/step_calibration.hpp"
#include "sim/cli/commands.hpp"
#include "sim/parallel/schedule.hpp"
#include "sim/report/step_result.hpp"

namespace trainsim::cli {

namespace {
struct CheckOptions {
  ConfigOptions config;
  bool allow_oversubscribed_memory = false;
};

int run_check(const CheckOptions& o) {
  const Inputs in = load_configs(o.config);
  const ClusterSpec& cluster = in.cluster;
  const WorkloadSpec& workload = in.workload;
  (void)workload_schedule(workload, workload.training.global_batch);  // the rules `run` applies
  const GpuMemory memory = checked_gpu_memory(in, o.allow_oversubscribed_memory);
  const ParallelismSpec& p = workload.parallelism;
  const auto calibration = calibrate::load_step_calibration(cluster, workload);
  const std::size_t model_form = calibration ? calibrate::model_form_constants(*calibration).size() : 0;
  std::cout << "cluster:  " << cluster.name << " (" << cluster.source_file << "): " << cluster.num_gpus() << " GPUs = "
            << cluster.nodes << " nodes x " << cluster.node.gpus << " " << cluster.gpu.name << ", "
            << cluster.network.fabric << "\n"
            << "workload: " << workload.model.name << " (" << workload.source_file << "): " << workload.model.layers
            << " layers, " << (workload.model.moe ? "MoE" : "dense") << "\n"
            << "parallelism: tp " << p.tp << ", pp " << p.pp << ", ep " << p.ep << ", dp " << p.dp << ", zero "
            << p.zero << ", schedule " << schedule_name(p.schedule)
            << (p.cp > 1 ? ", cp " + std::to_string(p.cp) : "") << (p.sequence_parallel ? ", sequence parallel" : "")
            << "\n"
            << "micro-batches per step: " << workload.micro_batches_per_step() << "\n"
            << "uncertain constants: " << cluster.uncertain.size() + workload.uncertain.size() + model_form << " ("
            << cluster.uncertain.size() << " cluster, " << workload.uncertain.size() << " workload, " << model_form
            << " calibration model-form error)\n"
            << memory_text(memory) << "ok\n";
  return 0;
}
}  // namespace

void register_check(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("check", "Validate a cluster and a workload file and print a summary");
  auto opts = std::make_shared<CheckOptions>();
  add_cluster_option(*cmd, opts->config);
  add_workload_option(*cmd, opts->config);
  add_set_option(*cmd, opts->config);
  add_allow_oversubscribed_memory_option(*cmd, opts->allow_oversubscribed_memory);
  cmd->callback([&action, opts] { action = [opts] { return run_check(*opts); }; });
}

}  // namespace trainsim::cli
