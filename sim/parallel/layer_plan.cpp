// Per-layer, per-block, per-pass seconds and FLOPs (see layer_plan.hpp).
#include "sim/parallel/layer_plan.hpp"

#include <algorithm>
#include <optional>

#include "sim/calibrate/step_calibration.hpp"
#include "sim/model/op_time.hpp"

namespace trainsim::step {

namespace {

// The op on one context-parallel rank: 1/cp of the tokens, so 1/cp of the FLOPs
// (causal attention too: zig-zag chunks give every rank the same share) and of
// the activation traffic; the weights are read (and their gradient written) whole.
OpCost context_share(const OpCost& op, const WorkloadSpec& w) {
  const double cp = w.parallelism.cp;
  if (cp == 1) return op;
  OpCost local = op;
  const double weights = op.params * element_bytes(op.precision);
  const double weight_grads = op.params * w.training.optimizer.gradient_bytes;
  auto tokens_share = [cp](double bytes, double fixed) { return fixed + std::max(0.0, bytes - fixed) / cp; };
  local.flops_fwd /= cp;
  local.flops_bwd_input /= cp;
  local.flops_bwd_weight /= cp;
  local.recompute_flops /= cp;
  local.bytes_fwd = tokens_share(op.bytes_fwd, weights);
  local.bytes_bwd_input = tokens_share(op.bytes_bwd_input, weights);
  local.bytes_bwd_weight = tokens_share(op.bytes_bwd_weight, weight_grads);
  local.bytes_bwd = local.bytes_bwd_input + local.bytes_bwd_weight;
  local.recompute_bytes = tokens_share(op.recompute_bytes, op.recompute_bytes > 0 ? weights : 0);
  return local;
}

calibrate::OpPass op_pass(Pass pass) {
  switch (pass) {
    case Pass::forward: return calibrate::OpPass::forward;
    case Pass::backward_input: return calibrate::OpPass::backward_input;
    case Pass::backward_weight: return calibrate::OpPass::backward_weight;
    case Pass::recompute: return calibrate::OpPass::recompute;
  }
  return calibrate::OpPass::forward;
}

// `calibrated`: the op-passes the recipes time (step_calibration.hpp), for the whole
// op on one GPU; the others keep op_time. A tensor- or context-parallel rank takes
// 1/shards of a calibrated time (assumption: no shape effect of the split).
void add_op(BlockCost& block, const OpCost& whole, const ClusterSpec& c, const WorkloadSpec& w, int tp_shards,
            const calibrate::CalibratedOpPasses* calibrated) {
  const OpCost op = context_share(whole, w);
  const int shards = tp_shards_of(op, w.parallelism, tp_shards);
  const double shared = compute_sm_share(c, w);
  auto seconds = [&](Pass pass, double sm_share) {
    if (calibrated != nullptr) {
      const auto it = calibrated->find({op.name, op_pass(pass)});
      if (it != calibrated->end())
        return (sm_share == 1 ? it->second.all_sms : it->second.sm_shared) / (shards * w.parallelism.cp);
    }
    return op_seconds(op, pass, c, sm_share, shards);
  };
  block.f += seconds(Pass::forward, 1);
  block.b += seconds(Pass::backward_input, 1) + seconds(Pass::recompute, 1);
  block.w += seconds(Pass::backward_weight, 1);
  block.f_shared += seconds(Pass::forward, shared);
  block.b_shared += seconds(Pass::backward_input, shared) + seconds(Pass::recompute, shared);
  block.w_shared += seconds(Pass::backward_weight, shared);
  block.flops_f += op.flops_fwd / shards;
  block.flops_b += op.flops_bwd_input / shards;
  block.flops_w += op.flops_bwd_weight / shards;
}

}  // namespace

bool outside_tp_gemms(const OpCost& op) {
  for (const char* name : {"attn.norm", "ffn.norm", "moe.norm", "attn.residual", "ffn.residual", "moe.residual"})
    if (op.name == name) return true;
  return false;
}

int tp_shards_of(const OpCost& op, const ParallelismSpec& p, int tp) {
  return outside_tp_gemms(op) && !p.sequence_parallel ? 1 : tp;
}

bool in_mlp_block(OpBlock block) {
  switch (block) {
    case OpBlock::routed_experts:
    case OpBlock::shared_experts:
    case OpBlock::moe_output:
    case OpBlock::dense_ffn: return true;
    case OpBlock::embedding:
    case OpBlock::attention:
    case OpBlock::moe_gate:
    case OpBlock::mtp_projection:
    case OpBlock::head: return false;
  }
  return false;
}

LayerPlan plan_layer(const LayerCost& layer, const ClusterSpec& c, const WorkloadSpec& w,
                     const calibrate::StepCalibration* calibration) {
  LayerPlan plan;
  plan.name = layer.name;
  const int shards = w.parallelism.tp;
  const bool transformer = layer.kind == LayerKind::dense || layer.kind == LayerKind::moe ||
                           layer.kind == LayerKind::mtp;
  plan.two_blocks = transformer;
  plan.category = layer.kind == LayerKind::mtp ? Category::mtp
                  : transformer               ? Category::attention
                                              : Category::embedding_head;
  LayerCost local_layer = layer;  // the ops as one GPU runs them
  for (OpCost& op : local_layer.ops) {
    if (op.block != OpBlock::routed_experts) continue;
    // The cost model is unsharded: its routed-expert ops read every expert's
    // weights. Under expert parallelism a GPU holds 1/ep of them (and, with
    // balanced routing, computes its micro-batch's share of the FLOPs), so only
    // the weight traffic shrinks.
    const double foreign = op.params * (1.0 - 1.0 / w.parallelism.ep);
    op.bytes_fwd -= foreign * element_bytes(op.precision);
    op.bytes_bwd_input -= foreign * element_bytes(op.precision);
    op.bytes_bwd_weight -= foreign * w.training.optimizer.gradient_bytes;  // the foreign weight gradients
    op.bytes_bwd = op.bytes_bwd_input + op.bytes_bwd_weight;
  }
  std::optional<calibrate::CalibratedOpPasses> calibrated;
  if (calibration != nullptr && transformer)
    calibrated = calibrate::calibrated_op_passes(*calibration, local_layer, w, compute_sm_share(c, w));
  const calibrate::CalibratedOpPasses* timed = calibrated ? &*calibrated : nullptr;
  for (const OpCost& op : local_layer.ops) {
    if (op.block == OpBlock::routed_experts) {
      plan.moe = true;
      add_op(plan.mlp, op, c, w, shards, timed);
      add_op(plan.routed, op, c, w, shards, timed);
      continue;
    }
    add_op(transformer && in_mlp_block(op.block) ? plan.mlp : plan.attn, op, c, w, shards, timed);
    if (transformer && op.kind == OpKind::attention_core) add_op(plan.core, op, c, w, shards, timed);
  }
  return plan;
}

}  // namespace trainsim::step
