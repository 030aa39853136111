#pragma once
// Layer passes: the tasks of one pass (F, B, W) over one layer of one
// micro-batch on one pipeline rank, for every simulated replica: the blocks'
// compute tasks, the tensor-parallel all-reduce after each, and the MoE
// dispatch/combine all-to-alls between them. Each step takes the dependency per
// replica (`in`) and returns the tasks a following step depends on; a step with
// nothing to do for the layer (the all-to-all of a dense layer, the mlp of an
// embedding) returns `in`.
#include "sim/parallel/step_build.hpp"

namespace trainsim::step {

// Forward of one layer: attn, [dispatch, mlp, combine] or mlp.
[[nodiscard]] Tasks forward_attn(StepBuild& b, int r, int mb, int li, const Tasks& in);
[[nodiscard]] Tasks forward_dispatch(StepBuild& b, int r, int mb, int li, const Tasks& in);
[[nodiscard]] Tasks forward_mlp(StepBuild& b, int r, int mb, int li, const Tasks& in);
[[nodiscard]] Tasks forward_combine(StepBuild& b, int r, int mb, int li, const Tasks& in);

// Backward of one layer: combine, mlp, dispatch, attn. Backward of the combine
// = a dispatch-shaped all-to-all of output gradients, quantised like the
// dispatch (DeepSeek-V3 §3.3.3); backward of the dispatch = a combine-shaped
// all-to-all in BF16. `with_w` adds the weight gradients to the block's task.
// Under full recomputation backward_combine first repeats the layer's forward
// communication (TP all-reduces, MoE dispatch and combine: tasks "R ...").
[[nodiscard]] Tasks backward_combine(StepBuild& b, int r, int mb, int li, const Tasks& in);
[[nodiscard]] Tasks backward_mlp(StepBuild& b, int r, int mb, int li, const Tasks& in, bool with_w);
[[nodiscard]] Tasks backward_dispatch(StepBuild& b, int r, int mb, int li, const Tasks& in);
[[nodiscard]] Tasks backward_attn(StepBuild& b, int r, int mb, int li, const Tasks& in, bool with_w);

// The weight-gradient task of one block (mlp or attn), in stream order only.
void weight_grads(StepBuild& b, int r, int mb, int li, bool mlp);

}  // namespace trainsim::step
