// Model shapes and recompute policies: GELU vs SwiGLU FFNs, unfused vs flash
// attention, and the none / selective / full recomputation policies, against hand
// counts of FLOPs, HBM bytes and kept activations on a small model; the GPT-3
// workload file; and the forward communication full recomputation repeats.
#include <catch2/catch.hpp>

#include <string>

#include "sim/config/load.hpp"
#include "sim/model/cost_model.hpp"
#include "sim/parallel/schedule.hpp"
#include "sim/parallel/step_program.hpp"
#include "sim/run/process_pool.hpp"
#include "tests/support.hpp"

namespace test_model_shapes {

using namespace trainsim;

namespace {

// A one-layer MHA model small enough to count by hand: h 64, a 4 heads of d 16,
// s 32, b 2 sequences (T = 64 tokens), FFN I = 4h, BF16 throughout, causal.
constexpr double h = 64, a = 4, d = 16, s = 32, b = 2, T = b * s, I = 4 * h;

WorkloadSpec small_model(FfnActivation activation, AttentionImplementation impl) {
  WorkloadSpec w;
  w.model.name = "small";
  w.model.layers = 1;
  w.model.hidden = static_cast<int>(h);
  w.model.vocab = 128;
  w.model.attention.kind = AttentionKind::mha;
  w.model.attention.heads = static_cast<int>(a);
  w.model.attention.kv_heads = static_cast<int>(a);
  w.model.attention.head_dim = static_cast<int>(d);
  w.model.attention.implementation = impl;
  w.model.ffn_intermediate = static_cast<int>(I);
  w.model.ffn_activation = activation;
  w.training.seq_len = static_cast<int>(s);
  w.training.micro_batch = static_cast<int>(b);
  w.training.global_batch = 2;
  w.training.gemm = Precision::bf16;
  w.training.attention = Precision::bf16;
  w.training.causal = true;
  return w;
}

const LayerCost& layer0(const ModelCost& m) { return m.layers.at(1); }

double block_sum(const LayerCost& l, OpBlock block, double OpCost::*field) {
  double total = 0;
  for (const auto& op : l.ops)
    if (op.block == block) total += op.*field;
  return total;
}

const OpCost& op_named(const LayerCost& l, const std::string& name) {
  REQUIRE(l.find(name) != nullptr);
  return *l.find(name);
}

}  // namespace

TEST_CASE("GELU FFN: two GEMMs h -> I -> h and a memory-bound GELU, SwiGLU has three", "[model][shapes]") {
  const ModelCost gelu = model_cost(small_model(FfnActivation::gelu, AttentionImplementation::flash));
  const LayerCost& g = layer0(gelu);
  REQUIRE(g.find("ffn.up") != nullptr);
  REQUIRE(g.find("ffn.gate_up") == nullptr);
  // Parameters: up h·I + down I·h, plus the norm's h.
  CHECK(block_sum(g, OpBlock::dense_ffn, &OpCost::params) == Approx(2 * h * I + h));
  // FLOPs: 2·T·h·I per GEMM and pass (forward, input gradient, weight gradient).
  CHECK(block_sum(g, OpBlock::dense_ffn, &OpCost::flops_fwd) == Approx(4 * T * h * I));
  CHECK(block_sum(g, OpBlock::dense_ffn, &OpCost::flops_bwd_input) == Approx(4 * T * h * I));
  CHECK(block_sum(g, OpBlock::dense_ffn, &OpCost::flops_bwd_weight) == Approx(4 * T * h * I));
  // GELU: reads and writes T·I BF16 elements; backward reads dY and x, writes dx.
  const OpCost& act = op_named(g, "ffn.gelu");
  CHECK(act.flops_fwd == 0);
  CHECK(act.kind == OpKind::memory_bound);
  CHECK(act.bytes_fwd == Approx(2 * T * I * 2));
  CHECK(act.bytes_bwd == Approx(3 * T * I * 2));
  // Kept (Korthikanti et al. 2023 §4.1, MLP without the dropout mask): the up GEMM's
  // input 2Th, the GELU's input 2TI = 8Th, the down GEMM's input 8Th; norm input 2Th.
  CHECK(op_named(g, "ffn.up").activation_bytes == Approx(2 * T * h));
  CHECK(block_sum(g, OpBlock::dense_ffn, &OpCost::activation_bytes) == Approx(2 * T * h + 18 * T * h));

  const ModelCost swiglu = model_cost(small_model(FfnActivation::swiglu, AttentionImplementation::flash));
  const LayerCost& w = layer0(swiglu);
  CHECK(block_sum(w, OpBlock::dense_ffn, &OpCost::params) == Approx(3 * h * I + h));
  CHECK(block_sum(w, OpBlock::dense_ffn, &OpCost::flops_fwd) == Approx(6 * T * h * I));
  // gate_up's input 2Th, SwiGLU's input 2·T·2I, down's input 2·T·I; norm input 2Th.
  CHECK(block_sum(w, OpBlock::dense_ffn, &OpCost::activation_bytes) == Approx(2 * T * h + 2 * T * h + 6 * T * I));

  SECTION("recomputing the activation output drops the down GEMM's input and re-reads the GELU") {
    WorkloadSpec spec = small_model(FfnActivation::gelu, AttentionImplementation::flash);
    spec.training.recompute.swiglu = true;
    const ModelCost recomputed = model_cost(spec);  // kept: layer0 returns a reference into it
    const LayerCost& r = layer0(recomputed);
    CHECK(op_named(r, "ffn.down").activation_bytes == 0);
    CHECK(op_named(r, "ffn.gelu").recompute_bytes == Approx(2 * T * I * 2));
    CHECK(r.recompute_flops() == 0);
  }
}

TEST_CASE("unfused attention: score and value GEMMs over the full s^2, softmax in HBM, P kept", "[model][shapes]") {
  const ModelCost flash = model_cost(small_model(FfnActivation::gelu, AttentionImplementation::flash));
  const ModelCost unfused = model_cost(small_model(FfnActivation::gelu, AttentionImplementation::unfused));
  const LayerCost& f = layer0(flash);
  const LayerCost& u = layer0(unfused);
  const double P = b * a * s * s;  // elements of one score (or probability) matrix set

  // Flash: one kernel, causal half of 2·s²·d (scores) + 2·s²·d (values) per sequence and head.
  const OpCost& core = op_named(f, "attn.core");
  CHECK(core.flops_fwd == Approx(b * a * 4 * s * s * d * 0.5));
  CHECK(f.find("attn.softmax") == nullptr);

  // Unfused: the masked half is computed too.
  const OpCost& scores = op_named(u, "attn.scores");
  const OpCost& softmax = op_named(u, "attn.softmax");
  const OpCost& context = op_named(u, "attn.context");
  CHECK(u.find("attn.core") == nullptr);
  CHECK(scores.kind == OpKind::dense_gemm);
  CHECK(scores.params == 0);
  CHECK(scores.flops_fwd == Approx(2 * b * a * s * s * d));
  CHECK(context.flops_fwd == Approx(2 * b * a * s * s * d));
  CHECK(scores.flops_bwd_input == Approx(2 * scores.flops_fwd));  // dQ and dK
  CHECK(context.flops_bwd_input == Approx(2 * context.flops_fwd));  // dP and dV
  CHECK(scores.flops_bwd_weight == 0);
  // Bytes: S written, then read and P written by the softmax, P read by the value product.
  CHECK(scores.bytes_fwd == Approx(T * 2 * h * 2 + P * 2));
  CHECK(softmax.kind == OpKind::memory_bound);
  CHECK(softmax.bytes_fwd == Approx(2 * P * 2));
  CHECK(softmax.bytes_bwd == Approx(3 * P * 2));  // read dP and P, write dS
  CHECK(context.bytes_fwd == Approx(P * 2 + T * h * 2 + T * h * 2));
  // The model FLOPs of the layer: the unfused core does twice the causal flash core.
  CHECK(u.flops_fwd() - f.flops_fwd() == Approx(2 * b * a * s * s * d));
  // The model-FLOP conventions leave the computed masked half out: causal counts
  // 3 × 2·b·a·s²·d of core work (forward + two backward products), non-causal twice
  // that, which is also what the unfused kernels execute.
  CHECK((unfused.flops_per_token_noncausal - unfused.flops_per_token_causal) * T == Approx(6 * b * a * s * s * d));
  CHECK(unfused.flops_per_token_total == Approx(unfused.flops_per_token_noncausal));

  // Kept per layer, GELU, no recompute. Korthikanti et al. 2023 §4.1 count
  // 34·sbh + 5·a·s²·b bytes with dropout; without its three dropout terms (two sbh
  // masks, the a·s²·b mask and the 2·a·s²·b dropout output) that is 32·sbh + 2·a·s²·b.
  CHECK(softmax.activation_bytes == Approx(2 * P));
  CHECK(u.activation_bytes() == Approx(32 * T * h + 2 * P));
  // Flash keeps no s² matrix: q, k, v, o and the FP32 log-sum-exp per row and head.
  CHECK(f.activation_bytes() == Approx(32 * T * h + 4 * T * a));
}

TEST_CASE("recompute policies: none, selective (attention core), full", "[model][shapes]") {
  const double P = b * a * s * s;
  auto with = [](AttentionImplementation impl, auto set) {
    WorkloadSpec w = small_model(FfnActivation::gelu, impl);
    set(w.training.recompute);
    return model_cost(w);
  };

  SECTION("none: nothing re-run") {
    const ModelCost m = with(AttentionImplementation::unfused, [](RecomputeSpec&) {});
    CHECK(layer0(m).recompute_flops() == 0);
    CHECK(layer0(m).recompute_bytes() == 0);
    CHECK(m.flops_per_token_total == Approx(m.flops_per_token_noncausal));  // unfused: the full products run
  }

  SECTION("selective, unfused: no s² matrix kept; scores, softmax and value product re-run") {
    const ModelCost none = with(AttentionImplementation::unfused, [](RecomputeSpec&) {});
    const ModelCost sel = with(AttentionImplementation::unfused, [](RecomputeSpec& r) { r.attention_core = true; });
    const LayerCost& l = layer0(sel);
    // Korthikanti et al. 2023 §4.2: 34·sbh with dropout; 32·sbh without its two masks.
    CHECK(l.activation_bytes() == Approx(32 * T * h));
    CHECK(layer0(none).activation_bytes() - l.activation_bytes() == Approx(2 * P));
    CHECK(l.recompute_flops() == Approx(4 * b * a * s * s * d));
    // S written (+ q, k read), S read and P written, P and v read and o written.
    CHECK(l.recompute_bytes() == Approx((T * 2 * h * 2 + 2 * P) + 4 * P + (2 * P + 2 * T * h + 2 * T * h)));
    // Recomputation is never model FLOPs; the step's total carries it.
    CHECK(sel.flops_per_token_causal == Approx(none.flops_per_token_causal));
    CHECK(sel.flops_per_token_total - none.flops_per_token_total == Approx(4 * b * a * s * s * d / T));
  }

  SECTION("selective, flash: the kernel re-runs forward; only the log-sum-exp is not kept") {
    const ModelCost none = with(AttentionImplementation::flash, [](RecomputeSpec&) {});
    const ModelCost sel = with(AttentionImplementation::flash, [](RecomputeSpec& r) { r.attention_core = true; });
    CHECK(layer0(none).activation_bytes() - layer0(sel).activation_bytes() == Approx(4 * T * a));
    CHECK(layer0(sel).recompute_flops() == Approx(2 * b * a * s * s * d));
    CHECK(layer0(sel).recompute_bytes() == Approx(4 * T * h * 2 + 4 * T * a));
  }

  SECTION("full: the layer keeps its input only and re-runs its whole forward") {
    for (auto impl : {AttentionImplementation::flash, AttentionImplementation::unfused}) {
      const ModelCost full = with(impl, [](RecomputeSpec& r) { r.full = true; });
      const LayerCost& l = layer0(full);
      CHECK(l.activation_bytes() == Approx(2 * T * h));
      CHECK(l.recompute_flops() == Approx(l.flops_fwd()));
      CHECK(l.recompute_bytes() == Approx(l.bytes_fwd()));
      // Forward FLOPs: 24·T·h² of GEMMs (q, k, v, o: 8Th²; FFN: 16Th²) plus the core.
      const double core = impl == AttentionImplementation::flash ? 2 * b * a * s * s * d : 4 * b * a * s * s * d;
      CHECK(l.flops_fwd() == Approx(24 * T * h * h + core));
    }
  }
}

TEST_CASE("workloads/gpt3-175b.yaml: GELU, unfused attention, selective recompute, 174.6B parameters",
          "[model][shapes][config]") {
  const WorkloadSpec w = load_workload(std::string(TRAINSIM_SOURCE_DIR) + "/workloads/gpt3-175b.yaml", {});
  CHECK(w.model.ffn_activation == FfnActivation::gelu);
  CHECK(w.model.attention.implementation == AttentionImplementation::unfused);
  CHECK(w.training.recompute.attention_core);
  CHECK_FALSE(w.training.recompute.full);
  // 96 layers of 12·h² (+ 2 norms of h), the tied 51200 × h embedding, the final norm:
  // PTD-P Table 2 lists 174.6B for GPT-3 175B.
  const ModelCost m = model_cost(w);
  const double hh = 12288;
  CHECK(m.params_total == Approx(96 * (12 * hh * hh + 2 * hh) + 51200 * hh + hh));
  CHECK(m.params_total == Approx(174.6e9).epsilon(0.002));

  SECTION("the defaults keep flash attention, SwiGLU and no selective recomputation") {
    const WorkloadSpec v3 = load_workload(std::string(TRAINSIM_SOURCE_DIR) + "/workloads/deepseek-v3.yaml", {});
    CHECK(v3.model.ffn_activation == FfnActivation::swiglu);
    CHECK(v3.model.attention.implementation == AttentionImplementation::flash);
    CHECK_FALSE(v3.training.recompute.attention_core);
  }
}

namespace {

// Counts the step program's tasks whose name starts with `pass` ("F ", "R ") and
// contains `what`.
std::vector<double> count_tasks(const test::LoadedCase& c, const std::vector<std::pair<std::string, std::string>>& q) {
  return run_isolated([&] {
    const auto program =
        build_step_program(c.cluster, c.workload, c.workload.training.global_batch, Fidelity::symmetric);
    std::vector<double> counts(q.size(), 0);
    for (std::size_t v = 0; v < num_vertices(program.graph); ++v) {
      const std::string& name = program.graph[v].name;
      for (std::size_t i = 0; i < q.size(); ++i)
        if (name.rfind(q[i].first, 0) == 0 && name.find(q[i].second) != std::string::npos) counts[i] += 1;
    }
    return counts;
  });
}

const std::vector<std::pair<std::string, std::string>> kQueries = {
    {"F ", "dispatch"}, {"R ", "dispatch"}, {"F ", "combine"}, {"R ", "combine"}, {"F ", " tp"}, {"R ", " tp"}};

}  // namespace

TEST_CASE("full recomputation repeats each layer's forward MoE all-to-alls and TP all-reduces", "[step][shapes]") {
  SECTION("MoE (DeepSeek-V3 cut, DualPipe, tp 1)") {
    std::vector<std::string> sets = {"nodes=16", "model.layers=6", "model.moe.first_dense_layers=1",
                                     "parallelism.pp=2", "parallelism.dp=64", "training.global_batch=256",
                                     "training.batch_ramp.start=256"};
    const auto off = count_tasks(test::load_default_case(sets), kQueries);
    sets.push_back("training.recompute.full=true");
    const auto on = count_tasks(test::load_default_case(sets), kQueries);
    REQUIRE(off[0] > 0);
    CHECK(off[1] == 0);
    CHECK(off[3] == 0);
    CHECK(on[0] == off[0]);
    CHECK(on[1] == on[0]);  // one re-run dispatch per forward dispatch
    CHECK(on[3] == on[2]);  // one re-run combine per forward combine
  }
  SECTION("dense GPT-3 cut, tp 8: two re-run all-reduces per layer and micro-batch") {
    const std::string root = TRAINSIM_SOURCE_DIR;
    std::vector<std::string> sets = {"nodes=4", "model.layers=4", "parallelism.pp=2", "parallelism.dp=2",
                                     "training.global_batch=8"};
    auto load = [&](const std::vector<std::string>& s) {
      const auto o = parse_overrides(s);
      test::LoadedCase c{load_cluster(root + "/topologies/h100-2048.yaml", o),
                         load_workload(root + "/workloads/gpt3-175b.yaml", o)};
      check_workload_schedule(c.workload);
      check_workload_fits_cluster(c.workload, c.cluster);
      return c;
    };
    const auto off = count_tasks(load(sets), kQueries);
    sets.push_back("training.recompute.full=true");
    const auto on = count_tasks(load(sets), kQueries);
    REQUIRE(off[4] > 0);
    CHECK(off[5] == 0);
    CHECK(on[5] == on[4]);
    CHECK(on[1] == 0);  // dense: no all-to-all
  }
}

TEST_CASE("GPT-3 175B runs in full fidelity on a 32-GPU cut (symmetric: golden case gpt3-175b)", "[step][shapes][cli]") {
  const auto full = test::run_trainsim(
      "run --format json --ramp-points 1 --fidelity full --workload workloads/gpt3-175b.yaml "
      "--cluster topologies/h100-2048.yaml --set cluster.nodes=4 --set workload.model.layers=8 "
      "--set workload.parallelism.pp=2 --set workload.parallelism.dp=2 --set workload.training.global_batch=8");
  INFO(full.output);
  CHECK(full.status == 0);
  CHECK(full.output.find("\"step_time_s\"") != std::string::npos);
}

TEST_CASE("weight gradients are written at training.optimizer.gradient_bytes, for every op with weights",
          "[model][shapes]") {
  WorkloadSpec fp32 = small_model(FfnActivation::swiglu, AttentionImplementation::flash);
  fp32.training.optimizer.gradient_bytes = 4;
  WorkloadSpec bf16 = fp32;
  bf16.training.optimizer.gradient_bytes = 2;
  const ModelCost a32 = model_cost(fp32), a16 = model_cost(bf16);
  // By hand: a GEMM [T x k]·[k x n] writes k·n gradient elements; a norm its h scales; the
  // embedding scatter-adds T rows of h. Halving the bytes per element halves those writes.
  const OpCost& up32 = op_named(layer0(a32), "ffn.gate_up");
  const OpCost& up16 = op_named(layer0(a16), "ffn.gate_up");
  CHECK(up32.bytes_bwd_weight - up16.bytes_bwd_weight == Approx(h * 2 * I * 2));
  CHECK(up16.bytes_bwd == Approx(up16.bytes_bwd_input + up16.bytes_bwd_weight));
  const OpCost& norm32 = op_named(layer0(a32), "attn.norm");
  const OpCost& norm16 = op_named(layer0(a16), "attn.norm");
  CHECK(norm32.bytes_bwd_weight - norm16.bytes_bwd_weight == Approx(h * 2));
  const OpCost& emb32 = a32.layers.at(0).ops.at(0);
  const OpCost& emb16 = a16.layers.at(0).ops.at(0);
  CHECK(emb32.bytes_bwd_weight - emb16.bytes_bwd_weight == Approx(T * h * 2));
  // Nothing else moves: forward and input-gradient traffic are the same.
  CHECK(up32.bytes_fwd == up16.bytes_fwd);
  CHECK(up32.bytes_bwd_input == up16.bytes_bwd_input);
}

}  // namespace test_model_shapes
