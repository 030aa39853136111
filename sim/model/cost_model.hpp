#pragma once
// Transformer cost model: parameters, FLOPs, HBM bytes and kept activations of
// every operator of one training step, for ONE micro-batch
// (tokens = training.micro_batch × training.seq_len), unsharded (TP = 1: the
// caller divides by TP). Pure arithmetic on a WorkloadSpec; knows nothing of
// SimGrid, ranks or time.
//
// Conventions:
// - FLOPs count tensor-core products only. A GEMM [m×k]·[k×n] is 2·m·n·k in
//   forward; its input-gradient (B) and weight-gradient (W) GEMMs are 2·m·n·k
//   each. Memory-bound ops (norms, SwiGLU, rotary, residual, router, loss) have
//   0 FLOPs and are timed by their bytes.
// - Attention core per sequence and head: 2·s²·d_qk (scores) + 2·s²·d_v (value
//   product), halved when training.causal. Its backward is 2.5× its forward
//   (FlashAttention: dQ, dK, dV, dP plus the recomputation of S inside the
//   kernel), all of it input-gradient work (no weights). Unfused attention
//   (model.attention.implementation) is three kernels instead: the score product
//   attn.scores and value product attn.context as weightless batched GEMMs
//   (backward 2 × forward, full s² even when causal: the masked half is
//   computed, though the causal model-FLOP count, flops_per_token_causal,
//   leaves it out) and the softmax attn.softmax, memory-bound on the
//   sequences·heads·s² matrix it reads and writes in HBM and keeps.
// - Bytes: forward = inputs read + weights read at the op's precision + output
//   written in BF16 (FP8 GEMMs emit BF16, DeepSeek-V3 §3.3.1). Backward
//   B = dY read + weights read + dX written; W = dY read + X read + dW written at
//   training.optimizer.gradient_bytes (FP32 in DeepSeek-V3, §3.3.3).
// - Activations: each op keeps what its own backward needs, counted once
//   (ops reading the same cached input, e.g. kv_down after q_down, keep
//   nothing). GEMM inputs are cached at the GEMM precision (FP8 in DeepSeek-V3,
//   §3.3.3), norm inputs and the attention q/k/v/o in BF16. MoE gate-weight
//   gradients come from the down projection's input gradient, so expert outputs
//   are not kept.
// - Recomputation (training.recompute) adds forward work to the backward pass
//   (recompute_flops/recompute_bytes) and removes the activations it makes
//   unnecessary; it is never part of the model-FLOP count. Norms and SwiGLU are
//   memory-bound, so recomputing them adds bytes, not FLOPs; MLA up-projections
//   add their GEMM FLOPs; `full` re-runs every transformer layer's forward (the
//   MoE all-to-all and tensor-parallel all-reduces it repeats are added by the
//   step program, sim/parallel/layer_passes.cpp). `attention_core` (selective,
//   Korthikanti et al. 2023) re-runs the attention core's forward and keeps no
//   score matrix (unfused) or log-sum-exp (flash).
// - Dense FFN (model.ffn.activation): SwiGLU, or GELU = up [h → I], GELU, down
//   [I → h]; `recompute.swiglu` recomputes either activation's output.
// - SwiGLU gate and up projections are one fused GEMM [h → 2I] (same FLOPs and
//   parameters as two). MTP modules own their projection, norms and block; the
//   embedding and head they run are the main model's (params 0 there).
#include <string>
#include <vector>

#include "sim/config/spec.hpp"

namespace trainsim {

// What the compute model maps to an efficiency (cluster.gpu.efficiency).
enum class OpKind {
  dense_gemm,      // projections, dense FFN, shared experts, MoE gate, output head, unfused score/value products
  grouped_gemm,    // routed experts
  attention_core,  // score and value products (flash attention)
  memory_bound,    // norms, SwiGLU, GELU, rotary, residual adds, router, loss, unfused softmax
  embedding,       // gather / scatter-add of embedding rows
};

enum class LayerKind { embedding, dense, moe, head, mtp };

// The block of its layer an op belongs to, in execution order within a
// transformer layer: attention, then either the MoE gate (before the dispatch),
// the experts (between dispatch and combine) and the MoE output (after the
// combine), or the dense FFN. The step simulator splits layers by it.
enum class OpBlock {
  embedding,        // token-embedding gather (the main model's, or MTP's use of it)
  attention,        // attn.*: norm, projections, rotary, core, output projection, residual
  moe_gate,         // moe.norm, moe.gate, moe.router: before the dispatch
  routed_experts,   // moe.routed.*: on the dispatched tokens
  shared_experts,   // moe.shared.*
  moe_output,       // moe.combine, moe.residual: after the combine
  dense_ffn,        // ffn.*
  mtp_projection,   // MTP's hidden and embedding norms and projection M_k
  head,             // final norm, output head and loss (the main model's or an MTP module's)
};

struct OpCost {
  std::string name;             // e.g. "attn.q_up", "moe.routed.gate_up"
  OpKind kind = OpKind::memory_bound;
  OpBlock block = OpBlock::attention;  // set by the cost model for every op
  Precision precision = Precision::bf16;
  double params = 0;            // parameters owned by this op (shared ones: 0)
  double active_params = 0;     // parameters touched per token (routed: top_k of routed_experts)
  double flops_fwd = 0;
  double flops_bwd_input = 0;   // B: gradient w.r.t. inputs
  double flops_bwd_weight = 0;  // W: gradient w.r.t. weights
  double bytes_fwd = 0;         // HBM traffic
  double bytes_bwd_input = 0;
  double bytes_bwd_weight = 0;
  double bytes_bwd = 0;         // = bytes_bwd_input + bytes_bwd_weight
  double activation_bytes = 0;  // kept from forward until this op's backward
  double recompute_flops = 0;   // forward work re-done in the backward pass
  double recompute_bytes = 0;   // HBM traffic of that re-done work
  double weight_grad_elems = 0; // weight-gradient elements W writes (shared weights too), at gradient_bytes each
  // GEMM shape (dense_gemm, grouped_gemm): [m×k]·[k×n]; for grouped GEMMs m is
  // the total row count over `groups` experts. 0 for other kinds.
  double gemm_m = 0;
  double gemm_n = 0;
  double gemm_k = 0;
  int groups = 1;

