#include <catch2/catch.hpp>

#include <cmath>
#include <string>

#include "sim/config/load.hpp"
#include "sim/model/cost_model.hpp"

namespace test_model {

using namespace trainsim;

namespace {

// Values of workloads/deepseek-v3.yaml (sources there).
WorkloadSpec deepseek_v3() {
  WorkloadSpec w;
  w.model.name = "DeepSeek-V3";
  w.model.layers = 61;
  w.model.hidden = 7168;
  w.model.vocab = 129280;
  w.model.attention.kind = AttentionKind::mla;
  w.model.attention.heads = 128;
  w.model.attention.q_lora_rank = 1536;
  w.model.attention.kv_lora_rank = 512;
  w.model.attention.qk_nope_head_dim = 128;
  w.model.attention.qk_rope_head_dim = 64;
  w.model.attention.v_head_dim = 128;
  w.model.ffn_intermediate = 18432;
  MoeSpec moe;
  moe.first_dense_layers = 3;
  moe.routed_experts = 256;
  moe.shared_experts = 1;
  moe.expert_intermediate = 2048;
  moe.top_k = 8;
  moe.max_nodes_per_token = 4;
  w.model.moe = moe;
  w.model.mtp_depth = 1;
  w.training.seq_len = 4096;
  w.training.global_batch = 15360;
  w.training.micro_batch = 1;
  w.training.gemm = Precision::fp8;
  w.training.attention = Precision::bf16;
  w.training.dispatch = Precision::fp8;
  w.training.combine = Precision::bf16;
  w.training.causal = true;
  w.training.recompute.norms = true;
  w.training.recompute.mla_up_projections = true;
  w.training.recompute.swiglu = true;
  return w;
}

WorkloadSpec dense_gqa(int layers, int hidden, int heads, int kv_heads, int head_dim, int ffn, int vocab) {
  WorkloadSpec w;
  w.model.name = "dense";
  w.model.layers = layers;
  w.model.hidden = hidden;
  w.model.vocab = vocab;
  w.model.attention.kind = AttentionKind::gqa;
  w.model.attention.heads = heads;
  w.model.attention.kv_heads = kv_heads;
  w.model.attention.head_dim = head_dim;
  w.model.ffn_intermediate = ffn;
  w.training.seq_len = 8192;
  w.training.global_batch = 16;
  w.training.micro_batch = 1;
  return w;
}

// Closed form of a dense GQA model with SwiGLU, untied embedding and head.
double gqa_closed_form_params(double L, double h, double heads, double kv, double hd, double ffn, double V) {
  const double per_layer = 2 * h * (heads * hd) + 2 * h * (kv * hd) + 3 * h * ffn + 2 * h;
  return L * per_layer + V * h + V * h + h;
}

// A tiny model: 2 sequences of 4 tokens (T = 8), h = 8, 2 heads of 4, 1 kv head.
WorkloadSpec tiny_gqa() {
  WorkloadSpec w = dense_gqa(2, 8, 2, 1, 4, 12, 16);
  w.training.seq_len = 4;
  w.training.micro_batch = 2;
  return w;
}

// A tiny MoE: layer 0 dense, layer 1 MoE with 4 routed experts (top 2) and 1 shared.
WorkloadSpec tiny_moe() {
  WorkloadSpec w = tiny_gqa();
  MoeSpec moe;
  moe.first_dense_layers = 1;
  moe.routed_experts = 4;
  moe.shared_experts = 1;
  moe.expert_intermediate = 6;
  moe.top_k = 2;
  w.model.moe = moe;
  return w;
}

const LayerCost& layer_named(const ModelCost& m, const std::string& name) {
  for (const auto& l : m.layers)
    if (l.name == name) return l;
  FAIL("no layer " << name);
  return m.layers.front();
}

const OpCost& op_named(const LayerCost& l, const std::string& name) {
  const OpCost* op = l.find(name);
  REQUIRE(op != nullptr);
  return *op;
}

}  // namespace

TEST_CASE("DeepSeek-V3 parameter counts match the report", "[model]") {
  const ModelCost m = model_cost(deepseek_v3());
  CHECK(m.params_total == Approx(671e9).epsilon(0.01));
  CHECK(m.params_total_with_mtp == Approx(685e9).epsilon(0.01));
  CHECK(m.params_active == Approx(37e9).epsilon(0.03));
  // 3 dense + 58 MoE layers, embedding, head, 1 MTP module.
  REQUIRE(m.layers.size() == 1 + 61 + 1 + 1);
  CHECK(m.layers[1].kind == LayerKind::dense);
  CHECK(m.layers[3].kind == LayerKind::dense);
  CHECK(m.layers[4].kind == LayerKind::moe);
  CHECK(m.layers.back().kind == LayerKind::mtp);
  // Embedding and head: 129280 × 7168 each (≈0.93B, report: 0.9B).
  CHECK(m.layers.front().params() == 129280.0 * 7168);
  CHECK(op_named(layer_named(m, "head"), "head").params == 129280.0 * 7168);
}

TEST_CASE("DeepSeek-V3 MLA projections have the published shapes", "[model]") {
  const ModelCost m = model_cost(deepseek_v3());
  const LayerCost& l = layer_named(m, "layer 0");
  const double h = 7168;
  CHECK(op_named(l, "attn.q_down").params == h * 1536);
  CHECK(op_named(l, "attn.q_up").params == 1536.0 * 128 * (128 + 64));
  CHECK(op_named(l, "attn.kv_down").params == h * (512 + 64));
  CHECK(op_named(l, "attn.kv_up").params == 512.0 * 128 * (128 + 128));
  CHECK(op_named(l, "attn.o_proj").params == 128.0 * 128 * h);
  CHECK(op_named(l, "attn.q_norm").params == 1536);
  CHECK(op_named(l, "attn.kv_norm").params == 512);
  // Precisions: Linear GEMMs FP8, attention core BF16, gate and head BF16.
  CHECK(op_named(l, "attn.q_up").precision == Precision::fp8);
  CHECK(op_named(l, "attn.core").precision == Precision::bf16);
  const LayerCost& moe = layer_named(m, "layer 3");
  CHECK(op_named(moe, "moe.gate").precision == Precision::bf16);
  CHECK(op_named(moe, "moe.routed.gate_up").kind == OpKind::grouped_gemm);
  CHECK(op_named(moe, "moe.shared.gate_up").kind == OpKind::dense_gemm);
  CHECK(op_named(layer_named(m, "head"), "head").precision == Precision::bf16);
  // The profile's flash-attention forward: 4096 causal tokens, 128 heads,
  // d_qk 192, d_v 128 → 6.87e11 FLOP (reference §4).
  CHECK(op_named(l, "attn.core").flops_fwd == 128.0 * (2.0 * 4096 * 4096 * 192 + 2.0 * 4096 * 4096 * 128) / 2);
  CHECK(op_named(l, "attn.core").flops_fwd == Approx(6.87e11).epsilon(0.001));
}

TEST_CASE("Dense GQA parameter count equals its closed form", "[model]") {
  SECTION("Llama-3-8B") {
    const ModelCost m = model_cost(dense_gqa(32, 4096, 32, 8, 128, 14336, 128256));
    CHECK(m.params_total == gqa_closed_form_params(32, 4096, 32, 8, 128, 14336, 128256));
    CHECK(m.params_total == Approx(8.03e9).epsilon(0.001));
    CHECK(m.params_total_with_mtp == m.params_total);
    CHECK(m.params_active == m.params_total);
  }
  SECTION("Llama-3-405B") {
    const ModelCost m = model_cost(dense_gqa(126, 16384, 128, 8, 128, 53248, 128256));
    CHECK(m.params_total == gqa_closed_form_params(126, 16384, 128, 8, 128, 53248, 128256));
    CHECK(m.params_total == Approx(405.9e9).epsilon(0.001));
  }
  SECTION("tied embeddings count the matrix once") {
    WorkloadSpec w = dense_gqa(32, 4096, 32, 8, 128, 14336, 128256);
    w.model.tied_embeddings = true;
    CHECK(model_cost(w).params_total == gqa_closed_form_params(32, 4096, 32, 8, 128, 14336, 128256) - 128256.0 * 4096);
  }
}

TEST_CASE("Every GEMM costs 2mnk forward, and 2mnk each for input and weight gradients", "[model]") {
  const ModelCost m = model_cost(tiny_moe());
  REQUIRE(m.tokens_per_micro_batch == 8);
  // Shapes written out by hand: T = 8, h = 8, heads 2 × 4, 1 kv head, ffn 12,
  // experts of 6 (4 routed, top 2 → 16 rows; 1 shared), vocab 16.
  struct Expected {
    const char* layer;
    const char* op;
    double m, k, n;
  };
  const Expected shapes[] = {
      {"layer 0", "attn.q_proj", 8, 8, 8},        {"layer 0", "attn.k_proj", 8, 8, 4},
      {"layer 0", "attn.v_proj", 8, 8, 4},        {"layer 0", "attn.o_proj", 8, 8, 8},
      {"layer 0", "ffn.gate_up", 8, 8, 24},       {"layer 0", "ffn.down", 8, 12, 8},
      {"layer 1", "moe.gate", 8, 8, 4},           {"layer 1", "moe.routed.gate_up", 16, 8, 12},
      {"layer 1", "moe.routed.down", 16, 6, 8},   {"layer 1", "moe.shared.gate_up", 8, 8, 12},
      {"layer 1", "moe.shared.down", 8, 6, 8},    {"head", "head", 8, 8, 16},
  };
  for (const auto& s : shapes) {
    INFO(s.layer << " " << s.op);
    const OpCost& op = op_named(layer_named(m, s.layer), s.op);
    CHECK(op.flops_fwd == 2 * s.m * s.n * s.k);
    CHECK(op.flops_bwd_input == 2 * s.m * s.n * s.k);
    CHECK(op.flops_bwd_weight == 2 * s.m * s.n * s.k);
  }
  // And the rule holds for every GEMM of the model, by its recorded shape.
  int gemms = 0;
  for (const auto& l : m.layers)
    for (const auto& op : l.ops) {
      if (op.kind != OpKind::dense_gemm && op.kind != OpKind::grouped_gemm) continue;
      ++gemms;
      CHECK(op.flops_fwd == 2 * op.gemm_m * op.gemm_n * op.gemm_k);
      CHECK(op.flops_bwd_input == op.flops_fwd);
      CHECK(op.flops_bwd_weight == op.flops_fwd);
    }
  CHECK(gemms == 6 + 9 + 1);
  // Routed experts: all 4 experts' parameters, 2 of them active per token.
  const OpCost& routed = op_named(layer_named(m, "layer 1"), "moe.routed.gate_up");
  CHECK(routed.params == 4 * 8 * 12);
  CHECK(routed.active_params == 2 * 8 * 12);
  CHECK(routed.groups == 4);
}

TEST_CASE("Memory-bound ops and the embedding do no tensor-core FLOPs", "[model]") {
  const ModelCost m = model_cost(tiny_moe());
  for (const auto& l : m.layers)
    for (const auto& op : l.ops)
      if (op.kind == OpKind::memory_bound || op.kind == OpKind::embedding) {
        INFO(op.name);
        CHECK(op.flops_train() == 0);
        CHECK(op.bytes_fwd > 0);
      }
}

TEST_CASE("Causal attention counts half the non-causal products, backward is 2.5x", "[model]") {
  WorkloadSpec w = tiny_gqa();
  const double full = 2.0 /*sequences*/ * 2 /*heads*/ * (2.0 * 4 * 4 * 4 + 2.0 * 4 * 4 * 4);
  w.training.causal = false;
  const ModelCost nc = model_cost(w);
  const OpCost& core_nc = op_named(layer_named(nc, "layer 0"), "attn.core");
  CHECK(core_nc.flops_fwd == full);
  CHECK(core_nc.flops_bwd_input == 2.5 * full);
  CHECK(core_nc.flops_bwd_weight == 0);
  w.training.causal = true;
  const ModelCost c = model_cost(w);
  const OpCost& core_c = op_named(layer_named(c, "layer 0"), "attn.core");
  CHECK(core_c.flops_fwd == full / 2);
  CHECK(core_c.flops_bwd_input == 2.5 * full / 2);
  // Both conventions are reported whatever the workload's setting.
  CHECK(c.flops_per_token_causal == nc.flops_per_token_causal);
  CHECK(c.flops_per_token_noncausal == nc.flops_per_token_noncausal);
  CHECK(c.flops_per_token_noncausal - c.flops_per_token_causal == 2 /*layers*/ * 3.5 * full / 2 / 8);
}

TEST_CASE("Model FLOPs per token = 6 x GEMM weights + attention, exactly", "[model]") {
  const WorkloadSpec w = tiny_gqa();
  const ModelCost m = model_cost(w);
  // Per token: q 8·8, k 8·4, v 8·4, o 8·8, ffn 3·8·12 per layer; head 8·16.
  const double gemm_weights = 2 * (64 + 32 + 32 + 64 + 3 * 8 * 12) + 8 * 16;
  const double attention_per_token = 2 /*layers*/ * 3.5 * (2.0 * 2 * (2.0 * 16 * 4 * 2)) / 2 / 8;
  CHECK(m.flops_per_token_causal == 6 * gemm_weights + attention_per_token);
  CHECK(m.flops_per_token_total == m.flops_per_token_causal);  // no MTP, no recomputation
}

TEST_CASE("Recomputation adds work to the step, not to the model FLOPs", "[model]") {
  WorkloadSpec w = deepseek_v3();
  w.training.recompute = RecomputeSpec{};
  w.model.mtp_depth = 0;
  const ModelCost base = model_cost(w);
  CHECK(base.flops_per_token_total == base.flops_per_token_causal);

  w.training.recompute.mla_up_projections = true;
  const ModelCost up = model_cost(w);
  CHECK(up.flops_per_token_causal == base.flops_per_token_causal);
  const double up_flops_per_token = 2.0 * (1536.0 * 128 * 192 + 512.0 * 128 * 256);
  CHECK(up.flops_per_token_total - base.flops_per_token_total == Approx(61 * up_flops_per_token).epsilon(1e-12));
  CHECK(up.layers[1].activation_bytes() < base.layers[1].activation_bytes());

  w.training.recompute = RecomputeSpec{};
  w.training.recompute.full = true;
  const ModelCost full = model_cost(w);
  CHECK(full.flops_per_token_causal == base.flops_per_token_causal);
  double layer_fwd = 0;
  for (const auto& l : base.layers)
    if (l.kind == LayerKind::dense || l.kind == LayerKind::moe) layer_fwd += l.flops_fwd();
  CHECK(full.flops_per_token_total - base.flops_per_token_total == Approx(layer_fwd / 4096).epsilon(1e-12));
  // Full recomputation keeps only each layer's input: T × h in BF16.
  CHECK(full.layers[1].activation_bytes() == 4096.0 * 7168 * 2);

  // Norm and SwiGLU recomputation re-reads memory but does no tensor-core work.
  w.training.recompute = RecomputeSpec{};
  w.training.recompute.norms = true;
  w.training.recompute.swiglu = true;
  const ModelCost mem = model_cost(w);
  CHECK(mem.flops_per_token_total == base.flops_per_token_total);
  CHECK(mem.layers[1].recompute_bytes() > 0);
  CHECK(mem.layers[1].activation_bytes() < base.layers[1].activation_bytes());
}

TEST_CASE("MTP modules add parameters to params_total_with_mtp only", "[model]") {
  WorkloadSpec w = deepseek_v3();
  w.model.mtp_depth = 0;
  const ModelCost no_mtp = model_cost(w);
  w.model.mtp_depth = 2;
  const ModelCost two = model_cost(w);
  CHECK(two.params_total == no_mtp.params_total);
  CHECK(two.params_active == no_mtp.params_active);
  CHECK(two.flops_per_token_causal == no_mtp.flops_per_token_causal);
  CHECK(no_mtp.params_total_with_mtp == no_mtp.params_total);
  // Each module: projection 2h·h, 3 RMSNorms of h, one MoE block (the last layer's kind).
  const double h = 7168;
  const double moe_block = layer_named(no_mtp, "layer 60").params();
  CHECK(two.params_mtp == 2 * (2 * h * h + 3 * h + moe_block));
  CHECK(two.params_total_with_mtp == two.params_total + two.params_mtp);
  CHECK(two.flops_per_token_total > no_mtp.flops_per_token_total);
  // The MTP module runs the shared head again (no parameters of its own there).
  const LayerCost& mtp = two.layers.back();
  CHECK(op_named(mtp, "mtp.head").params == 0);
  CHECK(op_named(mtp, "mtp.head").flops_fwd == 2.0 * 4096 * h * 129280);
}

TEST_CASE("All-to-all payloads per token: FP8 dispatch with scales, BF16 combine", "[model]") {
  const WorkloadSpec w = deepseek_v3();
  CHECK(dispatch_bytes_per_token_per_copy(w) == 7168 + 7168 / 128 * 4);
  CHECK(combine_bytes_per_token_per_copy(w) == 7168 * 2);
  WorkloadSpec bf = w;
  bf.training.dispatch = Precision::bf16;
  CHECK(dispatch_bytes_per_token_per_copy(bf) == 7168 * 2);
}

TEST_CASE("GEMM bytes follow the documented convention", "[model]") {
  WorkloadSpec w = tiny_gqa();
  w.training.gemm = Precision::fp8;
  const ModelCost cost = model_cost(w);  // q refers into it
  const OpCost& q = op_named(layer_named(cost, "layer 0"), "attn.q_proj");
  // FP8 input 8×8 + FP8 weight 8×8 + BF16 output 8×8.
  CHECK(q.bytes_fwd == 64 + 64 + 64 * 2);
  // B: dY 8×8 FP8 + W FP8 + dX BF16; W: dY + X FP8 + dW FP32.
  CHECK(q.bytes_bwd_input == 64 + 64 + 128);
  CHECK(q.bytes_bwd_weight == 64 + 64 + 64 * 4);
  CHECK(q.bytes_bwd == q.bytes_bwd_input + q.bytes_bwd_weight);
  CHECK(q.activation_bytes == 64);  // the FP8 copy of the norm output
}

TEST_CASE("workloads/deepseek-v3.yaml costs the same as the spec built here", "[model][config]") {
  const WorkloadSpec loaded = load_workload(std::string(TRAINSIM_SOURCE_DIR) + "/workloads/deepseek-v3.yaml", {});
  const ModelCost from_yaml = model_cost(loaded);
  const ModelCost in_code = model_cost(deepseek_v3());
  CHECK(from_yaml.params_total == in_code.params_total);
  CHECK(from_yaml.params_total_with_mtp == in_code.params_total_with_mtp);
  CHECK(from_yaml.params_active == in_code.params_active);
  CHECK(from_yaml.flops_per_token_causal == in_code.flops_per_token_causal);
  CHECK(from_yaml.flops_per_token_total == in_code.flops_per_token_total);
  CHECK(from_yaml.layers.back().activation_bytes() == in_code.layers.back().activation_bytes());
}

}  // namespace test_model
