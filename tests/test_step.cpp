// The step simulation end to end on small clusters: fidelity modes agree,
// results are deterministic and bounded by what the program contains.
#include <catch2/catch.hpp>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <tuple>
#include <string>

#include <nlohmann/json.hpp>

#include "sim/config/load.hpp"
#include "sim/run/process_pool.hpp"
#include "sim/engine/step_executor.hpp"
#include "sim/parallel/schedule.hpp"
#include "sim/parallel/step_program.hpp"
#include "sim/report/step_result.hpp"
#include "tests/support.hpp"

namespace test_step {

using namespace trainsim;

namespace {

const std::string kRoot = TRAINSIM_SOURCE_DIR;

// DeepSeek-V3's recipe shrunk to 128 GPUs: 16 nodes, PP 2 × EP 64 (8 nodes) × DP 64,
// 6 layers (1 dense), 4 micro-batches per pipeline.
std::vector<std::string> small_moe_sets() {
  return {"nodes=16",
          "model.layers=6",
          "model.moe.first_dense_layers=1",
          "parallelism.pp=2",
          "parallelism.dp=64",
          "training.global_batch=256",
          "training.batch_ramp.start=256"};
}

using Case = trainsim::test::LoadedCase;
using trainsim::test::load_default_case;

std::vector<double> simulate(const Case& c, Fidelity f) {
  return run_isolated([&] {
    const auto program = build_step_program(c.cluster, c.workload, c.workload.training.global_batch, f);
    const auto x = engine::execute_step(c.cluster, program);
    const auto r = summarize_step(c.cluster, c.workload, program, x);
    double busiest_compute = 0;
    for (int gpu : program.simulated_gpus) {
      double sum = 0;
      for (std::size_t v = 0; v < num_vertices(program.graph); ++v)
        if (program.graph[v].gpu == gpu && !program.graph[v].is_transfer()) sum += program.graph[v].seconds;
      busiest_compute = std::max(busiest_compute, sum);
    }
    double breakdown_sum = 0;
    for (const auto& [k, v] : r.breakdown) breakdown_sum += v;
    return std::vector<double>{x.makespan_s, busiest_compute, breakdown_sum,
                               static_cast<double>(program.simulated_gpus.size())};
  });
}

std::string run_cli(const std::string& args) { return trainsim::test::run_trainsim(args).output; }

std::string read_file(const std::string& path) {
  std::string out;
  FILE* f = fopen(path.c_str(), "rb");
  if (!f) return out;
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  fclose(f);
  return out;
}

}  // namespace

TEST_CASE("symmetric and full fidelity agree within 2% on a 128-GPU MoE case", "[step][slow]") {
  const Case c = load_default_case(small_moe_sets());
  const auto full = simulate(c, Fidelity::full);
  const auto sym = simulate(c, Fidelity::symmetric);
  INFO("full " << full[0] << " s on " << full[3] << " GPUs; symmetric " << sym[0] << " s on " << sym[3] << " GPUs");
  REQUIRE(full[3] == 128);
  REQUIRE(sym[3] == 2);
  REQUIRE(sym[0] == Approx(full[0]).epsilon(0.02));
}

TEST_CASE("the step is no shorter than the busiest GPU's compute and the breakdown sums to it", "[step]") {
  const Case c = load_default_case(small_moe_sets());
  const auto r = simulate(c, Fidelity::symmetric);
  REQUIRE(r[0] >= r[1]);
  REQUIRE(r[2] == Approx(r[0]).epsilon(1e-9));
}

TEST_CASE("a faster network never makes the step slower", "[step]") {
  auto sets = small_moe_sets();
  const auto base = simulate(load_default_case(sets), Fidelity::symmetric);
  sets.push_back("network.nic_bandwidth=800Gbps");
  sets.push_back("node.nvlink_bandwidth=400GB/s");
  const auto fast = simulate(load_default_case(sets), Fidelity::symmetric);
  REQUIRE(fast[0] <= base[0]);
}

TEST_CASE("trainsim run is deterministic: byte-identical JSON and trace", "[step][cli]") {
  std::string sets;
  for (const auto& s : small_moe_sets()) sets += " --set " + s;
  // Per-process names: concurrent test runs (other build trees, ctest -j) must not share them.
  const std::string stem = (std::filesystem::temp_directory_path() / ("trainsim_det_" + std::to_string(::getpid()))).string();
  const std::string a_trace = stem + "_a.json", b_trace = stem + "_b.json";
  const auto a = run_cli("run --format json --ramp-points 3 --trace " + a_trace + sets);
  const auto b = run_cli("run --format json --ramp-points 3 --trace " + b_trace + sets);
  REQUIRE(a.find("\"gpu_hours_per_trillion_tokens\"") != std::string::npos);
  REQUIRE(a == b);
  const auto ta = read_file(a_trace);
  REQUIRE(ta.size() > 1000);
  REQUIRE(ta == read_file(b_trace));
  std::filesystem::remove(a_trace);
  std::filesystem::remove(b_trace);
}

namespace {

// Pipeline transfers in a symmetric program: every micro-batch crosses every
// stage boundary once forward and once backward (stages on different ranks).
std::vector<double> count_pp(const Case& c) {
  return run_isolated([&] {
    const auto program = build_step_program(c.cluster, c.workload, c.workload.training.global_batch, Fidelity::symmetric);
    double pp = 0;
    for (std::size_t v = 0; v < num_vertices(program.graph); ++v)
      if (program.graph[v].category == Category::pp) pp += 1;
    return std::vector<double>{pp, static_cast<double>(program.microbatches),
                               static_cast<double>(program.stage_layers.size())};
  });
}

}  // namespace

TEST_CASE("every micro-batch crosses every stage boundary forward and backward", "[step]") {
  SECTION("MoE, DualPipe") {
    const auto r = count_pp(load_default_case(small_moe_sets()));
    REQUIRE(r[0] == 2 * (r[2] - 1) * r[1]);
  }
  SECTION("dense, 1F1B (backward chunks that start with a dense layer or the head)") {
    const auto o = parse_overrides({"training.global_batch=2048"});
    const Case c{load_cluster(kRoot + "/topologies/h800-2048.yaml", o), load_workload(kRoot + "/workloads/llama3-8b.yaml", o)};
    const auto r = count_pp(c);
    REQUIRE(r[2] == 4);
    REQUIRE(r[0] == 2 * (r[2] - 1) * r[1]);
  }
}

TEST_CASE("GPU energy from SimGrid's plugin is idle power throughout plus (busy - idle) while computing", "[step]") {
  const Case c = load_default_case(small_moe_sets());
  const auto program = build_step_program(c.cluster, c.workload, c.workload.training.global_batch, Fidelity::full);
  const auto x = engine::execute_step(c.cluster, program);
  REQUIRE(x.gpu_energy_j.size() == program.simulated_gpus.size());
  // Compute time per GPU: the union of its compute tasks' intervals.
  std::map<int, std::vector<std::pair<double, double>>> intervals;
  for (std::size_t v = 0; v < num_vertices(program.graph); ++v)
    if (!program.graph[v].is_transfer() && x.tasks[v].end_s > x.tasks[v].start_s)
      intervals[program.graph[v].gpu].emplace_back(x.tasks[v].start_s, x.tasks[v].end_s);
  const double idle = c.cluster.gpu.power_idle_w, busy = c.cluster.gpu.power_busy_w;
  for (std::size_t i = 0; i < program.simulated_gpus.size(); ++i) {
    auto& iv = intervals[program.simulated_gpus[i]];
    std::sort(iv.begin(), iv.end());
    double busy_s = 0, covered_to = 0;
    for (const auto& [a, b] : iv) {
      const double from = std::max(a, covered_to);
      if (b > from) busy_s += b - from;
      covered_to = std::max(covered_to, b);
    }
    REQUIRE(busy_s > 0);
    const double expected_j = idle * x.makespan_s + (busy - idle) * busy_s;
    REQUIRE(x.gpu_energy_j[i] == Approx(expected_j).epsilon(1e-9));
  }
}

namespace {
nlohmann::json run_json(const std::vector<std::string>& sets, const std::string& extra) {
  std::string args = "run --format json --ramp-points 0 " + extra;
  for (const auto& s : sets) args += " --set " + s;
  const auto r = trainsim::test::run_trainsim(args, false);
  REQUIRE(r.status == 0);
  return nlohmann::json::parse(r.output);
}
}  // namespace

TEST_CASE("skewed routing loads some experts more: peers wait for them (imbalance_wait), the step slows", "[step][cli]") {
  const auto balanced = run_json(small_moe_sets(), "--fidelity full");
  auto skewed_sets = small_moe_sets();
  for (const char* s : {"model.moe.routing=zipf", "model.moe.zipf_exponent=1.0", "model.moe.seed=1"})
    skewed_sets.push_back(s);
  const auto skewed = run_json(skewed_sets, "--fidelity full");
  CHECK(balanced["breakdown"]["imbalance_wait"].get<double>() == 0.0);
  CHECK(skewed["breakdown"]["imbalance_wait"].get<double>() > 0.0);
  CHECK(skewed["step_time_s"].get<double>() > balanced["step_time_s"].get<double>());
  // Symmetric fidelity simulates the most loaded rank: slower than balanced too, and it says so.
  const auto symmetric = run_json(skewed_sets, "--fidelity symmetric");
  CHECK(symmetric["step_time_s"].get<double>() > balanced["step_time_s"].get<double>());
  REQUIRE(symmetric["notes"].size() == 1);
  CHECK(symmetric["notes"][0].get<std::string>().find("most loaded EP rank") != std::string::npos);
}

TEST_CASE("full fidelity above --max-memory is refused before it runs, suggesting symmetric", "[step][cli]") {
  const auto r = trainsim::test::run_trainsim("run --fidelity full --max-memory 64MiB --ramp-points 0 --allow-oversubscribed-memory");
  CHECK(r.status == 2);
  CHECK(r.output.find("--fidelity full: a full-fidelity step of 2048 GPUs needs about") == 0);
  CHECK(r.output.find("use --fidelity symmetric") != std::string::npos);
  CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
}

// Data-parallel groups that are not whole nodes (issue 12): 30 DP ranks on 15 nodes put
// 8, 8, 8, 6 / 2, 8, 8, 8, 4 … members on a node; with tp 2 a DP group is every second GPU.
// The hierarchical DP collectives group members by the node they are on.
TEST_CASE("data-parallel groups that are not whole nodes run: dp 30 on 15 nodes, tp 2 strided", "[step][cli]") {
  const std::string base = "run --workload workloads/llama3-8b.yaml --cluster topologies/h100-2048.yaml --ramp-points 0 ";
  const auto uneven = trainsim::test::run_trainsim(
      base + "--set cluster.nodes=15 --set parallelism.dp=30 --set training.global_batch=3840");
  INFO(uneven.output);
  CHECK(uneven.status == 0);
  CHECK(uneven.output.find("dp 30 tp 1") != std::string::npos);
  const auto strided = trainsim::test::run_trainsim(
      base + "--set cluster.nodes=7 --set parallelism.tp=2 --set parallelism.dp=7 --set training.global_batch=896");
  INFO(strided.output);
  CHECK(strided.status == 0);
  CHECK(strided.output.find("dp 7 tp 2") != std::string::npos);
}

// The process pool (sim/run/process_pool.hpp) behind ramp points, sweep points,
// claim samples and validation cases.
TEST_CASE("process pool: results in job order whatever the width, errors and crashes are that job's", "[step]") {
  std::vector<Job> jobs;
  for (int i = 0; i < 7; ++i)
    jobs.push_back([i] {
      if (i == 2) throw InputError({"f.yaml", 3, 4}, "bad input");
      if (i == 4) throw std::runtime_error("broken");
      if (i == 5) ::kill(::getpid(), SIGKILL);  // a crash Catch2 cannot catch
      usleep(static_cast<useconds_t>((7 - i) * 20000));  // later jobs finish first
      return std::string(static_cast<std::size_t>(i) * 40000, static_cast<char>('a' + i));  // beyond a pipe buffer
    });
  for (int width : {1, 3, 8}) {
    INFO("width " << width);
    std::vector<std::size_t> finished;
    const auto results =
        run_in_children(jobs, width, [&](std::size_t index, const JobResult* r) { if (r) finished.push_back(index); });
    REQUIRE(results.size() == 7);
    CHECK(finished.size() == 7);
    for (int i : {0, 1, 3, 6}) {
      CHECK(results[i].ok());
      CHECK(results[i].bytes == std::string(static_cast<std::size_t>(i) * 40000, static_cast<char>('a' + i)));
    }
    CHECK(results[2].input_error);
    CHECK(results[2].error == "f.yaml:3:4: bad input");
    CHECK_FALSE(results[4].input_error);
    CHECK(results[4].error == "broken");
    CHECK(results[5].error.find("killed by signal") != std::string::npos);
  }
  // The numbers form rethrows the first failed job as the error it was.
  CHECK(run_isolated_all({[] { return std::vector<double>{1.5, 2}; }}, 2) == std::vector<std::vector<double>>{{1.5, 2}});
  CHECK_THROWS_AS(run_isolated([]() -> std::vector<double> { throw InputError({}, "x"); }), InputError);
}

}  // namespace test_step

