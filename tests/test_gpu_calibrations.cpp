// H100 and A100 calibrations from public kernel benchmarks (issue 13, brief B):
// topologies/calibration/{h100,a100}-kernel-benchmarks.yaml load, every law names a
// kernel-level source, an FP8 workload on the A100 (no FP8 tensor cores) is refused,
// and llama3-8b on a100-1024 takes its op seconds from the recipe kernels' laws.
#include <algorithm>
#include <yaml-cpp/yaml.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "sim/calibrate/kernel_classes.hpp"
#include "sim/calibrate/step_calibration.hpp"
#include "sim/config/load.hpp"
#include "sim/model/cost_model.hpp"
#include "tests/support.hpp"

namespace test_gpu_calibrations {

namespace {

using namespace trainsim;
const std::string kRoot = std::string(TRAINSIM_SOURCE_DIR) + "/";
const std::string kCal = kRoot + "topologies/calibration/";

calibrate::CostLawTable laws_of(const std::string& file) {
  return calibrate::load_cost_laws(kCal + file, calibrate::load_kernel_classes(kCal + "kernel-classes.yaml"));
}

bool contains_any(const std::string& text, const std::vector<std::string>& words) {
  for (const std::string& w : words)
    if (text.find(w) != std::string::npos) return true;
  return false;
}

// Words that name a kernel-level source; and what a training run's figure would be called.
const std::vector<std::string> kKernelSources = {"benchmark", "datasheet", "kernel record", "paper", "MAMF"};
const std::vector<std::string> kRunFigures = {"MFU", "step time", "tokens/s", "GPU-hours", "GPU hours", "tokens per second"};

}  // namespace

TEST_CASE("H100 and A100 calibration files load with their GPUs' SMs and peaks", "[gpu_calibrations]") {
  const calibrate::CostLawTable h100 = laws_of("h100-kernel-benchmarks.yaml");
  CHECK(h100.sms_total == 132);
  CHECK(h100.launch_gap_s == Approx(2e-6));
  const calibrate::CostLaw* h_gemm = h100.find("gemm_bf16");
  REQUIRE(h_gemm != nullptr);
  CHECK(h_gemm->sms == 132);
  CHECK(h_gemm->peak_flops == Approx(989.5e12).epsilon(1e-12));
  // The fit reproduces the 8192^3 benchmark (797.51 TFLOPS) within its model error.
  const double tflops_8192 = 2.0 * 8192 * 8192 * 8192 / calibrate::kernel_seconds(*h_gemm, {8192, 8192, 8192, 0, 0}) / 1e12;
  CHECK(std::abs(tflops_8192 / 797.51 - 1) < 0.02);
  REQUIRE(h100.find("gemm_fp8") != nullptr);  // DeepSeek-V3 (FP8) on H100 has its classes

  const calibrate::CostLawTable a100 = laws_of("a100-kernel-benchmarks.yaml");
  CHECK(a100.sms_total == 108);
  const calibrate::CostLaw* a_gemm = a100.find("gemm_bf16");
  REQUIRE(a_gemm != nullptr);
  CHECK(a_gemm->peak_flops == Approx(312e12).epsilon(1e-12));
  // Both MAMF shapes it was fitted to, within 0.5 % (an exact two-point fit, rounded parameters).
  const double t1 = calibrate::kernel_seconds(*a_gemm, {1024, 10240, 5120, 0, 0});
  const double t2 = calibrate::kernel_seconds(*a_gemm, {6912, 16384, 2048, 0, 0});
  CHECK(std::abs(2.0 * 1024 * 10240 * 5120 / t1 / 271.2e12 - 1) < 0.005);
  CHECK(std::abs(2.0 * 6912 * 16384 * 2048 / t2 / 267.9e12 - 1) < 0.005);
  // No FP8 class on a GPU without FP8 tensor cores.
  for (const char* fp8 : {"gemm_fp8", "gemm_fp8_wgrad", "grouped_gemm_fp8", "fp8_quantize_cast_transpose"})
    CHECK(a100.find(fp8) == nullptr);
}

TEST_CASE("every law and fitted class of the H100 and A100 files names a kernel-level source", "[gpu_calibrations]") {
  for (const char* file : {"h100-kernel-benchmarks.yaml", "a100-kernel-benchmarks.yaml"}) {
    INFO(file);
    const YAML::Node root = YAML::LoadFile(kCal + file);
    REQUIRE(root["laws"].size() > 5);
    for (const YAML::Node& law : root["laws"]) {
      const std::string about = law["about"] ? law["about"].as<std::string>() : "";
      INFO(law["class"].as<std::string>() << ": " << about);
      CHECK(contains_any(about, kKernelSources));
      CHECK_FALSE(contains_any(about, kRunFigures));
    }
    REQUIRE(root["fit"]["classes"].size() > 3);
    for (const YAML::Node& cls : root["fit"]["classes"]) {
      const std::string source = cls["source"].as<std::string>();
      INFO(cls["class"].as<std::string>() << ": " << source);
      CHECK_FALSE(source.empty());
      CHECK_FALSE(contains_any(source, kRunFigures));
      if (cls["model_error"]) CHECK(cls["model_error"]["low"].as<double>() <= cls["model_error"]["high"].as<double>());
    }
  }
}

TEST_CASE("the H100 file's laws taken from the H800 fit are the H800 file's (scripts/derive-calibrations is current)",
          "[gpu_calibrations]") {
  const calibrate::CostLawTable h800 = laws_of("h800-deepseek-v3.yaml");
  const calibrate::CostLawTable h100 = laws_of("h100-kernel-benchmarks.yaml");
  const std::vector<std::string> own = {"gemm_bf16", "gemm_other", "attention_fwd", "attention_bwd"};
  for (const calibrate::CostLaw& law : h800.laws) {
    if (std::find(own.begin(), own.end(), law.class_name) != own.end()) continue;
    INFO(law.class_name);
    const calibrate::CostLaw* copy = h100.find(law.class_name);
    REQUIRE(copy != nullptr);
    CHECK(copy->form == law.form);
    CHECK(copy->e_max == law.e_max);
    CHECK(copy->k_half == law.k_half);
    CHECK(copy->fixed_s == law.fixed_s);
    CHECK(copy->bandwidth == law.bandwidth);
    CHECK(copy->efficiency == law.efficiency);
  }
}

TEST_CASE("the H100 file carries the H800 fit's two-stream overlap law", "[gpu_calibrations]") {
  const YAML::Node h800 = YAML::LoadFile(kCal + "h800-deepseek-v3.yaml")["fit"]["stream_overlaps"];
  const YAML::Node h100 = YAML::LoadFile(kCal + "h100-kernel-benchmarks.yaml")["fit"]["stream_overlaps"];
  REQUIRE(h800.size() > 0);
  REQUIRE(h100.size() == h800.size());
  for (std::size_t i = 0; i < h800.size(); ++i) {
    CHECK(h100[i]["phase"].as<std::string>() == h800[i]["phase"].as<std::string>());
    CHECK(h100[i]["alpha"]["value"].as<double>() == h800[i]["alpha"]["value"].as<double>());
  }
}

TEST_CASE("an FP8 workload on the A100 cluster is refused at its precision key, exit 2", "[gpu_calibrations]") {
  const std::string base = "check --cluster topologies/a100-1024.yaml --workload workloads/llama3-8b.yaml --set workload.parallelism.dp=256";
  CHECK(test::run_trainsim(base).status == 0);
  for (const char* key : {"gemm", "attention"}) {
    const test::CommandResult r = test::run_trainsim(base + " --set workload.training.precision." + key + "=fp8");
    INFO(r.output);
    CHECK(r.status == 2);
    CHECK(r.output.find("training.precision." + std::string(key) + ": fp8 needs FP8 tensor cores") != std::string::npos);
    CHECK(r.output.find("has none (gpu.peak_tflops.fp8 is absent)") != std::string::npos);
  }
  // DeepSeek-V3 (FP8 GEMMs) on the A100 cluster, with its GPU count matched.
  const test::CommandResult v3 =
      test::run_trainsim("check --cluster topologies/a100-1024.yaml --set cluster.nodes=256");
  CHECK(v3.status == 2);
  CHECK(v3.output.find("fp8 needs FP8 tensor cores") != std::string::npos);
}

TEST_CASE("llama3-8b on a100-1024: an op-pass costs the hand sum of its recipe kernels' laws plus a gap each",
          "[gpu_calibrations]") {
  const ClusterSpec c = load_cluster(kRoot + "topologies/a100-1024.yaml", {});
  const WorkloadSpec w = load_workload(kRoot + "workloads/llama3-8b.yaml", parse_overrides({"workload.parallelism.dp=256"}));
  CHECK(c.gpu.peak_flops_fp8 == 0);  // absent key
  const auto cal = calibrate::load_step_calibration(c, w);
  REQUIRE(cal.has_value());
  const ModelCost cost = model_cost(w);
  const LayerCost& layer = cost.layers.at(1);
  const calibrate::CalibratedOpPasses passes = calibrate::calibrated_op_passes(*cal, layer, w, 1);
  const double gap = 2e-6;

  // attn.q_proj forward: one cuBLAS BF16 GEMM [8192 x 4096] . [4096 x 4096] (seq 8192, micro-batch 1, tp 1).
  const OpCost* q = layer.find("attn.q_proj");
  REQUIRE(q != nullptr);
  CHECK(q->gemm_m == 8192);
  CHECK(q->gemm_n == 4096);
  CHECK(q->gemm_k == 4096);
  const double tiles = 64.0 * 32.0;            // ceil(8192/128) x ceil(4096/128)
  const double wave = tiles / (19 * 108.0);    // 2048 tiles: 19 waves of 108 SMs
  const double eff = 0.8950 * 4096 / (4096 + 86.7);
  const double q_f = 2.0 * 8192 * 4096 * 4096 / (312e12 * eff * wave) + gap;
  const auto qf = passes.at({"attn.q_proj", calibrate::OpPass::forward});
  CHECK(qf.kernels == 1);
  CHECK(qf.all_sms == Approx(q_f).epsilon(1e-12));
  // Its input gradient: [8192 x 4096] . [4096 x 4096] again (m, k, n of the recipe).
  CHECK(passes.at({"attn.q_proj", calibrate::OpPass::backward_input}).all_sms == Approx(q_f).epsilon(1e-12));

  // attn.core backward: FlashAttention-2 preprocess + main kernel + dQ convert, 3 gaps.
  const OpCost* core = layer.find("attn.core");
  REQUIRE(core != nullptr);
  const double rows = 8192.0 * 32 * 128;  // tokens x heads x head dim
  const double core_b = rows * 4 / 637.598e9 + core->flops_bwd_input / (312e12 * 0.63) + rows * 6 / 1676.7e9 + 3 * gap;
  const auto cb = passes.at({"attn.core", calibrate::OpPass::backward_input});
  CHECK(cb.kernels == 3);
  CHECK(cb.all_sms == Approx(core_b).epsilon(1e-12));
  // Forward: FLOPs at 73 % of 312 TFLOPS.
  CHECK(passes.at({"attn.core", calibrate::OpPass::forward}).all_sms ==
        Approx(core->flops_fwd / (312e12 * 0.73) + gap).epsilon(1e-12));
}

}  // namespace test_gpu_calibrations
