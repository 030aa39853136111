// Per-GPU memory (sim/parallel/memory.hpp): the DualPipe README's memory table,
// ZeRO's shard factors, a hand count of every part, and the CLI's fit check.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sim/parallel/memory.hpp"
#include "sim/parallel/schedule.hpp"
#include "support.hpp"

namespace test_memory {

using namespace trainsim;

namespace {

// `n` identical layers, each one op with `params` parameters (routed experts
// when `expert`) and `activations` kept bytes per micro-batch, all of them GEMM
// inputs that W reads.
ModelCost uniform_model(int n, double params, double activations, bool expert = false) {
  ModelCost cost;
  for (int i = 0; i < n; ++i) {
    LayerCost layer;
    layer.index = i;
    OpCost op;
    op.name = "gemm";
    op.block = expert ? OpBlock::routed_experts : OpBlock::dense_ffn;
    op.params = params;
    op.activation_bytes = activations;
    op.flops_bwd_weight = 1;
    layer.ops.push_back(op);
    cost.layers.push_back(layer);
  }
  return cost;
}

// Stage s holds layers s*per .. s*per+per-1.
std::vector<std::vector<int>> even_stages(int stages, int per) {
  std::vector<std::vector<int>> out(static_cast<std::size_t>(stages));
  for (int s = 0; s < stages; ++s)
    for (int i = 0; i < per; ++i) out[static_cast<std::size_t>(s)].push_back(s * per + i);
  return out;
}

WorkloadSpec small_workload(int pp, int dp, int ep, int zero) {
  WorkloadSpec w;
  w.model.hidden = 16;
  w.training.micro_batch = 2;
  w.training.seq_len = 8;
  w.training.optimizer = {};  // 4-byte gradients and master weights, 2-byte moments and parameters
  w.parallelism.pp = pp;
  w.parallelism.dp = dp;
  w.parallelism.ep = ep;
  w.parallelism.tp = 1;
  w.parallelism.zero = zero;
  w.memory.comm_buffer_bytes = 1000;
  w.memory.reserved_bytes = 500;
  return w;
}

}  // namespace

TEST_CASE("Memory: the DualPipe README table (parameters 1x/2x, activations PP/PP+1)", "[memory]") {
  // One layer per stage: a stage's parameters P and per-micro-batch activations A
  // are the table's units. Parameter bytes 2 per parameter.
  const double P = 1000, A = 64;
  for (int pp : {4, 8, 16}) {
    CAPTURE(pp);
    const WorkloadSpec w = small_workload(pp, 1, 1, 0);
    for (const char* name : {"1f1b", "zb-h1"}) {
      CAPTURE(name);
      const PipelineSchedule s = make_schedule(name, pp, 3 * pp);
      const GpuMemory m = gpu_memory(w, 80e9, s, uniform_model(pp, P, A), even_stages(pp, 1));
      const RankMemory& r0 = m.ranks.at(0);
      REQUIRE(r0.weights == 1 * P * 2);
      REQUIRE(r0.activations == pp * A);  // the peak rank holds PP micro-batches
      REQUIRE(r0.chunks_in_flight == pp);
      for (const RankMemory& r : m.ranks) REQUIRE(r.activations <= r0.activations);
    }
    const PipelineSchedule s = make_schedule("dualpipe", pp, 2 * pp + 4);
    const GpuMemory m = gpu_memory(w, 80e9, s, uniform_model(pp, P, A), even_stages(pp, 1));
    double most = 0;
    for (const RankMemory& r : m.ranks) {
      REQUIRE(r.weights == 2 * P * 2);  // two stages per rank
      REQUIRE(r.stages.size() == 2);
      most = std::max(most, r.activations);
    }
    REQUIRE(most == (pp + 1) * A);
    REQUIRE(m.ranks.at(0).activations == (pp + 1) * A);
  }
}

TEST_CASE("Memory: DualPipeV holds two stages per device and PP+1 activations (PP = stages)", "[memory]") {
  const double P = 10, A = 3;
  for (int pp : {4, 8}) {
    CAPTURE(pp);
    const WorkloadSpec w = small_workload(pp, 1, 1, 0);
    const PipelineSchedule s = make_schedule("dualpipev", pp, 2 * pp + 2);
    REQUIRE(s.num_stages == 2 * pp);
    const GpuMemory m = gpu_memory(w, 80e9, s, uniform_model(2 * pp, P, A), even_stages(2 * pp, 1));
    for (const RankMemory& r : m.ranks) REQUIRE(r.weights == 2 * P * 2);
    INFO("rank 0 activations " << m.ranks.at(0).activations);
    // The README's PP is the number of stages (2·pp here, on PP/2 = pp devices):
    // PP + 1 = 2·pp + 1 stage chunks on the peak device.
    REQUIRE(m.ranks.at(0).activations == (2 * pp + 1) * A);
  }
}

TEST_CASE("Memory: ZeRO stages 0-3 shard factors", "[memory]") {
  REQUIRE(!zero_sharding(0).optimizer_states);
  REQUIRE(!zero_sharding(0).gradients);
  REQUIRE(!zero_sharding(0).parameters);
  REQUIRE(zero_sharding(1).optimizer_states);
  REQUIRE(!zero_sharding(1).gradients);
  REQUIRE(zero_sharding(2).gradients);
  REQUIRE(!zero_sharding(2).parameters);
  REQUIRE(zero_sharding(3).parameters);

  // 1F1B, pp 2, dp 4, ep 2. Rank 0: four dense layers of 8 parameters (32; shard
  // over dp = 4: 8). Rank 1: four expert layers of 16 parameters, 8 on a GPU with
  // ep 2 (32; shard over dp/ep = 2: 16). Bytes per parameter: 2 weights, 4
  // gradients, 4 + 2·2 = 8 optimizer states.
  ModelCost cost = uniform_model(4, 8, 0);
  const ModelCost experts = uniform_model(4, 16, 0, true);
  cost.layers.insert(cost.layers.end(), experts.layers.begin(), experts.layers.end());
  const PipelineSchedule s = make_schedule("1f1b", 2, 4);
  struct Expected {
    int zero;
    double weights[2], gradients[2], optimizer[2];
  };
  // ZeRO-3 keeps its shard plus two gathered layers (8 or 8 parameters on a GPU).
  const Expected cases[] = {
      {0, {64, 64}, {128, 128}, {256, 256}},
      {1, {64, 64}, {128, 128}, {64, 128}},
      {2, {64, 64}, {32, 64}, {64, 128}},
      {3, {(8 + 2 * 8) * 2, (16 + 2 * 8) * 2}, {32, 64}, {64, 128}},
  };
  for (const Expected& e : cases) {
    CAPTURE(e.zero);
    const GpuMemory m = gpu_memory(small_workload(2, 4, 2, e.zero), 80e9, s, cost, even_stages(2, 4));
    for (int r = 0; r < 2; ++r) {
      CAPTURE(r);
      REQUIRE(m.ranks.at(r).weights == e.weights[r]);
      REQUIRE(m.ranks.at(r).gradients == e.gradients[r]);
      REQUIRE(m.ranks.at(r).optimizer_states == e.optimizer[r]);
    }
  }
  // DualPipe: each stage has two copies, so ZeRO-1 shards over dp x 2.
  const PipelineSchedule d = make_schedule("dualpipe", 2, 4);
  const GpuMemory m = gpu_memory(small_workload(2, 4, 1, 1), 80e9, d, uniform_model(2, 16, 0), even_stages(2, 1));
  // Rank 0 holds both stages (32 parameters): shard 16/(4·2) per stage, two stages.
  REQUIRE(m.ranks.at(0).optimizer_states == 2 * (16.0 / 8) * 8);
  REQUIRE(m.ranks.at(0).weights == 32 * 2);
  // It still sends between them (stage 0 → 1 of one direction runs on the other
  // rank): two crossings (0→1, 1→0), a receive and a send buffer each.
  const double hidden_state = 2 * 8 * 16 * 2;
  REQUIRE(m.ranks.at(0).pipeline_buffers == 2 * 2 * hidden_state);
}

TEST_CASE("Memory: a hand count of every part", "[memory]") {
  // 1F1B, pp 2, 4 micro-batches, dp 2, ZeRO-1, three layers of 100 parameters and
  // 40 activation bytes each; stage 0 = layers 0-1, stage 1 = layer 2.
  const WorkloadSpec w = small_workload(2, 2, 1, 1);
  const PipelineSchedule s = make_schedule("1f1b", 2, 4);
  const GpuMemory m = gpu_memory(w, 4000, s, uniform_model(3, 100, 40), {{0, 1}, {2}});
  const RankMemory& r0 = m.ranks.at(0);
  REQUIRE(r0.stages == std::vector<int>{0});
  REQUIRE(r0.weights == 200 * 2);                 // BF16 working weights
  REQUIRE(r0.gradients == 200 * 4);               // FP32, not sharded at ZeRO-1
  REQUIRE(r0.optimizer_states == 100 * (4 + 2 * 2));  // shard 200/dp of master + 2 moments
  REQUIRE(r0.activations == 2 * 80);              // 2 micro-batches in flight on rank 0 of 2
  REQUIRE(r0.chunks_in_flight == 2);
  const double hidden_state = 2 * 8 * 16 * 2;     // micro_batch x seq x hidden x BF16
  REQUIRE(r0.pipeline_buffers == 2 * hidden_state);  // one boundary: receive + send
  REQUIRE(r0.comm_buffers == 1000);
  REQUIRE(r0.reserved == 500);
  REQUIRE(r0.total() == 400 + 800 + 800 + 160 + 2 * hidden_state + 1500);
  const RankMemory& r1 = m.ranks.at(1);
  REQUIRE(r1.weights == 200);
  REQUIRE(r1.activations == 40);  // the last stage runs each backward right after its forward
  REQUIRE(m.largest_rank == 0);
  REQUIRE(m.fits() == (r0.total() <= 4000));
  REQUIRE(memory_verdict(m).rfind("rank 0 needs ", 0) == 0);
  // One byte less HBM than rank 0 needs does not fit.
  const GpuMemory tight = gpu_memory(w, r0.total() - 1, s, uniform_model(3, 100, 40), {{0, 1}, {2}});
  REQUIRE(!tight.fits());
  REQUIRE_THROWS_AS(check_memory_fits(tight, w), InputError);
}

TEST_CASE("Memory: an input-only backward keeps what W needs until the W", "[memory]") {
  // ZB-H1 on one layer per stage, where half the activations are GEMM inputs.
  ModelCost cost = uniform_model(2, 1, 30);
  for (LayerCost& l : cost.layers) {
    OpCost other;
    other.name = "norm";
    other.activation_bytes = 10;  // no weight gradient: freed by B
    l.ops.push_back(other);
  }
  const WorkloadSpec w = small_workload(2, 1, 1, 0);
  const PipelineSchedule s = make_schedule("zb-h1", 2, 4);
  const GpuMemory m = gpu_memory(w, 1e9, s, cost, even_stages(2, 1));
  // Rank 1 (last stage): F, B, then F of the next before the W? Its peak is
  // never below one whole chunk and never above two.
  REQUIRE(m.ranks.at(1).activations >= 40);
  REQUIRE(m.ranks.at(1).activations <= 80);
  REQUIRE(m.ranks.at(0).activations == 2 * 40);
}

TEST_CASE("Memory: check reports memory by part, 1F1B at pp 4 is refused with the figure", "[memory][cli]") {
  // A 128-GPU cut of the default case (the golden deepseek-v3-128 cases) fits.
  const std::string cut =
      "--set cluster.nodes=16 --set workload.model.layers=6 --set workload.model.moe.first_dense_layers=1 "
      "--set workload.parallelism.pp=2 --set workload.parallelism.dp=64 --set workload.training.global_batch=256 "
      "--set workload.training.batch_ramp.start=256";
  const auto ok = test::run_trainsim("check " + cut);
  INFO(ok.output);
  REQUIRE(ok.status == 0);
  REQUIRE(ok.output.find("per-GPU memory, peak HBM (largest: rank ") != std::string::npos);
  for (const char* part : {"weights", "gradients", "optimizer states", "activations", "pipeline buffers",
                           "comm buffers", "framework reserve"})
    REQUIRE(ok.output.find(std::string("    ") + part) != std::string::npos);
  REQUIRE(ok.output.find(": fits") != std::string::npos);

  const std::string pp4 = "--set parallelism.schedule=1f1b --set parallelism.pp=4 --set parallelism.dp=512";
  const auto refused = test::run_trainsim("check " + pp4);
  INFO(refused.output);
  REQUIRE(refused.status == 2);
  REQUIRE(refused.output.find("rank 0 needs ") != std::string::npos);
  REQUIRE(refused.output.find("of 80 GB HBM") != std::string::npos);
  REQUIRE(refused.output.find("--allow-oversubscribed-memory") != std::string::npos);

  const auto allowed = test::run_trainsim("check --allow-oversubscribed-memory " + pp4);
  INFO(allowed.output);
  REQUIRE(allowed.status == 0);
  REQUIRE(allowed.output.find("!! DOES NOT FIT IN GPU MEMORY: rank 0 needs ") != std::string::npos);

  const auto run = test::run_trainsim("run " + pp4);
  INFO(run.output);
  REQUIRE(run.status == 2);
  REQUIRE(run.output.find("rank 0 needs ") != std::string::npos);
}

TEST_CASE("Memory: a sweep simulates a point that does not fit and flags its row", "[memory][cli]") {
  // The 128-GPU cut at 32 micro-batches: DualPipe holds few in flight and fits; GPipe
  // holds all 32 and does not, yet its row is simulated ("ok") with memory.fits false.
  const auto r = test::run_trainsim(
      "sweep --ramp-points 1 --format jsonl --set cluster.nodes=16 --set workload.model.layers=6 "
      "--set workload.model.moe.first_dense_layers=1 --set workload.parallelism.pp=2 "
      "--set workload.parallelism.dp=64 --set workload.training.batch_ramp.start=256 "
      "--set workload.training.global_batch=2048 --set workload.parallelism.schedule=dualpipe,gpipe",
      false);
  INFO(r.output);
  REQUIRE(r.status == 0);
  std::vector<nlohmann::json> rows;
  std::size_t at = 0;
  while (at < r.output.size()) {
    const std::size_t end = r.output.find('\n', at);
    const std::string line = r.output.substr(at, end - at);
    if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
    at = end == std::string::npos ? r.output.size() : end + 1;
  }
  REQUIRE(rows.size() == 2);
  REQUIRE(rows[0]["status"] == "ok");
  REQUIRE(rows[0]["memory"]["fits"] == true);
  REQUIRE(rows[1]["status"] == "ok");
  REQUIRE(rows[1]["memory"]["fits"] == false);
  REQUIRE(rows[1]["memory"]["largest"]["total"].get<double>() > 80e9);
  REQUIRE(rows[1]["memory"]["largest"]["chunks_in_flight"] == 32);
}

}  // namespace test_memory
