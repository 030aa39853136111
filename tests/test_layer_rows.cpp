// Issue 13: each layer instance's routed-expert rows, read from the trace's launch grids
// (recipes' `routed_rows` rules), so that each layer's recipes expand with its own rows in
// the fit and in leave-one-layer-out. Hand grids, a hand three-layer case with a closed-form
// law, and the shipped profile's rows against kernel-attribution.md.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include "sim/calibrate/calibration_fit.hpp"
#include "sim/calibrate/cost_laws.hpp"
#include "sim/calibrate/kernel_attribution.hpp"
#include "sim/calibrate/kernel_classes.hpp"
#include "sim/calibrate/kineto_trace.hpp"
#include "sim/calibrate/recipes.hpp"
#include "sim/config/error.hpp"
#include "sim/config/load.hpp"
#include "sim/model/cost_model.hpp"

namespace test_layer_rows {

using namespace trainsim::calibrate;

namespace {

KernelRecord gridded(const std::string& name, std::array<std::int64_t, 3> grid) {
  return KernelRecord{name, "moe_permute", 7, 0, 1000, grid};
}

namespace fs = std::filesystem;
using trainsim::InputError;
const std::string kDir = std::string(TRAINSIM_SOURCE_DIR) + "/topologies/calibration/";
const std::string kShippedTrace = std::string(TRAINSIM_SOURCE_DIR) + "/../shared/reference/deepseek-v3-profile/train.json";

RecipeSet two_rules() {
  RecipeSet set;
  set.routed_rows = {{"mlp(F)", "cuda::expand_to_fused", 0, 16, {}}, {"mlp(W)", "cast_and_transpose<256, 128, true", 1, 128, {}}};
  return set;
}

}  // namespace

TEST_CASE("routed_rows_in: the launch grid's axis x rows per block of the phase's first matching kernel", "[layer_rows]") {
  const RecipeSet set = two_rules();
  const std::vector<KernelRecord> forward = {gridded("cuda::clean_and_count_expert<512>", {4, 1, 1}),
                                             gridded("cuda::expand_to_fused_with_scales_impl", {1944, 1, 1}),
                                             gridded("cuda::expand_to_fused_with_scales_impl", {9, 1, 1})};
  REQUIRE(routed_rows_in(set, "mlp(F)", forward).has_value());
  CHECK(*routed_rows_in(set, "mlp(F)", forward) == 1944.0 * 16);  // 31104, the first match
  const std::vector<KernelRecord> weight = {gridded("per_channel_cast_and_transpose<256, 128, true, true>", {56, 271, 1})};
  CHECK(*routed_rows_in(set, "mlp(W)", weight) == 271.0 * 128);  // 34688 from grid y
  CHECK_FALSE(routed_rows_in(set, "mlp(B)", forward).has_value());  // no rule for the phase
  CHECK_FALSE(routed_rows_in(set, "mlp(F)", weight).has_value());   // no kernel matches
  std::vector<KernelRecord> no_grid = forward;
  for (KernelRecord& k : no_grid) k.grid.reset();
  CHECK_FALSE(routed_rows_in(set, "mlp(F)", no_grid).has_value());
}

TEST_CASE("recipes: routed_rows rules load from the shipped set, a bad regex or phase is FILE:LINE:COL", "[layer_rows]") {
  const KernelClassTable classes = load_kernel_classes(kDir + "kernel-classes.yaml");
  const CostLawTable laws = load_cost_laws(kDir + "laws-h800.yaml", classes);
  const RecipeSet shipped = load_recipes(kDir + "recipes-fp8-moe.yaml", laws);
  REQUIRE(shipped.routed_rows.size() == 3);
  CHECK(shipped.routed_rows[0].phase == "mlp(F)");
  CHECK(shipped.routed_rows[0].rows_per_block == 16);
  CHECK(shipped.routed_rows[2].axis == 1);
  CHECK(shipped.routed_rows[2].rows_per_block == 128);

  const std::string head =
      "name: r\nsource: s\nphases:\n  - phase: mlp(F)\n    steps:\n"
      "      - {op: moe.routed.swiglu, pass: F, kernels: [{class: swiglu, bytes: bytes}]}\nrouted_rows:\n";
  const fs::path path = fs::temp_directory_path() / ("trainsim-layer-rows-" + std::to_string(getpid()) + ".yaml");
  for (const auto& [rule, message] : std::vector<std::pair<std::string, std::string>>{
           {"  - {phase: mlp(F), match: 'expand(', axis: x, rows_per_block: 16}\n", "not a regular expression"},
           {"  - {phase: mlp(X), match: 'expand', axis: x, rows_per_block: 16}\n", "not a phase of this recipe set"},
           {"  - {phase: mlp(F), match: 'expand', axis: w, rows_per_block: 16}\n", "axis"}}) {
    std::ofstream(path) << head << rule;
    CHECK_THROWS_WITH(load_recipes(path.string(), laws),
                      Catch::Contains(path.string() + ":8:") && Catch::Contains(message));
  }
  fs::remove(path);
}

TEST_CASE("fit_calibration per layer: each layer's own rows give exact held-out layers, one plan misses them",
          "[layer_rows]") {
  // One memory-law class, truth t = 2 us + bytes / 1 TB/s; one phase of three kernels: two of
  // fixed size (1 MB: 3 us, 4 MB: 6 us) and one of 8 bytes per routed row. Rows per layer
  // 1000 / 2000 / 6000: 10 / 18 / 50 us. Kernel times are whole nanoseconds, so exact.
  const CostLaw truth{.class_name = "copy", .form = LawForm::memory, .fixed_s = 2e-6, .bandwidth = 1e12};
  CostLawTable laws;
  laws.file = "hand";
  CostLaw prior = truth;
  prior.fixed_s = 0, prior.bandwidth = 1;
  laws.laws = {prior};
  const std::vector<double> rows = {1000, 2000, 6000};
  auto plan = [](double r) {
    return std::vector<PlannedKernel>{{"p(F)", "a", OpPass::forward, "copy", {0, 0, 0, 1e6, 0}, {}},
                                      {"p(F)", "b", OpPass::forward, "copy", {0, 0, 0, 4e6, 0}, {}},
                                      {"p(F)", "routed", OpPass::forward, "copy", {0, 0, 0, 8000 * r, 0}, {}}};
  };
  std::vector<std::vector<PlannedKernel>> per_layer;
  CalibrationInput input;
  PhaseKernels phase{"p(F)", {}};
  for (double r : rows) {
    per_layer.push_back(plan(r));
    std::vector<KernelRecord> records;
    std::int64_t t = 0;
    for (const PlannedKernel& k : per_layer.back()) {
      const auto ns = static_cast<std::int64_t>(std::llround(kernel_seconds(truth, k.shape) * 1e9));
      records.push_back({"k", "copy", 7, t, ns, std::nullopt});
      t += ns + 2000;
    }
    phase.layers.push_back(records);
  }
  input.phases.push_back(phase);
  const std::vector<PlannedKernel> nominal = plan(3000);  // the mean rows

  const CalibrationFit own = fit_calibration(input, nominal, laws, "hand", true, per_layer);
  REQUIRE(own.classes.size() == 1);
  CHECK(own.classes[0].law.fixed_s == Approx(2e-6).epsilon(1e-9));
  CHECK(own.classes[0].law.bandwidth == Approx(1e12).epsilon(1e-9));
  CHECK(own.classes[0].points == 5);  // a, b, and the routed kernel once per layer
  CHECK(own.classes[0].shapes == 3);  // the routed kernel's three layer shapes are left out together
  REQUIRE(own.phases.size() == 1);
  CHECK(own.phases[0].predicted_s == Approx(35e-6).epsilon(1e-9));  // (3 + 6) + (10 + 18 + 50) / 3 us
  REQUIRE(own.leave_one_layer_out.size() == 6);  // 3 layers x (the phase, the pair)
  for (const HeldOutLayer& h : own.leave_one_layer_out) CHECK(std::abs(h.error()) < 1e-9);
  CHECK(own.leave_one_layer_out[4].measured_s == Approx(59e-6));  // layer 2: 3 + 6 + 50 us

  // One plan for every layer (the nominal 3000 rows, 24 MB, for the routed kernel): without layer 2
  // the routed kernel's point is 24 MB at the mean of 10 and 18 us, so the held-out layer 2 is
  // predicted at about 3 + 6 + 14 = 23 us against 59 us measured (-61 %).
  const CalibrationFit one = fit_calibration(input, nominal, laws, "hand");
  REQUIRE(one.leave_one_layer_out.size() == 6);
  CHECK(one.leave_one_layer_out[4].layer == 2);
  CHECK(one.leave_one_layer_out[4].error() == Approx(23.0 / 59.0 - 1).margin(0.005));
}

TEST_CASE("the shipped profile's routed rows per layer, from its grids, are kernel-attribution.md's", "[layer_rows][shipped]") {
  if (!fs::exists(kShippedTrace)) {
    WARN("no shared reference trace at " << kShippedTrace << "; skipped");
    return;
  }
  const KernelClassTable classes = load_kernel_classes(kDir + "kernel-classes.yaml");
  const CostLawTable laws = load_cost_laws(kDir + "laws-h800.yaml", classes);
  const RecipeSet recipes = load_recipes(kDir + "recipes-fp8-moe.yaml", laws);
  const trainsim::WorkloadSpec workload = trainsim::load_workload(std::string(TRAINSIM_SOURCE_DIR) + "/workloads/deepseek-v3.yaml", {});
  const trainsim::ModelCost cost = trainsim::model_cost(workload);
  const trainsim::LayerCost* moe = nullptr;
  for (const trainsim::LayerCost& l : cost.layers)
    if (l.kind == trainsim::LayerKind::moe && moe == nullptr) moe = &l;
  REQUIRE(moe != nullptr);
  const CalibrationInput input = calibration_input(attribute_kernels(read_kineto_trace(kShippedTrace), classes));
  std::vector<PhaseRoutedRows> rows;
  const auto per_layer = expand_recipes_per_layer(recipes, *moe, workload, input, {}, &rows);
  REQUIRE(per_layer.size() == 4);
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].phase == "mlp(F)");
  CHECK(rows[0].rows == std::vector<double>{31104, 30976, 36864, 31104});
  CHECK(rows[1].rows == std::vector<double>{34688, 32512, 32896, 28416});
  CHECK(rows[2].rows == rows[1].rows);  // mlp(W) of the same backward layers
  const RoutedRows mean = mean_routed_rows(rows, per_layer.front());
  CHECK(mean.forward == 32512);
  CHECK(mean.backward == 32128);
  // Layer 2's routed gate_up GEMM in mlp(F) has its own M.
  std::vector<double> ms;
  for (const PlannedKernel& k : per_layer[2])
    if (k.phase == "mlp(F)" && k.op == "moe.routed.gate_up" && k.class_name == "grouped_gemm_fp8") ms.push_back(k.shape.m);
  CHECK(ms == std::vector<double>{36864});
}

}  // namespace test_layer_rows
