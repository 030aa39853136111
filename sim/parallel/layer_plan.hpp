#pragma once
// Layer plan: the seconds and model FLOPs of each block of one layer, per pass
// (forward, backward-input, backward-weight), on one GPU, from the cost model's
// ops and op_time. A transformer layer has two blocks: "attn", everything
// before the MoE dispatch (norms, projections, attention core, gate), and
// "mlp", the experts or dense FFN; other layers (embedding, head) are one block.
#include <string>
#include <vector>

#include "sim/calibrate/step_calibration.hpp"
#include "sim/config/spec.hpp"
#include "sim/model/cost_model.hpp"
#include "sim/parallel/step_program.hpp"

namespace trainsim::step {

// A compute task's seconds on all of its GPU's SMs, and on the SMs left while a
// communication kernel runs beside it (op_time.hpp); the engine switches between them.
struct TaskSeconds {
  double all_sms = 0;
  double sm_shared = 0;
};

// Seconds and model FLOPs of one block of one layer, per pass, on one GPU.
struct BlockCost {
  double f = 0, b = 0, w = 0;           // forward, backward-input (+ recompute), backward-weight
  double flops_f = 0, flops_b = 0, flops_w = 0;
  double f_shared = 0, b_shared = 0, w_shared = 0;  // f, b, w beside a communication kernel
  [[nodiscard]] TaskSeconds forward_seconds() const { return {f, f_shared}; }
  [[nodiscard]] TaskSeconds backward_seconds(bool with_weight) const {
    return {b + (with_weight ? w : 0), b_shared + (with_weight ? w_shared : 0)};
  }
  [[nodiscard]] TaskSeconds weight_seconds() const { return {w, w_shared}; }
};

struct LayerPlan {
  Category category = Category::attention;  // for layers that are one block (embedding, head)
  bool moe = false;
  bool two_blocks = false;  // attn + mlp; otherwise everything in `attn`
  BlockCost attn, mlp;
  BlockCost routed;  // the routed experts' share of `mlp`: scales with the tokens a rank receives
  BlockCost core;    // the attention core's share of `attn`: the ring steps under context parallelism
  std::string name;
  // The MLP block is reported as MTP work in the MTP module, as mlp elsewhere.
  [[nodiscard]] Category mlp_category() const { return category == Category::mtp ? Category::mtp : Category::mlp; }
  // Forward + backward seconds of the whole layer on all SMs: what the stage partition balances.
  [[nodiscard]] double seconds() const { return attn.f + attn.b + attn.w + mlp.f + mlp.b + mlp.w; }
};

// Whether an op of a transformer layer runs in its mlp block (from the MoE
// dispatch on, or the dense FFN) rather than its attn block. An MTP module's
// own ops (projection, head) are counted in its attn block.
[[nodiscard]] bool in_mlp_block(OpBlock block);

// Ops outside the tensor-parallel GEMMs: the norm at the entry of each block and
// the residual add at its exit (Megatron's LayerNorm, dropout and bias-add). Without
// sequence parallelism every TP rank runs them (and keeps their inputs) on all
// tokens; with it, on 1/tp.
[[nodiscard]] bool outside_tp_gemms(const OpCost& op);
// The shards `tp` ranks split the op into: tp, or 1 for a replicated op.
[[nodiscard]] int tp_shards_of(const OpCost& op, const ParallelismSpec& p, int tp);

// With a calibration (sim/calibrate/step_calibration.hpp), the op-passes its recipes
// list take their recipe kernels' seconds; without one, op_time's.
[[nodiscard]] LayerPlan plan_layer(const LayerCost& layer, const ClusterSpec& c, const WorkloadSpec& w,
                                   const calibrate::StepCalibration* calibration = nullptr);

}  // namespace trainsim::step
