// Per-GPU memory by part (see memory.hpp).
#include "sim/parallel/memory.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "sim/config/error.hpp"
#include "sim/parallel/layer_plan.hpp"
#include "sim/parallel/step_build.hpp"

namespace trainsim {

namespace {

// Parameters of some layers on one GPU: dense ones / tp; routed experts / ep
// when ep > 1 (without EP every GPU holds every expert, sharded like the rest).
struct GpuParams {
  double dense = 0;
  double expert = 0;
  [[nodiscard]] double all() const { return dense + expert; }
};

GpuParams layer_params(const LayerCost& layer, const ParallelismSpec& p) {
  GpuParams g;
  for (const OpCost& op : layer.ops) {
    const bool expert = op.block == OpBlock::routed_experts && p.ep > 1;
    (expert ? g.expert : g.dense) += op.params;
  }
  g.dense /= p.tp;
  g.expert /= p.ep;
  return g;
}

// One stage's share of a GPU, per micro-batch for the activations.
struct StageFootprint {
  GpuParams params;
  double largest_layer = 0;  // parameters of its largest layer (ZeRO-3 gathers layer by layer)
  double activations = 0;    // kept from a chunk's forward until its backward
  double kept_for_w = 0;     // of which an input-only backward keeps until W
  int copies = 0;            // pipeline ranks that hold the stage
};

std::vector<StageFootprint> stage_footprints(const PipelineSchedule& s, const ModelCost& cost,
                                             const std::vector<std::vector<int>>& stage_layers,
                                             const ParallelismSpec& p) {
  std::vector<StageFootprint> out(static_cast<std::size_t>(s.num_stages));
  for (int stage = 0; stage < s.num_stages; ++stage) {
    StageFootprint& f = out[static_cast<std::size_t>(stage)];
    for (int li : stage_layers.at(static_cast<std::size_t>(stage))) {
      const LayerCost& layer = cost.layers.at(static_cast<std::size_t>(li));
      const GpuParams g = layer_params(layer, p);
      f.params.dense += g.dense;
      f.params.expert += g.expert;
      f.largest_layer = std::max(f.largest_layer, g.all());
      for (const OpCost& op : layer.ops) {
        // A GPU keeps its 1/cp of the tokens, and 1/tp of them unless TP replicates the op.
        const double kept = op.activation_bytes / (step::tp_shards_of(op, p, p.tp) * p.cp);
        f.activations += kept;
        if (op.flops_bwd_weight > 0) f.kept_for_w += kept;
      }
    }
    std::set<int> holders;
    for (int mb = 0; mb < s.microbatches; ++mb) holders.insert(rank_of(s, mb, stage));
    f.copies = static_cast<int>(holders.size());
  }
  return out;
}

// Peak activation bytes on `rank` over its ops, and the chunks live at that peak.
std::pair<double, int> activation_peak(const PipelineSchedule& s, int rank, const std::vector<StageFootprint>& stages) {
  std::map<std::pair<int, int>, double> live;  // (micro-batch, stage) → bytes held
  double held = 0, peak = 0;
  int at_peak = 0;
  auto hold = [&](const ChunkRef& c, double bytes) {
    double& v = live[{c.microbatch, c.stage}];
    held += bytes - v;
    v = bytes;
    if (bytes == 0) live.erase({c.microbatch, c.stage});
    if (held > peak) {
      peak = held;
      at_peak = static_cast<int>(live.size());
    }
  };
  for (const PipelineOp& op : s.ranks.at(static_cast<std::size_t>(rank))) {
    const auto& fwd = stages[static_cast<std::size_t>(std::max(op.fwd.stage, 0))];
    const auto& bwd = stages[static_cast<std::size_t>(std::max(op.bwd.stage, 0))];
    switch (op.kind) {
      case PassKind::F: hold(op.fwd, fwd.activations); break;
      case PassKind::B: hold(op.bwd, bwd.kept_for_w); break;
      case PassKind::W:
      case PassKind::BW: hold(op.bwd, 0); break;
      case PassKind::FB:
        hold(op.fwd, fwd.activations);
        hold(op.bwd, 0);
        break;
    }
  }
  return {peak, at_peak};
}

std::string gigabytes(double bytes) { return fmt::format("{:.1f} GB", bytes / 1e9); }

}  // namespace

ZeroSharding zero_sharding(int zero) { return {zero >= 1, zero >= 2, zero >= 3}; }

GpuMemory gpu_memory(const WorkloadSpec& w, double hbm_bytes, const PipelineSchedule& s, const ModelCost& cost,
                     const std::vector<std::vector<int>>& stage_layers) {
  const ParallelismSpec& p = w.parallelism;
  const OptimizerSpec& o = w.training.optimizer;
  const ZeroSharding zero = zero_sharding(p.zero);
  const auto stages = stage_footprints(s, cost, stage_layers, p);
  const double hidden_state = static_cast<double>(w.training.micro_batch) * w.training.seq_len * w.model.hidden *
                              element_bytes(Precision::bf16) / (p.tp * p.cp);
  const int expert_replicas = p.ep > 1 ? p.dp / p.ep : p.dp;

  GpuMemory m;
  m.hbm_bytes = hbm_bytes;
  for (int r = 0; r < s.pp; ++r) {
    RankMemory rm;
    rm.rank = r;
    std::set<int> held;
    for (int mb = 0; mb < s.microbatches; ++mb)
      for (int stage = 0; stage < s.num_stages; ++stage)
        if (rank_of(s, mb, stage) == r) held.insert(stage);
    rm.stages.assign(held.begin(), held.end());
    double full = 0, shard = 0, largest_layer = 0;  // parameters of the held stages, whole and one ZeRO shard
    for (int stage : rm.stages) {
      const StageFootprint& f = stages[static_cast<std::size_t>(stage)];
      full += f.params.all();
      shard += f.params.dense / (replicas_per_rank(p) * f.copies) + f.params.expert / (expert_replicas * f.copies);
      largest_layer = std::max(largest_layer, f.largest_layer);
    }
    // Each stage boundary some micro-batch crosses from or to this rank (DualPipe at
    // pp 2 holds both stages yet sends between them): one receive and one send buffer.
    std::set<std::pair<int, int>> crossings;  // (stage here, neighbouring stage elsewhere)
    for (int mb = 0; mb < s.microbatches; ++mb)
      for (int stage = 0; stage < s.num_stages; ++stage)
        for (int next : {stage - 1, stage + 1})
          if (next >= 0 && next < s.num_stages && rank_of(s, mb, stage) == r && rank_of(s, mb, next) != r)
            crossings.insert({stage, next});
    rm.pipeline_buffers = 2 * hidden_state * static_cast<double>(crossings.size());
    // ZeRO-3: the shard plus two gathered layers, never more than the whole.
    rm.weights = (zero.parameters ? std::min(full, shard + 2 * largest_layer) : full) * o.parameter_bytes;
    rm.gradients = (zero.gradients ? shard : full) * o.gradient_bytes;
    rm.optimizer_states =
        (zero.optimizer_states ? shard : full) * (o.master_weight_bytes + 2.0 * o.moment_bytes);
    std::tie(rm.activations, rm.chunks_in_flight) = activation_peak(s, r, stages);
    rm.comm_buffers = w.memory.comm_buffer_bytes;
    rm.reserved = w.memory.reserved_bytes;
    m.ranks.push_back(std::move(rm));
  }
  for (const RankMemory& rm : m.ranks)
    if (rm.total() > m.ranks[static_cast<std::size_t>(m.largest_rank)].total()) m.largest_rank = rm.rank;
  return m;
}

GpuMemory plan_gpu_memory(const ClusterSpec& cluster, const WorkloadSpec& workload) {
  step::StepBuild b(cluster, workload, Fidelity::symmetric);
  step::plan_partition(b, workload.training.global_batch);
  return gpu_memory(workload, cluster.gpu.hbm_bytes, b.schedule, b.cost, b.stage_layers);
}

std::string memory_verdict(const GpuMemory& m) {
  return fmt::format("rank {} needs {} of {:.4g} GB HBM", m.largest_rank, gigabytes(m.largest().total()),
                     m.hbm_bytes / 1e9);
}

void check_memory_fits(const GpuMemory& m, const WorkloadSpec& workload) {
  if (m.fits()) return;
  throw InputError(workload.mark_of("parallelism.pp"),
                   fmt::format("the configuration does not fit in GPU memory: {} (weights {}, gradients {}, optimizer "
                               "states {}, activations {}); pass --allow-oversubscribed-memory to simulate it anyway",
                               memory_verdict(m), gigabytes(m.largest().weights), gigabytes(m.largest().gradients),
                               gigabytes(m.largest().optimizer_states), gigabytes(m.largest().activations)));
}

}  // namespace trainsim