namespace test_step {

TEST_CASE("the step program holds equal transfer lists once: every micro-batch's all-to-all shares one", "[step]") {
  // The 128-GPU cut with 16 micro-batches per pipeline.
  const auto c = load_default_case({"nodes=16", "model.layers=6", "model.moe.first_dense_layers=1", "parallelism.pp=2",
                                    "parallelism.dp=64", "training.global_batch=1024",
                                    "training.batch_ramp.start=256"});
  const auto p = build_step_program(c.cluster, c.workload, c.workload.training.global_batch, Fidelity::full);
  std::map<const void*, std::size_t> users;  // list -> tasks holding it
  std::set<const void*> ep_lists;
  std::size_t ep_tasks = 0, transfers = 0;
  for (std::size_t v = 0; v < num_vertices(p.graph); ++v) {
    const StepTask& t = p.graph[v];
    if (t.transfers.empty()) {
      REQUIRE(t.transfers.shared() == nullptr);
      continue;
    }
    ++users[t.transfers.shared().get()];
    transfers += t.transfers.size();
    if (t.category == Category::ep) {
      ++ep_tasks;
      ep_lists.insert(t.transfers.shared().get());
    }
  }
  // Tasks with equal lists hold one: no two distinct lists are equal.
  std::vector<const std::vector<parallel::Transfer>*> lists;
  for (const auto& [list, n] : users) lists.push_back(static_cast<const std::vector<parallel::Transfer>*>(list));
  auto key = [](const std::vector<parallel::Transfer>& l) {
    std::vector<std::tuple<int, int, double>> k;
    for (const auto& t : l) k.emplace_back(t.src_gpu, t.dst_gpu, t.bytes);
    return k;
  };
  std::set<std::vector<std::tuple<int, int, double>>> distinct;
  for (const auto* l : lists) distinct.insert(key(*l));
  REQUIRE(distinct.size() == lists.size());
  // Balanced routing: a stage's EP groups move the same bytes in every micro-batch and MoE
  // layer, so the EP tasks share far fewer lists than there are of them.
  INFO(ep_tasks << " EP tasks hold " << ep_lists.size() << " lists; " << users.size() << " lists for " << transfers
                << " transfers in all");
  REQUIRE(ep_tasks >= 300);
  REQUIRE(ep_lists.size() * 20 <= ep_tasks);
}

TEST_CASE("the step program holds each task name once: every replica's task shares its stage's", "[step]") {
  const auto c = load_default_case({"nodes=16", "model.layers=6", "model.moe.first_dense_layers=1", "parallelism.pp=2",
                                    "parallelism.dp=64", "training.global_batch=256",
                                    "training.batch_ramp.start=256"});
  const auto p = build_step_program(c.cluster, c.workload, c.workload.training.global_batch, Fidelity::full);
  std::map<std::string, std::set<const void*>> held;  // name -> the strings that hold it
  std::size_t named = 0;
  for (std::size_t v = 0; v < num_vertices(p.graph); ++v) {
    const TaskName& name = p.graph[v].name;
    REQUIRE_FALSE(name.empty());
    held[name.str()].insert(name.shared().get());
    ++named;
  }
  for (const auto& [name, strings] : held) {
    INFO(name);
    REQUIRE(strings.size() == 1);
  }
  // 64 replicas per stage run the same compute tasks: far fewer names than tasks.
  INFO(held.size() << " names for " << named << " tasks");
  REQUIRE(held.size() * 20 <= named);
}

}  // namespace test_step
