// Sequence parallelism and context parallelism in the step program: the GPU
// numbering with a cp dimension, the tensor-parallel collectives per layer with
// and without SP (count, bytes), which ops SP shards, the ring-attention
// transfers per layer and their bytes, the data-parallel group over dp x cp,
// the representatives, and the checks on the layout.
#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "sim/config/error.hpp"
#include "sim/config/load.hpp"
#include "sim/model/cost_model.hpp"
#include "sim/model/op_time.hpp"
#include "sim/parallel/layer_plan.hpp"
#include "sim/parallel/representatives.hpp"
#include "sim/parallel/schedule.hpp"
#include "sim/parallel/step_build.hpp"
#include "sim/parallel/step_program.hpp"
#include "tests/support.hpp"

namespace test_seq_context {

using namespace trainsim;
using step::in_mlp_block, step::LayerPlan;

namespace {

using DenseCase = trainsim::test::LoadedCase;

// Llama 3 8B cut to 2 layers on one 8-GPU node (h100-2048's node), pp 1,
// 2 micro-batches of one sequence; `sets` choose tp, cp, dp and SP.
DenseCase dense_case(std::vector<std::string> sets) {
  std::vector<std::string> all = {"nodes=1",           "model.layers=2",         "parallelism.pp=1",
                                  "parallelism.dp=1",  "training.global_batch=2"};
  // A key given twice is refused (--set is not last-wins): a case's own value replaces the base's.
  const auto key_of = [](const std::string& set) { return set.substr(0, set.find('=')); };
  for (const auto& set : sets)
    std::erase_if(all, [&](const std::string& base) { return key_of(base) == key_of(set); });
  all.insert(all.end(), sets.begin(), sets.end());
  return trainsim::test::load_case("topologies/h100-2048.yaml", "workloads/llama3-8b.yaml", all);
}

// A layout written in code: tp, cp, dp, pp.
ParallelismSpec layout(int tp, int cp, int dp, int pp) {
  ParallelismSpec p;
  p.tp = tp;
  p.pp = pp;
  p.dp = dp;
  p.cp = cp;  // the other fields keep their defaults
  return p;
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Transfer tasks and their bytes, of one category, whose name starts with `prefix` and contains `part`.
struct Count {
  int tasks = 0;
  int transfers = 0;
  double bytes = 0;
};
Count count(const StepProgram& p, Category cat, const std::string& prefix, const std::string& part = "") {
  Count c;
  for (std::size_t v = 0; v < num_vertices(p.graph); ++v) {
    const StepTask& t = p.graph[v];
    if (t.category != cat || !starts_with(t.name, prefix) || !contains(t.name, part)) continue;
    ++c.tasks;
    for (const auto& tr : t.transfers) {
      ++c.transfers;
      c.bytes += tr.bytes;
    }
  }
  return c;
}

// One micro-batch's hidden states on one GPU: seq_len/cp tokens x hidden x BF16.
double hidden_bytes(const WorkloadSpec& w) {
  return 1.0 * w.training.seq_len * w.model.hidden * 2 / w.parallelism.cp;
}

}  // namespace

TEST_CASE("seq/context: GPU numbering is tp, cp, dp, pp from the innermost", "[step][cp]") {
  ParallelismSpec p = layout(2, 4, 3, 2);
  CHECK(gpu_of(p, 0, 0, 0, 0) == 0);
  CHECK(gpu_of(p, 0, 0, 1, 0) == 1);   // TP neighbour: next GPU
  CHECK(gpu_of(p, 0, 0, 0, 1) == 2);   // CP neighbour: tp GPUs further
  CHECK(gpu_of(p, 0, 1, 0, 0) == 8);   // next DP index: tp x cp further
  CHECK(gpu_of(p, 1, 0, 0, 0) == 24);  // next pipeline rank: tp x cp x dp further
  CHECK(gpu_of(p, 1, 2, 1, 3) == 47);  // ((1*3 + 2)*4 + 3)*2 + 1, the last of 48
  // A replica is dp_index*cp + cp_index.
  CHECK(replicas_per_rank(p) == 12);
  CHECK(gpu_of(p, 1, 2 * 4 + 3, 1) == 47);
  CHECK(gpu_of(p, 0, 5, 0) == gpu_of(p, 0, 1, 0, 1));
  // cp = 1: the numbering of before, (pp_rank*dp + dp_index)*tp + tp_index.
  p.cp = 1;
  CHECK(gpu_of(p, 1, 2, 1) == (1 * 3 + 2) * 2 + 1);
  CHECK(gpu_of(p, 1, 2, 1, 0) == gpu_of(p, 1, 2, 1));
}

TEST_CASE("seq/context: TP collectives per layer, all-reduce without SP, all-gather + reduce-scatter with it",
          "[step][tp][sp]") {
  const int tp = 8;
  for (bool sp : {false, true}) {
    DYNAMIC_SECTION("sequence_parallel " << sp) {
      const DenseCase c = dense_case({"parallelism.tp=8", sp ? "parallelism.sequence_parallel=true"
                                                              : "parallelism.sequence_parallel=false"});
      const StepProgram p = build_step_program(c.cluster, c.workload, 2, Fidelity::full);
      const double S = hidden_bytes(c.workload);
      // The layers of the model: embedding, 2 transformer layers, head; L1 is a transformer layer.
      for (const char* pass : {"F mb0 L1 ", "B mb0 L1 "}) {
        if (!sp) {
          // 2 ring all-reduces (attn, mlp): 2(tp-1) phases of tp transfers of S/tp each.
          const Count ar = count(p, Category::tp, pass, " tp");
          CHECK(ar.tasks == 2 * 2 * (tp - 1));
          CHECK(ar.transfers == 2 * 2 * (tp - 1) * tp);
          CHECK(ar.bytes == Approx(2 * 2 * (tp - 1) * S));
          CHECK(count(p, Category::tp, pass, " tp ag").tasks == 0);
        } else {
          // 2 all-gathers before the blocks and 2 reduce-scatters after: (tp-1) phases each, the same bytes.
          const Count ag = count(p, Category::tp, pass, " tp ag");
          const Count rs = count(p, Category::tp, pass, " tp rs");
          CHECK(ag.tasks == 2 * (tp - 1));
          CHECK(rs.tasks == 2 * (tp - 1));
          CHECK(ag.bytes == Approx(2 * (tp - 1) * S));
          CHECK(rs.bytes == Approx(2 * (tp - 1) * S));
          CHECK(ag.bytes + rs.bytes == Approx(2 * 2 * (tp - 1) * S));
        }
      }
    }
  }
}

TEST_CASE("seq/context: norms and residuals are replicated over TP without SP, sharded with it", "[step][tp][sp]") {
  const DenseCase plain = dense_case({"parallelism.tp=8"});
  const DenseCase sp = dense_case({"parallelism.tp=8", "parallelism.sequence_parallel=true"});
  const ModelCost cost = model_cost(plain.workload);
  const LayerCost& layer = cost.layers[1];
  REQUIRE(layer.kind == LayerKind::dense);
  // By hand: every op's forward seconds, on tp shards, except the block norms and
  // residual adds, which every TP rank runs whole without SP.
  double attn_plain = 0, attn_sp = 0, replicated_whole = 0, replicated_shard = 0;
  for (const OpCost& op : layer.ops) {
    if (in_mlp_block(op.block)) continue;
    const bool outside = op.name == "attn.norm" || op.name == "attn.residual";
    const double shard = op_seconds(op, Pass::forward, plain.cluster, 1.0, 8);
    const double whole = op_seconds(op, Pass::forward, plain.cluster, 1.0, 1);
    attn_plain += outside ? whole : shard;
    attn_sp += shard;
    if (outside) {
      replicated_whole += whole;
      replicated_shard += shard;
    }
  }
  REQUIRE(replicated_whole > replicated_shard);
  const LayerPlan lp = step::plan_layer(layer, plain.cluster, plain.workload);
  const LayerPlan ls = step::plan_layer(layer, sp.cluster, sp.workload);
  CHECK(lp.attn.f == Approx(attn_plain).epsilon(1e-12));
  CHECK(ls.attn.f == Approx(attn_sp).epsilon(1e-12));
  CHECK(lp.attn.f - ls.attn.f == Approx(replicated_whole - replicated_shard).epsilon(1e-9));
}

TEST_CASE("seq/context: ring attention passes KV blocks around the CP ring, cp-1 forward and 2cp-1 backward",
          "[step][cp]") {
  const int cp = 8;
  const DenseCase c = dense_case({"parallelism.cp=8"});
  const WorkloadSpec& w = c.workload;
  // GQA: K and V of seq_len/cp tokens for 8 KV heads of 128, BF16.
  const double block = 2.0 * 8 * 128 * (8192 / cp) * 2;
  CHECK(step::cp_kv_block_bytes(w) == block);
  for (Fidelity f : {Fidelity::full, Fidelity::symmetric}) {
    const StepProgram p = build_step_program(c.cluster, w, 2, f);
    // Per layer and micro-batch, one task per ring step with one transfer per CP rank.
    const Count fwd = count(p, Category::cp, "F mb0 L1 ");
    CHECK(fwd.tasks == cp - 1);
    CHECK(fwd.transfers == (cp - 1) * cp);
    CHECK(fwd.bytes == Approx((cp - 1) * cp * block));
    const Count bkv = count(p, Category::cp, "B mb0 L1 ", " kv");
    const Count bdkv = count(p, Category::cp, "B mb0 L1 ", " dkv");
    CHECK(bkv.tasks == cp - 1);
    CHECK(bdkv.tasks == cp);  // the last step's dK, dV travel home
    CHECK(bkv.bytes + bdkv.bytes == Approx((2 * cp - 1) * cp * block));
    // Every transfer goes to the next CP rank of the ring (tp 1: the next GPU, mod cp).
    for (std::size_t v = 0; v < num_vertices(p.graph); ++v)
      for (const auto& tr : p.graph[v].transfers)
        if (p.graph[v].category == Category::cp) CHECK(tr.dst_gpu == (tr.src_gpu + 1) % cp);
    // The attention core runs as cp steps on each of the cp ranks.
    int core_steps = 0;
    for (std::size_t v = 0; v < num_vertices(p.graph); ++v)
      if (p.graph[v].category == Category::attention && starts_with(p.graph[v].name, "F mb0 L1 attn core"))
        ++core_steps;
    CHECK(core_steps == cp * cp);
    CHECK(p.simulated_gpus == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7});
    // Overlap: a forward KV transfer waits only for the block it forwards (the
    // previous transfer, or the block's projections for the first), never for
    // the attention step computed beside it.
    for (std::size_t v = 0; v < num_vertices(p.graph); ++v) {
      const StepTask& t = p.graph[v];
      if (t.category != Category::cp || !starts_with(t.name, "F mb0 L1 attn core") || contains(t.name, "core0"))
        continue;
      for (auto [e, end] = in_edges(static_cast<trainsim::TaskId>(v), p.graph); e != end; ++e)
        CHECK(p.graph[source(*e, p.graph)].category == Category::cp);
    }
  }
}

TEST_CASE("seq/context: CP divides each GPU's tokens, the TP bytes and the compute by cp", "[step][cp]") {
  const DenseCase one = dense_case({"parallelism.dp=2", "parallelism.tp=4"});
  const DenseCase two = dense_case({"parallelism.cp=2", "parallelism.tp=4"});
  const ModelCost cost = model_cost(one.workload);
  const LayerPlan l1 = step::plan_layer(cost.layers[1], one.cluster, one.workload);
  const LayerPlan l2 = step::plan_layer(cost.layers[1], two.cluster, two.workload);
  // FLOPs: 1/cp of every op, the causal attention core included (zig-zag chunks).
  CHECK(l2.attn.flops_f == Approx(l1.attn.flops_f / 2));
  CHECK(l2.mlp.flops_f == Approx(l1.mlp.flops_f / 2));
  CHECK(l2.core.flops_f == Approx(l1.core.flops_f / 2));
  CHECK(l2.core.flops_b == Approx(l1.core.flops_b / 2));
  CHECK(l1.core.flops_f > 0);
  // The TP all-reduce moves seq_len/cp tokens' hidden states.
  const StepProgram p1 = build_step_program(one.cluster, one.workload, 2, Fidelity::symmetric);
  const StepProgram p2 = build_step_program(two.cluster, two.workload, 2, Fidelity::symmetric);
  const Count ar1 = count(p1, Category::tp, "F mb0 L1 ");
  const Count ar2 = count(p2, Category::tp, "F mb0 L1 ");
  // symmetric: dp 2 simulates one replica; cp 2 simulates both CP ranks, each with half the bytes.
  CHECK(ar2.bytes == Approx(ar1.bytes));
  CHECK(ar2.tasks == 2 * ar1.tasks);
}

TEST_CASE("seq/context: gradients are reduced over dp x cp", "[step][cp][dp]") {
  const DenseCase c = dense_case({"parallelism.cp=4", "parallelism.dp=2", "training.global_batch=4"});
  const StepProgram p = build_step_program(c.cluster, c.workload, 4, Fidelity::full);
  std::set<int> members;
  for (std::size_t v = 0; v < num_vertices(p.graph); ++v) {
    const StepTask& t = p.graph[v];
    if (t.category != Category::dp || !starts_with(t.name, "dp reduce-scatter")) continue;
    for (const auto& tr : t.transfers) {
      members.insert(tr.src_gpu);
      members.insert(tr.dst_gpu);
    }
  }
  CHECK(members == std::set<int>{0, 1, 2, 3, 4, 5, 6, 7});
}

TEST_CASE("seq/context: symmetric fidelity simulates every CP rank of one data-parallel replica", "[step][cp]") {
  const ParallelismSpec p = layout(2, 4, 2, 2);
  ClusterSpec cluster;
  cluster.nodes = 4;
  cluster.node.gpus = 8;
  const auto reps = step::choose_representatives(cluster, p, Fidelity::symmetric, {});
  CHECK(reps.replicas == std::vector<int>{0, 1, 2, 3});
  // TP index 0 of CP ranks 0..3 of DP index 0, on both pipeline ranks.
  CHECK(reps.gpus == std::vector<int>{0, 2, 4, 6, 16, 18, 20, 22});
  const auto full = step::choose_representatives(cluster, p, Fidelity::full, {});
  CHECK(full.replicas.size() == 8);
  CHECK(full.gpus.size() == 32);
}

TEST_CASE("seq/context: the layout checks count cp and refuse what cannot be simulated", "[config][cp]") {
  // tp x cp x pp x dp must be the cluster's GPUs.
  CHECK_THROWS_WITH(dense_case({"parallelism.cp=4", "parallelism.dp=4", "training.global_batch=4"}),
                    Catch::Contains("tp x cp x pp x dp = 1 x 4 x 1 x 4 = 16 GPUs"));
  // Zig-zag chunks: 2 x cp divides seq_len.
  CHECK_THROWS_WITH(dense_case({"parallelism.cp=8", "training.seq_len=8200"}),
                    Catch::Contains("2 x cp = 16 does not divide training.seq_len 8200"));
  CHECK_NOTHROW(dense_case({"parallelism.cp=8"}));
  CHECK_NOTHROW(dense_case({"parallelism.tp=2", "parallelism.cp=4", "parallelism.sequence_parallel=true"}));
}

TEST_CASE("seq/context: a pipeline transfer gates the first task of the next stage's chain, not its TP collective",
          "[step][tp][pp]") {
  // With tp > 1 a layer pass creates a block and then its TP collective; the
  // activations from the previous stage must precede the block's compute.
  for (bool sp : {false, true}) {
    const DenseCase c = dense_case({"parallelism.tp=2", "parallelism.pp=2", "parallelism.dp=2",
                                    "training.global_batch=4",
                                    sp ? "parallelism.sequence_parallel=true" : "parallelism.sequence_parallel=false"});
    const StepProgram p = build_step_program(c.cluster, c.workload, 4, Fidelity::symmetric);
    int checked = 0;
    for (std::size_t v = 0; v < num_vertices(p.graph); ++v) {
      const StepTask& t = p.graph[v];
      if (t.category != Category::pp) continue;
      for (auto [e, end] = out_edges(static_cast<trainsim::TaskId>(v), p.graph); e != end; ++e) {
        const StepTask& next = p.graph[target(*e, p.graph)];
        // Without SP the chain starts with a compute task; with SP with its all-gather.
        if (sp)
          CHECK(((next.category == Category::tp && contains(next.name, " tp ag")) || !is_communication(next.category)));
        else
          CHECK(!is_communication(next.category));
        ++checked;
      }
    }
    CHECK(checked == 2 * 2);  // mb0, mb1: one forward and one backward transfer each
  }
}

TEST_CASE("seq/context: context parallelism with expert parallelism is refused with the reason", "[config][cp]") {
  CHECK_THROWS_WITH(trainsim::test::load_default_case({"parallelism.cp=2", "parallelism.dp=64"}),
                    Catch::Contains("context parallelism with expert parallelism (ep 64) is not supported"));
  const auto r = trainsim::test::run_trainsim("check --set workload.parallelism.cp=2 --set workload.parallelism.dp=64");
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Catch::Contains("--set workload.parallelism.cp=2: parallelism.cp: context parallelism"));
}

}  // namespace test_seq_context
