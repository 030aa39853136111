// Gradient collectives, optimizer and parameter all-gather (see data_parallel.hpp).
#include "sim/parallel/data_parallel.hpp"

#include <algorithm>
#include <map>
#include <string>

#include "sim/parallel/step_tasks.hpp"

namespace trainsim::step {

namespace {

// One stage as ZeRO sees it: the pipeline ranks that hold a copy of it and its
// parameters on one GPU of a holder.
struct StageCopies {
  std::vector<int> holders;  // pipeline ranks, sorted (DualPipe: i and pp-1-i)
  double dense = 0;          // 1/tp of the stage's parameters outside the routed experts
  double expert = 0;         // the GPU's 1/ep of the routed experts (0 without EP: counted in `dense`)
};

StageCopies stage_copies(const StepBuild& b, int stage) {
  StageCopies c;
  for (int mb = 0; mb < b.microbatches; ++mb) {
    const int h = rank_of(b.schedule, mb, stage);
    if (std::find(c.holders.begin(), c.holders.end(), h) == c.holders.end()) c.holders.push_back(h);
  }
  std::sort(c.holders.begin(), c.holders.end());
  double dense = 0, expert = 0;
  for (int li : b.stage_layers[stage])
    for (const OpCost& op : b.cost.layers[li].ops) (op.block == OpBlock::routed_experts ? expert : dense) += op.params;
  // Without EP every GPU holds all experts: they are reduced and gathered with the rest.
  c.dense = (b.p.ep > 1 ? dense : dense + expert) / b.p.tp;
  c.expert = b.p.ep > 1 ? expert / b.p.ep : 0;
  return c;
}

bool holds(const StageCopies& c, int rank) {
  return std::find(c.holders.begin(), c.holders.end(), rank) != c.holders.end();
}

// The GPUs (TP index 0) of replicas first, first + step, ... on each holder
// (replicas: DP x CP ranks, which hold the same parameters),
// holder by holder. step 1: every replica, node by node as the hierarchical
// algorithms want; step ep: the expert-data-parallel peers of EP position `first`
// (the same position in every EP group), which sit on other nodes.
std::vector<int> replica_group(const ParallelismSpec& p, const std::vector<int>& holders, int first, int step) {
  std::vector<int> group;
  for (int h : holders)
    for (int k = first; k < replicas_per_rank(p); k += step) group.push_back(gpu_of(p, h, k, 0));
  return group;
}

// EP positions whose expert collectives are built: those of the simulated
// replicas (full: every position; symmetric: the representative's).
std::vector<int> expert_positions(const StepBuild& b) {
  std::vector<int> positions;
  for (int d : b.reps.replicas) positions.push_back(d % b.p.ep);
  std::sort(positions.begin(), positions.end());
  positions.erase(std::unique(positions.begin(), positions.end()), positions.end());
  return positions;
}

enum class Zero { reduce_scatter, all_gather };

// One ZeRO collective over every copy of the stages that `holders` hold: the
// dense parameters over all replicas of all holders (hierarchical: NVLink, then
// the rails), then, on the same comm stream, the experts over each EP position's
// expert-data-parallel group (a ring across nodes). `dense_bytes` and
// `expert_bytes` are one member's buffer (S: the reduce-scatter input, the
// all-gather output). Returns the tasks that end it; `deps` when none of its
// transfers touches a simulated GPU.
std::vector<int> emit_zero_collective(StepBuild& b, Zero kind, const std::vector<int>& holders, double dense_bytes,
                                      double expert_bytes, const std::string& suffix, const std::vector<int>& deps) {
  const ParallelismSpec& p = b.p;
  const bool rs = kind == Zero::reduce_scatter;
  const std::string what = rs ? "reduce-scatter" : "all-gather";
  const auto dense_group = replica_group(p, holders, 0, 1);
  const int gpus_per_node = b.cluster.node.gpus;
  const auto dense = rs ? parallel::hierarchical_reduce_scatter(dense_group, gpus_per_node, dense_bytes)
                        : parallel::hierarchical_all_gather(dense_group, gpus_per_node, dense_bytes);
  const int owner = gpu_of(p, holders.front(), b.reps.replicas[0], 0);
  const int dense_end = add_collective(b, dense, Category::dp, "dp " + what + suffix, owner, deps);
  std::vector<int> ends;
  if (dense_end != kNone) ends.push_back(dense_end);
  const std::vector<int> after = dense_end == kNone ? deps : std::vector<int>{dense_end};
  if (expert_bytes > 0)
    for (int pos : expert_positions(b)) {
      const auto group = replica_group(p, holders, pos, p.ep);
      if (group.size() < 2) continue;
      const auto plan =
          rs ? parallel::ring_reduce_scatter(group, expert_bytes) : parallel::ring_all_gather(group, expert_bytes);
      const int e = add_collective(b, plan, Category::dp, "dp expert " + what + suffix,
                                   gpu_of(p, holders.front(), pos, 0), after);
      if (e != kNone) ends.push_back(e);
    }
  return ends.empty() ? deps : ends;
}

}  // namespace

double adamw_bytes_per_param(const OptimizerSpec& o) {
  return o.gradient_bytes + 2.0 * o.master_weight_bytes + 4.0 * o.moment_bytes + o.parameter_bytes;
}

void emit_data_parallel(StepBuild& b) {
  const ParallelismSpec& p = b.p;
  const OptimizerSpec& o = b.workload.training.optimizer;
  std::vector<StageCopies> stages;
  for (int s = 0; s < b.schedule.num_stages; ++s) stages.push_back(stage_copies(b, s));

  // Gradients. A stage held by several ranks (DualPipe: ranks i and pp-1-i, two
  // copies per replica) is one set of parameters whose gradient is the sum over
  // every micro-batch, whichever copy ran it. So each stage gets ONE
  // reduce-scatter over all its copies (every replica of every holder), in which
  // every copy contributes its own full gradient buffer and receives the 1/n
  // shard of the sum that its optimizer updates. It starts once every holder has
  // finished the stage's backward. Emitting it from each holder, as before, ran
  // the same collective twice and doubled the gradient traffic.
  std::vector<std::vector<int>> reduced(stages.size());
  for (std::size_t s = 0; s < stages.size(); ++s) {
    std::vector<int> deps;
    for (int h : stages[s].holders) {
      const auto& t = b.last_bwd.at({h, static_cast<int>(s)});
      deps.insert(deps.end(), t.begin(), t.end());
    }
    reduced[s] = emit_zero_collective(b, Zero::reduce_scatter, stages[s].holders, stages[s].dense * o.gradient_bytes,
                                      stages[s].expert * o.gradient_bytes, " s" + std::to_string(s), deps);
  }

  // Optimizer (memory-bound AdamW) on each rank's shard: 1/n of every stage it
  // holds, n = the stage's reduce-scatter group.
  const int dense_replicas = replicas_per_rank(p);  // the dense reduce-scatter's group per holder: dp x cp
  const int expert_replicas = p.ep > 1 ? p.dp / p.ep : p.dp;
  std::vector<std::vector<int>> optimizer(static_cast<std::size_t>(p.pp));
  for (int r = 0; r < p.pp; ++r) {
    double shard_params = 0;
    std::vector<int> deps;
    for (std::size_t s = 0; s < stages.size(); ++s) {
      if (!holds(stages[s], r)) continue;
      const double copies = static_cast<double>(stages[s].holders.size());
      shard_params += stages[s].dense / (dense_replicas * copies) + stages[s].expert / (expert_replicas * copies);
      deps.insert(deps.end(), reduced[s].begin(), reduced[s].end());
    }
    const double seconds =
        shard_params * adamw_bytes_per_param(o) / (b.cluster.gpu.hbm_bytes_per_s * b.cluster.gpu.efficiency.hbm);
    for (int d : b.reps.replicas)
      optimizer[static_cast<std::size_t>(r)].push_back(
          add_compute(b, r, d, Stream::compute, Category::optimizer, "optimizer", seconds, 0, deps));
  }

  // Parameters: every GPU must end with the full working weights of every stage
  // it holds (DualPipe: two stages). The shards of a stage lie on all its copies,
  // so the all-gather runs over the same group as its reduce-scatter, with the
  // whole stage as each member's output; stages with the same holders (a rank's
  // chunks; DualPipe's pair) share one all-gather, after all their optimizers.
  std::map<std::vector<int>, std::vector<std::size_t>> stages_of_holders;
  for (std::size_t s = 0; s < stages.size(); ++s) stages_of_holders[stages[s].holders].push_back(s);
  for (const auto& [holders, held] : stages_of_holders) {
    double dense_bytes = 0, expert_bytes = 0;
    for (std::size_t s : held) {
      dense_bytes += stages[s].dense * o.parameter_bytes;
      expert_bytes += stages[s].expert * o.parameter_bytes;
    }
    std::vector<int> deps;
    for (int h : holders) {
      const auto& t = optimizer[static_cast<std::size_t>(h)];
      deps.insert(deps.end(), t.begin(), t.end());
    }
    emit_zero_collective(b, Zero::all_gather, holders, dense_bytes, expert_bytes, "", deps);
  }
}

}  // namespace trainsim::step