  [[nodiscard]] double flops_bwd() const { return flops_bwd_input + flops_bwd_weight; }
  [[nodiscard]] double flops_train() const { return flops_fwd + flops_bwd(); }
};

struct LayerCost {
  // dense/moe: transformer layer number (0-based); mtp: depth (0-based);
  // embedding/head: 0.
  int index = 0;
  LayerKind kind = LayerKind::dense;
  std::string name;             // "embedding", "layer 3", "head", "mtp 0"
  std::vector<OpCost> ops;

  [[nodiscard]] double sum(double OpCost::*field) const;
  [[nodiscard]] double params() const { return sum(&OpCost::params); }
  [[nodiscard]] double active_params() const { return sum(&OpCost::active_params); }
  [[nodiscard]] double flops_fwd() const { return sum(&OpCost::flops_fwd); }
  [[nodiscard]] double flops_bwd_input() const { return sum(&OpCost::flops_bwd_input); }
  [[nodiscard]] double flops_bwd_weight() const { return sum(&OpCost::flops_bwd_weight); }
  [[nodiscard]] double bytes_fwd() const { return sum(&OpCost::bytes_fwd); }
  [[nodiscard]] double bytes_bwd() const { return sum(&OpCost::bytes_bwd); }
  [[nodiscard]] double activation_bytes() const { return sum(&OpCost::activation_bytes); }
  [[nodiscard]] double recompute_flops() const { return sum(&OpCost::recompute_flops); }
  [[nodiscard]] double recompute_bytes() const { return sum(&OpCost::recompute_bytes); }
  [[nodiscard]] const OpCost* find(const std::string& op_name) const;
};

struct ModelCost {
  std::string model_name;
  double tokens_per_micro_batch = 0;
  // Embedding, each transformer layer, final norm + head, MTP modules: in
  // execution order.
  std::vector<LayerCost> layers;
  double params_total = 0;           // main model: embedding + layers + final norm + head
  double params_total_with_mtp = 0;  // + the MTP modules' own parameters
  double params_mtp = 0;             // the MTP modules' own parameters (shared embedding/head excluded)
  double params_active = 0;          // per token, main model, embedding and head included
  // Training FLOPs per token (forward + backward), main model only, no MTP, no
  // recomputation; attention products counted causal / non-causal.
  double flops_per_token_causal = 0;
  double flops_per_token_noncausal = 0;
  // Everything a step computes per token: MTP and recomputation included, with
  // the workload's causal setting.
  double flops_per_token_total = 0;
};

[[nodiscard]] ModelCost model_cost(const WorkloadSpec& workload);

// The two MoE all-to-all legs of a layer's forward pass.
enum class AllToAllLeg { dispatch, combine };

// MoE all-to-all payload per token and per expert copy sent, the one formula every
// caller (step program, inspect, trainsim net) uses: hidden × bytes(precision), plus
// for an FP8 dispatch one FP32 scale per `fp8_scale_group` channels
// (training.precision.fp8_scale_group; DeepSeek-V3 §3.3.2: 1×128 activation tiles).
// An FP8 combine carries no scales here (DeepSeek-V3 combines in BF16; the step
// program has always costed an FP8 combine as hidden bytes).
[[nodiscard]] double all_to_all_bytes_per_token(int hidden, Precision precision, AllToAllLeg leg,
                                                int fp8_scale_group);
// The same with the workload's hidden size and its dispatch / combine precision.
[[nodiscard]] double dispatch_bytes_per_token_per_copy(const WorkloadSpec& workload);
[[nodiscard]] double combine_bytes_per_token_per_copy(const WorkloadSpec& workload);

// Bytes per element of a precision (fp8: 1, bf16: 2).
[[nodiscard]] double element_bytes(Precision p);

[[nodiscard]] const char* to_string(OpKind k);
[[nodiscard]] const char* to_string(LayerKind k);

}  // namespace trainsim
