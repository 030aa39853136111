// The parts of the step program builder on their own: the stage partition on
// small cost vectors, the cost model's block tags on the shipped workloads, the
// layer plan's split of a layer into blocks, and the choice of representatives.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "sim/config/load.hpp"
#include "sim/model/cost_model.hpp"
#include "sim/parallel/layer_plan.hpp"
#include "sim/parallel/representatives.hpp"
#include "sim/parallel/stage_partition.hpp"
#include "sim/parallel/step_build.hpp"
#include "tests/support.hpp"

namespace test_step_parts {

using namespace trainsim;
using step::partition_layers;
using Split = std::vector<std::vector<int>>;

namespace {

const std::string kRoot = TRAINSIM_SOURCE_DIR;

WorkloadSpec shipped_workload(const std::string& file) { return load_workload(kRoot + "/workloads/" + file, {}); }

// The block an op's name says it belongs to (the tag must agree with it).
OpBlock block_by_name(const std::string& name) {
  auto starts = [&](const char* prefix) { return name.rfind(prefix, 0) == 0; };
  if (name == "embedding" || name == "mtp.embedding") return OpBlock::embedding;
  if (starts("attn.")) return OpBlock::attention;
  if (name == "moe.norm" || name == "moe.gate" || name == "moe.router") return OpBlock::moe_gate;
  if (starts("moe.routed.")) return OpBlock::routed_experts;
  if (starts("moe.shared.")) return OpBlock::shared_experts;
  if (name == "moe.combine" || name == "moe.residual") return OpBlock::moe_output;
  if (starts("ffn.")) return OpBlock::dense_ffn;
  if (name == "mtp.hidden_norm" || name == "mtp.embed_norm" || name == "mtp.proj") return OpBlock::mtp_projection;
  REQUIRE((name == "final_norm" || name == "head" || name == "loss" || name == "mtp.head_norm" ||
           name == "mtp.head" || name == "mtp.loss"));
  return OpBlock::head;
}

// The blocks of a layer in order, each run of equal tags once.
std::vector<OpBlock> block_runs(const LayerCost& layer) {
  std::vector<OpBlock> runs;
  for (const OpCost& op : layer.ops)
    if (runs.empty() || runs.back() != op.block) runs.push_back(op.block);
  return runs;
}

std::vector<OpBlock> ffn_runs(const WorkloadSpec& w, bool moe_layer) {
  if (!moe_layer) return {OpBlock::dense_ffn};
  std::vector<OpBlock> runs{OpBlock::moe_gate, OpBlock::routed_experts};
  if (w.model.moe->shared_experts > 0) runs.push_back(OpBlock::shared_experts);
  runs.push_back(OpBlock::moe_output);
  return runs;
}

// What a layer of each kind must look like, block by block.
std::vector<OpBlock> expected_runs(const WorkloadSpec& w, const LayerCost& layer) {
  const bool last_is_moe = w.model.moe.has_value() && w.model.layers - 1 >= w.model.moe->first_dense_layers;
  std::vector<OpBlock> runs;
  auto append = [&](const std::vector<OpBlock>& more) { runs.insert(runs.end(), more.begin(), more.end()); };
  switch (layer.kind) {
    case LayerKind::embedding: return {OpBlock::embedding};
    case LayerKind::head: return {OpBlock::head};
    case LayerKind::dense: append({OpBlock::attention}); append(ffn_runs(w, false)); return runs;
    case LayerKind::moe: append({OpBlock::attention}); append(ffn_runs(w, true)); return runs;
    case LayerKind::mtp:
      append({OpBlock::embedding, OpBlock::mtp_projection, OpBlock::attention});
      append(ffn_runs(w, last_is_moe));
      append({OpBlock::head});
      return runs;
  }
  return runs;
}

// The smallest largest rank load over every contiguous split, by enumeration.
double brute_force_min_max(const std::vector<double>& cost, int stages, const step::StagesOfRank& held) {
  const int n = static_cast<int>(cost.size());
  double best = 1e300;
  std::vector<int> ends(stages + 1, 0);
  ends[stages] = n;
  // Walk every choice of stages-1 interior ends 1 <= e1 < ... < e_{S-1} <= n-1.
  std::vector<int> pick(stages - 1);
  for (int k = 0; k < stages - 1; ++k) pick[k] = k + 1;
  while (true) {
    for (int k = 0; k < stages - 1; ++k) ends[k + 1] = pick[k];
    Split split(stages);
    for (int s = 0; s < stages; ++s)
      for (int i = ends[s]; i < ends[s + 1]; ++i) split[s].push_back(i);
    const auto loads = step::rank_loads(cost, split, held);
    best = std::min(best, *std::max_element(loads.begin(), loads.end()));
    int k = stages - 2;
    while (k >= 0 && pick[k] == n - 1 - (stages - 2 - k)) --k;
    if (k < 0) break;
    ++pick[k];
    for (int m = k + 1; m < stages - 1; ++m) pick[m] = pick[m - 1] + 1;
  }
  return best;
}

step::StagesOfRank dualpipe_map(int pp) {  // rank r runs stages r and pp-1-r
  step::StagesOfRank held(pp);
  for (int r = 0; r < pp; ++r) held[r] = {r, pp - 1 - r};
  return held;
}

step::StagesOfRank dualpipev_map(int pp) {  // 2pp stages; rank r runs r and 2pp-1-r
  step::StagesOfRank held(pp);
  for (int r = 0; r < pp; ++r) held[r] = {r, 2 * pp - 1 - r};
  return held;
}

ParallelismSpec parallelism(int pp, int dp, int tp, int ep) {
  ParallelismSpec p;
  p.pp = pp;
  p.dp = dp;
  p.tp = tp;
  p.ep = ep;
  return p;
}

}  // namespace

TEST_CASE("stage partition: exact splits of small cost vectors", "[step][parts]") {
  CHECK(partition_layers({1, 1, 1, 1}, 2) == Split{{0, 1}, {2, 3}});
  CHECK(partition_layers({4, 1, 1, 1, 1}, 2) == Split{{0}, {1, 2, 3, 4}});
  CHECK(partition_layers({1, 2, 3, 4, 5}, 3) == Split{{0, 1, 2}, {3}, {4}});
  CHECK(partition_layers({5, 4, 3, 2, 1}, 3) == Split{{0}, {1}, {2, 3, 4}});
  CHECK(partition_layers({2, 7, 1}, 3) == Split{{0}, {1}, {2}});
  CHECK(partition_layers({2, 7, 1}, 1) == Split{{0, 1, 2}});
  // A tie (max 2 either way): working back from the last stage, it starts as early as it can.
  CHECK(partition_layers({1, 1, 1}, 2) == Split{{0}, {1, 2}});
}

TEST_CASE("stage partition: every layer once, in order, no empty stage", "[step][parts]") {
  const std::vector<double> cost{0.5, 3, 1, 1, 2, 0.25, 4, 1, 1, 2};
  for (int stages = 1; stages <= static_cast<int>(cost.size()); ++stages) {
    const auto split = partition_layers(cost, stages);
    REQUIRE(static_cast<int>(split.size()) == stages);
    int next = 0;
    for (const auto& stage : split) {
      REQUIRE_FALSE(stage.empty());
      for (int layer : stage) CHECK(layer == next++);
    }
    CHECK(next == static_cast<int>(cost.size()));
  }
}

TEST_CASE("stage partition per rank: exact against brute force on small random cases", "[step][parts]") {
  std::mt19937 rng(12);
  std::uniform_real_distribution<double> draw(0.1, 3.0);
  struct Shape {
    const char* name;
    int stages;
    step::StagesOfRank held;
  };
  const std::vector<Shape> shapes{{"dualpipe pp2", 2, dualpipe_map(2)},       {"dualpipe pp4", 4, dualpipe_map(4)},
                                  {"dualpipe pp6", 6, dualpipe_map(6)},       {"dualpipev pp2", 4, dualpipev_map(2)},
                                  {"dualpipev pp3", 6, dualpipev_map(3)},
                                  {"one per rank", 4, step::one_stage_per_rank(4)}};
  for (const Shape& shape : shapes)
    for (int trial = 0; trial < 25; ++trial) {
      const int n = shape.stages + static_cast<int>(rng() % 7);
      std::vector<double> cost(n);
      for (double& c : cost) c = draw(rng);
      if (trial % 5 == 0) cost.front() *= 3, cost.back() *= 4;  // a heavy embedding and head
      INFO(shape.name << ", " << n << " layers, trial " << trial);
      const auto split = partition_layers(cost, shape.stages, shape.held);
      REQUIRE(static_cast<int>(split.size()) == shape.stages);
      int next = 0;
      for (const auto& stage : split) {
        REQUIRE_FALSE(stage.empty());
        for (int layer : stage) REQUIRE(layer == next++);
      }
      REQUIRE(next == n);
      const auto loads = step::rank_loads(cost, split, shape.held);
      CHECK(*std::max_element(loads.begin(), loads.end()) ==
            Approx(brute_force_min_max(cost, shape.stages, shape.held)).epsilon(1e-12));
    }
}

TEST_CASE("stage partition per rank: one stage per rank is the per-stage optimum", "[step][parts]") {
  const std::vector<double> cost{0.5, 3, 1, 1, 2, 0.25, 4, 1, 1, 2};
  for (int stages = 1; stages <= static_cast<int>(cost.size()); ++stages)
    CHECK(partition_layers(cost, stages, step::one_stage_per_rank(stages)) == partition_layers(cost, stages));
  // The split the per-stage DP chose before per-rank balancing (1F1B golden cases rest on it).
  CHECK(partition_layers({1, 2, 3, 4, 5}, 3, step::one_stage_per_rank(3)) == Split{{0, 1, 2}, {3}, {4}});
}

TEST_CASE("stage partition per rank: the default case (DualPipe) is balanced within one layer", "[step][parts]") {
  const ClusterSpec c = load_cluster(kRoot + "/topologies/h800-2048.yaml", {});
  const WorkloadSpec w = shipped_workload("deepseek-v3.yaml");
  step::StepBuild b(c, w, Fidelity::symmetric);
  step::plan_step(b, w.training.global_batch);
  // Each rank's compute: every stage it runs (DualPipe: stages r and pp-1-r, half the micro-batches each).
  std::vector<double> rank_compute(b.schedule.pp, 0);
  for (int r = 0; r < b.schedule.pp; ++r)
    for (int s = 0; s < b.schedule.num_stages; ++s) {
      int runs = 0;
      for (int mb = 0; mb < b.microbatches; ++mb) runs += rank_of(b.schedule, mb, s) == r;
      for (int layer : b.stage_layers[s]) rank_compute[r] += runs * b.layers[layer].seconds();
    }
  // One layer: the median layer (a MoE layer), not the head or the MTP module.
  std::vector<double> layer_seconds;
  for (const auto& l : b.layers) layer_seconds.push_back(l.seconds());
  std::nth_element(layer_seconds.begin(), layer_seconds.begin() + layer_seconds.size() / 2, layer_seconds.end());
  const double one_layer = layer_seconds[layer_seconds.size() / 2] * b.microbatches / 2;
  const auto [lo, hi] = std::minmax_element(rank_compute.begin(), rank_compute.end());
  INFO("per-rank compute " << *lo << " .. " << *hi << " s; one layer " << one_layer << " s");
  CHECK(*hi - *lo <= one_layer);  // a layer for the micro-batches (half) that run a stage on a rank
}

TEST_CASE("cost model: every op's block tag agrees with its name and its place in the layer", "[step][parts]") {
  for (const char* file : {"deepseek-v3.yaml", "llama3-405b.yaml", "llama3-8b.yaml"}) {
    const WorkloadSpec w = shipped_workload(file);
    const ModelCost cost = model_cost(w);
    for (const LayerCost& layer : cost.layers) {
      INFO(file << ": " << layer.name);
      for (const OpCost& op : layer.ops) {
        INFO(op.name);
        CHECK(op.block == block_by_name(op.name));
      }
      CHECK(block_runs(layer) == expected_runs(w, layer));
    }
  }
}

TEST_CASE("layer plan: a MoE layer's attn block is what runs before the dispatch", "[step][parts]") {
  const WorkloadSpec w = shipped_workload("deepseek-v3.yaml");
  const ModelCost cost = model_cost(w);
  for (const LayerCost& layer : cost.layers) {
    if (layer.kind != LayerKind::moe) continue;
    bool dispatched = false;
    for (const OpCost& op : layer.ops) {
      dispatched = dispatched || op.block == OpBlock::routed_experts;
      INFO(op.name);
      CHECK(step::in_mlp_block(op.block) == dispatched);
    }
    CHECK(dispatched);
  }
}

TEST_CASE("layer plan: blocks add up to the layer's FLOPs, one-block layers put all in attn", "[step][parts]") {
  const ClusterSpec c = load_cluster(kRoot + "/topologies/h800-2048.yaml", {});
  const WorkloadSpec w = shipped_workload("deepseek-v3.yaml");
  const ModelCost cost = model_cost(w);
  const double tp = w.parallelism.tp;
  for (const LayerCost& layer : cost.layers) {
    INFO(layer.name);
    const step::LayerPlan plan = step::plan_layer(layer, c, w);
    CHECK(plan.attn.flops_f + plan.mlp.flops_f == Approx(layer.flops_fwd() / tp));
    CHECK(plan.attn.flops_b + plan.mlp.flops_b == Approx(layer.flops_bwd_input() / tp));
    CHECK(plan.attn.flops_w + plan.mlp.flops_w == Approx(layer.flops_bwd_weight() / tp));
    CHECK(plan.moe == (layer.kind == LayerKind::moe || (layer.kind == LayerKind::mtp && layer.find("moe.gate"))));
    CHECK(plan.routed.f <= plan.mlp.f);
    if (layer.kind == LayerKind::embedding || layer.kind == LayerKind::head) {
      CHECK_FALSE(plan.two_blocks);
      CHECK(plan.category == Category::embedding_head);
      CHECK(plan.mlp.f == 0);
      CHECK(plan.attn.f > 0);
    } else {
      CHECK(plan.two_blocks);
      CHECK(plan.mlp.f > 0);
    }
    CHECK(plan.seconds() > 0);
  }
}

TEST_CASE("representatives: full simulates every replica, symmetric one pipeline", "[step][parts]") {
  const ClusterSpec c = test::h800_like_cluster(4);  // 32 GPUs
  const ParallelismSpec p = parallelism(2, 8, 2, 1);
  const auto full = step::choose_representatives(c, p, Fidelity::full, {});
  CHECK(full.replicas == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7});
  CHECK(full.gpus.size() == 32);
  CHECK(full.notes.empty());
  const auto sym = step::choose_representatives(c, p, Fidelity::symmetric, {});
  CHECK(sym.replicas == std::vector<int>{0});
  CHECK(sym.gpus == std::vector<int>{0, 16});  // tp index 0 of replica 0 on both pipeline ranks
  CHECK(sym.simulated.size() == 32);
  CHECK(sym.simulated[16]);
  CHECK_FALSE(sym.simulated[1]);
  CHECK(sym.notes.empty());
}

