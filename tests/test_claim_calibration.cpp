// The calibration's model-form error in claim's Monte Carlo (issue 13 point 5;
// sim/calibrate/step_calibration.hpp, sim/studies/claim.hpp): ranges per kernel class
// from a calibration's held-out shapes by hand, --set gpu.calibration.CLASS scaling
// exactly that class's kernel seconds, and claim's spread with and without them.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "sim/calibrate/step_calibration.hpp"
#include "sim/config/error.hpp"
#include "sim/config/load.hpp"
#include "sim/studies/claim.hpp"
#include "tests/support.hpp"

namespace test_claim_calibration {

namespace {

using namespace trainsim;
const std::string kRoot = std::string(TRAINSIM_SOURCE_DIR) + "/";

// A calibration file's `fit` section only: what load_model_form_errors reads.
std::string write_calibration(const std::string& name, const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() / ("trainsim-test-claim-calibration-" + name + ".yaml");
  std::ofstream(path) << text;
  return path.string();
}

calibrate::CostLawTable laws_of(const std::vector<std::string>& classes) {
  calibrate::CostLawTable t;
  for (const auto& c : classes) {
    calibrate::CostLaw law;
    law.class_name = c;
    t.laws.push_back(law);
  }
  return t;
}

const calibrate::ModelFormError& error_of(const std::vector<calibrate::ModelFormError>& errors,
                                          const std::string& name) {
  for (const auto& e : errors)
    if (e.class_name == name) return e;
  FAIL("no class " << name);
  return errors.front();
}

// The 128-GPU cut of the default case (16 nodes, 6 layers, pp 2) that test_claim.cpp runs.
const std::string kSmallCase =
    "--set nodes=16 --set model.layers=6 --set model.moe.first_dense_layers=1 --set parallelism.pp=2 --set "
    "parallelism.dp=64 --set training.global_batch=256 --set training.batch_ramp.start=256";

const std::string kSmallFit = R"(fit:
  model_error_default: {low: 0.6, high: 1.8}   # assumption
  classes:
    - class: gemm_fp8
      leave_one_out:
        - {shape: a, error: 0.25}
        - {shape: b, error: -0.2}
        - {shape: c, error: 0}
    - class: grouped_gemm_fp8
      note: "ten shapes: the 10th/90th percentiles"
      leave_one_out:
        - {error: 1}
        - {error: 0.25}
        - {error: 0}
        - {error: -0.2}
        - {error: -0.5}
        - {error: 3}
        - {error: 0.6}
        - {error: -0.6}
        - {error: 4}
        - {error: 0.5}
    - class: norm
      model_error: {low: 0.7, high: 1.5}
      leave_one_out:
        - {error: 5}
    - class: swiglu
      leave_one_out:
        - {error: 0.1}
        - {error: 0.25}
)";

}  // namespace

