// The two-stream overlap law in the step model (issue 13, brief D part 3): recipe kernels marked
// `streams: 2` (the routed weight-gradient GEMMs of mlp(W)) take, as a group, S/2 + alpha (S - S/2)
// of their solo sum S, alpha from the calibration's fit.stream_overlaps; the marked kernels are the
// fit's group; bad entries are FILE:LINE:COL errors.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include "sim/calibrate/step_calibration.hpp"
#include "sim/config/error.hpp"
#include "sim/config/load.hpp"

namespace test_step_overlap {

using namespace trainsim;
namespace cal = trainsim::calibrate;

const std::string kTree = std::string(TRAINSIM_SOURCE_DIR) + "/";

struct Shipped {
  ClusterSpec cluster = load_cluster(kTree + "topologies/h800-2048.yaml", {});
  WorkloadSpec workload = load_workload(kTree + "workloads/deepseek-v3.yaml", {});
  ModelCost cost = model_cost(workload);
  const LayerCost& moe_layer() const {
    for (const LayerCost& l : cost.layers)
      if (l.kind == LayerKind::moe) return l;
    throw std::logic_error("no MoE layer");
  }
};

TEST_CASE("step overlap: the shipped calibration's mlp(W) law and the recipe kernels it covers", "[step_calibration][overlap]") {
  const Shipped s;
  const auto c = cal::load_step_calibration(s.cluster, s.workload);
  REQUIRE(c.has_value());
  REQUIRE(c->stream_overlaps.size() == 1);
  CHECK(c->stream_overlaps[0].phase == "mlp(W)");
  CHECK(c->stream_overlaps[0].streams == 2);
  CHECK(c->stream_overlaps[0].alpha == 0.8072);
  CHECK(c->stream_overlaps[0].overlap_factor() == Approx(0.5 + 0.5 * 0.8072).epsilon(1e-15));
  // The recipe's streams: 2 kernels, expanded with the trace's routed rows, are the fit's group:
  // 8 kernels with a solo sum of 4353.4 us at the fitted 112 SMs (fit.stream_overlaps of the file).
  int marked = 0;
  double solo = 0;
  for (const cal::PlannedKernel& k : cal::expand_recipes(c->recipes, s.moe_layer(), s.workload, cal::RoutedRows{32512, 32128}))
    if (k.streams > 1) {
      CHECK(k.phase == "mlp(W)");
      CHECK(k.class_name == "gemm_fp8_wgrad");
      ++marked;
      solo += kernel_seconds(*c->laws.find(k.class_name), k.shape);
    }
  CHECK(marked == 8);
  CHECK(solo * 1e6 == Approx(4353.4).margin(0.05));
}

TEST_CASE("step overlap: op-pass seconds with the law = solo sum + (factor - 1) x the group's solo time (hand sum)",
          "[step_calibration][overlap]") {
  const Shipped s;
  const auto c = cal::load_step_calibration(s.cluster, s.workload);
  REQUIRE(c.has_value());
  cal::StepCalibration solo_only = *c;
  solo_only.stream_overlaps.clear();
  const double share = 112.0 / 132;
  const cal::CalibratedOpPasses with = cal::calibrated_op_passes(*c, s.moe_layer(), s.workload, share);
  const cal::CalibratedOpPasses without = cal::calibrated_op_passes(solo_only, s.moe_layer(), s.workload, share);
  REQUIRE(with.size() == without.size());
  // Per op-pass: the group's kernels at all SMs (law time x 112/132) and beside communication (/ share).
  std::map<std::pair<std::string, cal::OpPass>, double> group_all, group_beside;
  int grouped = 0;
  for (const cal::PlannedKernel& k : cal::expand_recipes(c->recipes, s.moe_layer(), s.workload)) {
    if (k.streams == 1) continue;
    const double t = kernel_seconds(*c->laws.find(k.class_name), k.shape) * 112 / 132;
    group_all[{k.op, k.pass}] += t;
    group_beside[{k.op, k.pass}] += t / share;
    ++grouped;
  }
  CHECK(grouped == 8);
  CHECK(group_all.size() == 2);  // moe.routed.down W, moe.routed.gate_up W
  const double factor = 0.5 + 0.5 * 0.8072;
  double group_solo = 0, group_wall = 0;
  for (const auto& [key, pass] : with) {
    const cal::CalibratedPass& old = without.at(key);
    CHECK(pass.kernels == old.kernels);
    const double g = group_all.count(key) != 0 ? group_all.at(key) : 0;
    const double gb = group_beside.count(key) != 0 ? group_beside.at(key) : 0;
    CHECK(pass.all_sms == Approx(old.all_sms + (factor - 1) * g).epsilon(1e-12));
    CHECK(pass.sm_shared == Approx(old.sm_shared + (factor - 1) * gb).epsilon(1e-12));
    group_solo += g;
    group_wall += factor * g;
  }
  // The group as a whole: S/2 + alpha (S - S/2).
  CHECK(group_solo > 0);
  CHECK(group_wall == Approx(group_solo / 2 + 0.8072 * (group_solo - group_solo / 2)).epsilon(1e-12));
}

TEST_CASE("step overlap: bad stream-overlap entries and a streams mismatch are input errors", "[step_calibration][overlap]") {
  const auto file = [](const std::string& text) {
    const std::string path = (std::filesystem::temp_directory_path() / ("trainsim-overlap-" + std::to_string(getpid()) + ".yaml")).string();
    std::ofstream(path) << text;
    return path;
  };
  const std::string head = "fit:\n  stream_overlaps:\n";
  const std::string bad_alpha = file(head + "    - {phase: \"mlp(W)\", streams: 2, alpha: {value: -0.5}}\n");
  CHECK_THROWS_WITH(cal::load_stream_overlaps(bad_alpha), Catch::Contains(".yaml:3:") && Catch::Contains("alpha.value"));
  const std::string bad_streams = file(head + "    - {phase: \"mlp(W)\", streams: 1, alpha: {value: 0.5}}\n");
  CHECK_THROWS_WITH(cal::load_stream_overlaps(bad_streams), Catch::Contains(".yaml:3:") && Catch::Contains("streams"));
  const std::string twice = file(head + "    - {phase: P, streams: 2, alpha: {value: 0.5}}\n    - {phase: P, streams: 2, alpha: {value: 0.5}}\n");
  CHECK_THROWS_WITH(cal::load_stream_overlaps(twice), Catch::Contains(".yaml:4:") && Catch::Contains("listed twice"));
  const std::string none = file("fit:\n  classes: []\n");
  CHECK(cal::load_stream_overlaps(none).empty());
  std::filesystem::remove(none);

  // A law for 3 streams where the recipes say 2: an error at the recipe kernel.
  const Shipped s;
  auto c = cal::load_step_calibration(s.cluster, s.workload);
  REQUIRE(c.has_value());
  c->stream_overlaps[0].streams = 3;
  CHECK_THROWS_WITH(cal::calibrated_op_passes(*c, s.moe_layer(), s.workload, 1),
                    Catch::Contains("recipes-fp8-moe.yaml:") && Catch::Contains("for 3 streams"));
}

}  // namespace test_step_overlap
