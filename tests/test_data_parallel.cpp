// ZeRO-1 data parallelism in the step program (sim/parallel/data_parallel.cpp):
// the bytes of the gradient reduce-scatters and parameter all-gathers of a small
// DualPipe case against a count by hand, where the expert shards travel, and the
// optimizer's byte counts read from the workload file.
#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <vector>

#include "sim/config/load.hpp"
#include "sim/model/cost_model.hpp"
#include "sim/parallel/data_parallel.hpp"
#include "sim/parallel/schedule.hpp"
#include "sim/parallel/step_program.hpp"
#include "tests/support.hpp"

namespace test_data_parallel {

using namespace trainsim;

namespace {

// DeepSeek-V3's recipe cut to 128 GPUs (16 nodes of 8): DualPipe over pp 2, dp 64,
// EP 32 (4 nodes), so each pipeline rank has two EP groups; 6 layers, 4 micro-batches.
std::vector<std::string> small_dualpipe_sets(std::vector<std::string> more = {}) {
  std::vector<std::string> sets = {"nodes=16",          "model.layers=6",    "model.moe.first_dense_layers=1",
                                   "parallelism.pp=2",  "parallelism.dp=64", "parallelism.ep=32",
                                   "training.global_batch=256",              "training.batch_ramp.start=256"};
  sets.insert(sets.end(), more.begin(), more.end());
  return sets;
}

using Case = trainsim::test::LoadedCase;
using trainsim::test::load_default_case;

// The data-parallel collectives a task belongs to, by the task's name.
enum class Kind { dense_rs, expert_rs, dense_ag, expert_ag, other };
Kind kind_of(const std::string& name) {
  auto starts = [&](const char* prefix) { return name.rfind(prefix, 0) == 0; };
  if (starts("dp reduce-scatter")) return Kind::dense_rs;
  if (starts("dp expert reduce-scatter")) return Kind::expert_rs;
  if (starts("dp all-gather")) return Kind::dense_ag;
  if (starts("dp expert all-gather")) return Kind::expert_ag;
  return Kind::other;
}

// Per GPU of a holder rank: one stage's dense parameters (tp 1) and its share of the
// routed experts (1/ep of them), as the cost model counts them.
struct StageParams {
  double dense = 0, expert = 0;
};
std::vector<StageParams> stage_params(const WorkloadSpec& w, const StepProgram& program) {
  const ModelCost cost = model_cost(w);
  std::vector<StageParams> out;
  for (const auto& layers : program.stage_layers) {
    StageParams s;
    for (int li : layers)
      for (const OpCost& op : cost.layers[static_cast<std::size_t>(li)].ops)
        (op.block == OpBlock::routed_experts ? s.expert : s.dense) += op.params;
    s.expert /= w.parallelism.ep;
    out.push_back(s);
  }
  return out;
}

}  // namespace

TEST_CASE("data parallel: DualPipe reduces and gathers each stage once over all its copies", "[step][dp]") {
  const Case c = load_default_case(small_dualpipe_sets());
  const StepProgram program =
      build_step_program(c.cluster, c.workload, c.workload.training.global_batch, Fidelity::full);
  const auto params = stage_params(c.workload, program);
  REQUIRE(params.size() == 2);

  std::map<Kind, double> bytes;
  for (std::size_t v = 0; v < num_vertices(program.graph); ++v) {
    const StepTask& t = program.graph[v];
    if (t.category != Category::dp) continue;
    REQUIRE(kind_of(t.name) != Kind::other);
    for (const auto& tr : t.transfers) bytes[kind_of(t.name)] += tr.bytes;
  }

  // Count by hand. Both pipeline ranks hold both stages (DualPipe, pp 2), so each stage
  // has c = 2 copies × dp 64 = 128 dense holders and, per EP position, c × dp/ep = 4
  // expert holders (the same position in the 2 EP groups of the 2 ranks). A reduce-scatter
  // or all-gather of S bytes per member over n GPUs moves (n − 1)·S bytes in all, ring
  // or hierarchical alike; it runs once per stage (dense) and once per stage and EP
  // position (experts: 32 positions). Gradients are 4 bytes (FP32), parameters 2 (BF16):
  //   dense RS  = Σ_s 127 · P_dense(s) · 4      expert RS = Σ_s 32 · 3 · P_expert(s) · 4
  //   dense AG  = Σ_s 127 · P_dense(s) · 2      expert AG = Σ_s 32 · 3 · P_expert(s) · 2
  // with P the parameters of stage s on one GPU (P_expert: its 1/ep of the experts).
  // Before the fix each rank emitted every stage's reduce-scatter (2x the dense and
  // expert RS), and one all-gather per rank over its own 64 replicas of half of
  // (P_dense + P_expert) of both stages, expert shards included.
  double dense_rs = 0, expert_rs = 0, dense_ag = 0, expert_ag = 0;
  for (const StageParams& s : params) {
    dense_rs += 127 * s.dense * 4;
    expert_rs += 32 * 3 * s.expert * 4;
    dense_ag += 127 * s.dense * 2;
    expert_ag += 32 * 3 * s.expert * 2;
  }
  CHECK(bytes[Kind::dense_rs] == Approx(dense_rs).epsilon(1e-9));
  CHECK(bytes[Kind::expert_rs] == Approx(expert_rs).epsilon(1e-9));
  CHECK(bytes[Kind::dense_ag] == Approx(dense_ag).epsilon(1e-9));
  CHECK(bytes[Kind::expert_ag] == Approx(expert_ag).epsilon(1e-9));
}

TEST_CASE("data parallel: after the optimizer a GPU receives the parameters of every stage it holds",
          "[step][dp]") {
  const Case c = load_default_case(small_dualpipe_sets());
  const StepProgram program =
      build_step_program(c.cluster, c.workload, c.workload.training.global_batch, Fidelity::full);
  const auto params = stage_params(c.workload, program);
  // GPU 0 (rank 0, DP index 0) holds both stages: it receives all but its own 1/n shard
  // of each stage's BF16 parameters, n = 128 for dense, 4 for its experts.
  double expected = 0;
  for (const StageParams& s : params) expected += (127.0 / 128 * s.dense + 3.0 / 4 * s.expert) * 2;
  double received = 0;
  for (std::size_t v = 0; v < num_vertices(program.graph); ++v) {
    const StepTask& t = program.graph[v];
    const Kind k = kind_of(t.name);
    if (t.category != Category::dp || (k != Kind::dense_ag && k != Kind::expert_ag)) continue;
    for (const auto& tr : t.transfers)
      if (tr.dst_gpu == 0) received += tr.bytes;
  }
  CHECK(received == Approx(expected).epsilon(1e-9));
}

TEST_CASE("data parallel: expert shards are gathered over the expert-data-parallel group, across nodes",
          "[step][dp]") {
  const Case c = load_default_case(small_dualpipe_sets());
  const StepProgram program =
      build_step_program(c.cluster, c.workload, c.workload.training.global_batch, Fidelity::full);
  const int per_node = c.cluster.node.gpus;
  const int ep = c.workload.parallelism.ep;
  std::size_t transfers = 0;
  for (std::size_t v = 0; v < num_vertices(program.graph); ++v) {
    const StepTask& t = program.graph[v];
    if (t.category != Category::dp || kind_of(t.name) != Kind::expert_ag) continue;
    for (const auto& tr : t.transfers) {
      ++transfers;
      // Same EP position (DP index mod ep, tp 1), other EP group or other DualPipe copy:
      // 32 GPUs or more apart, so on another node.
      CHECK(tr.src_gpu % ep == tr.dst_gpu % ep);
      CHECK(tr.src_gpu / per_node != tr.dst_gpu / per_node);
    }
  }
  CHECK(transfers > 0);
}

TEST_CASE("data parallel: gradient and AdamW byte counts come from training.optimizer", "[step][dp][config]") {
  // training.optimizer.gradient_bytes halves every gradient reduce-scatter when 4 → 2.
  auto rs_bytes = [](const std::vector<std::string>& more) {
    const Case c = load_default_case(small_dualpipe_sets(more));
    const StepProgram program =
        build_step_program(c.cluster, c.workload, c.workload.training.global_batch, Fidelity::full);
    double bytes = 0;
    for (std::size_t v = 0; v < num_vertices(program.graph); ++v) {
      const StepTask& t = program.graph[v];
      const Kind k = kind_of(t.name);
      if (t.category == Category::dp && (k == Kind::dense_rs || k == Kind::expert_rs))
        for (const auto& tr : t.transfers) bytes += tr.bytes;
    }
    return bytes;
  };
  const double fp32 = rs_bytes({});
  const double bf16 = rs_bytes({"training.optimizer.gradient_bytes=2"});
  CHECK(bf16 == Approx(fp32 / 2).epsilon(1e-12));

  const Case c = load_default_case(small_dualpipe_sets());
  const OptimizerSpec& o = c.workload.training.optimizer;
  CHECK(o.gradient_bytes == 4);       // DeepSeek-V3 §3.3.3: FP32 gradients
  CHECK(o.master_weight_bytes == 4);  // FP32 master weights
  CHECK(o.moment_bytes == 2);         // BF16 AdamW moments
  CHECK(o.parameter_bytes == 2);      // BF16 working weights
  // AdamW reads gradient, master weight and both moments; writes master weight, both
  // moments and the working weight: 4 + 4 + 2·2 + 4 + 2·2 + 2 = 22 bytes per parameter.
  CHECK(step::adamw_bytes_per_param(o) == 22);
}

TEST_CASE("data parallel: the FP8 scale group comes from training.precision.fp8_scale_group", "[dp][config]") {
  const Case dflt = load_default_case(small_dualpipe_sets());
  CHECK(dflt.workload.training.fp8_scale_group == 128);  // DeepSeek-V3 §3.3.2: 1×128 tiles
  CHECK(dispatch_bytes_per_token_per_copy(dflt.workload) == 7168 + 56 * 4);
  const Case c = load_default_case(small_dualpipe_sets({"training.precision.fp8_scale_group=64"}));
  CHECK(dispatch_bytes_per_token_per_copy(c.workload) == 7168 + 112 * 4);
}

}  // namespace test_data_parallel
