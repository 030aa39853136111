// Monotonicity (issue 15): a slower kernel, GPU or link never gives a faster step.
// The old failure: the layer-to-stage partition (a discrete choice) was planned on the
// estimated per-layer seconds, so moving a kernel efficiency flipped it, and a slower
// kernel could give a faster simulated step. The partition is now planned on reference
// costs no uncertain constant moves (step_build.hpp, partition_reference).
// Two checks: (1) the partition of the default case is the same at every uncertain
// constant's low, value and high (the files' constants and the calibration's model-form
// errors) and at half and double NIC and NVLink bandwidth: cheap, no simulation, and it
// covers every constant; (2) the simulated step of a reduced default case is monotone in
// the constant that flipped the partition (dense_gemm.bf16) and in NIC and NVLink
// bandwidth, both directions: 7 simulations, a few seconds each under ASan.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <string>
#include <vector>

#include "sim/calibrate/step_calibration.hpp"
#include "sim/config/load.hpp"
#include "sim/engine/step_executor.hpp"
#include "sim/parallel/step_build.hpp"
#include "sim/parallel/step_program.hpp"
#include "sim/run/process_pool.hpp"
#include "sim/studies/claim.hpp"

namespace test_monotonic {

using namespace trainsim;

namespace {

const std::string kRoot = TRAINSIM_SOURCE_DIR;
const std::string kCluster = kRoot + "/topologies/h800-2048.yaml";
const std::string kWorkload = kRoot + "/workloads/deepseek-v3.yaml";

struct Specs {
  ClusterSpec cluster;
  WorkloadSpec workload;
};

Specs load(const std::vector<std::string>& sets) {
  const auto o = parse_overrides(sets);
  return {load_cluster(kCluster, o), load_workload(kWorkload, o)};
}

std::vector<std::vector<int>> partition_of(const Specs& s) {
  step::StepBuild b(s.cluster, s.workload, Fidelity::symmetric);
  step::plan_partition(b, s.workload.training.global_batch);
  return b.stage_layers;
}

std::string key_of(const std::string& path) { return path.substr(path.find('.') + 1); }

// `--set` texts of an uncertain constant at its low and at its high, keeping its range:
// the unit suffix is the one the loader reads back exactly (as `trainsim claim` finds it).
std::vector<std::string> sets_at_ends(const UncertainConstant& c) {
  const auto text = [&](double v, const char* suffix) {
    return fmt::format("{}={{value: {:.17g}{}, low: {:.17g}{}, high: {:.17g}{}}}", key_of(c.path), v, suffix, c.low,
                       suffix, c.high, suffix);
  };
  const bool cluster = c.path.rfind("cluster.", 0) == 0;
  for (const char* suffix : {"", "s", "B/s", "W", "B", "FLOPS"}) {
    try {
      const auto o = parse_overrides({text(c.value, suffix)});
      const std::vector<UncertainConstant> read =
          cluster ? load_cluster(kCluster, o).uncertain : load_workload(kWorkload, o).uncertain;
      for (const auto& u : read)
        if (u.path == c.path && u.value == c.value && u.low == c.low && u.high == c.high)
          return {text(c.low, suffix), text(c.high, suffix)};
    } catch (const InputError&) {
    }
  }
  FAIL("no --set form reads back " << c.path);
  return {};
}

// Step seconds of each set of overrides, two simulations side by side.
std::vector<double> step_seconds(const std::vector<std::vector<std::string>>& cases) {
  std::vector<NumbersJob> jobs;
  for (const auto& sets : cases)
    jobs.push_back([sets] {
      const Specs s = load(sets);
      const auto program = build_step_program(s.cluster, s.workload, s.workload.training.global_batch,
                                              Fidelity::symmetric);
      return std::vector<double>{engine::execute_step(s.cluster, program).makespan_s};
    });
  std::vector<double> out;
  for (const auto& r : run_isolated_all(jobs, 2)) out.push_back(r.at(0));
  return out;
}

}  // namespace

TEST_CASE("the default case's partition is the same at every uncertain constant's low value and high",
          "[monotonic]") {
  const Specs nominal = load({});
  const auto expected = partition_of(nominal);
  std::vector<std::string> sets;  // one --set each, at low and at high
  int constants = 0;
  for (const auto* list : {&nominal.cluster.uncertain, &nominal.workload.uncertain})
    for (const UncertainConstant& c : *list) {
      if (!claim::affects_performance(c.path) || c.low == c.high) continue;
      ++constants;
      for (const std::string& set : sets_at_ends(c)) sets.push_back(set);
    }
  const auto calibration = calibrate::load_step_calibration(nominal.cluster, nominal.workload);
  REQUIRE(calibration);
  // The files' performance constants: launch overhead, 7 efficiencies, NVLink
  // efficiency and latency, NIC efficiency, link and switch latency.
  CHECK(constants == 13);
  for (const char* link : {"network.nic_bandwidth=200Gbps", "network.nic_bandwidth=800Gbps",
                           "node.nvlink_bandwidth=100GB/s", "node.nvlink_bandwidth=400GB/s"})
    sets.emplace_back(link);
  for (const std::string& set : sets) {
    INFO(set);
    CHECK(partition_of(load({set})) == expected);
  }
  // The calibration's model-form errors (a multiplier per kernel class) all at their
  // lows, then all at their highs: each loads the calibration, which costs most here.
  std::vector<std::string> lows, highs;
  for (const auto& m : calibrate::model_form_constants(*calibration)) {
    lows.push_back(fmt::format("{}={:.17g}", key_of(m.constant.path), m.constant.low));
    highs.push_back(fmt::format("{}={:.17g}", key_of(m.constant.path), m.constant.high));
  }
  CHECK(lows.size() >= 20);
  CHECK(partition_of(load(lows)) == expected);
  CHECK(partition_of(load(highs)) == expected);
}

// The reference case with DP 4 × EP 4 and 32 micro-batches (DualPipe's least at PP 16)
// instead of DP 128 × EP 64 and 120: the same 64 layers on 16 DualPipe stages, so the
// same partition choice; the old code gave 6.2884 s at dense_gemm.bf16 0.70 and
// 6.2966 s at 0.80 (faster GEMMs, slower step) here.
std::vector<std::string> reduced(std::vector<std::string> sets) {
  for (const char* s : {"nodes=8", "parallelism.dp=4", "parallelism.ep=4", "model.moe.max_nodes_per_token=1",
                        "training.global_batch=128", "training.batch_ramp.start=128"})
    sets.emplace_back(s);
  return sets;
}

TEST_CASE("a slower dense GEMM NIC or NVLink never gives a faster step of the reduced default case",
          "[monotonic]") {
  // Each axis: the slower end, then the faster end; the nominal case (dense_gemm.bf16
  // 0.70, the file's range 0.55 .. 0.80; NIC 400 Gb/s; NVLink 200 GB/s) lies between.
  const std::vector<std::pair<std::string, std::string>> axes = {
      {"gpu.efficiency.dense_gemm.bf16=0.55", "gpu.efficiency.dense_gemm.bf16=0.8"},
      {"network.nic_bandwidth=200Gbps", "network.nic_bandwidth=800Gbps"},
      {"node.nvlink_bandwidth=100GB/s", "node.nvlink_bandwidth=400GB/s"},
  };
  std::vector<std::vector<std::string>> cases{reduced({})};
  for (const auto& [slow, fast] : axes) {
    cases.push_back(reduced({slow}));
    cases.push_back(reduced({fast}));
  }
  const std::vector<double> steps = step_seconds(cases);
  for (std::size_t a = 0; a < axes.size(); ++a) {
    const double slow = steps[1 + 2 * a], fast = steps[2 + 2 * a];
    INFO(axes[a].first << ": " << slow << " s; nominal: " << steps[0] << " s; " << axes[a].second << ": " << fast
                       << " s");
    CHECK(slow >= steps[0]);
    CHECK(steps[0] >= fast);
  }
}

}  // namespace test_monotonic
