#pragma once
// Data parallelism and the optimizer, by ZeRO stage (parallelism.zero). A stage
// of the model is held by one pipeline rank, or under DualPipe by two (ranks i
// and pp-1-i); its copies are its data-parallel replicas on every holder. Dense
// parameters go over all copies (hierarchical: NVLink, then the rails); the
// routed experts over the expert-data-parallel group (the same EP position in
// every EP group and copy, a ring across nodes). Bytes per gradient, master
// weight, moment and parameter come from training.optimizer.
//
//   zero 0: after the backward, one all-reduce of each stage's gradients over its
//           copies; every GPU's optimizer updates its whole stage; no gather.
//   zero 1: one reduce-scatter per stage after its last backward; the optimizer
//           on the 1/n shard; one all-gather of the updated parameters.
//   zero 2: gradients sharded. The same traffic as zero 1, but reduce-scattered
//           per layer during the last micro-batch's backward, as soon as that
//           layer's weight gradients are done (Megatron-LM's distributed optimizer
//           with overlap_grad_reduce does this per bucket; one layer is the bucket
//           here, e.g. 218M parameters in Llama 3 8B against DeepSpeed's default
//           reduce_bucket_size of 5e8). DeepSpeed's stage 2 instead reduces at
//           every micro-batch (its PR #338); that is not modelled.
//   zero 3: FSDP full shard (PyTorch FSDP, Zhao et al. VLDB 2023; DeepSpeed
//           ZeRO-3). Per layer, an all-gather of its parameters before its forward
//           and again before its backward of every micro-batch (FSDP reshards after
//           forward), and a reduce-scatter of its gradients after its backward of
//           every micro-batch (gradients are kept sharded, so they cannot be
//           accumulated unsharded over micro-batches); the optimizer on the shard;
//           no end-of-step gather. Gathers run in order on one stream and are
//           prefetched one layer ahead: the gather of a layer may start once the
//           compute two layer-passes back has ended (FSDP issues the next gather
//           while the current layer computes, and its rate limiter holds at most
//           two layers unsharded); the layer's first compute task waits for its
//           gather. Reduce-scatters run in order on a second stream. A stage held
//           by two ranks (DualPipe) is refused: gathering one copy's layer from
//           the shards of both is not a collective trainsim models.
// Exposed gather and scatter time is reported as dp.
#include "sim/parallel/step_build.hpp"

namespace trainsim::step {

// Bytes of HBM traffic per parameter of one AdamW step (memory-bound): it reads
// the gradient, the master weight and both moments, and writes the master
// weight, both moments and the working weight. DeepSeek-V3 (§3.3.3: FP32
// gradients and master weights, BF16 moments and weights): 4 + 4 + 2·2 read,
// 4 + 2·2 + 2 written = 22.
[[nodiscard]] double adamw_bytes_per_param(const OptimizerSpec& o);

// Emits what is left after every pass: zero 0/1, the gradient collectives after
// the backward passes (StepBuild::last_bwd of every rank); every rank's optimizer;
// zero 1/2, the parameter all-gathers.
void emit_data_parallel(StepBuild& b);

// Hooks of the chunk passes (step_program.cpp); they do nothing below the stage
// that needs them. Before `pass` (F or B) of layer li of micro-batch mb on rank
// r: zero 3 gathers the layer's parameters, and the next compute task of every
// replica waits for the gather (in a DualPipeV F&B pair, called just before the
// backward's mlp: for a layer without one, e.g. the head, the pair's next compute).
void gather_layer_params(StepBuild& b, int r, int mb, int li, PassKind pass);
// Once the weight gradients of layer li of micro-batch mb are complete on rank r
// (its last compute task): zero 3 reduce-scatters them; zero 2 does so at the
// last micro-batch, over every holder of the stage once all have reported.
void reduce_layer_gradients(StepBuild& b, int r, int mb, int li);

}  // namespace trainsim::step

namespace trainsim {

// Refuses (InputError at parallelism.zero) zero 3 with a schedule that runs a
// stage on two pipeline ranks (DualPipe).
void check_workload_zero(const WorkloadSpec& workload);

}  // namespace trainsim