TEST_CASE("model-form error: ranges from a small calibration by hand", "[claim_calibration]") {
  const auto laws = laws_of({"gemm_fp8", "grouped_gemm_fp8", "norm", "swiglu", "attention_fwd"});
  const auto errors = calibrate::load_model_form_errors(write_calibration("small", kSmallFit), laws);
  REQUIRE(errors.size() == 5);
  CHECK(errors[0].class_name == "gemm_fp8");  // law order
  CHECK(errors[4].class_name == "attention_fwd");
  // Three shapes (fewer than 10): min/max of measured/predicted = 1/(1 + e): 1/1.25, 1/0.8, 1.
  const auto& gemm = error_of(errors, "gemm_fp8");
  CHECK(gemm.shapes == 3);
  CHECK(gemm.low == Approx(0.8).epsilon(1e-15));
  CHECK(gemm.high == Approx(1.25).epsilon(1e-15));
  CHECK(gemm.source.find("3 shapes: min/max") != std::string::npos);
  // Ten shapes: factors sorted 0.2, 0.25, 0.5, 0.625, 2/3, 0.8, 1, 1.25, 2, 2.5; the 10th
  // percentile sits at position 0.9, the 90th at 8.1 (linear interpolation).
  const auto& grouped = error_of(errors, "grouped_gemm_fp8");
  CHECK(grouped.shapes == 10);
  CHECK(grouped.low == Approx(0.2 + 0.9 * 0.05).epsilon(1e-14));
  CHECK(grouped.high == Approx(2 + 0.1 * 0.5).epsilon(1e-14));
  CHECK(grouped.source.find("10th/90th percentiles") != std::string::npos);
  // An explicit model_error wins over the held-out shapes.
  const auto& norm = error_of(errors, "norm");
  CHECK(norm.low == 0.7);
  CHECK(norm.high == 1.5);
  CHECK(norm.source.find("model_error in") == 0);
  // Both shapes over-predicted (factors 1/1.1, 1/1.25): the range is widened to hold 1.
  const auto& swiglu = error_of(errors, "swiglu");
  CHECK(swiglu.low == Approx(0.8).epsilon(1e-15));
  CHECK(swiglu.high == 1);
  // No entry: the file's default, named as an assumption; without one, not varied.
  const auto& attention = error_of(errors, "attention_fwd");
  CHECK(attention.low == 0.6);
  CHECK(attention.high == 1.8);
  CHECK(attention.source.find("an assumption") != std::string::npos);
  std::string no_default = kSmallFit;
  no_default.erase(no_default.find("  model_error_default"), no_default.find("  classes") - no_default.find("  model"));
  const auto bare = calibrate::load_model_form_errors(write_calibration("bare", no_default), laws);
  CHECK(error_of(bare, "attention_fwd").low == 1);
  CHECK(error_of(bare, "attention_fwd").high == 1);
  CHECK(error_of(bare, "attention_fwd").source.find("not varied") != std::string::npos);
}

