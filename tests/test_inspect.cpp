#include <catch2/catch.hpp>

#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include "tests/support.hpp"

namespace test_inspect {

namespace {

// Runs `trainsim <args>` from the source tree (so the default files resolve), stdout only.
trainsim::test::CommandResult run_trainsim(const std::string& args) {
  return trainsim::test::run_trainsim(args, false);
}

nlohmann::json inspect_json(const std::string& extra = "") {
  const auto r = run_trainsim("inspect --format json " + extra);
  REQUIRE(r.status == 0);
  return nlohmann::json::parse(r.output);
}

}  // namespace

TEST_CASE("inspect --format json reports DeepSeek-V3 totals and per-layer ops", "[inspect][cli]") {
  const nlohmann::json j = inspect_json();
  for (const char* key : {"workload", "params_total", "params_total_with_mtp", "params_active", "flops_per_token_causal",
                          "flops_per_token_noncausal", "flops_per_token_total", "layers"})
    CHECK(j.contains(key));
  CHECK(j["workload"] == "DeepSeek-V3");
  CHECK(j["params_total"].get<double>() == Approx(671e9).epsilon(0.01));
  CHECK(j["params_total_with_mtp"].get<double>() == Approx(685e9).epsilon(0.01));
  // embedding, 61 layers, head, 1 MTP module
  REQUIRE(j["layers"].size() == 64);
  CHECK(j["layers"][4]["kind"] == "moe");
  CHECK(j["layers"][4]["ops"].size() > 10);
  CHECK(j["flops_per_token_noncausal"].get<double>() > j["flops_per_token_causal"].get<double>());
}

TEST_CASE("inspect honours --workload and --set", "[inspect][cli]") {
  const nlohmann::json llama = inspect_json("--workload workloads/llama3-8b.yaml");
  CHECK(llama["workload"] == "Llama-3-8B");
  // Closed form: 32 × (2·h·h + 2·h·1024 + 3·h·14336 + 2·h) + 2·128256·h + h, h = 4096.
  const double h = 4096;
  CHECK(llama["params_total"].get<double>() ==
        32 * (2 * h * h + 2 * h * 1024 + 3 * h * 14336 + 2 * h) + 2 * 128256 * h + h);
  const nlohmann::json no_mtp = inspect_json("--set model.mtp_depth=0");
  CHECK(no_mtp["params_total_with_mtp"].get<double>() == no_mtp["params_total"].get<double>());
  CHECK(no_mtp["layers"].size() == 63);
}

TEST_CASE("inspect text output collapses identical layers", "[inspect][cli]") {
  const auto r = run_trainsim("inspect");
  REQUIRE(r.status == 0);
  CHECK(r.output.find("layers 0\u20132 (dense) \u00d73") != std::string::npos);
  CHECK(r.output.find("layers 3\u201360 (moe) \u00d758") != std::string::npos);
  CHECK(r.output.find("6 x N_active") != std::string::npos);
}

TEST_CASE("inspect rejects a bad override with status 2", "[inspect][cli]") {
  CHECK(run_trainsim("inspect --set model.no_such_key=1").status == 2);
}

}  // namespace test_inspect
