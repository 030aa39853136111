// Planning a step program's build context (see step_build.hpp).
#include "sim/parallel/step_build.hpp"

#include <algorithm>
#include <optional>

#include "sim/config/error.hpp"
#include "sim/parallel/stage_partition.hpp"

namespace trainsim::step {
namespace {

// The stages each pipeline rank runs, over all micro-batches (the schedule's
// stage→rank map; DualPipe's depends on the micro-batch).
StagesOfRank stages_of_rank(const PipelineSchedule& s) {
  StagesOfRank held(s.pp);
  for (int mb = 0; mb < s.microbatches; ++mb)
    for (int stage = 0; stage < s.num_stages; ++stage) held[rank_of(s, mb, stage)].push_back(stage);
  for (auto& v : held) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
  }
  return held;
}

}  // namespace

ClusterSpec partition_reference(const ClusterSpec& c) {
  ClusterSpec ref = c;
  // Every efficiency at 1, by name: a field added to EfficiencySpec must be set here too.
  ref.gpu.efficiency = EfficiencySpec{.dense_gemm_fp8 = 1,
                                      .dense_gemm_bf16 = 1,
                                      .grouped_gemm_fp8 = 1,
                                      .grouped_gemm_bf16 = 1,
                                      .attention_fwd = 1,
                                      .attention_bwd = 1,
                                      .hbm = 1};
  ref.gpu.launch_overhead_s = 0;
  ref.calibration_multipliers.clear();
  return ref;
}

std::vector<double> partition_layer_seconds(const ModelCost& cost, const ClusterSpec& c, const WorkloadSpec& w,
                                            const calibrate::StepCalibration* calibration) {
  const ClusterSpec ref = partition_reference(c);
  std::optional<calibrate::StepCalibration> laws_only;
  if (calibration != nullptr) {
    laws_only = *calibration;
    laws_only->multipliers.clear();
  }
  std::vector<double> seconds;
  for (const LayerCost& l : cost.layers) seconds.push_back(plan_layer(l, ref, w, laws_only ? &*laws_only : nullptr).seconds());
  return seconds;
}

void plan_partition(StepBuild& b, int global_batch_sequences) {
  const ClusterSpec& c = b.cluster;
  const WorkloadSpec& w = b.workload;
  b.microbatches = global_batch_sequences / (b.p.dp * w.training.micro_batch);
  b.schedule = workload_schedule(w, global_batch_sequences);
  if (w.model.moe && b.p.tp != 1)
    throw InputError(w.mark_of("parallelism.tp"), "MoE workloads with tp > 1 are not supported yet");
  b.cost = model_cost(w);
  const auto calibration = calibrate::load_step_calibration(c, w);
  for (const LayerCost& l : b.cost.layers) b.layers.push_back(plan_layer(l, c, w, calibration ? &*calibration : nullptr));
  if (b.schedule.num_stages > static_cast<int>(b.layers.size()))
    throw InputError(w.mark_of("parallelism.pp"), "more pipeline stages than layers");
  // Balanced per rank, not per stage: a rank that runs two stages (DualPipe's
  // first and last, with the embedding and the head) carries both. On the
  // reference costs, not b.layers: a what-if on a kernel or link constant keeps
  // the partition (step_build.hpp).
  b.stage_layers = partition_layers(partition_layer_seconds(b.cost, c, w, calibration ? &*calibration : nullptr),
                                    b.schedule.num_stages, stages_of_rank(b.schedule));
}

void plan_step(StepBuild& b, int global_batch_sequences) {
  const ClusterSpec& c = b.cluster;
  const WorkloadSpec& w = b.workload;
  plan_partition(b, global_batch_sequences);
  // A context-parallel rank holds seq_len/cp tokens of each sequence.
  b.activation_bytes = static_cast<double>(w.training.micro_batch) * w.training.seq_len * w.model.hidden *
                       element_bytes(Precision::bf16) / b.p.cp;
  if (b.p.cp > 1) b.cp_kv_bytes = cp_kv_block_bytes(w);
  if (w.model.moe) {
    b.routing = parallel::route_tokens(parallel::routing_params(w, std::min(b.p.ep, c.node.gpus)));
    b.dispatch_bytes = dispatch_bytes_per_token_per_copy(w);
    b.combine_bytes = combine_bytes_per_token_per_copy(w);
    b.expert_load = expert_load_by_rank(*w.model.moe, b.routing);
  }
  b.reps = choose_representatives(c, b.p, b.fidelity, b.expert_load);
  b.speeds = compute_speeds(c, b.p, b.reps);
  if (b.routing.dropped_pairs > 0) b.reps.notes.push_back(parallel::capacity_note(*w.model.moe, b.routing));
}

}  // namespace trainsim::step

namespace trainsim::step {

double cp_kv_block_bytes(const WorkloadSpec& w) {
  const AttentionSpec& a = w.model.attention;
  const ParallelismSpec& p = w.parallelism;
  const double tokens = static_cast<double>(w.training.micro_batch) * w.training.seq_len / p.cp;
  const double bf16 = element_bytes(Precision::bf16);
  if (a.kind == AttentionKind::mla) {
    const double heads = static_cast<double>(a.heads) / p.tp;
    return tokens * heads * (a.qk_nope_head_dim + a.qk_rope_head_dim + a.v_head_dim) * bf16;
  }
  const int kv_heads = a.kind == AttentionKind::mha || a.kv_heads == 0 ? a.heads : a.kv_heads;
  // Fewer KV heads than TP ranks: each rank holds (a copy of) one.
  const double heads = std::max(1.0, static_cast<double>(kv_heads) / p.tp);
  return 2 * tokens * heads * a.head_dim * bf16;
}

}  // namespace trainsim::step
