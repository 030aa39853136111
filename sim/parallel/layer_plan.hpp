#pragma once
// Layer plan: the seconds and model FLOPs of each block of one layer, per pass
// (forward, backward-input, backward-weight), on one GPU, from the cost model's
// ops and op_time. A transformer layer has two blocks: "attn", everything
// before the MoE dispatch (norms, projections, attention core, gate), and
// "mlp", the experts or dense FFN; other layers (embedding, head) are one block.
#include <string>
#include <vector>

#include "sim/config/spec.hpp"
#include "sim/model/cost_model.hpp"
#include "sim/parallel/step_program.hpp"

namespace trainsim::step {

// Seconds and model FLOPs of one block of one layer, per pass, on one GPU.
struct BlockCost {
  double f = 0, b = 0, w = 0;           // forward, backward-input (+ recompute), backward-weight
  double flops_f = 0, flops_b = 0, flops_w = 0;
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
  // Forward + backward seconds of the whole layer: what the stage partition balances.
  [[nodiscard]] double seconds() const { return attn.f + attn.b + attn.w + mlp.f + mlp.b + mlp.w; }
};

// Whether an op of a transformer layer runs in its mlp block (from the MoE
// dispatch on, or the dense FFN) rather than its attn block. An MTP module's
// own ops (projection, head) are counted in its attn block.
[[nodiscard]] bool in_mlp_block(OpBlock block);

[[nodiscard]] LayerPlan plan_layer(const LayerCost& layer, const ClusterSpec& c, const WorkloadSpec& w);

}  // namespace trainsim::step
