// The run with failures in studies (issue 16, parts 5): the checkpoint interval as
// a cluster key, the goodput block's interval curve, goodput columns in sweep rows,
// claim's goodput metrics, and the reliability study's plot.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/reliability/goodput.hpp"
#include "sim/report/step_result.hpp"
#include "sim/studies/claim.hpp"
#include "tests/support.hpp"

namespace test_reliability_study {

using namespace trainsim;
namespace fs = std::filesystem;

namespace {

// Round 1's test rates (tests/golden/deepseek-v3-reliability.cmd), node and recovery only.
std::vector<std::string> reliability_sets() {
  return {"cluster.reliability.failures_per_1000_days.node=6.5", "cluster.reliability.detection_time=5min",
          "cluster.reliability.restart_time=10min", "cluster.reliability.replace_time=4h",
          "cluster.reliability.checkpoint.write_bandwidth=5GB/s",
          "cluster.reliability.checkpoint.read_bandwidth=10GB/s"};
}

reliability::GoodputReport goodput_at(const std::vector<std::string>& extra, std::optional<std::size_t> steps = {}) {
  auto sets = reliability_sets();
  sets.insert(sets.end(), extra.begin(), extra.end());
  const auto c = test::load_default_case(sets);
  // A 10 s step over the whole token budget, no ramp.
  const double step_s = 10;
  const double spt = step_s / c.workload.tokens_per_step();
  reliability::GoodputRequest request;
  request.seeds = 8;
  request.interval_steps = steps;
  return reliability::simulate_goodput(c.cluster, c.workload, {{double(c.workload.training.global_batch), spt}},
                                       c.workload.training.tokens * spt, step_s, request);
}

std::string quoted(const std::string& s) { return "'" + s + "'"; }

// One CSV line into cells (double-quoted cells may hold commas and doubled quotes).
std::vector<std::string> csv_cells(const std::string& line) {
  std::vector<std::string> cells(1);
  bool in_quotes = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (in_quotes && c == '"' && i + 1 < line.size() && line[i + 1] == '"') cells.back() += c, ++i;
    else if (c == '"') in_quotes = !in_quotes;
    else if (c == ',' && !in_quotes) cells.emplace_back();
    else cells.back() += c;
  }
  return cells;
}

}  // namespace

TEST_CASE("reliability.checkpoint.interval gives the interval in whole steps, --checkpoint-interval overrides it",
          "[reliability]") {
  const auto searched = goodput_at({});
  CHECK(searched.interval_searched);
  CHECK(searched.interval_steps == searched.optimal_interval_steps);
  const auto given = goodput_at({"cluster.reliability.checkpoint.interval=1004s"});
  CHECK_FALSE(given.interval_searched);
  CHECK(given.interval_steps == 100);  // 1004 s / 10 s, rounded
  CHECK(goodput_at({"cluster.reliability.checkpoint.interval=1s"}).interval_steps == 1);  // at least one step
  CHECK(goodput_at({"cluster.reliability.checkpoint.interval=1004s"}, 7).interval_steps == 7);
}

TEST_CASE("a reliability section with only the required keys loads: the time and storage defaults carry units",
          "[reliability][cli]") {
  // Round 1 declared the defaults "0" for time and bandwidth keys, which need a unit: internal error, exit 3.
  const auto r = test::run_trainsim(
      "check --set cluster.reliability.failures_per_1000_days.node=6.5 "
      "--set cluster.reliability.checkpoint.write_bandwidth=5GB/s --set cluster.reliability.checkpoint.read_bandwidth=10GB/s");
  INFO(r.output);
  CHECK(r.status == 0);
  const auto c = test::load_default_case({"cluster.reliability.failures_per_1000_days.node=6.5",
                                          "cluster.reliability.checkpoint.write_bandwidth=5GB/s",
                                          "cluster.reliability.checkpoint.read_bandwidth=10GB/s"});
  REQUIRE(c.cluster.reliability);
  CHECK(c.cluster.reliability->detection_s == 0);
  CHECK(c.cluster.reliability->storage_bytes_per_s == 0);
  CHECK(c.cluster.reliability->checkpoint_interval_s == 0);
}

TEST_CASE("the goodput block's interval curve brackets the optimum, which is its best point", "[reliability]") {
  const auto g = goodput_at({});
  REQUIRE(g.interval_curve.size() == 5);
  const std::size_t opt = g.optimal_interval_steps;
  CHECK(g.interval_curve[0].interval_steps == static_cast<std::size_t>(std::llround(0.25 * double(opt))));
  CHECK(g.interval_curve[2].interval_steps == opt);
  CHECK(g.interval_curve[4].interval_steps == 4 * opt);
  CHECK(g.interval_curve[2].interval_s == Approx(10.0 * double(opt)));
  // At the optimum: the report's own figures (same seeds).
  CHECK(g.interval_curve[2].goodput == Approx(g.goodput.mean));
  CHECK(g.interval_curve[2].days_per_trillion_tokens == Approx(g.days_per_trillion_tokens.mean));
  for (const auto& p : g.interval_curve) CHECK(p.days_per_trillion_tokens >= g.interval_curve[2].days_per_trillion_tokens);
}

