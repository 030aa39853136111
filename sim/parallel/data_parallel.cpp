// Gradient collectives, optimizer and parameter all-gather (see data_parallel.hpp).
#include "sim/parallel/data_parallel.hpp"

#include <algorithm>
#include <string>

#include "sim/parallel/step_tasks.hpp"

namespace trainsim::step {

namespace {

// The pipeline ranks that hold a copy of `stage`, sorted.
std::vector<int> holders_of(const StepBuild& b, int stage) {
  std::vector<int> holders;
  for (int mb = 0; mb < b.microbatches; ++mb) {
    const int h = rank_of(b.schedule, mb, stage);
    if (std::find(holders.begin(), holders.end(), h) == holders.end()) holders.push_back(h);
  }
  std::sort(holders.begin(), holders.end());
  return holders;
}

}  // namespace

double adamw_bytes_per_param(const OptimizerSpec& o) {
  return o.gradient_bytes + 2.0 * o.master_weight_bytes + 4.0 * o.moment_bytes + o.parameter_bytes;
}

void emit_data_parallel(StepBuild& b, int r) {
  const ParallelismSpec& p = b.p;
  const OptimizerSpec& o = b.workload.training.optimizer;
  const double grad_bytes = o.gradient_bytes, param_bytes = o.parameter_bytes;
  const auto& replicas = b.reps.replicas;
  std::vector<int> rs_all;
  double shard_params = 0;
  double gathered_bytes = 0;
  for (int s = 0; s < b.schedule.num_stages; ++s) {
    const std::vector<int> holders = holders_of(b, s);
    if (std::find(holders.begin(), holders.end(), r) == holders.end()) continue;
    double dense = 0, expert = 0;
    for (int li : b.stage_layers[s])
      for (const OpCost& op : b.cost.layers[li].ops) (op.block == OpBlock::routed_experts ? expert : dense) += op.params;
    const double dense_per_gpu = dense / p.tp;
    const double expert_per_gpu = p.ep > 1 ? expert / p.ep : expert / p.tp;
    const int copies = static_cast<int>(holders.size());
    const int expert_dp = (p.ep > 1 ? p.dp / p.ep : p.dp) * copies;
    shard_params += dense_per_gpu / (p.dp * copies) + expert_per_gpu / expert_dp;
    gathered_bytes += (dense_per_gpu / copies + expert_per_gpu / copies) * param_bytes;
    const auto& after = b.last_bwd.at({r, s});
    // Dense gradients: one collective over every copy of the stage.
    std::vector<int> group;
    for (int h : holders)
      for (int k = 0; k < p.dp; ++k) group.push_back(gpu_of(p, h, k, 0));
    const auto dense_rs = parallel::hierarchical_reduce_scatter(group, b.cluster.node.gpus, dense_per_gpu * grad_bytes);
    const int owner = gpu_of(p, r, replicas[0], 0);
    std::vector<int> deps(after.begin(), after.end());
    int last = add_collective(b, dense_rs, Category::dp, "dp reduce-scatter s" + std::to_string(s), owner, deps);
    if (last == kNone) last = deps.front();
    // Expert gradients: one collective per position in the EP group.
    if (expert > 0 && expert_dp > 1) {
      const int positions = b.fidelity == Fidelity::full ? p.ep : 1;
      for (int pos = 0; pos < positions; ++pos) {
        std::vector<int> eg;
        for (int h : holders)
          for (int k = pos; k < p.dp; k += std::max(1, p.ep)) eg.push_back(gpu_of(p, h, k, 0));
        const auto ex_rs = parallel::ring_reduce_scatter(eg, expert_per_gpu * grad_bytes);
        const int e = add_collective(b, ex_rs, Category::dp, "dp expert reduce-scatter s" + std::to_string(s),
                                     gpu_of(p, r, pos, 0), {last});
        if (e != kNone) rs_all.push_back(e);
      }
    }
    rs_all.push_back(last);
  }
  // Optimizer on this rank's shard (memory-bound AdamW), then the all-gather.
  const double seconds = shard_params * adamw_bytes_per_param(o) / (b.cluster.gpu.hbm_bytes_per_s * b.cluster.gpu.efficiency.hbm);
  std::vector<int> opts;
  for (int d : replicas)
    opts.push_back(add_compute(b, r, d, Stream::compute, Category::optimizer, "optimizer", seconds, 0, rs_all));
  std::vector<int> dp_group;
  for (int k = 0; k < p.dp; ++k) dp_group.push_back(gpu_of(p, r, k, 0));
  const auto ag = parallel::hierarchical_all_gather(dp_group, b.cluster.node.gpus, gathered_bytes);
  add_collective(b, ag, Category::dp, "dp all-gather", gpu_of(p, r, replicas[0], 0), opts);
}

}  // namespace trainsim::step