TEST_CASE("representatives: skewed routing picks the most loaded EP rank, with notes", "[step][parts]") {
  ClusterSpec c = test::h800_like_cluster(4);
  c.network.oversubscription = 4;
  const ParallelismSpec p = parallelism(1, 32, 1, 4);
  const auto sym = step::choose_representatives(c, p, Fidelity::symmetric, {1, 0.5, 2.5, 0});
  CHECK(sym.replicas == std::vector<int>{2});
  CHECK(sym.gpus == std::vector<int>{2});
  REQUIRE(sym.notes.size() == 2);
  CHECK(sym.notes[0].find("oversubscribed fabric (4:1)") != std::string::npos);
  CHECK(sym.notes[1].find("most loaded EP rank (2, load 2.5") != std::string::npos);
  CHECK(step::choose_representatives(c, p, Fidelity::full, {1, 0.5, 2.5, 0}).notes.empty());
}

TEST_CASE("representatives: expert load is relative to the mean, empty when balanced", "[step][parts]") {
  MoeSpec moe;
  parallel::MoeRouting routing;
  routing.expert_tokens = {2, 1, 1, 0};
  moe.routing = "balanced";
  CHECK(step::expert_load_by_rank(moe, routing).empty());
  moe.routing = "zipf";
  CHECK(step::expert_load_by_rank(moe, routing) == std::vector<double>{2, 1, 1, 0});
}

TEST_CASE("representatives: symmetric keeps the transfers that touch a simulated GPU", "[step][parts]") {
  const ClusterSpec c = test::h800_like_cluster(1);
  const ParallelismSpec p = parallelism(1, 8, 1, 1);
  const std::vector<parallel::Transfer> all{{0, 1, 10}, {1, 0, 20}, {2, 3, 30}, {0, 0, 40}, {5, 0, 50}};
  const auto sym = step::choose_representatives(c, p, Fidelity::symmetric, {});
  const auto kept = step::keep_transfers(sym, all);
  REQUIRE(kept.size() == 3);
  CHECK(kept[0].bytes == 10);
  CHECK(kept[1].bytes == 20);
  CHECK(kept[2].bytes == 50);
  CHECK(step::keep_transfers(step::choose_representatives(c, p, Fidelity::full, {}), all).size() == all.size());
}

}  // namespace test_step_parts