TEST_CASE("sweep rows carry the goodput columns, and the checkpoint interval is a sweep axis", "[reliability][cli]") {
  std::string args =
      "sweep --format csv --ramp-points 1 --jobs 2 --set nodes=4 --set model.layers=4 "
      "--set model.moe.first_dense_layers=1 --set model.moe.max_nodes_per_token=2 --set parallelism.pp=2 "
      "--set parallelism.ep=16 --set parallelism.dp=16 "
      "--set training.global_batch=64 --set training.batch_ramp.start=64 "
      // A 20B-token run (~17 h on this cluster): the goodput simulation walks the run
      // step by step for each of its seeds, and 14.8T tokens at this batch is 56 M steps.
      "--set training.tokens=20B --set cluster.reliability.checkpoint.interval=0s,1h";
  for (const auto& s : reliability_sets()) args += " --set " + s;
  const auto r = test::run_trainsim(args, false);
  REQUIRE(r.status == 0);
  std::istringstream lines(r.output);
  std::vector<std::vector<std::string>> rows;
  for (std::string line; std::getline(lines, line);) rows.push_back(csv_cells(line));
  REQUIRE(rows.size() == 3);
  const auto column = [&](const std::string& name) {
    const auto it = std::find(rows[0].begin(), rows[0].end(), name);
    REQUIRE(it != rows[0].end());
    return static_cast<std::size_t>(it - rows[0].begin());
  };
  for (const char* name : {"goodput.goodput.mean", "goodput.days_per_trillion_tokens.mean",
                           "goodput.interruptions_per_day", "goodput.interval_steps"})
    CHECK(std::stod(rows[1][column(name)]) > 0);
  CHECK(nlohmann::json::parse(rows[1][column("goodput.interval_curve")]).size() >= 3);
  // Points in axis order: 0 s searched, 1 h given.
  CHECK(rows[1][column("goodput.interval_searched")] == "true");
  CHECK(rows[2][column("goodput.interval_searched")] == "false");
}

TEST_CASE("claim reads goodput metrics from the goodput block and refuses them without a reliability section",
          "[reliability][claim]") {
  const auto& m = claim::find_metric("goodput");
  CHECK(m.with_failures);
  CHECK(m.holds_when == claim::Direction::at_least);
  StepResult r;
  CHECK_THROWS_AS(claim::metric_value(r, m), std::logic_error);
  r.goodput = reliability::GoodputReport{};
  r.goodput->goodput.mean = 0.9;
  r.goodput->days_per_trillion_tokens.mean = 4.5;
  CHECK(claim::metric_value(r, m) == 0.9);
  CHECK(claim::metric_value(r, claim::find_metric("goodput_days_per_trillion_tokens")) == 4.5);
  const auto refused = test::run_trainsim("claim --metric goodput --value 0.9 --samples 1");
  CHECK(refused.status == 2);
  CHECK_THAT(refused.output, Catch::Contains("needs a reliability section"));
}

TEST_CASE("plot.py draws the reliability study from its goodput columns, a failed size named", "[studies]") {
  const fs::path dir = fs::temp_directory_path() / ("trainsim-test-reliability-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  {
    std::ofstream csv(dir / "s.csv");
    const std::string curve = R"("[{""interval_steps"":10,""interval_s"":600,""goodput"":0.8,""days_per_trillion_tokens"":5},)"
                              R"({""interval_steps"":20,""interval_s"":1200,""goodput"":0.85,""days_per_trillion_tokens"":4.8}]")";
    csv << "run,point,status,error,cluster,workload,num_gpus,fidelity,days_per_trillion_tokens,"
           "goodput.goodput.mean,goodput.days_per_trillion_tokens.mean,goodput.interruptions_per_day,"
           "goodput.optimal_interval_s,goodput.interval_curve\n"
           "2048 GPUs,0,ok,,c,w,2048,symmetric,4,0.9,4.4,3.3,1200," << curve << "\n"
           "4096 GPUs,0,ok,,c,w,4096,symmetric,2,0.85,2.35,6.6,900," << curve << "\n"
           "8192 GPUs,0,error,bad point,,,,,,,,,,\n";
  }
  // The study's own plot section, its own CSV columns.
  const std::string root = TRAINSIM_SOURCE_DIR;
  const std::vector<std::string> argv = {root + "/scripts/plot.py", root + "/scripts/studies/reliability.yaml",
                                         (dir / "s.csv").string(), (dir / "s.png").string()};
  std::string command;
  for (const auto& a : argv) command += quoted(a) + " ";
  const auto drawn = test::run_command(command + "2>&1");
  INFO(drawn.output);
  CHECK(drawn.status == 0);
  char head[4] = {};
  std::ifstream(dir / "s.png", std::ios::binary).read(head, sizeof head);
  CHECK(std::string(head, sizeof head) == "\x89PNG");
  CHECK(fs::file_size(dir / "s.png") > 10000);
  fs::remove_all(dir);
}

}  // namespace test_reliability_study
