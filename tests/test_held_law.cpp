// A law whose parameters the laws file holds (issue 13, brief D part 1: `held: "source ..."`):
// the fit keeps them, reports the trace kernels' residuals under them and leaves no shape out;
// the calibration file copies the law with its reason; a held law must give every parameter.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "sim/calibrate/calibration_fit.hpp"
#include "sim/calibrate/cost_laws.hpp"
#include "sim/calibrate/kernel_classes.hpp"
#include "sim/config/error.hpp"

namespace test_held_law {

using namespace trainsim;
using namespace trainsim::calibrate;
namespace fs = std::filesystem;

const std::string kCalibration = std::string(TRAINSIM_SOURCE_DIR) + "/topologies/calibration/";

std::string scratch_file(const std::string& name, const std::string& text) {
  const fs::path path = fs::temp_directory_path() / ("trainsim-held-" + std::to_string(getpid()) + "-" + name);
  std::ofstream(path) << text;
  return path.string();
}

// Three copies on one stream, 1, 2, 3 MB in 2, 3, 4 µs: a free fit gives 1 µs + 1 TB/s.
CalibrationInput three_copies() {
  CalibrationInput input;
  input.trace_file = "hand.json";
  constexpr std::int64_t us = 1000;
  input.phases.push_back({"P", {{KernelRecord{"copy_kernel", "copy", 7, 0, 2 * us, std::nullopt}, KernelRecord{"copy_kernel", "copy", 7, 2 * us, 3 * us, std::nullopt},
                                 KernelRecord{"copy_kernel", "copy", 7, 5 * us, 4 * us, std::nullopt}}}});
  return input;
}

std::vector<PlannedKernel> three_planned() {
  std::vector<PlannedKernel> plan;
  for (double mb : {1.0, 2.0, 3.0}) {
    PlannedKernel k;
    k.phase = "P", k.op = "op", k.class_name = "copy", k.shape.bytes = mb * 1e6;
    plan.push_back(k);
  }
  return plan;
}

TEST_CASE("held law: the fit keeps its parameters and reports residuals under them", "[calibrate][held]") {
  CostLawTable laws;
  laws.file = "laws.yaml";
  laws.laws.push_back(CostLaw{.class_name = "copy", .form = LawForm::memory, .fixed_s = 0, .bandwidth = 0.5e12});

  // Not held: the least-squares fit recovers 1 µs + 1 TB/s.
  const CalibrationFit free_fit = fit_calibration(three_copies(), three_planned(), laws, "r.yaml");
  REQUIRE(free_fit.classes.size() == 1);
  CHECK(free_fit.classes[0].law.fixed_s == Approx(1e-6));
  CHECK(free_fit.classes[0].law.bandwidth == Approx(1e12));
  CHECK(free_fit.classes[0].leave_one_out.size() == 3);

  // Held at 0 µs + 0.5 TB/s: predictions 2, 4, 6 µs against 2, 3, 4 µs measured.
  laws.laws[0].held = "source: a benchmark";
  const CalibrationFit fit = fit_calibration(three_copies(), three_planned(), laws, "r.yaml");
  REQUIRE(fit.classes.size() == 1);
  const ClassFit& c = fit.classes[0];
  CHECK(c.law.fixed_s == 0);
  CHECK(c.law.bandwidth == 0.5e12);
  CHECK(fit.fitted.laws[0].bandwidth == 0.5e12);
  CHECK(c.points == 3);
  // residuals 0, 1/3, 1/2: rms sqrt((0 + 1/9 + 1/4) / 3)
  CHECK(c.rms_residual == Approx(std::sqrt((1.0 / 9 + 1.0 / 4) / 3)));
  CHECK(c.leave_one_out.empty());
  CHECK_FALSE(c.loo_median_abs.has_value());
  CHECK_THAT(c.note, Catch::Contains("held by the laws file"));

  // The calibration file copies the law, says it was held and why, lists the residuals.
  std::ostringstream yaml;
  write_calibration_yaml(yaml, fit);
  CHECK_THAT(yaml.str(), Catch::Contains("{class: copy, law: memory, fixed: 0us, bandwidth: 500GB/s, held: \"source: a benchmark\"}"));
  CHECK_THAT(yaml.str(), Catch::Contains("      held: \"source: a benchmark\"\n      residuals:"));
  CHECK_THAT(yaml.str(), Catch::Contains("measured_us: 4.00, predicted_us: 6.00, residual: 0.5000"));
}

TEST_CASE("held law: laws-h800.yaml holds gemm_bf16 at the H100 cuBLAS benchmark law", "[calibrate][held]") {
  const KernelClassTable classes = load_kernel_classes(kCalibration + "kernel-classes.yaml");
  const CostLawTable h800 = load_cost_laws(kCalibration + "laws-h800.yaml", classes);
  const CostLawTable h100 = load_cost_laws(kCalibration + "h100-kernel-benchmarks.yaml", classes);
  const CostLaw* held = h800.find("gemm_bf16");
  const CostLaw* bench = h100.find("gemm_bf16");
  REQUIRE(held != nullptr);
  REQUIRE(bench != nullptr);
  CHECK_THAT(held->held, Catch::Contains("cuBLAS BF16"));
  CHECK(held->e_max == bench->e_max);
  CHECK(held->k_half == bench->k_half);
  CHECK(held->sms == 132);
  CHECK(held->peak_flops == bench->peak_flops);
  // The calibrated file carries the same law, still held.
  const CostLawTable calibrated = load_cost_laws(kCalibration + "h800-deepseek-v3.yaml", classes);
  REQUIRE(calibrated.find("gemm_bf16") != nullptr);
  CHECK(calibrated.find("gemm_bf16")->e_max == 0.8775);
  CHECK(calibrated.find("gemm_bf16")->k_half == 406.3);
  CHECK_FALSE(calibrated.find("gemm_bf16")->held.empty());
  // A dense 8192 x 4096 x 4096 GEMM on 132 SMs: 64 x 32 tiles = 2048 = 15.5 waves (wave factor 2048 / (16 · 132)).
  const double t = kernel_seconds(*held, KernelShape{.m = 8192, .n = 4096, .k = 4096});
  const double efficiency = 0.8775 * 4096 / (4096 + 406.3) * 2048.0 / (16 * 132);
  CHECK(t == Approx(2.0 * 8192 * 4096 * 4096 / (989.5e12 * efficiency)).epsilon(1e-12));
}

TEST_CASE("held law: a held law must give every parameter of its form", "[calibrate][held]") {
  const KernelClassTable classes = load_kernel_classes(kCalibration + "kernel-classes.yaml");
  const std::string head = "name: l\ngpu: g\nsource: s\nsms_total: 132\nlaws:\n";
  // Each held law below lacks the parameter its message names.
  struct Missing {
    const char* law;
    const char* message;
  };
  for (const Missing& m : {Missing{"{class: gemm_bf16, law: gemm, peak: 989.5TFLOPS, e_max: 0.8, held: \"source: x\"}", "must give k_half"},
                           Missing{"{class: copy, law: memory, fixed: 1us, held: \"source: x\"}", "must give bandwidth"},
                           Missing{"{class: attention_fwd, law: attention, peak: 989.5TFLOPS, held: \"source: x\"}", "must give efficiency"},
                           Missing{"{class: copy, law: memory, fixed: 1us, bandwidth: 1TB/s, held: \"\"}", "held: empty value"}}) {
    const std::string file = scratch_file("l.yaml", head + "  - " + m.law + "\n");
    CHECK_THROWS_WITH(load_cost_laws(file, classes), Catch::Contains("l.yaml:6:") && Catch::Contains(m.message));
    fs::remove(file);
  }
  const std::string ok = scratch_file("ok.yaml", head + "  - {class: copy, law: memory, fixed: 1us, bandwidth: 1TB/s, held: \"source: x\"}\n");
  CHECK(load_cost_laws(ok, classes).find("copy")->held == "source: x");
  fs::remove(ok);
}

}  // namespace test_held_law
