// The laws file's model_error_default {low, high, about} (issue 13, brief D part 2): read and
// checked with the laws, copied by the writer to fit.model_error_default with its about as a
// comment, and from there the model-form range of every class without held-out shapes.
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
#include "sim/calibrate/step_calibration.hpp"
#include "sim/config/error.hpp"

namespace test_model_error_default {

using trainsim::calibrate::CalibrationFit, trainsim::calibrate::CalibrationInput, trainsim::calibrate::CostLaw;
using trainsim::calibrate::CostLawTable, trainsim::calibrate::KernelClassTable, trainsim::calibrate::KernelRecord;
using trainsim::calibrate::LawForm, trainsim::calibrate::ModelErrorDefault, trainsim::calibrate::ModelFormError;
using trainsim::calibrate::PlannedKernel, trainsim::calibrate::fit_calibration, trainsim::calibrate::load_cost_laws;
using trainsim::calibrate::load_kernel_classes, trainsim::calibrate::load_model_form_errors;
using trainsim::calibrate::write_calibration_yaml;
namespace fs = std::filesystem;

const std::string kHead = "name: l\ngpu: g\nsource: s\nsms_total: 132\n";
const std::string kLaws = "laws:\n  - {class: copy, law: memory}\n  - {class: norm, law: memory}\n";
const std::string kClassTable = std::string(TRAINSIM_SOURCE_DIR) + "/topologies/calibration/kernel-classes.yaml";
const std::string kShipped = std::string(TRAINSIM_SOURCE_DIR) + "/topologies/calibration/";

// A file of this test process in the temp folder.
std::string written(const std::string& name, const std::string& text) {
  const fs::path path = fs::temp_directory_path() / ("trainsim-med-" + std::to_string(getpid()) + "-" + name);
  std::ofstream(path) << text;
  return path.string();
}

TEST_CASE("model_error_default: read from a laws file and checked", "[calibrate][model_error_default]") {
  const KernelClassTable classes = load_kernel_classes(kClassTable);
  const std::string good = written("good.yaml", kHead + "model_error_default: {low: 0.8, high: 1.3, about: \"assumption: x\"}\n" + kLaws);
  const CostLawTable table = load_cost_laws(good, classes);
  REQUIRE(table.model_error_default.has_value());
  CHECK(table.model_error_default->low == 0.8);
  CHECK(table.model_error_default->high == 1.3);
  CHECK(table.model_error_default->about == "assumption: x");
  fs::remove(good);
  const std::string none = written("none.yaml", kHead + kLaws);
  CHECK_FALSE(load_cost_laws(none, classes).model_error_default.has_value());
  fs::remove(none);

  struct Bad {
    const char* entry;
    const char* message;
  };
  for (const Bad& b : {Bad{"{low: 1.2, high: 1.3, about: a}", "low"}, Bad{"{low: 0.8, high: 0.9, about: a}", "high"},
                       Bad{"{low: 0.8, high: 1.2}", "about"}, Bad{"{low: 0.8, high: 1.2, about: a, mid: 1}", "mid"}}) {
    const std::string file = written("bad.yaml", kHead + "model_error_default: " + b.entry + "\n" + kLaws);
    CHECK_THROWS_WITH(load_cost_laws(file, classes), Catch::Contains("bad.yaml:5:") && Catch::Contains(b.message));
    fs::remove(file);
  }
}

TEST_CASE("model_error_default: the writer copies it, classes without held-out shapes take it", "[calibrate][model_error_default]") {
  // copy: 3 shapes (held out one at a time); norm: one shape (no held-out check).
  CalibrationInput input;
  input.trace_file = "hand.json";
  constexpr std::int64_t us = 1000;
  input.phases.push_back({"P", {{KernelRecord{"c", "copy", 7, 0, 2 * us, std::nullopt}, KernelRecord{"c", "copy", 7, 2 * us, 3 * us, std::nullopt},
                                 KernelRecord{"c", "copy", 7, 5 * us, 5 * us, std::nullopt}, KernelRecord{"n", "norm", 7, 10 * us, 4 * us, std::nullopt}}}});
  std::vector<PlannedKernel> plan;
  for (const auto& [cls, mb] : std::vector<std::pair<std::string, double>>{{"copy", 1}, {"copy", 2}, {"copy", 3}, {"norm", 1}}) {
    PlannedKernel k;
    k.phase = "P", k.op = "op", k.class_name = cls, k.shape.bytes = mb * 1e6;
    plan.push_back(k);
  }
  CostLawTable laws;
  laws.file = "laws.yaml";
  laws.name = "l", laws.gpu = "g", laws.sms_total = 132;
  laws.laws = {CostLaw{.class_name = "copy", .form = LawForm::memory}, CostLaw{.class_name = "norm", .form = LawForm::memory}};
  laws.model_error_default = ModelErrorDefault{0.85, 1.15, "assumption: the hand case's range"};
  const CalibrationFit fit = fit_calibration(input, plan, laws, "r.yaml");
  std::ostringstream yaml;
  write_calibration_yaml(yaml, fit);
  CHECK_THAT(yaml.str(), Catch::Contains("fit:\n  model_error_default: {low: 0.85, high: 1.15}   # assumption: the hand case's range\n  classes:\n"));

  const std::string file = written("cal.yaml", yaml.str());
  const std::vector<ModelFormError> errors = load_model_form_errors(file, laws);
  fs::remove(file);
  REQUIRE(errors.size() == 2);
  // copy: its three held-out shapes (rule 2); norm: the default (rule 3).
  CHECK(errors[0].class_name == "copy");
  CHECK(errors[0].shapes == 3);
  CHECK(errors[1].class_name == "norm");
  CHECK(errors[1].shapes == 0);
  CHECK(errors[1].low == 0.85);
  CHECK(errors[1].high == 1.15);
  CHECK_THAT(errors[1].source, Catch::Contains("model_error_default"));

  // Without a default in the laws file, the writer writes none and norm is not varied.
  laws.model_error_default.reset();
  std::ostringstream plain;
  write_calibration_yaml(plain, fit_calibration(input, plan, laws, "r.yaml"));
  CHECK(plain.str().find("model_error_default") == std::string::npos);
}

TEST_CASE("model_error_default: laws-h800.yaml declares one and the shipped calibration carries it", "[calibrate][model_error_default]") {
  const KernelClassTable classes = load_kernel_classes(kClassTable);
  const CostLawTable laws = load_cost_laws(kShipped + "laws-h800.yaml", classes);
  REQUIRE(laws.model_error_default.has_value());
  CHECK(laws.model_error_default->low == 0.85);
  CHECK(laws.model_error_default->high == 1.15);
  CHECK_THAT(laws.model_error_default->about, Catch::Contains("assumption") && Catch::Contains("attn(B) 6.6 %"));
  const CostLawTable calibrated = load_cost_laws(kShipped + "h800-deepseek-v3.yaml", classes);
  int defaulted = 0;
  for (const ModelFormError& e : load_model_form_errors(kShipped + "h800-deepseek-v3.yaml", calibrated))
    if (e.shapes == 0) {
      CHECK(e.low == 0.85);
      CHECK(e.high == 1.15);
      ++defaulted;
    }
  // 26 laws, 15 with held-out shapes: gemm_bf16 (held), gemm_other (no kernel), gemm_setup, attention_fwd/bwd,
  // attention_bwd_pre/post, rope, router, fp8_special_format, moe_routing_map.
  CHECK(defaulted == 11);
}

}  // namespace test_model_error_default
