#pragma once
// Data parallelism and the optimizer (ZeRO-1). Each stage's gradients are
// reduce-scattered once, over every copy of the stage (its data-parallel
// replicas, and under DualPipe the two ranks that hold it): the dense
// parameters over all of them, the routed experts over the expert-data-parallel
// group (the same EP position in every EP group and copy). Each rank's optimizer
// updates its shard; the updated parameters are all-gathered over the same
// groups, so that every GPU ends with the full parameters of every stage it
// holds. Bytes per gradient, master weight, moment and parameter come from
// training.optimizer.
#include "sim/parallel/step_build.hpp"

namespace trainsim::step {

// Bytes of HBM traffic per parameter of one AdamW step (memory-bound): it reads
// the gradient, the master weight and both moments, and writes the master
// weight, both moments and the working weight. DeepSeek-V3 (§3.3.3: FP32
// gradients and master weights, BF16 moments and weights): 4 + 4 + 2·2 read,
// 4 + 2·2 + 2 written = 22.
[[nodiscard]] double adamw_bytes_per_param(const OptimizerSpec& o);

// Emits the gradient reduce-scatters, every rank's optimizer and the parameter
// all-gathers, after the backward passes (StepBuild::last_bwd of every rank).
void emit_data_parallel(StepBuild& b);

}  // namespace trainsim::step
