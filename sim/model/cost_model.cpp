#include "sim/model/cost_model.hpp"

#include <cmath>
#include <stdexcept>
#include <utility>

namespace trainsim {

namespace {

constexpr double kBf16Bytes = 2;
constexpr double kFp32Bytes = 4;
constexpr double kInt32Bytes = 4;

// Everything the op builders need, taken once from the spec.
struct Context {
  double tokens = 0;       // T = micro_batch × seq_len
  double sequences = 0;    // micro_batch
  double seq_len = 0;
  double hidden = 0;
  double vocab = 0;
  Precision gemm = Precision::bf16;
  Precision attention = Precision::bf16;
  bool causal = true;
  RecomputeSpec recompute;
  AttentionImplementation attention_impl = AttentionImplementation::flash;
  // Counting model FLOPs (the causal / non-causal conventions), not the work the
  // kernels do: an unfused core's masked half is computed but not counted.
  bool flop_convention = false;
  double gemm_act_bytes = 0;  // bytes per element of an activation cached for an FP8/BF16 GEMM
};

// Tags ops[from..] with `block`.
void set_block(std::vector<OpCost>& ops, std::size_t from, OpBlock block) {
  for (std::size_t i = from; i < ops.size(); ++i) ops[i].block = block;
}

// A GEMM [m×k]·[k×n]. `weight_elems` is the weight read (all groups), which is
// also the parameter count unless the caller marks the weight as shared.
OpCost gemm_op(std::string name, OpKind kind, Precision p, double m, double k, double n, double weight_elems,
               int groups = 1) {
  const double e = element_bytes(p);
  OpCost op;
  op.name = std::move(name);
  op.kind = kind;
  op.precision = p;
  op.params = weight_elems;
  op.active_params = weight_elems;
  op.flops_fwd = 2 * m * n * k;
  op.flops_bwd_input = 2 * m * n * k;   // dX = dY·Wᵀ
  op.flops_bwd_weight = 2 * m * n * k;  // dW = Xᵀ·dY
  op.bytes_fwd = m * k * e + weight_elems * e + m * n * kBf16Bytes;
  op.bytes_bwd_input = m * n * e + weight_elems * e + m * k * kBf16Bytes;
  op.bytes_bwd_weight = m * n * e + m * k * e;  // + the weight gradient (with_weight_gradients)
  op.weight_grad_elems = weight_elems;
  op.bytes_bwd = op.bytes_bwd_input + op.bytes_bwd_weight;
  op.gemm_m = m;
  op.gemm_n = n;
  op.gemm_k = k;
  op.groups = groups;
  return op;
}

// A memory-bound BF16 op reading `read_elems` and writing `write_elems`
// elements, with `params` weights (norm scales). Backward reads dY and the saved
// input and writes dX, then the weight gradient (with_weight_gradients).
OpCost memory_op(std::string name, double read_elems, double write_elems, double params = 0) {
  OpCost op;
  op.name = std::move(name);
  op.kind = OpKind::memory_bound;
  op.precision = Precision::bf16;
  op.params = params;
  op.active_params = params;
  op.bytes_fwd = (read_elems + write_elems + params) * kBf16Bytes;
  op.bytes_bwd_input = (write_elems + 2 * read_elems + params) * kBf16Bytes;
  op.bytes_bwd_weight = 0;
  op.weight_grad_elems = params;
  op.bytes_bwd = op.bytes_bwd_input + op.bytes_bwd_weight;
  return op;
}

// RMSNorm over `width` channels of every token; keeps its input for backward.
OpCost norm_op(const Context& c, std::string name, double width) {
  OpCost op = memory_op(std::move(name), c.tokens * width, c.tokens * width, width);
  op.activation_bytes = c.tokens * width * kBf16Bytes;
  if (c.recompute.norms) op.recompute_bytes = op.bytes_fwd;
  return op;
}

// Saved input of a GEMM that reads a norm's output: nothing when norms are
// recomputed in backward (DeepSeek-V3 §3.2.3), else the quantised copy.
double norm_output_cache_bytes(const Context& c, double width) {
  return c.recompute.norms ? 0 : c.tokens * width * c.gemm_act_bytes;
}

OpCost residual_op(const Context& c, std::string name) {
  // y = x + branch: reads two streams, writes one; backward adds the branch's
  // input gradient into the stream (same traffic).
  OpCost op = memory_op(std::move(name), 2 * c.tokens * c.hidden, c.tokens * c.hidden);
  op.bytes_bwd_input = op.bytes_fwd;
  op.bytes_bwd_weight = 0;
  op.bytes_bwd = op.bytes_bwd_input;
  return op;
}

// Widths of the attention core's operands for one layer: q_width = heads·d_qk,
// kv widths k_width, v_width (GQA: kv_heads·d), out_width = heads·d_v.
struct CoreShape {
  double heads = 0, d_qk = 0, d_v = 0;
  double q_width = 0, k_width = 0, v_width = 0, out_width = 0;
};

// Marks a core op as re-run in backward by selective recomputation.
void mark_core_recompute(const Context& c, OpCost& op) {
  if (!c.recompute.attention_core) return;
  op.recompute_flops = op.flops_fwd;
  op.recompute_bytes = op.bytes_fwd;
}

// Score and value products of flash attention, one fused kernel.
OpCost flash_core_op(const Context& c, const CoreShape& a, double kept_qkv_bytes) {
  const double ea = element_bytes(c.attention);
  const double s = c.seq_len;
  const double mask_fraction = c.causal ? 0.5 : 1.0;
  OpCost op;
  op.name = "attn.core";
  op.kind = OpKind::attention_core;
  op.precision = c.attention;
  op.flops_fwd = c.sequences * a.heads * (2 * s * s * a.d_qk + 2 * s * s * a.d_v) * mask_fraction;
  // FlashAttention convention: backward = dV, dP, dQ, dK products plus the
  // recomputation of S inside the kernel = 2.5 × forward. No weights.
  op.flops_bwd_input = 2.5 * op.flops_fwd;
  op.flops_bwd_weight = 0;
  const double qkv = c.tokens * (a.q_width + a.k_width + a.v_width);
  const double out = c.tokens * a.out_width;
  const double lse = c.tokens * a.heads * kFp32Bytes;  // log-sum-exp per row and head
  op.bytes_fwd = (qkv + out) * ea + lse;
  op.bytes_bwd_input = (2 * qkv + 2 * out) * ea + lse;  // read q,k,v,o,dO; write dq,dk,dv
  op.bytes_bwd = op.bytes_bwd_input;
  op.activation_bytes = kept_qkv_bytes + out * ea + lse;
  // Selective recomputation of a flash core (Megatron-core checkpoints the
  // kernel): the forward runs again for o and the log-sum-exp, which are not
  // kept; o stays counted here because the output projection reads it.
  if (c.recompute.attention_core) op.activation_bytes -= lse;
  mark_core_recompute(c, op);
  return op;
}

// A batched product of two activations (no weights) over sequences × heads:
// [s×k]·[k×n] each. Backward computes both operand gradients (2 × forward).
OpCost activation_product_op(const Context& c, std::string name, double heads, double k, double n,
                             double read_bytes, double write_bytes) {
  const double s = c.seq_len;
  OpCost op;
  op.name = std::move(name);
  op.kind = OpKind::dense_gemm;
  op.precision = c.attention;
  const double counted = c.flop_convention && c.causal ? 0.5 : 1.0;
  op.flops_fwd = c.sequences * heads * 2 * s * k * n * counted;
  op.flops_bwd_input = 2 * op.flops_fwd;
  op.bytes_fwd = read_bytes + write_bytes;
  op.bytes_bwd_input = write_bytes + read_bytes + read_bytes;  // read dY and both operands, write their gradients
  op.bytes_bwd = op.bytes_bwd_input;
  op.gemm_m = s;
  op.gemm_n = n;
  op.gemm_k = k;
  op.groups = static_cast<int>(c.sequences * heads);
  return op;
}

// Unfused attention (no FlashAttention): S = q·kᵀ written to HBM, softmax
// (scale and causal mask fused into it) P = softmax(S) written to HBM, o = P·v.
// The masked half is computed too, so causal does not halve these FLOPs (it
// does in the model-FLOP conventions, flop_convention). P is
// kept for both backward products; selective recomputation drops it and
// re-runs all three (Korthikanti et al. 2023 §4.2). No dropout is modelled.
void unfused_core_ops(const Context& c, std::vector<OpCost>& ops, const CoreShape& a, double kept_qkv_bytes) {
  const double ea = element_bytes(c.attention);
  const double T = c.tokens;
  const double matrix = c.sequences * a.heads * c.seq_len * c.seq_len;  // elements of S (and of P)
  OpCost scores = activation_product_op(c, "attn.scores", a.heads, a.d_qk, c.seq_len,
                                        T * (a.q_width + a.k_width) * ea, matrix * kBf16Bytes);
  scores.activation_bytes = kept_qkv_bytes;  // q, k and v (the value product's backward reads v)
  mark_core_recompute(c, scores);
  ops.push_back(scores);
  OpCost softmax = memory_op("attn.softmax", matrix, matrix);
  softmax.activation_bytes = c.recompute.attention_core ? 0 : matrix * kBf16Bytes;  // P (backward needs the output)
  mark_core_recompute(c, softmax);
  ops.push_back(softmax);
  OpCost context = activation_product_op(c, "attn.context", a.heads, c.seq_len, a.d_v,
                                         matrix * kBf16Bytes + T * a.v_width * ea, T * a.out_width * kBf16Bytes);
  // The output, which the output projection reads (as the flash core keeps o).
  context.activation_bytes = T * a.out_width * ea;
  mark_core_recompute(c, context);
  ops.push_back(context);
}

// The attention core in the workload's implementation. `kept_qkv_bytes` is what
// it keeps of q, k, v (less when they are rebuilt from MLA latents).
void attention_core_ops(const Context& c, std::vector<OpCost>& ops, const CoreShape& a, double kept_qkv_bytes) {
  if (c.attention_impl == AttentionImplementation::flash)
    ops.push_back(flash_core_op(c, a, kept_qkv_bytes));
  else
    unfused_core_ops(c, ops, a, kept_qkv_bytes);
}

std::vector<OpCost> attention_ops(const Context& c, const AttentionSpec& a) {
  const double T = c.tokens;
  const double h = c.hidden;
  const double H = a.heads;
  std::vector<OpCost> ops;
  ops.push_back(norm_op(c, "attn.norm", h));
  double out_width = 0;
  if (a.kind == AttentionKind::mla) {
    const double d_qk = a.qk_nope_head_dim + a.qk_rope_head_dim;
    const double q_width = H * d_qk;
    const double kv_up_width = H * (a.qk_nope_head_dim + a.v_head_dim);
    out_width = H * a.v_head_dim;
    const bool up_recompute = c.recompute.mla_up_projections;
    auto mark_up = [&](OpCost& op) {
      if (!up_recompute) return;
      op.recompute_flops = op.flops_fwd;
      op.recompute_bytes = op.bytes_fwd;
    };
    // The kv down-projection (latent + shared rope key) reads the same cached input as q_down or q_proj.
    const double kv_down_width = a.kv_lora_rank + a.qk_rope_head_dim;
    const OpCost kv_down =
        gemm_op("attn.kv_down", OpKind::dense_gemm, c.gemm, T, h, kv_down_width, h * kv_down_width);
    if (a.q_lora_rank > 0) {
      OpCost q_down = gemm_op("attn.q_down", OpKind::dense_gemm, c.gemm, T, h, a.q_lora_rank, h * a.q_lora_rank);
      q_down.activation_bytes = norm_output_cache_bytes(c, h);
      ops.push_back(q_down);
      ops.push_back(kv_down);
      ops.push_back(norm_op(c, "attn.q_norm", a.q_lora_rank));
      OpCost q_up = gemm_op("attn.q_up", OpKind::dense_gemm, c.gemm, T, a.q_lora_rank, q_width,
                            a.q_lora_rank * q_width);
      q_up.activation_bytes = norm_output_cache_bytes(c, a.q_lora_rank);
      mark_up(q_up);
      ops.push_back(q_up);
    } else {
      OpCost q_proj = gemm_op("attn.q_proj", OpKind::dense_gemm, c.gemm, T, h, q_width, h * q_width);
      q_proj.activation_bytes = norm_output_cache_bytes(c, h);
      ops.push_back(q_proj);
      ops.push_back(kv_down);
    }
    ops.push_back(norm_op(c, "attn.kv_norm", a.kv_lora_rank));
    OpCost kv_up = gemm_op("attn.kv_up", OpKind::dense_gemm, c.gemm, T, a.kv_lora_rank, kv_up_width,
                           a.kv_lora_rank * kv_up_width);
    kv_up.activation_bytes = norm_output_cache_bytes(c, a.kv_lora_rank);
    mark_up(kv_up);
    ops.push_back(kv_up);
    // Rotary on the decoupled parts: per-head q_rope and the shared k_rope.
    const double rope_elems = T * (H * a.qk_rope_head_dim + a.qk_rope_head_dim);
    ops.push_back(memory_op("attn.rope", rope_elems, rope_elems));
    // Keys are expanded per head (nope part from kv_up, rope part broadcast).
    const double k_width = H * d_qk;
    const double v_width = H * a.v_head_dim;
    const double ea = element_bytes(c.attention);
    // With up-projection recomputation q, k, v are rebuilt from the latents; only
    // the shared k_rope (not a kv_up output) is kept.
    const double kept_qkv = up_recompute ? T * a.qk_rope_head_dim * ea : T * (q_width + k_width + v_width) * ea;
    attention_core_ops(c, ops, {H, d_qk, static_cast<double>(a.v_head_dim), q_width, k_width, v_width, out_width},
                       kept_qkv);
  } else {
    const double hd = a.head_dim;
    const double kv_heads = a.kind == AttentionKind::mha || a.kv_heads == 0 ? H : a.kv_heads;
    const double q_width = H * hd;
    const double kv_width = kv_heads * hd;
    out_width = q_width;
    OpCost q_proj = gemm_op("attn.q_proj", OpKind::dense_gemm, c.gemm, T, h, q_width, h * q_width);
    q_proj.activation_bytes = norm_output_cache_bytes(c, h);
    ops.push_back(q_proj);
    // k and v read the cached input of q_proj.
    ops.push_back(gemm_op("attn.k_proj", OpKind::dense_gemm, c.gemm, T, h, kv_width, h * kv_width));
    ops.push_back(gemm_op("attn.v_proj", OpKind::dense_gemm, c.gemm, T, h, kv_width, h * kv_width));
    const double rope_elems = T * (q_width + kv_width);
    ops.push_back(memory_op("attn.rope", rope_elems, rope_elems));
    const double kept_qkv = T * (q_width + 2 * kv_width) * element_bytes(c.attention);
    attention_core_ops(c, ops, {H, hd, hd, q_width, kv_width, kv_width, out_width}, kept_qkv);
  }
  OpCost o_proj = gemm_op("attn.o_proj", OpKind::dense_gemm, c.gemm, T, out_width, h, out_width * h);
  // Its input is the attention output the core already keeps, unless the GEMM
  // runs in another precision and caches its own quantised copy.
  o_proj.activation_bytes = c.gemm != c.attention ? T * out_width * c.gemm_act_bytes : 0;
  ops.push_back(o_proj);
  ops.push_back(residual_op(c, "attn.residual"));
  set_block(ops, 0, OpBlock::attention);
  return ops;
}

// The FFN's element-wise activation (`activation`: ".swiglu" reads 2I per row,
// ".gelu" I; both write `n_inner`) and the down projection [n_inner → h] after
// it. The activation keeps its input and the down projection its input, both at
// the GEMM activation precision (FP8 in DeepSeek-V3 §3.3.3); recomputing the
// activation output (training.recompute.swiglu) drops the latter.
void activation_and_down_ops(const Context& c, std::vector<OpCost>& ops, const std::string& prefix,
                             const char* activation, OpKind kind, double rows, double n_in, double n_inner,
                             double down_weights, int groups) {
  OpCost act = memory_op(prefix + activation, rows * n_in, rows * n_inner);
  act.activation_bytes = rows * n_in * c.gemm_act_bytes;
  if (c.recompute.swiglu) act.recompute_bytes = act.bytes_fwd;
  ops.push_back(act);
  OpCost down = gemm_op(prefix + ".down", kind, c.gemm, rows, n_inner, c.hidden, down_weights, groups);
  down.activation_bytes = c.recompute.swiglu ? 0 : rows * n_inner * c.gemm_act_bytes;
  ops.push_back(down);
}

// SwiGLU block: gate and up fused into one GEMM [h → 2I] (same FLOPs and
// parameters as two), the SiLU·mul, and the down projection [I → h]. `rows` is
// the token count the block sees (T, or T·top_k for routed experts);
// `matrices` the number of SwiGLUs side by side (shared experts) or stacked
// (routed experts, `groups`).
void swiglu_ops(const Context& c, std::vector<OpCost>& ops, const std::string& prefix, OpKind kind,
                double rows, double width, double matrices, int groups, double input_cache_bytes) {
  const double h = c.hidden;
  // Dense: `matrices` SwiGLUs side by side on every row; grouped: one per group.
  const double n_gate_up = kind == OpKind::grouped_gemm ? 2 * width : 2 * width * matrices;
  const double n_inner = n_gate_up / 2;
  OpCost gate_up = gemm_op(prefix + ".gate_up", kind, c.gemm, rows, h, n_gate_up, matrices * h * 2 * width, groups);
  gate_up.activation_bytes = input_cache_bytes;
  ops.push_back(gate_up);
  activation_and_down_ops(c, ops, prefix, ".swiglu", kind, rows, n_gate_up, n_inner, matrices * width * h, groups);
}

// Non-gated (GPT-style) block: up projection [h → I], element-wise GELU, down
// projection [I → h].
void gelu_ops(const Context& c, std::vector<OpCost>& ops, const std::string& prefix, double width,
              double input_cache_bytes) {
  const double T = c.tokens;
  OpCost up = gemm_op(prefix + ".up", OpKind::dense_gemm, c.gemm, T, c.hidden, width, c.hidden * width);
  up.activation_bytes = input_cache_bytes;
  ops.push_back(up);
  activation_and_down_ops(c, ops, prefix, ".gelu", OpKind::dense_gemm, T, width, width, width * c.hidden, 1);
}

std::vector<OpCost> dense_ffn_ops(const Context& c, double intermediate, FfnActivation activation) {
  std::vector<OpCost> ops;
  ops.push_back(norm_op(c, "ffn.norm", c.hidden));
  if (activation == FfnActivation::gelu)
    gelu_ops(c, ops, "ffn", intermediate, norm_output_cache_bytes(c, c.hidden));
  else
    swiglu_ops(c, ops, "ffn", OpKind::dense_gemm, c.tokens, intermediate, 1, 1, norm_output_cache_bytes(c, c.hidden));
  ops.push_back(residual_op(c, "ffn.residual"));
  set_block(ops, 0, OpBlock::dense_ffn);
  return ops;
}

std::vector<OpCost> moe_ops(const Context& c, const MoeSpec& m) {
  const double T = c.tokens;
  const double h = c.hidden;
  const double E = m.routed_experts;
  const double k = m.top_k;
  std::vector<OpCost> ops;
  ops.push_back(norm_op(c, "moe.norm", h));
  // Gate in BF16 (DeepSeek-V3 §3.3.1); it keeps its own BF16 copy of the input.
  OpCost gate = gemm_op("moe.gate", OpKind::dense_gemm, Precision::bf16, T, h, E, h * E);
  gate.activation_bytes = c.recompute.norms ? 0 : T * h * kBf16Bytes;
  ops.push_back(gate);
  // Scores → top-k selection and normalised weights (FP32 weights, int32 ids).
  OpCost router = memory_op("moe.router", T * E, 0);
  router.bytes_fwd += T * k * (kFp32Bytes + kInt32Bytes);
  router.bytes_bwd_input += T * k * kFp32Bytes;
  router.bytes_bwd = router.bytes_bwd_input + router.bytes_bwd_weight;
  router.activation_bytes = T * E * kBf16Bytes;
  ops.push_back(router);
  set_block(ops, 0, OpBlock::moe_gate);
  // Routed experts: T·top_k rows over E groups. The rows are the dispatched
  // tokens received from the all-to-all, kept quantised for the weight gradient.
  const size_t routed_begin = ops.size();
  swiglu_ops(c, ops, "moe.routed", OpKind::grouped_gemm, T * k, m.expert_intermediate, E, m.routed_experts,
             T * k * h * c.gemm_act_bytes);
  for (size_t i = routed_begin; i < ops.size(); ++i) ops[i].active_params = ops[i].params * k / E;
  set_block(ops, routed_begin, OpBlock::routed_experts);
  const size_t shared_begin = ops.size();
  if (m.shared_experts > 0)
    swiglu_ops(c, ops, "moe.shared", OpKind::dense_gemm, T, m.expert_intermediate, m.shared_experts, 1,
               norm_output_cache_bytes(c, h));
  set_block(ops, shared_begin, OpBlock::shared_experts);
  const size_t output_begin = ops.size();
  // Weighted sum of the top_k expert outputs and the shared output. The
  // gate-weight gradient comes from the down-projection's input gradient, so
  // only the weights are kept, not the expert outputs.
  OpCost combine = memory_op("moe.combine", T * k * h + T * h, T * h);
  combine.activation_bytes = T * k * kFp32Bytes;
  ops.push_back(combine);
  ops.push_back(residual_op(c, "moe.residual"));
  set_block(ops, output_begin, OpBlock::moe_output);
  return ops;
}

// Full recomputation: the layer keeps only its input and re-runs its forward.
void apply_full_recompute(LayerCost& layer, double tokens, double hidden) {
  for (auto& op : layer.ops) {
    op.recompute_flops = op.flops_fwd;
    op.recompute_bytes = op.bytes_fwd;
    op.activation_bytes = 0;
  }
  if (!layer.ops.empty()) layer.ops.front().activation_bytes = tokens * hidden * kBf16Bytes;
}

LayerCost transformer_layer(const Context& c, const ModelSpec& model, int index, bool moe_layer, LayerKind kind,
                            std::string name) {
  LayerCost layer;
  layer.index = index;
  layer.kind = kind;
  layer.name = std::move(name);
  layer.ops = attention_ops(c, model.attention);
  auto ffn = moe_layer ? moe_ops(c, *model.moe) : dense_ffn_ops(c, model.ffn_intermediate, model.ffn_activation);
  layer.ops.insert(layer.ops.end(), ffn.begin(), ffn.end());
  return layer;
}

OpCost embedding_op(const Context& c, std::string name, double params) {
  const double T = c.tokens;
  const double h = c.hidden;
  OpCost op;
  op.name = std::move(name);
  op.kind = OpKind::embedding;
  op.block = OpBlock::embedding;
  op.precision = Precision::bf16;  // DeepSeek-V3 §3.3.1
  op.params = params;
  op.active_params = params;
  op.bytes_fwd = T * kInt32Bytes + 2 * T * h * kBf16Bytes;            // ids, gathered rows, output
  op.bytes_bwd_weight = T * kInt32Bytes + T * h * kBf16Bytes;  // ids, dY rows; scatter-added into the gradient
  op.weight_grad_elems = T * h;
  op.bytes_bwd = op.bytes_bwd_weight;
  op.activation_bytes = T * kInt32Bytes;  // token ids
  return op;
}

// Output head [h → V] in BF16 (§3.3.1) and the softmax cross-entropy. The
// logits are kept for the loss backward.
void head_ops(const Context& c, std::vector<OpCost>& ops, const std::string& prefix, double head_params) {
  const double T = c.tokens;
  OpCost head = gemm_op(prefix + "head", OpKind::dense_gemm, Precision::bf16, T, c.hidden, c.vocab,
                        c.hidden * c.vocab);
  head.params = head_params;
  head.active_params = head_params;
  head.activation_bytes = c.recompute.norms ? 0 : T * c.hidden * kBf16Bytes;
  ops.push_back(head);
  OpCost loss = memory_op(prefix + "loss", T * c.vocab, T);
  loss.bytes_bwd_input = 2 * T * c.vocab * kBf16Bytes;  // read logits, write dlogits
  loss.bytes_bwd = loss.bytes_bwd_input;
  loss.activation_bytes = T * c.vocab * kBf16Bytes;
  ops.push_back(loss);
}

std::vector<LayerCost> build_layers(const WorkloadSpec& w, bool causal, bool flop_convention) {
  const ModelSpec& model = w.model;
  const TrainingSpec& t = w.training;
  if (model.layers <= 0 || model.hidden <= 0 || model.vocab <= 0 || t.seq_len <= 0 || t.micro_batch <= 0)
    throw std::invalid_argument("model_cost: layers, hidden, vocab, seq_len and micro_batch must be positive");
  Context c;
  c.sequences = t.micro_batch;
  c.seq_len = t.seq_len;
  c.tokens = c.sequences * c.seq_len;
  c.hidden = model.hidden;
  c.vocab = model.vocab;
  c.gemm = t.gemm;
  c.attention = t.attention;
  c.causal = causal;
  c.flop_convention = flop_convention;
  c.recompute = t.recompute;
  c.attention_impl = model.attention.implementation;
  c.gemm_act_bytes = element_bytes(t.gemm);

  const double h = c.hidden;
  const double V = c.vocab;
  auto is_moe = [&](int i) { return model.moe.has_value() && i >= model.moe->first_dense_layers; };

  std::vector<LayerCost> layers;
  LayerCost emb;
  emb.kind = LayerKind::embedding;
  emb.name = "embedding";
  emb.ops.push_back(embedding_op(c, "embedding", V * h));
  layers.push_back(emb);

  for (int i = 0; i < model.layers; ++i) {
    const bool moe = is_moe(i);
    LayerCost layer = transformer_layer(c, model, i, moe, moe ? LayerKind::moe : LayerKind::dense,
                                        "layer " + std::to_string(i));
    if (t.recompute.full) apply_full_recompute(layer, c.tokens, h);
    layers.push_back(std::move(layer));
  }

  LayerCost head;
  head.kind = LayerKind::head;
  head.name = "head";
  head.ops.push_back(norm_op(c, "final_norm", h));
  head_ops(c, head.ops, "", model.tied_embeddings ? 0 : V * h);
  set_block(head.ops, 0, OpBlock::head);
  layers.push_back(head);

  // MTP module k (DeepSeek-V3 §2.2): RMSNorm of the previous depth's hidden
  // state and of the embedding of token i+k, projection M_k [2h → h], one
  // transformer block of the last layer's kind, then the shared output head
  // (with its own RMSNorm, `shared_head.norm` in the released weights). The
  // embedding and head matrices are shared: their parameters are not counted.
  for (int d = 0; d < model.mtp_depth; ++d) {
    LayerCost mtp;
    mtp.index = d;
    mtp.kind = LayerKind::mtp;
    mtp.name = "mtp " + std::to_string(d);
    mtp.ops.push_back(embedding_op(c, "mtp.embedding", 0));
    const std::size_t projection_begin = mtp.ops.size();
    mtp.ops.push_back(norm_op(c, "mtp.hidden_norm", h));
    mtp.ops.push_back(norm_op(c, "mtp.embed_norm", h));
    OpCost proj = gemm_op("mtp.proj", OpKind::dense_gemm, c.gemm, c.tokens, 2 * h, h, 2 * h * h);
    proj.activation_bytes = norm_output_cache_bytes(c, 2 * h);
    mtp.ops.push_back(proj);
    set_block(mtp.ops, projection_begin, OpBlock::mtp_projection);
    LayerCost block = transformer_layer(c, model, d, is_moe(model.layers - 1), LayerKind::mtp, "");
    if (t.recompute.full) apply_full_recompute(block, c.tokens, h);
    mtp.ops.insert(mtp.ops.end(), block.ops.begin(), block.ops.end());
    const std::size_t head_begin = mtp.ops.size();
    mtp.ops.push_back(norm_op(c, "mtp.head_norm", h));
    head_ops(c, mtp.ops, "mtp.", 0);
    set_block(mtp.ops, head_begin, OpBlock::head);
    layers.push_back(std::move(mtp));
  }
  // Weight gradients are written at training.optimizer.gradient_bytes (DeepSeek-V3
  // §3.3.3: FP32), in this one place for every op.
  for (LayerCost& layer : layers)
    for (OpCost& op : layer.ops) {
      op.bytes_bwd_weight += op.weight_grad_elems * t.optimizer.gradient_bytes;
      op.bytes_bwd = op.bytes_bwd_input + op.bytes_bwd_weight;
    }
  return layers;
}

double main_model_train_flops(const std::vector<LayerCost>& layers) {
  double flops = 0;
  for (const auto& layer : layers) {
    if (layer.kind == LayerKind::mtp) continue;
    flops += layer.flops_fwd() + layer.flops_bwd_input() + layer.flops_bwd_weight();
  }
  return flops;
}

}  // namespace

double element_bytes(Precision p) { return p == Precision::fp8 ? 1.0 : kBf16Bytes; }

double LayerCost::sum(double OpCost::*field) const {
  double total = 0;
  for (const auto& op : ops) total += op.*field;
  return total;
}

const OpCost* LayerCost::find(const std::string& op_name) const {
  for (const auto& op : ops)
    if (op.name == op_name) return &op;
  return nullptr;
}

ModelCost model_cost(const WorkloadSpec& workload) {
  ModelCost cost;
  cost.model_name = workload.model.name;
  cost.tokens_per_micro_batch = static_cast<double>(workload.training.micro_batch) * workload.training.seq_len;
  cost.layers = build_layers(workload, workload.training.causal, false);
  const double T = cost.tokens_per_micro_batch;

  double step_flops = 0;
  for (const auto& layer : cost.layers) {
    step_flops += layer.flops_fwd() + layer.flops_bwd_input() + layer.flops_bwd_weight() + layer.recompute_flops();
    if (layer.kind == LayerKind::mtp) {
      cost.params_mtp += layer.params();
    } else {
      cost.params_total += layer.params();
      cost.params_active += layer.active_params();
    }
  }
  cost.params_total_with_mtp = cost.params_total + cost.params_mtp;
  cost.flops_per_token_total = step_flops / T;

  const bool causal = workload.training.causal;
  const double this_convention = main_model_train_flops(build_layers(workload, causal, true)) / T;
  const double other_convention = main_model_train_flops(build_layers(workload, !causal, true)) / T;
  cost.flops_per_token_causal = workload.training.causal ? this_convention : other_convention;
  cost.flops_per_token_noncausal = workload.training.causal ? other_convention : this_convention;
  return cost;
}

double all_to_all_bytes_per_token(int hidden, Precision precision, AllToAllLeg leg, int fp8_scale_group) {
  const double h = hidden;
  double bytes = h * element_bytes(precision);
  if (precision == Precision::fp8 && leg == AllToAllLeg::dispatch)
    bytes += std::ceil(h / fp8_scale_group) * kFp32Bytes;
  return bytes;
}

double dispatch_bytes_per_token_per_copy(const WorkloadSpec& workload) {
  return all_to_all_bytes_per_token(workload.model.hidden, workload.training.dispatch, AllToAllLeg::dispatch,
                                    workload.training.fp8_scale_group);
}

double combine_bytes_per_token_per_copy(const WorkloadSpec& workload) {
  return all_to_all_bytes_per_token(workload.model.hidden, workload.training.combine, AllToAllLeg::combine,
                                    workload.training.fp8_scale_group);
}

const char* to_string(OpKind k) {
  switch (k) {
    case OpKind::dense_gemm: return "dense_gemm";
    case OpKind::grouped_gemm: return "grouped_gemm";
    case OpKind::attention_core: return "attention_core";
    case OpKind::memory_bound: return "memory_bound";
    case OpKind::embedding: return "embedding";
  }
  return "?";
}

const char* to_string(LayerKind k) {
  switch (k) {
    case LayerKind::embedding: return "embedding";
    case LayerKind::dense: return "dense";
    case LayerKind::moe: return "moe";
    case LayerKind::head: return "head";
    case LayerKind::mtp: return "mtp";
  }
  return "?";
}

}  // namespace trainsim
