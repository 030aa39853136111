// Stragglers (issue 16, part 4): per-GPU compute speed factors from the
// cluster's `stragglers:` section, applied to compute in the step; full fidelity
// gives each GPU its own speed, symmetric the slowest of each pipeline rank.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/config/error.hpp"
#include "sim/engine/step_executor.hpp"
#include "sim/parallel/representatives.hpp"
#include "sim/parallel/step_program.hpp"
#include "sim/run/process_pool.hpp"
#include "tests/support.hpp"

namespace test_stragglers {

using namespace trainsim;
using trainsim::test::LoadedCase;
using trainsim::test::load_default_case;

namespace {

// DeepSeek-V3's recipe cut to 32 GPUs: 4 nodes, PP 2 x EP 16 x DP 16, 4 layers (1
// dense), 4 micro-batches per pipeline. GPU g sits at pipeline rank g / 16, DP index g % 16.
std::vector<std::string> cut_sets(const std::string& slow_gpus = "") {
  std::vector<std::string> sets = {"nodes=4",
                                   "model.layers=4",
                                   "model.moe.first_dense_layers=1",
                                   "model.moe.max_nodes_per_token=2",
                                   "parallelism.pp=2",
                                   "parallelism.ep=16",
                                   "parallelism.dp=16",
                                   "training.global_batch=64",
                                   "training.batch_ramp.start=64"};
  if (!slow_gpus.empty()) sets.push_back("stragglers.slow_gpus=" + slow_gpus);
  return sets;
}

double step_seconds(const LoadedCase& c, Fidelity f) {
  return run_isolated([&] {
           const auto program = build_step_program(c.cluster, c.workload, c.workload.training.global_batch, f);
           return std::vector<double>{engine::execute_step(c.cluster, program).makespan_s};
         })
      .at(0);
}

// Seconds of every compute task on `gpu`, summed.
double compute_seconds_on(const StepProgram& program, int gpu) {
  double sum = 0;
  for (std::size_t v = 0; v < num_vertices(program.graph); ++v)
    if (program.graph[v].gpu == gpu && !program.graph[v].is_transfer()) sum += program.graph[v].seconds;
  return sum;
}

}  // namespace

TEST_CASE("stragglers: slow_gpus and the seeded spread give each GPU its speed, absent gives none", "[stragglers]") {
  CHECK(step::gpu_speeds(load_default_case(cut_sets()).cluster).empty());
  const auto listed = step::gpu_speeds(load_default_case(cut_sets("5:0.8, 20:0.9")).cluster);
  REQUIRE(listed.size() == 32);
  CHECK(listed[5] == 0.8);
  CHECK(listed[20] == 0.9);
  CHECK(std::count(listed.begin(), listed.end(), 1.0) == 30);

  auto sets = cut_sets("7:0.5");
  sets.push_back("stragglers.spread=0.1");
  sets.push_back("stragglers.seed=3");
  const auto drawn = step::gpu_speeds(load_default_case(sets).cluster);
  CHECK(drawn == step::gpu_speeds(load_default_case(sets).cluster));  // deterministic per seed
  CHECK(drawn[7] == 0.5);                                             // the listed GPU below its draw
  for (std::size_t g = 0; g < drawn.size(); ++g)
    if (g != 7) CHECK((drawn[g] > 0.9 && drawn[g] <= 1.0));
  sets.back() = "stragglers.seed=4";
  CHECK(drawn != step::gpu_speeds(load_default_case(sets).cluster));
}

TEST_CASE("stragglers: bad slow_gpus are input errors naming the key", "[stragglers]") {
  for (const std::string bad : {"32:0.8", "5:0.01", "5:1.5", "5-0.8", "5:0.8, 5:0.9", "x"}) {
    INFO(bad);
    CHECK_THROWS_WITH(load_default_case(cut_sets(bad)), Catch::Contains("stragglers.slow_gpus"));
  }
  const auto r = trainsim::test::run_trainsim("check --set nodes=4 --set cluster.stragglers.slow_gpus=99:0.8");
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Catch::Contains("GPU 99 is outside the cluster"));
}

