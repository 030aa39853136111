#pragma once
// Data parallelism and the optimizer of one pipeline rank (ZeRO-1): once a
// stage's last backward on the rank is done, its gradients are reduce-scattered
// over every copy of the stage (data-parallel replicas, and DualPipe's two
// copies per replica) for the dense parameters, and over the
// expert-data-parallel group for the routed experts; the optimizer updates the
// rank's shard; the updated BF16 parameters are all-gathered. Gradients are
// FP32 (DeepSeek-V3 §3.3.3: gradients for the optimizer kept in FP32).
#include "sim/parallel/step_build.hpp"

namespace trainsim::step {

// Bytes of HBM traffic per parameter of one AdamW step (memory-bound): it reads
// the gradient, the master weight and both moments, and writes the master
// weight, both moments and the working weight. DeepSeek-V3 (§3.3.3: FP32
// gradients and master weights, BF16 moments and weights): 4 + 4 + 2·2 read,
// 4 + 2·2 + 2 written = 22.
[[nodiscard]] double adamw_bytes_per_param(const OptimizerSpec& o);

// Emits rank r's gradient collectives, optimizer and parameter all-gather,
// after its backward passes (StepBuild::last_bwd).
void emit_data_parallel(StepBuild& b, int r);

}  // namespace trainsim::step