TEST_CASE("model-form error: bad calibration entries are FILE:LINE:COL errors", "[claim_calibration]") {
  const auto laws = laws_of({"gemm_fp8"});
  const auto message = [&](const std::string& name, const std::string& text) {
    const std::string file = write_calibration(name, text);
    try {
      (void)calibrate::load_model_form_errors(file, laws);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string head = "fit:\n  classes:\n    - class: gemm_fp8\n";
  CHECK_THAT(message("low", head + "      model_error: {low: 1.1, high: 2}\n"),
             Catch::Contains(":4:") && Catch::Contains("low: must be at most 1"));
  CHECK_THAT(message("error", head + "      leave_one_out:\n        - {error: -1}\n"),
             Catch::Contains(":5:") && Catch::Contains("leave_one_out[0].error"));
  CHECK_THAT(message("class", "fit:\n  classes:\n    - class: gemm_fp9\n"),
             Catch::Contains(":3:") && Catch::Contains("\"gemm_fp9\" has no law"));
  CHECK_THAT(message("key", head + "      model_error: {low: 0.9, hi: 2}\n"),
             Catch::Contains("unknown key \"hi\""));
}

TEST_CASE("model-form error of the shipped H800 calibration: the leave-one-out ranges by hand",
          "[claim_calibration]") {
  const ClusterSpec c = load_cluster(kRoot + "topologies/h800-2048.yaml", {});
  const WorkloadSpec w = load_workload(kRoot + "workloads/deepseek-v3.yaml", {});
  const auto cal = calibrate::load_step_calibration(c, w);
  REQUIRE(cal.has_value());
  std::map<std::string, UncertainConstant> by_path;
  for (const auto& m : calibrate::model_form_constants(*cal)) by_path[m.constant.path] = m.constant;
  // gemm_fp8, 14 shapes: 10th/90th percentiles of 1/(1 + e) over its leave_one_out errors.
  const auto& gemm = by_path.at("cluster.gpu.calibration.gemm_fp8");
  CHECK(gemm.value == 1);
  CHECK(gemm.low == Approx(0.9649529782403606).epsilon(1e-12));
  CHECK(gemm.high == Approx(1.10505306471745).epsilon(1e-12));
  // grouped_gemm_fp8, 4 shapes: 1/(1 + 0.1922) and 1/(1 - 0.0606).
  const auto& grouped = by_path.at("cluster.gpu.calibration.grouped_gemm_fp8");
  CHECK(grouped.low == Approx(1 / 1.1922).epsilon(1e-12));
  CHECK(grouped.high == Approx(1 / (1 - 0.0606)).epsilon(1e-12));
  // No held-out shape for flash attention: fit.model_error_default, which laws-h800.yaml declares.
  const auto& attention = by_path.at("cluster.gpu.calibration.attention_bwd");
  CHECK(attention.low == 0.85);
  CHECK(attention.high == 1.15);
  // gemm_other is a law no recipe kernel uses: not a constant of the study.
  CHECK(by_path.count("cluster.gpu.calibration.gemm_other") == 0);
}

TEST_CASE("model-form multiplier: --set gpu.calibration.CLASS scales exactly that class's kernel seconds (hand sum)",
          "[claim_calibration]") {
  const WorkloadSpec w = load_workload(kRoot + "workloads/deepseek-v3.yaml", {});
  const ClusterSpec base_cluster = load_cluster(kRoot + "topologies/h800-2048.yaml", {});
  const ClusterSpec scaled_cluster =
      load_cluster(kRoot + "topologies/h800-2048.yaml", parse_overrides({"cluster.gpu.calibration.gemm_fp8=1.5"}));
  REQUIRE(scaled_cluster.calibration_multipliers.size() == 1);
  const auto base = calibrate::load_step_calibration(base_cluster, w);
  const auto scaled = calibrate::load_step_calibration(scaled_cluster, w);
  REQUIRE(base.has_value());
  REQUIRE(scaled.has_value());
  CHECK(scaled->multiplier("gemm_fp8") == 1.5);
  CHECK(scaled->multiplier("norm") == 1);
  const ModelCost cost = model_cost(w);
  const LayerCost* layer = nullptr;
  for (const LayerCost& l : cost.layers)
    if (l.kind == LayerKind::moe && layer == nullptr) layer = &l;
  REQUIRE(layer != nullptr);
  const double share = 112.0 / 132;
  const auto before = calibrate::calibrated_op_passes(*base, *layer, w, share);
  const auto after = calibrate::calibrated_op_passes(*scaled, *layer, w, share);
  // Hand sum: 0.5 x each gemm_fp8 kernel's law time, by op-pass, recomputed ops only for R.
  std::map<std::pair<std::string, calibrate::OpPass>, std::pair<double, double>> extra;
  int gemm_kernels = 0;
  for (const calibrate::PlannedKernel& k : calibrate::expand_recipes(base->recipes, *layer, w)) {
    const OpCost* op = layer->find(k.op);
    REQUIRE(op != nullptr);
    const bool skipped = k.pass == calibrate::OpPass::recompute && op->recompute_flops <= 0 && op->recompute_bytes <= 0;
    if (skipped || k.class_name != "gemm_fp8") continue;
    ++gemm_kernels;
    extra[{k.op, k.pass}].first += 0.5 * calibrate::calibrated_kernel_seconds(base->laws, k, 1);
    extra[{k.op, k.pass}].second += 0.5 * calibrate::calibrated_kernel_seconds(base->laws, k, share);
  }
  CHECK(gemm_kernels >= 14);
  REQUIRE(after.size() == before.size());
  int unchanged = 0;
  for (const auto& [key, pass] : before) {
    const auto& moved = after.at(key);
    CHECK(moved.kernels == pass.kernels);
    if (const auto it = extra.find(key); it != extra.end()) {
      CHECK(moved.all_sms == Approx(pass.all_sms + it->second.first).epsilon(1e-12));
      CHECK(moved.sm_shared == Approx(pass.sm_shared + it->second.second).epsilon(1e-12));
    } else {
      CHECK(moved.all_sms == pass.all_sms);  // no gemm_fp8 kernel: bit for bit
      CHECK(moved.sm_shared == pass.sm_shared);
      ++unchanged;
    }
  }
  CHECK(unchanged > 0);
  // A multiplier of 1 leaves every op-pass bit for bit.
  const ClusterSpec one =
      load_cluster(kRoot + "topologies/h800-2048.yaml", parse_overrides({"gpu.calibration.gemm_fp8=1"}));
  const auto same = calibrate::calibrated_op_passes(*calibrate::load_step_calibration(one, w), *layer, w, share);
  for (const auto& [key, pass] : before) CHECK(same.at(key).all_sms == pass.all_sms);
  // A range replaces the derived one; a plain number fixes the constant.
  const ClusterSpec ranged = load_cluster(kRoot + "topologies/h800-2048.yaml",
                                          parse_overrides({"gpu.calibration.norm={value: 1, low: 0.5, high: 2}",
                                                           "gpu.calibration.gemm_fp8=1.2"}));
  std::map<std::string, calibrate::ModelFormConstant> by_path;
  for (const auto& m : calibrate::model_form_constants(*calibrate::load_step_calibration(ranged, w)))
    by_path.emplace(m.constant.path, m);
  CHECK(by_path.at("cluster.gpu.calibration.norm").constant.low == 0.5);
  CHECK(by_path.at("cluster.gpu.calibration.norm").constant.high == 2);
  CHECK(by_path.at("cluster.gpu.calibration.norm").source.find("set by --set") == 0);
  CHECK(by_path.at("cluster.gpu.calibration.gemm_fp8").constant.low == 1.2);
  CHECK(by_path.at("cluster.gpu.calibration.gemm_fp8").constant.high == 1.2);
}

TEST_CASE("model-form multiplier: --set gpu.calibration.CLASS with bad classes and values exit 2 with the argument", "[claim_calibration][cli]") {
  // Each: the --set arguments, and what the one-line error says after the argument.
  const std::vector<std::pair<std::string, std::string>> refused = {
      {"--set gpu.calibration.gemm_fp9=1.1",
       "--set gpu.calibration.gemm_fp9=1.1: gpu.calibration.gemm_fp9: no class \"gemm_fp9\""},
      {"--set gpu.calibration.gemm_fp8=-1", "--set gpu.calibration.gemm_fp8=-1: gpu.calibration.gemm_fp8: must be > 0"},
      {"--set gpu.calibration=none --set gpu.calibration.gemm_fp8=1.1", "a kernel-class multiplier needs a calibration"},
      {"--set 'gpu.calibration.norm={value: 1, low: 1.1, high: 2}'", "needs low <= value <= high"}};
  for (const auto& [args, message] : refused) {
    const auto r = test::run_trainsim("check " + args);
    CHECK(r.status == 2);
    CHECK_THAT(r.output, Catch::Contains(message));
    CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
  }
  CHECK_THAT(test::run_trainsim("check --set gpu.calibration.gemm_fp9=1.1").output, Catch::Contains("did you mean"));
  // check counts the model-form errors: one per class the FP8 MoE recipes use.
  const auto counted = test::run_trainsim("check --allow-oversubscribed-memory");
  REQUIRE(counted.status == 0);
  CHECK_THAT(counted.output, Catch::Contains(" workload, 27 calibration model-form error)"));
}

TEST_CASE("claim: the model-form errors widen p5..p95 and keep the file constants' draws", "[claim_calibration]") {
  claim::ClaimRequest q;
  q.constants = {{"cluster.gpu.efficiency.hbm", 0.8, 0.7, 0.9}, {"cluster.gpu.calibration.gemm_fp8", 1, 0.8, 1.3}};
  q.model_form_sources = {{"cluster.gpu.calibration.gemm_fp8", "by hand"}};
  q.metric = claim::find_metric("step_time_s");
  q.claimed_value = 1;
  q.samples = 64;
  q.seed = 5;
  claim::ClaimRequest without = q;
  without.constants.pop_back();
  without.model_form_sources.clear();
  without.model_form_left_out = true;
  // Step time 1/hbm, times the class multiplier where it is a constant.
  const claim::Evaluate metric = [](const std::vector<claim::Point>& points) {
    std::vector<double> v;
    for (const auto& p : points) v.push_back((p.size() > 1 ? p[1] : 1.0) / p[0]);
    return v;
  };
  const auto with_points = claim::sample_points(q);
  const auto without_points = claim::sample_points(without);
  for (int i = 1; i <= q.samples; ++i) CHECK(with_points[i][0] == without_points[i][0]);  // paired draws
  CHECK(claim::sample_points(q) == with_points);  // same seed, same draws, model-form included
  const auto with_result = claim::run_claim(q, metric);
  const auto without_result = claim::run_claim(without, metric);
  CHECK(with_result.p95 - with_result.p5 > without_result.p95 - without_result.p5);
  CHECK(with_result.sensitivity.size() == 2);
  const std::string text = claim::to_text(with_result);
  CHECK_THAT(text, Catch::Contains("2 uncertain constants (1 from the files, 1 calibration model-form error)"));
  CHECK_THAT(text, Catch::Contains("cluster.gpu.calibration.gemm_fp8") && Catch::Contains("by hand"));
  CHECK_THAT(claim::to_text(without_result), Catch::Contains("left out (--no-model-error)"));
  const auto j = claim::to_json(with_result);
  REQUIRE(j["calibration_model_form_error"].size() == 1);
  CHECK(j["calibration_model_form_error"][0]["low"] == 0.8);
  CHECK(j["calibration_model_form_error"][0]["source"] == "by hand");
}

TEST_CASE("claim command: model-form errors in the samples, the sensitivity and the output, --no-model-error",
          "[claim_calibration][cli]") {
  const std::string small = "claim " + kSmallCase + " --metric gpu_hours_per_trillion_tokens --value 180000 "
                            "--samples 8 --seed 3 --format json";
  const auto with = test::run_trainsim(small, false);
  const auto without = test::run_trainsim(small + " --no-model-error", false);
  REQUIRE(with.status == 0);
  REQUIRE(without.status == 0);
  // (Same seed, same output: the sampler's determinism is checked on sample_points above and on the
  // command in test_claim.cpp; a third 79-simulation claim here cost 12 s of the suite.)
  const auto j = nlohmann::json::parse(with.output);
  const auto k = nlohmann::json::parse(without.output);
  // 27 classes the FP8 MoE recipes use; 17 of them have held-out shapes, the other 10 (gemm_bf16's held
  // law, flash attention and its pre/post, rope, router, ...) take fit.model_error_default: all 27 vary.
  REQUIRE(j["calibration_model_form_error"].size() == 27);
  CHECK(k["calibration_model_form_error"].empty());
  CHECK(k["model_form_left_out"] == true);
  CHECK(j["sensitivity"].size() == k["sensitivity"].size() + 27);
  CHECK(j["fixed"].size() == k["fixed"].size());
  CHECK(j["simulations"].get<int>() == k["simulations"].get<int>() + 54);
  // With 8 samples p5..p95 need not widen (the closed-form run_claim case above shows it
  // does in distribution); what must hold for every seed: gemm_fp8 slower at its high
  // multiplier, faster at its low one, than the nominal GPU-hours.
  bool gemm_swept = false;
  for (const auto& w : j["sensitivity"])
    if (w["path"] == "cluster.gpu.calibration.gemm_fp8") {
      gemm_swept = true;
      CHECK(w["metric_at_low"].get<double>() < j["nominal"].get<double>());
      CHECK(w["metric_at_high"].get<double>() > j["nominal"].get<double>());
    }
  CHECK(gemm_swept);
  bool gemm_listed = false;
  for (const auto& m : j["calibration_model_form_error"])
    if (m["path"] == "cluster.gpu.calibration.gemm_fp8") {
      gemm_listed = true;
      CHECK(m["source"].get<std::string>().find("14 shapes: 10th/90th percentiles") != std::string::npos);
    }
  CHECK(gemm_listed);
  // The text lists them under their own heading, with the source of each range.
  const auto text = test::run_trainsim("claim " + kSmallCase + " --metric step_time_s --value 1 --samples 2", false);
  REQUIRE(text.status == 0);
  CHECK_THAT(text.output, Catch::Contains("calibration model-form error (a multiplier on one kernel class's law time") &&
                              Catch::Contains("(19 from the files, 27 calibration model-form error)"));
}

}  // namespace test_claim_calibration