TEST_CASE("stragglers: a slow GPU's compute tasks take 1/speed as long, symmetric gives its rank's slowest",
          "[stragglers]") {
  const LoadedCase nominal = load_default_case(cut_sets());
  const LoadedCase slow = load_default_case(cut_sets("5:0.8"));
  const int batch = nominal.workload.training.global_batch;
  // Full: GPU 5 (rank 0, DP index 5) alone is slowed; GPU 4 beside it is not.
  const auto full_n = build_step_program(nominal.cluster, nominal.workload, batch, Fidelity::full);
  const auto full_s = build_step_program(slow.cluster, slow.workload, batch, Fidelity::full);
  CHECK(compute_seconds_on(full_s, 5) == Approx(compute_seconds_on(full_n, 5) / 0.8));
  CHECK(compute_seconds_on(full_s, 4) == Approx(compute_seconds_on(full_n, 4)));
  CHECK(compute_seconds_on(full_s, 21) == Approx(compute_seconds_on(full_n, 21)));
  CHECK(full_s.pacing_gpu == 5);
  CHECK(full_s.pacing_speed == 0.8);
  CHECK(full_n.pacing_gpu == -1);
  // Symmetric: rank 0's representative (GPU 0) takes GPU 5's speed, rank 1's (GPU 16) stays nominal.
  const auto sym_n = build_step_program(nominal.cluster, nominal.workload, batch, Fidelity::symmetric);
  const auto sym_s = build_step_program(slow.cluster, slow.workload, batch, Fidelity::symmetric);
  REQUIRE(sym_s.simulated_gpus == std::vector<int>{0, 16});
  CHECK(compute_seconds_on(sym_s, 0) == Approx(compute_seconds_on(sym_n, 0) / 0.8));
  CHECK(compute_seconds_on(sym_s, 16) == Approx(compute_seconds_on(sym_n, 16)));
  CHECK(sym_s.pacing_gpu == 5);
  CHECK(std::any_of(sym_s.notes.begin(), sym_s.notes.end(), [](const std::string& n) {
    return n.find("stragglers in symmetric fidelity: pipeline rank 0") != std::string::npos;
  }));
}

TEST_CASE("stragglers: a slow GPU never speeds the step, full and symmetric agree within 3 % on the 32-GPU cut",
          "[stragglers]") {
  const LoadedCase nominal = load_default_case(cut_sets());
  const LoadedCase slow = load_default_case(cut_sets("5:0.8"));
  const double full_n = step_seconds(nominal, Fidelity::full);
  const double full_s = step_seconds(slow, Fidelity::full);
  const double sym_n = step_seconds(nominal, Fidelity::symmetric);
  const double sym_s = step_seconds(slow, Fidelity::symmetric);
  INFO("full " << full_n << " -> " << full_s << " s; symmetric " << sym_n << " -> " << sym_s << " s");
  CHECK(full_s > full_n);
  CHECK(sym_s > sym_n);
  // At most every compute task 1/0.8 as long: the step cannot slow by more than that.
  CHECK(full_s <= full_n / 0.8 * (1 + 1e-9));
  CHECK(sym_s <= sym_n / 0.8 * (1 + 1e-9));
  CHECK(sym_s == Approx(full_s).epsilon(0.03));
  // A slower straggler is never faster.
  const double slower = step_seconds(load_default_case(cut_sets("5:0.6")), Fidelity::symmetric);
  CHECK(slower >= sym_s);
}

TEST_CASE("stragglers: run reports the slowdown and the pacing GPU in JSON and text", "[stragglers][cli]") {
  std::string args = "run --ramp-points 1 --allow-oversubscribed-memory";
  for (const auto& s : cut_sets("21:0.8")) args += " --set " + (s.rfind("stragglers", 0) == 0 ? "cluster." + s : s);
  const auto j = nlohmann::json::parse(trainsim::test::run_trainsim(args + " --format json", false).output);
  REQUIRE(j.contains("stragglers"));
  CHECK(j["stragglers"]["pacing_gpu"] == 21);
  CHECK(j["stragglers"]["pacing_speed"] == 0.8);
  const double step = j["step_time_s"];
  const double nominal = j["stragglers"]["nominal_step_time_s"];
  CHECK(j["stragglers"]["slowdown"].get<double>() == Approx(step / nominal));
  CHECK(step > nominal);
  const auto text = trainsim::test::run_trainsim(args).output;
  CHECK_THAT(text, Catch::Contains("paced by GPU 21 at speed 0.8"));
  // Without the section there is no stragglers block (today's output).
  std::string plain = "run --ramp-points 1 --allow-oversubscribed-memory --format json";
  for (const auto& s : cut_sets()) plain += " --set " + s;
  CHECK_FALSE(nlohmann::json::parse(trainsim::test::run_trainsim(plain, false).output).contains("stragglers"));
}

}  // namespace test_stragglers
