// Issue 15, categories 2 and 3: every numeric key has a physical range, so that values
// at the edges of those ranges still give finite figures in every output format, and
// check refuses (exit 2) what run would otherwise stop on with an internal error.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <regex>
#include <string>
#include <vector>

#include "sim/config/keys.hpp"
#include "sim/config/spec.hpp"
#include "sim/report/step_result.hpp"
#include "tests/support.hpp"

namespace test_finite_outputs {

namespace {

using trainsim::test::run_trainsim;

// The 128-GPU cut of the default case (tests/golden/deepseek-v3-128-symmetric.cmd), one ramp point.
const std::string kSmallCut =
    " --set cluster.nodes=16 --set workload.model.layers=6 --set workload.model.moe.first_dense_layers=1"
    " --set workload.parallelism.pp=2 --set workload.parallelism.dp=64 --set workload.training.global_batch=256"
    " --set workload.training.batch_ramp.start=256";
const std::string kRun = "run --ramp-points 1 --fidelity symmetric --allow-oversubscribed-memory";

// inf, nan (any sign or spelling printf, fmt or a JSON library writes) or a JSON null.
bool has_non_finite(const std::string& text) {
  static const std::regex bad(R"((^|[^A-Za-z_])(-?nan|-?inf|infinity|null)($|[^A-Za-z_]))", std::regex::icase);
  return std::regex_search(text, bad);
}

// Extreme-but-valid controls: each key at an edge of its declared range.
const std::vector<std::string>& edge_controls() {
  static const std::vector<std::string> controls = {
      "--set cluster.network.nic_bandwidth=1Mbps",         // lower edge: 1 Mb/s
      "--set cluster.network.nic_bandwidth=10Tbps",        // upper edge
      "--set cluster.node.nvlink_bandwidth=100MB/s",
      "--set cluster.network.link_latency=1ms --set cluster.network.switch_latency=1ms",
      "--set cluster.node.nvlink_latency=1ms",
      "--set cluster.gpu.launch_overhead=1ms",
      "--set cluster.gpu.efficiency.dense_gemm.fp8=0.001 --set cluster.gpu.efficiency.hbm=0.001",
      "--set cluster.network.nic_efficiency=0.001 --set cluster.node.nvlink_efficiency=0.001",
      "--set cluster.network.bandwidth_factor=0.01 --set cluster.network.latency_factor=100",
      "--set cluster.network.oversubscription=1024",
      "--set cluster.gpu.hbm_bandwidth=1GB/s",
      "--set cluster.pricing.gpu_hour_usd=10000 --set cluster.pricing.pue=10 "
      "--set cluster.pricing.electricity_usd_per_kwh=100",
      "--set cluster.gpu.power.busy=100kW --set cluster.gpu.power.idle=0W",
      "--set workload.model.moe.routing=zipf --set workload.model.moe.zipf_exponent=0.01",
      "--set workload.model.moe.routing=zipf --set workload.model.moe.zipf_exponent=10",
      "--set workload.model.moe.capacity_factor=0.001",
      "--set workload.training.tokens=1",
      "--set workload.training.tokens=1e15",
  };
  return controls;
}

}  // namespace

TEST_CASE("The non-finite detector finds what printf, fmt and nlohmann write", "[report][finite]") {
  for (const char* s : {"step inf s", "-nan GB/s", "\"cost_usd\": null", "x,NaN,y", "-inf", "Infinity"})
    CHECK(has_non_finite(s));
  for (const char* s : {"information", "infiniband", "null_hypothesis", "financial", "1e+300", "nano"})
    CHECK_FALSE(has_non_finite(s));
}

TEST_CASE("require_finite names the first non-finite figure", "[report][finite]") {
  nlohmann::ordered_json j;
  j["step_time_s"] = 1.5;
  j["breakdown"] = {{"mlp", 0.5}, {"bubble", std::numeric_limits<double>::quiet_NaN()}};
  CHECK_THROWS_WITH(trainsim::require_finite(j, ""), "non-finite breakdown.bubble in the output");
  j["breakdown"]["bubble"] = 0.25;
  CHECK_NOTHROW(trainsim::require_finite(j, ""));
  j["ramp"] = nlohmann::ordered_json::array({1.0, std::numeric_limits<double>::infinity()});
  CHECK_THROWS_WITH(trainsim::require_finite(j, "run"), "non-finite run.ramp[1] in the output");
}

TEST_CASE("Every measured-quantity key has a bounded range", "[config][finite]") {
  // A finite upper bound on every measured quantity and price; counts that the layout
  // bounds (nodes, parallel degrees, stages) are category 1 of issue 15, not listed here.
  for (const auto* table : {&trainsim::config::cluster_keys(), &trainsim::config::workload_keys()})
    for (const auto& key : table->keys()) {
      if (key.kind != trainsim::config::KeyKind::number) continue;
      INFO(table->file() << " key " << key.path << " range " << key.range.bounds());
      CHECK(std::isfinite(key.range.min));
      CHECK(std::isfinite(key.range.max));
    }
}

TEST_CASE("Keys at the edges of their ranges give finite figures in every format", "[cli][finite][slow]") {
  // JSON for every control; text and CSV (the same figures, formatted apart) for the first three.
  for (std::size_t i = 0; i < edge_controls().size(); ++i) {
    const std::string& control = edge_controls()[i];
    for (const char* format : {"json", "text", "csv"}) {
      if (i >= 3 && std::string(format) != "json") continue;
      const auto r = run_trainsim(kRun + " --format " + format + kSmallCut + " " + control);
      INFO(control << " --format " << format << "\n" << r.output.substr(0, 2000));
      CHECK(r.status == 0);
      CHECK_FALSE(has_non_finite(r.output));
    }
  }
}

TEST_CASE("The trace, inspect, check, topology, net and cost outputs are finite at the edges", "[cli][finite][slow]") {
  const std::filesystem::path trace = std::filesystem::temp_directory_path() / "trainsim-finite-trace.json";
  const std::string edge = "--set cluster.network.nic_bandwidth=1Mbps --set cluster.network.link_latency=1ms";
  {
    const auto r = run_trainsim(kRun + " --format json --trace '" + trace.string() + "'" + kSmallCut + " " + edge);
    REQUIRE(r.status == 0);
    std::ifstream in(trace);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(text.size() > 1000);
    CHECK_FALSE(has_non_finite(text));
    std::filesystem::remove(trace);
  }
  const std::vector<std::string> commands = {
      "check --allow-oversubscribed-memory" + kSmallCut + " " + edge,
      "inspect --format text --set workload.training.tokens=1",
      "inspect --format json --set workload.training.tokens=1e15",
      "topology --format text " + edge,
      "topology --format json --set cluster.network.oversubscription=1024",
      "topology --format dot --set cluster.nodes=2",
      "net allreduce --ranks 16 --size 1B --format json " + edge,
      "net dispatch --ranks 64 --format text --set cluster.network.nic_bandwidth=10Tbps",
      "cost --ramp-points 1 --fidelity symmetric --format json" + kSmallCut +
          " --set cluster.pricing.gpu_hour_usd=10000 --set cluster.pricing.capex_per_gpu_usd=1e7"
          " --set cluster.pricing.amortization_years=100",
  };
  for (const auto& command : commands) {
    const auto r = run_trainsim(command);
    INFO(command << "\n" << r.output.substr(0, 2000));
    CHECK(r.status == 0);
    CHECK_FALSE(has_non_finite(r.output));
  }
}

TEST_CASE("check refuses, with exit 2, the layouts run used to stop on with exit 3", "[cli][finite]") {
  // Each was accepted by check and ended run in "internal error" (exit 3) before issue 15.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--set workload.model.moe.max_nodes_per_token=1 --set workload.model.moe.top_k=33",
       "model.moe.top_k: top_k 33 experts do not fit on the 1 node(s) a token may reach"},
      {"--set cluster.network.switch_radix=63", "network.switch_radix: switch_radix must be even and >= 2, got 63"},
      {"--set cluster.network.switch_radix=2", "network.switch_radix: multi-plane-fat-tree needs"},
      {"--set cluster.gpu.efficiency.hbm=1e-300", "gpu.efficiency.hbm: must be in [0.001, 1], got 1e-300"},
      {"--set cluster.gpu.peak_tflops.bf16=1e-300", "gpu.peak_tflops.bf16: must be in [1e+12, 1e+17] FLOP/s, got 1e-300"},
  };
  for (const auto& [set, message] : cases)
    for (const char* command : {"check", "run --ramp-points 1 --fidelity symmetric"}) {
      const auto r = run_trainsim(std::string(command) + kSmallCut + " " + set);
      INFO(command << " " << set << "\n" << r.output);
      CHECK(r.status == 2);
      CHECK(r.output.find(message) != std::string::npos);
    }
}

}  // namespace test_finite_outputs
