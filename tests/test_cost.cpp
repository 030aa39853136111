// trainsim cost: the arithmetic of the cost report on hand-made inputs, and the command.
#include <nlohmann/json.hpp>

#include <algorithm>

#include <catch2/catch.hpp>

#include "sim/studies/dollar_cost.hpp"
#include "tests/support.hpp"

namespace test_cost {

using namespace trainsim;

namespace {

// Numbers chosen so every figure has a closed form: 4 years x 8766 h = 35,064 h,
// and capex 30,000 + 5,064 $ = 35,064 $, so capex is exactly 1 $ per GPU-hour.
StepResult hand_made_result() {
  StepResult r;
  r.cluster_name = "test-cluster";
  r.workload_name = "test-model";
  r.num_gpus = 16;
  r.total_tokens = 1e12;
  r.total_gpu_hours = 1000;
  r.total_days = 1000.0 / 16 / 24;
  r.energy_mwh = 3;
  r.gpu_busy_fraction = 0.5;
  return r;
}

ClusterSpec hand_made_cluster() {
  ClusterSpec c;
  c.gpu.power_idle_w = 100;
  c.gpu.power_busy_w = 700;
  c.pricing.gpu_hour_usd = 2;
  c.pricing.pue = 1.25;
  c.pricing.electricity_usd_per_kwh = 0.1;
  c.pricing.capex_per_gpu_usd = 30000;
  c.pricing.capex_per_endpoint_usd = 5064;
  c.pricing.amortization_years = 4;
  return c;
}

}  // namespace

TEST_CASE("cost: rental, electricity and ownership figures on hand-made inputs", "[cost]") {
  const RunCost c = run_cost(hand_made_result(), hand_made_cluster());
  CHECK(c.rental_usd == 2000);                                        // 1000 GPU-h x 2 $
  CHECK(c.electricity_usd == Approx(300).epsilon(1e-12));             // 3 MWh x 1000 x 0.1 $/kWh
  REQUIRE(c.ownership_given);
  CHECK(c.capex_per_gpu_hour_usd == 1.0);                             // 35,064 $ / 35,064 h
  CHECK(c.mean_gpu_power_w == 400);                                   // 100 + 600 x 0.5
  CHECK(c.power_per_gpu_hour_usd == Approx(0.05).epsilon(1e-12));     // 0.4 kW x 1.25 x 0.1 $/kWh
  CHECK(c.owned_per_gpu_hour_usd == Approx(1.05).epsilon(1e-12));
  CHECK(c.owned_run_usd == Approx(1050).epsilon(1e-12));              // x 1000 GPU-h

  const auto j = to_json(c);
  CHECK(j["rental"]["run_usd"] == 2000.0);
  CHECK(j["ownership"]["capex_per_gpu_hour_usd"] == 1.0);
  const std::string text = to_text(c);
  CHECK_THAT(text, Catch::Contains("1.0500 $ (52 % of the rental price)"));
  CHECK_THAT(text, Catch::Contains("0.001 M$"));  // the owned run, 1050 $

  // The figures move with their inputs: twice the busy fraction's share of power.
  StepResult busier = hand_made_result();
  busier.gpu_busy_fraction = 1;
  CHECK(run_cost(busier, hand_made_cluster()).mean_gpu_power_w == 700);
}

TEST_CASE("cost: the ownership view needs capex and amortization years", "[cost]") {
  ClusterSpec cluster = hand_made_cluster();
  cluster.pricing.amortization_years = 0;
  const RunCost c = run_cost(hand_made_result(), cluster);
  CHECK_FALSE(c.ownership_given);
  CHECK(c.owned_run_usd == 0);
  CHECK(c.rental_usd == 2000);
  CHECK(to_json(c)["ownership"].is_null());
  CHECK_THAT(to_text(c), Catch::Contains("not given"));
}

TEST_CASE("cost command: rental cost is GPU-hours times the price on the small case", "[cost][cli]") {
  const std::string small =
      "cost --set nodes=16 --set model.layers=6 --set model.moe.first_dense_layers=1 --set parallelism.pp=2 "
      "--set parallelism.dp=64 --set training.global_batch=256 --set training.batch_ramp.start=256 "
      "--ramp-points 0 --format json";
  const auto out = test::run_trainsim(small, false);
  REQUIRE(out.status == 0);
  const auto j = nlohmann::json::parse(out.output);
  CHECK(j["num_gpus"] == 128);
  CHECK(j["rental"]["gpu_hour_usd"] == 2.0);  // topologies/h800-2048.yaml
  CHECK(j["rental"]["run_usd"].get<double>() == j["total_gpu_hours"].get<double>() * 2.0);
  CHECK(j["energy"]["energy_mwh"].get<double>() > 0);
  CHECK(j["ownership"]["owned_run_usd"].get<double>() ==
        Approx(j["ownership"]["owned_per_gpu_hour_usd"].get<double>() * j["total_gpu_hours"].get<double>())
            .epsilon(1e-12));
  // A price twice as high doubles the rental cost.
  const auto dearer = test::run_trainsim(small + " --set pricing.gpu_hour_usd=4", false);
  REQUIRE(dearer.status == 0);
  CHECK(nlohmann::json::parse(dearer.output)["rental"]["run_usd"].get<double>() ==
        2 * j["rental"]["run_usd"].get<double>());
  // Memory: the small case fits; one over the HBM is flagged (JSON and text), not refused.
  CHECK(j["fits_memory"] == true);
  const auto over = test::run_trainsim(small + " --set memory.reserved=100GB", false);
  REQUIRE(over.status == 0);
  CHECK(nlohmann::json::parse(over.output)["fits_memory"] == false);
  const auto text = test::run_trainsim(small.substr(0, small.size() - 14) + " --set memory.reserved=100GB", false);
  CHECK(text.output.find("!! DOES NOT FIT IN GPU MEMORY: rank ") != std::string::npos);
}

// The memory guard lives in the run pipeline, so cost refuses like run does.
TEST_CASE("cost command: full fidelity above --max-memory is refused before it runs", "[cost][cli]") {
  const auto r = test::run_trainsim("cost --fidelity full --max-memory 1MiB");
  CHECK(r.status == 2);
  CHECK(r.output.find("--fidelity full: a full-fidelity step of 2048 GPUs needs about") == 0);
  CHECK(r.output.find("above the --max-memory limit of 1 MiB") != std::string::npos);
  CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
  const auto bad_size = test::run_trainsim("cost --max-memory 16GiX");
  CHECK(bad_size.status == 2);
  CHECK(bad_size.output.find("--max-memory") != std::string::npos);
}

// Every command that runs simulations declares each run option once (sim/cli/options.cpp):
// the same spelling, default and help everywhere.
TEST_CASE("run options: the same help line in every command that takes them", "[cost][cli]") {
  const auto help_line = [](const std::string& command, const std::string& flag) {
    const auto r = test::run_trainsim(command + " --help");
    REQUIRE(r.status == 0);
    const auto at = r.output.find("  " + flag + " ");
    REQUIRE(at != std::string::npos);
    // The flag's line and its help (CLI11 may wrap the help to the next line).
    const auto end = std::min(r.output.find("\n  --", at + 1), r.output.find("\n\n", at + 1));
    return r.output.substr(at, end - at);
  };
  for (const std::string flag : {"--fidelity", "--jobs", "--max-memory", "--ramp-points"}) {
    const std::string expected = help_line("run", flag);
    for (const std::string command : {"cost", "sweep"}) CHECK(help_line(command, flag) == expected);
    if (flag != "--ramp-points") CHECK(help_line("claim", flag) == expected);
    if (flag == "--jobs" || flag == "--max-memory") CHECK(help_line("validate", flag) == expected);
  }
}

}  // namespace test_cost
