// ZeRO stages 0-3 (FSDP) in the step program (sim/parallel/data_parallel.cpp): the
// data-parallel collectives of a small Llama-3-8B-shaped case on 16 GPUs (2 nodes of 8,
// tp 1, pp 1, dp 16) per stage, counted and sized by hand; where ZeRO-2/3 hook into the
// passes; and the refusal of ZeRO-3 under DualPipe.
#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <vector>

#include "sim/config/error.hpp"
#include "sim/config/load.hpp"
#include "sim/model/cost_model.hpp"
#include "sim/parallel/data_parallel.hpp"
#include "sim/parallel/schedule.hpp"
#include "sim/parallel/step_program.hpp"
#include "tests/support.hpp"

namespace test_zero_stages {

using namespace trainsim;

namespace {

using Case = trainsim::test::LoadedCase;

// workloads/llama3-8b-fsdp.yaml on 2 nodes of topologies/h100-2048.yaml, cut to 4 layers,
// 2 micro-batches per GPU, at ZeRO stage `zero`; checked as `trainsim run` checks it.
Case small_fsdp_case(int zero, std::vector<std::string> more = {}) {
  std::vector<std::string> sets = {"cluster.nodes=2", "model.layers=4", "parallelism.dp=16",
                                   "training.global_batch=32", "parallelism.zero=" + std::to_string(zero)};
  sets.insert(sets.end(), more.begin(), more.end());
  const auto o = parse_overrides(sets);
  const std::string dir = TRAINSIM_SOURCE_DIR;
  Case c{load_cluster(dir + "/topologies/h100-2048.yaml", o), load_workload(dir + "/workloads/llama3-8b-fsdp.yaml", o)};
  check_workload_schedule(c.workload);
  check_workload_zero(c.workload);
  check_workload_fits_cluster(c.workload, c.cluster);
  return c;
}

StepProgram build(const Case& c, Fidelity f = Fidelity::full) {
  return build_step_program(c.cluster, c.workload, c.workload.training.global_batch, f);
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

// A collective's name: its tasks' names without the phase suffix " #k".
std::string collective_of(const std::string& task) {
  const auto hash = task.find(" #");
  return hash == std::string::npos ? task : task.substr(0, hash);
}

// Bytes of every data-parallel collective of the program, by name.
std::map<std::string, double> dp_collectives(const StepProgram& p) {
  std::map<std::string, double> bytes;
  for (std::size_t v = 0; v < num_vertices(p.graph); ++v) {
    const StepTask& t = p.graph[v];
    if (t.category != Category::dp) continue;
    double& b = bytes[collective_of(t.name)];
    for (const auto& tr : t.transfers) b += tr.bytes;
  }
  return bytes;
}

// Count and bytes of the collectives whose name starts with `prefix`.
struct Total {
  int count = 0;
  double bytes = 0;
};
Total total(const std::map<std::string, double>& collectives, const std::string& prefix) {
  Total t;
  for (const auto& [name, bytes] : collectives)
    if (starts_with(name, prefix)) ++t.count, t.bytes += bytes;
  return t;
}

// Parameters of each layer of the cost model (tp 1, no experts: all on every GPU).
std::vector<double> layer_params(const WorkloadSpec& w) {
  std::vector<double> out;
  for (const LayerCost& l : model_cost(w).layers) {
    double p = 0;
    for (const OpCost& op : l.ops) p += op.params;
    out.push_back(p);
  }
  return out;
}

double sum(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s;
}

// The task named exactly `name`; fails the test when there is none.
std::size_t task_named(const StepProgram& p, const std::string& name) {
  for (std::size_t v = 0; v < num_vertices(p.graph); ++v)
    if (p.graph[v].name == name && p.graph[v].gpu == 0) return v;
  FAIL("no task " << name);
  return 0;
}

// Whether task v has a direct predecessor whose name starts with `prefix`.
bool waits_for(const StepProgram& p, std::size_t v, const std::string& prefix) {
  for (auto [e, end] = in_edges(static_cast<trainsim::TaskId>(v), p.graph); e != end; ++e)
    if (starts_with(p.graph[source(*e, p.graph)].name, prefix)) return true;
  return false;
}

// Seconds of GPU 0's optimizer task.
double optimizer_seconds(const StepProgram& p) {
  for (std::size_t v = 0; v < num_vertices(p.graph); ++v)
    if (p.graph[v].category == Category::optimizer && p.graph[v].gpu == 0) return p.graph[v].seconds;
  FAIL("no optimizer task");
  return 0;
}

// A reduce-scatter or all-gather of S bytes per member over n = 16 GPUs moves (n − 1)·S
// bytes in all, hierarchical or flat; an all-reduce twice that. FP32 gradients (4 bytes),
// BF16 parameters (2 bytes), 2 micro-batches.
constexpr double kPeers = 15, kGradBytes = 4, kParamBytes = 2, kMicrobatches = 2;

}  // namespace

TEST_CASE("zero 1: one gradient reduce-scatter and one parameter all-gather per stage", "[step][dp][zero]") {
  const Case c = small_fsdp_case(1);
  const StepProgram p = build(c);
  const double params = sum(layer_params(c.workload));
  const auto dp = dp_collectives(p);
  CHECK(dp.size() == 2);
  CHECK(total(dp, "dp reduce-scatter s0").count == 1);
  CHECK(total(dp, "dp reduce-scatter").bytes == Approx(kPeers * params * kGradBytes).epsilon(1e-12));
  CHECK(total(dp, "dp all-gather").count == 1);
  CHECK(total(dp, "dp all-gather").bytes == Approx(kPeers * params * kParamBytes).epsilon(1e-12));
}

TEST_CASE("zero 0: an all-reduce of twice the reduce-scatter's bytes, optimizer on the whole stage",
          "[step][dp][zero]") {
  const StepProgram zero0 = build(small_fsdp_case(0));
  const StepProgram zero1 = build(small_fsdp_case(1));
  const auto dp0 = dp_collectives(zero0);
  const auto dp1 = dp_collectives(zero1);
  CHECK(dp0.size() == 1);
  CHECK(total(dp0, "dp all-reduce s0").count == 1);
  CHECK(total(dp0, "dp all-reduce").bytes == Approx(2 * total(dp1, "dp reduce-scatter").bytes).epsilon(1e-12));
  CHECK(total(dp0, "dp all-gather").count == 0);
  // Every replica updates all parameters instead of its 1/16.
  CHECK(optimizer_seconds(zero0) == Approx(16 * optimizer_seconds(zero1)).epsilon(1e-12));
}

TEST_CASE("zero 2: one reduce-scatter per layer during the last micro-batch's backward", "[step][dp][zero]") {
  const Case c = small_fsdp_case(2);
  const StepProgram p = build(c);
  const auto params = layer_params(c.workload);
  const auto dp = dp_collectives(p);
  const int layers = static_cast<int>(params.size());
  REQUIRE(layers == 6);  // embedding, 4 transformer layers, head
  // Same traffic as zero 1, cut per layer.
  CHECK(total(dp, "dp reduce-scatter L").count == layers);
  CHECK(total(dp, "dp reduce-scatter").bytes == Approx(kPeers * sum(params) * kGradBytes).epsilon(1e-12));
  CHECK(total(dp, "dp all-gather").count == 1);
  CHECK(total(dp, "dp all-gather").bytes == Approx(kPeers * sum(params) * kParamBytes).epsilon(1e-12));
  for (int li = 0; li < layers; ++li) {
    const std::string rs = "dp reduce-scatter L" + std::to_string(li);
    CHECK(dp.at(rs) == Approx(kPeers * params[li] * kGradBytes).epsilon(1e-12));
    // It starts after this layer's backward of the last micro-batch (mb 1), not after the
    // whole backward: its first phase waits for that compute task.
    CHECK(waits_for(p, task_named(p, rs + " #0"), "B mb1 L" + std::to_string(li) + " "));
  }
}

TEST_CASE("zero 3: per layer, a gather before forward and backward and a reduce-scatter, every micro-batch",
          "[step][dp][zero][fsdp]") {
  const Case c = small_fsdp_case(3);
  const StepProgram p = build(c);
  const auto params = layer_params(c.workload);
  const auto dp = dp_collectives(p);
  const int layers = static_cast<int>(params.size());
  const double all = sum(params);
  // 2 gathers per layer per micro-batch, 1 reduce-scatter per layer per micro-batch,
  // nothing else: no end-of-step gather.
  CHECK(total(dp, "dp all-gather L").count == 2 * layers * 2);
  CHECK(total(dp, "dp reduce-scatter L").count == layers * 2);
  CHECK(dp.size() == static_cast<std::size_t>(3 * layers * 2));
  CHECK(total(dp, "dp all-gather").bytes == Approx(2 * kMicrobatches * kPeers * all * kParamBytes).epsilon(1e-12));
  CHECK(total(dp, "dp reduce-scatter").bytes == Approx(kMicrobatches * kPeers * all * kGradBytes).epsilon(1e-12));
  const auto& cost_layers = model_cost(c.workload).layers;
  for (int li = 0; li < layers; ++li) {
    const std::string L = " L" + std::to_string(li);
    // A one-block layer's task carries its own name ("embedding", "head"), a transformer layer's its block.
    const LayerKind kind = cost_layers[static_cast<std::size_t>(li)].kind;
    const std::string block = kind == LayerKind::embedding || kind == LayerKind::head
                                  ? " " + cost_layers[static_cast<std::size_t>(li)].name
                                  : " attn";
    CHECK(dp.at("dp all-gather" + L + " mb1 B") == Approx(kPeers * params[li] * kParamBytes).epsilon(1e-12));
    // The layer's first compute waits for its gather; the gradients' reduce-scatter for its backward.
    CHECK(waits_for(p, task_named(p, "F mb0" + L + block), "dp all-gather" + L + " mb0 F"));
    CHECK(waits_for(p, task_named(p, "F mb1" + L + block), "dp all-gather" + L + " mb1 F"));
    CHECK(waits_for(p, task_named(p, "dp reduce-scatter" + L + " mb0 #0"), "B mb0" + L + " "));
  }
  // Prefetched one layer ahead: layer 2's gather waits for layer 0's compute, not layer 1's.
  const std::size_t gather2 = task_named(p, "dp all-gather L2 mb0 F #0");
  CHECK(waits_for(p, gather2, "dp all-gather L1 mb0 F"));
  CHECK(waits_for(p, gather2, "F mb0 L0 "));
  CHECK_FALSE(waits_for(p, gather2, "F mb0 L1 "));
  // The optimizer updates the 1/16 shard, as under zero 1.
  CHECK(optimizer_seconds(p) == Approx(optimizer_seconds(build(small_fsdp_case(1)))).epsilon(1e-12));
}

TEST_CASE("zero 3: the symmetric program keeps the representative's part of every gather", "[step][dp][zero][fsdp]") {
  const Case c = small_fsdp_case(3);
  const auto full = dp_collectives(build(c, Fidelity::full));
  const auto symmetric = dp_collectives(build(c, Fidelity::symmetric));
  CHECK(symmetric.size() == full.size());
  for (const auto& [name, bytes] : symmetric) CHECK(bytes > 0);
}

TEST_CASE("zero 3: experts are gathered per layer over the expert-data-parallel group", "[step][dp][zero][fsdp]") {
  // DeepSeek-V3 cut to 128 GPUs under DualPipeV (one rank per stage): pp 2, dp 64, EP 32.
  const Case c = trainsim::test::load_default_case(
      {"nodes=16", "model.layers=6", "model.moe.first_dense_layers=1", "parallelism.pp=2", "parallelism.dp=64",
       "parallelism.ep=32", "training.global_batch=512", "training.batch_ramp.start=512",
       "parallelism.schedule=dualpipev", "parallelism.zero=3"});
  check_workload_zero(c.workload);
  const StepProgram p = build(c);
  const int per_node = c.cluster.node.gpus;
  const int ep = c.workload.parallelism.ep;
  std::size_t transfers = 0;
  for (std::size_t v = 0; v < num_vertices(p.graph); ++v) {
    const StepTask& t = p.graph[v];
    if (!starts_with(t.name, "dp expert all-gather L")) continue;
    for (const auto& tr : t.transfers) {
      ++transfers;
      CHECK(tr.src_gpu % ep == tr.dst_gpu % ep);
      CHECK(tr.src_gpu / per_node != tr.dst_gpu / per_node);
    }
  }
  CHECK(transfers > 0);
  // Each replica's compute waits for its own EP position's expert gather, and only that one.
  std::size_t gated = 0;
  for (std::size_t v = 0; v < num_vertices(p.graph); ++v) {
    const StepTask& t = p.graph[v];
    if (t.is_transfer()) continue;
    int expert_gathers = 0;
    for (auto [e, end] = in_edges(static_cast<trainsim::TaskId>(v), p.graph); e != end; ++e) {
      const StepTask& src = p.graph[source(*e, p.graph)];
      if (!starts_with(src.name, "dp expert all-gather L")) continue;
      ++expert_gathers;
      CHECK(src.gpu % ep == t.gpu % ep);
    }
    CHECK(expert_gathers <= 1);
    gated += expert_gathers;
  }
  CHECK(gated > 0);
  const auto dp = dp_collectives(p);
  CHECK(dp.count("dp all-gather") == 0);  // no end-of-step gather
  CHECK(dp.count("dp expert all-gather") == 0);
}

TEST_CASE("zero 3 under DualPipe (two ranks per stage) is refused at parallelism.zero", "[dp][zero][config]") {
  const Case c = trainsim::test::load_default_case({"parallelism.zero=3"});
  CHECK_THROWS_AS(check_workload_zero(c.workload), InputError);
  CHECK_THROWS_WITH(check_workload_zero(c.workload), Catch::Contains("dualpipe"));
  CHECK_NOTHROW(check_workload_zero(trainsim::test::load_default_case({"parallelism.zero=2"}).workload));
  const auto r = trainsim::test::run_trainsim("check --set parallelism.zero=3");
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Catch::Contains("--set parallelism.zero=3: parallelism.zero: ZeRO-3"));
}

}  // namespace test_zero_stages
