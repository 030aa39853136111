// Issue 13, second part: recipes (op-pass → kernels), cost laws per kernel class
// (kernel_seconds), and the fit that `trainsim calibrate --write` does. Closed forms,
// an exact recovery of known parameters from synthetic kernel records, hand listings
// of the shipped recipes, and the fit on the shipped DeepSeek-V3 profile (kernel
// records only; leave-one-shape-out errors computed and printed).
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

#include "sim/calibrate/calibration_fit.hpp"
#include "sim/calibrate/cost_laws.hpp"
#include "sim/calibrate/kernel_attribution.hpp"
#include "sim/calibrate/kernel_classes.hpp"
#include "sim/calibrate/kineto_trace.hpp"
#include "sim/calibrate/recipes.hpp"
#include "sim/calibrate/shape_expression.hpp"
#include "sim/config/error.hpp"
#include "sim/config/load.hpp"
#include "sim/model/cost_model.hpp"
#include "tests/support.hpp"

namespace test_recipes {

using namespace trainsim;
using namespace trainsim::calibrate;
namespace fs = std::filesystem;

namespace {

const std::string kDir = std::string(TRAINSIM_SOURCE_DIR) + "/topologies/calibration/";
const std::string kClasses = kDir + "kernel-classes.yaml";
const std::string kLaws = kDir + "laws-h800.yaml";
const std::string kRecipes = kDir + "recipes-fp8-moe.yaml";
const std::string kWorkload = std::string(TRAINSIM_SOURCE_DIR) + "/workloads/deepseek-v3.yaml";
const std::string kShippedTrace = std::string(TRAINSIM_SOURCE_DIR) + "/../shared/reference/deepseek-v3-profile/train.json";

const LayerCost& first_moe_layer(const ModelCost& cost) {
  for (const LayerCost& l : cost.layers)
    if (l.kind == LayerKind::moe) return l;
  FAIL("no MoE layer");
  throw std::logic_error("unreachable");
}

std::vector<PlannedKernel> of(const std::vector<PlannedKernel>& all, const std::string& phase, const std::string& op,
                              OpPass pass) {
  std::vector<PlannedKernel> out;
  for (const PlannedKernel& k : all)
    if (k.phase == phase && k.op == op && k.pass == pass) out.push_back(k);
  return out;
}

std::string temp_file(const std::string& name, const std::string& text) {
  const fs::path path = fs::temp_directory_path() / ("trainsim-recipes-" + std::to_string(getpid()) + "-" + name);
  std::ofstream(path) << text;
  return path.string();
}

CostLaw gemm_law() {
  return CostLaw{.class_name = "gemm_fp8", .form = LawForm::gemm, .peak_flops = 1000e12, .sms = 100,
                 .tile_m = 128, .tile_n = 128, .e_max = 0.7, .k_half = 300};
}

// The shipped class table, laws and recipes, expanded for DeepSeek-V3's first MoE layer
// with the profile's routed rows per GPU.
struct ShippedRecipes {
  KernelClassTable classes = load_kernel_classes(kClasses);
  CostLawTable laws = load_cost_laws(kLaws, classes);
  RecipeSet recipes = load_recipes(kRecipes, laws);
  WorkloadSpec workload = load_workload(kWorkload, {});
  ModelCost cost = model_cost(workload);
  std::vector<PlannedKernel> planned = expand_recipes(recipes, first_moe_layer(cost), workload, {32512, 32128});
};

}  // namespace

TEST_CASE("shape expressions: arithmetic, names, errors", "[recipes]") {
  const ShapeVariables v = {{"m", 4096}, {"k", 7168}, {"heads", 128}};
  CHECK(evaluate_shape("3*m*k", v) == 3.0 * 4096 * 7168);
  CHECK(evaluate_shape("m*k/16", v) == 4096.0 * 7168 / 16);
  CHECK(evaluate_shape("(m + k) * 2 - -1", v) == (4096.0 + 7168) * 2 + 1);
  CHECK(evaluate_shape("k*heads/(heads + 1)", v) == Approx(7168.0 * 128 / 129));
  CHECK_THROWS_WITH(evaluate_shape("3*q", v), Catch::Contains("unknown name \"q\""));
  CHECK_THROWS_AS(evaluate_shape("3*(m", v), std::invalid_argument);
  CHECK_THROWS_AS(evaluate_shape("m/0", v), std::invalid_argument);
  CHECK_THROWS_AS(evaluate_shape("m k", v), std::invalid_argument);
}

TEST_CASE("kernel_seconds: closed forms of the three laws", "[recipes]") {
  CostLaw g = gemm_law();
  // 10 × 10 tiles of 128 on 100 SMs: one full wave.
  const KernelShape full{1280, 1280, 4096, 0, 0};
  CHECK(wave_factor(g, 1280, 1280) == 1.0);
  const double flops = 2.0 * 1280 * 1280 * 4096;
  CHECK(kernel_seconds(g, full) == Approx(flops / (1000e12 * 0.7 * 4096 / (4096 + 300.0))).epsilon(1e-12));
  // 101 tiles: a second wave with one tile; wave factor 101/200.
  CHECK(wave_factor(g, 1280 + 1, 1280 - 127 * 0) == Approx(110.0 / 200));  // 11 × 10 = 110 tiles
  CHECK(wave_factor(g, 128 * 101, 128) == Approx(101.0 / 200));
  const KernelShape ragged{128 * 101, 128, 1024, 0, 0};
  CHECK(kernel_seconds(g, ragged) ==
        Approx(2.0 * 128 * 101 * 128 * 1024 / (1000e12 * 0.7 * 1024 / 1324.0 * 101.0 / 200)).epsilon(1e-12));

  CostLaw mem;
  mem.form = LawForm::memory;
  mem.fixed_s = 5e-6;
  mem.bandwidth = 2e12;
  CHECK(kernel_seconds(mem, {0, 0, 0, 4e9, 0}) == Approx(5e-6 + 2e-3).epsilon(1e-12));
  CHECK(kernel_seconds(mem, {0, 0, 0, 0, 0}) == 5e-6);

  CostLaw attn;
  attn.form = LawForm::attention;
  attn.peak_flops = 800e12;
  attn.efficiency = 0.5;
  CHECK(kernel_seconds(attn, {0, 0, 0, 0, 4e14}) == Approx(1.0).epsilon(1e-12));
}

TEST_CASE("fit_law recovers known parameters from synthetic kernel times exactly", "[recipes]") {
  const CostLaw truth = gemm_law();
  CostLaw prior = truth;
  prior.e_max = 1, prior.k_half = 0;
  std::vector<FitPoint> points;
  for (const double k : {256.0, 512.0, 1536.0, 7168.0, 16384.0}) {
    FitPoint p;
    p.class_name = truth.class_name;
    p.shape = {4096 + k, 1536, k, 0, 2 * (4096 + k) * 1536 * k};
    p.measured_s = kernel_seconds(truth, p.shape);
    points.push_back(p);
  }
  const CostLaw fitted = fit_law(prior, points);
  CHECK(fitted.e_max == Approx(0.7).epsilon(1e-9));
  CHECK(fitted.k_half == Approx(300).epsilon(1e-9));

  const CostLaw mem_truth{.class_name = "norm", .form = LawForm::memory, .fixed_s = 4e-6, .bandwidth = 2.5e12};
  std::vector<FitPoint> mem_points;
  for (const double bytes : {1e6, 8e7, 3e8, 1.2e9}) {
    FitPoint p;
    p.shape.bytes = bytes;
    p.measured_s = kernel_seconds(mem_truth, p.shape);
    mem_points.push_back(p);
  }
  CostLaw mem_prior = mem_truth;
  mem_prior.fixed_s = 0, mem_prior.bandwidth = 1;
  const CostLaw mem = fit_law(mem_prior, mem_points);
  CHECK(mem.fixed_s == Approx(4e-6).epsilon(1e-9));
  CHECK(mem.bandwidth == Approx(2.5e12).epsilon(1e-9));

  CostLaw attn_truth;
  attn_truth.form = LawForm::attention;
  attn_truth.peak_flops = 989.5e12;
  attn_truth.efficiency = 0.61;
  std::vector<FitPoint> attn_points;
  for (const double f : {1e12, 3e12}) {
    FitPoint p;
    p.shape.flops = f;
    p.measured_s = kernel_seconds(attn_truth, p.shape);
    attn_points.push_back(p);
  }
  CostLaw attn_prior = attn_truth;
  attn_prior.efficiency = 1;
  CHECK(fit_law(attn_prior, attn_points).efficiency == Approx(0.61).epsilon(1e-12));
}

TEST_CASE("fit_calibration: synthetic kernel records in, known parameters, exact phases and unmodelled time out",
          "[recipes]") {
  const CostLaw truth = gemm_law();
  const CostLaw mem_truth{
      .class_name = "fp8_quantize_cast_transpose", .form = LawForm::memory, .fixed_s = 3e-6, .bandwidth = 2e12};
  CostLawTable laws;
  laws.file = "synthetic";
  laws.sms_total = 100;
  CostLaw g = truth, m = mem_truth;
  g.e_max = 1, g.k_half = 0, m.fixed_s = 0, m.bandwidth = 1;
  laws.laws = {g, m};

  // One phase, two layers: cast, GEMM per op, 4 ops of different K; plus one kernel no recipe lists.
  std::vector<PlannedKernel> planned;
  const std::vector<double> ks = {512, 1536, 4096, 7168};
  for (std::size_t i = 0; i < ks.size(); ++i) {
    const std::string op = "op" + std::to_string(i);
    planned.push_back({"p(F)", op, OpPass::forward, m.class_name, {0, 0, 0, 3 * 4096 * ks[i] * (1 + static_cast<double>(i)), 0}, {}});
    planned.push_back({"p(F)", op, OpPass::forward, g.class_name,
                       {4096, 2048, ks[i], 0, 2 * 4096.0 * 2048 * ks[i]}, {}});
  }
  CalibrationInput input;
  input.trace_file = "synthetic";
  PhaseKernels phase{"p(F)", {}};
  double expected_phase_s = 0;
  for (int layer = 0; layer < 2; ++layer) {
    std::vector<KernelRecord> records;
    std::int64_t t = 0;
    for (const PlannedKernel& p : planned) {
      const CostLaw& law = p.class_name == truth.class_name ? truth : mem_truth;
      const auto ns = static_cast<std::int64_t>(std::llround(kernel_seconds(law, p.shape) * 1e12));  // picoseconds
      records.push_back({"k", p.class_name, 7, t, ns, std::nullopt});
      t += ns + 2000;  // a 2 ns gap after every kernel
      if (layer == 0) expected_phase_s += static_cast<double>(ns) * 1e-9;
    }
    records.insert(records.begin() + 3, KernelRecord{"stray", "elementwise", 7, 0, 1000, std::nullopt});
    phase.layers.push_back(records);
  }
  input.phases.push_back(phase);
  // Durations were written in picoseconds to keep them exact: scale the laws' time the same way.
  CalibrationFit fit = fit_calibration(input, planned, laws, "synthetic");
  REQUIRE(fit.classes.size() == 2);
  // Fitted on times 1000× the truth: e_max 1000× smaller, k_half and the bandwidth law's shape unchanged.
  CHECK(fit.classes[0].law.e_max * 1000 == Approx(0.7).epsilon(1e-6));
  CHECK(fit.classes[0].law.k_half == Approx(300).epsilon(1e-6));
  CHECK(fit.classes[1].law.fixed_s == Approx(3e-3).epsilon(1e-6));
  CHECK(fit.classes[1].law.bandwidth * 1000 == Approx(2e12).epsilon(1e-6));
  REQUIRE(fit.phases.size() == 1);
  CHECK(fit.phases[0].trace_layers == 2);
  CHECK(fit.phases[0].matched == 8);
  CHECK(fit.phases[0].unmodelled_s == Approx(1000e-9));
  CHECK(fit.phases[0].trace_s == Approx(expected_phase_s + 1000e-9));
  CHECK(fit.phases[0].predicted_s == Approx(expected_phase_s).epsilon(1e-6));
  REQUIRE(fit.unmodelled.size() == 1);
  CHECK(fit.unmodelled[0].name == "stray");
  CHECK(fit.unmodelled[0].count_per_layer == 1);
  CHECK(fit.fitted.launch_gap_s == Approx(2e-6));
  // Four shapes per class: leave-one-out runs, and on exact data predicts each left-out shape exactly.
  REQUIRE(fit.classes[0].leave_one_out.size() == 4);
  for (const LeaveOneOut& l : fit.classes[0].leave_one_out) CHECK(std::abs(l.error()) < 1e-6);
  REQUIRE(fit.loo_median_abs().has_value());
  CHECK(*fit.loo_median_abs() < 1e-6);
}

TEST_CASE("recipes: one FP8 linear and one MoE layer of DeepSeek-V3 expand to the hand listing", "[recipes]") {
  const ShippedRecipes shipped;
  const auto& [classes, laws, recipes, workload, cost, planned] = shipped;

  // attn.q_down = [4096 × 7168]·[7168 × 1536] in FP8.
  const auto f = of(planned, "attn(F)", "attn.q_down", OpPass::forward);
  REQUIRE(f.size() == 3);
  CHECK(f[0].class_name == "fp8_quantize_cast_transpose");
  CHECK(f[0].shape.bytes == 3.0 * 4096 * 7168);  // BF16 read, FP8 + FP32/128 scales written
  CHECK(f[1].class_name == "fp8_scale_transpose");
  CHECK(f[1].shape.bytes == 4096.0 * 7168 / 16);
  CHECK(f[2].class_name == "gemm_fp8");
  CHECK((f[2].shape.m == 4096 && f[2].shape.n == 1536 && f[2].shape.k == 7168));
  CHECK(f[2].shape.flops == 2.0 * 4096 * 1536 * 7168);
  const auto b = of(planned, "attn(B)", "attn.q_down", OpPass::backward_input);
  REQUIRE(b.size() == 6);
  CHECK(b[3].class_name == "gemm_fp8");
  CHECK((b[3].shape.m == 4096 && b[3].shape.n == 7168 && b[3].shape.k == 1536));  // dX = dY·Wᵀ
  const auto w = of(planned, "attn(W)", "attn.q_down", OpPass::backward_weight);
  REQUIRE(w.size() == 1);
  CHECK(w[0].class_name == "gemm_fp8_wgrad");
  CHECK((w[0].shape.m == 1536 && w[0].shape.n == 7168 && w[0].shape.k == 4096));  // reduction over the tokens

  // Kernels per phase (the profile's counts per layer, kernel-attribution.md).
  std::map<std::string, int> per_phase;
  for (const PlannedKernel& k : planned) ++per_phase[k.phase];
  CHECK(per_phase == std::map<std::string, int>{{"attn(F)", 69}, {"mlp(F)", 20}, {"mlp(B)", 29},
                                                 {"attn(B)", 101}, {"mlp(W)", 12}, {"attn(W)", 5}});
  // mlp(W): shared down W, cast, four routed down W (one per local expert), cast, four routed gate_up W, shared gate_up W.
  std::vector<std::string> mlp_w;
  for (const PlannedKernel& k : planned)
    if (k.phase == "mlp(W)") mlp_w.push_back(k.op + " " + k.class_name);
  CHECK(mlp_w == std::vector<std::string>{
                     "moe.shared.down gemm_fp8_wgrad", "moe.routed.down fp8_cast_transpose",
                     "moe.routed.down gemm_fp8_wgrad", "moe.routed.down gemm_fp8_wgrad",
                     "moe.routed.down gemm_fp8_wgrad", "moe.routed.down gemm_fp8_wgrad",
                     "moe.routed.gate_up fp8_cast_transpose", "moe.routed.gate_up gemm_fp8_wgrad",
                     "moe.routed.gate_up gemm_fp8_wgrad", "moe.routed.gate_up gemm_fp8_wgrad",
                     "moe.routed.gate_up gemm_fp8_wgrad", "moe.shared.gate_up gemm_fp8_wgrad"});
  const auto routed_w = of(planned, "mlp(W)", "moe.routed.gate_up", OpPass::backward_weight);
  CHECK((routed_w[1].shape.m == 4096 && routed_w[1].shape.n == 7168 && routed_w[1].shape.k == 32128.0 / 4));
  const auto routed_f = of(planned, "mlp(F)", "moe.routed.gate_up", OpPass::forward);
  CHECK(routed_f[5].class_name == "grouped_gemm_fp8");
  CHECK(routed_f[5].shape.m == 32512);
  // Attention from its FLOPs per pass: the cost model's.
  const OpCost* core = first_moe_layer(cost).find("attn.core");
  CHECK(of(planned, "attn(F)", "attn.core", OpPass::forward)[0].shape.flops == core->flops_fwd);
  CHECK(of(planned, "attn(B)", "attn.core", OpPass::backward_input)[1].shape.flops == core->flops_bwd_input);
  // Without measured rows the routed GEMMs take the cost model's tokens × top_k.
  const auto plain = expand_recipes(recipes, first_moe_layer(cost), workload);
  CHECK(of(plain, "mlp(F)", "moe.routed.gate_up", OpPass::forward)[5].shape.m == 4096.0 * 8);
}

TEST_CASE("recipes and laws: bad files are FILE:LINE:COL errors", "[recipes]") {
  const KernelClassTable classes = load_kernel_classes(kClasses);
  const CostLawTable laws = load_cost_laws(kLaws, classes);
  auto recipe_error = [&](const std::string& text) -> std::string {
    const std::string file = temp_file("r.yaml", text);
    try {
      (void)load_recipes(file, laws);
    } catch (const InputError& e) {
      fs::remove(file);
      return e.what();
    }
    fs::remove(file);
    return "no error";
  };
  const std::string head = "name: t\nsource: t\nphases:\n  - phase: x\n    steps:\n";
  // Each kernel line, and what its error must say besides the position (line 6 of the file).
  const std::vector<std::pair<std::string, std::string>> bad_lines = {
      {"{class: nope, bytes: m}", "no cost law for this class"},
      {"{class: norm, bytes: m, colour: red}", "colour"},
      {"{class: norm, bytes: \"3*q\"}", "unknown name \"q\""},
      {"{class: norm, m: m}", "memory law"},
      {"{class: gemm_fp8, m: m, n: n}", "k"},
  };
  for (const auto& [kernel, says] : bad_lines)
    CHECK_THAT(recipe_error(head + "      - {op: a, pass: F, kernels: [" + kernel + "]}\n"),
               Catch::Contains("r.yaml:6:") && Catch::Contains(says));
  CHECK_THAT(recipe_error(head + "      - {op: a, pass: X, kernels: [{class: norm, bytes: m}]}\n"),
             Catch::Contains("r.yaml:6:"));

  // An op the layer lacks: at the op's name, when the recipes are expanded.
  const std::string file = temp_file("op.yaml", head + "      - {op: attn.q_dwn, pass: F, kernels: [{class: norm, bytes: bytes}]}\n");
  const RecipeSet set = load_recipes(file, laws);
  const WorkloadSpec workload = load_workload(kWorkload, {});
  const ModelCost cost = model_cost(workload);
  CHECK_THROWS_WITH(expand_recipes(set, first_moe_layer(cost), workload),
                    Catch::Contains("op.yaml:6:") && Catch::Contains("\"attn.q_dwn\" is not an op"));
  fs::remove(file);

  const std::string laws_file = temp_file("l.yaml", "name: l\ngpu: g\nsource: s\nsms_total: 132\nlaws:\n  - {class: nope, law: memory}\n");
  CHECK_THROWS_WITH(load_cost_laws(laws_file, classes), Catch::Contains("l.yaml:6:") && Catch::Contains("not a class"));
  fs::remove(laws_file);

  // The CLI: exit 2 with the position.
  const auto r = test::run_trainsim("calibrate tests/calibrate/tiny-trace.json --fit --recipes tests/recipes/bad-recipes.yaml");
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Catch::Contains("bad-recipes.yaml:9:") && Catch::Contains("colour"));
}

TEST_CASE("calibrate on the shipped DeepSeek-V3 profile: kernel records only, fit, leave-one-out, --write",
          "[recipes][shipped]") {
  if (!fs::exists(kShippedTrace)) {
    WARN("no shared reference trace at " << kShippedTrace << "; skipped");
    return;
  }
  const ShippedRecipes shipped;
  const auto& [classes, laws, recipes, workload, cost, planned] = shipped;
  const TraceAttribution attribution = attribute_kernels(read_kineto_trace(kShippedTrace), classes);
  const CalibrationFit fit = fit_calibration(calibration_input(attribution), planned, laws, kRecipes);

  // The calibration inputs are kernel records: an attribution stripped of every total,
  // summary, stream and class figure (leaving the per-layer kernel records alone) gives
  // the same fit, parameter for parameter.
  TraceAttribution stripped;
  stripped.trace_file = attribution.trace_file;
  for (const PhaseSummary& p : attribution.phases) {
    PhaseSummary s;
    s.name = p.name;
    for (const PhaseInstance& i : p.layers) {
      PhaseInstance only_records;
      only_records.compute_kernels = i.compute_kernels;
      s.layers.push_back(only_records);
    }
    stripped.phases.push_back(s);
  }
  const CalibrationFit again = fit_calibration(calibration_input(stripped), planned, laws, kRecipes);
  REQUIRE(again.classes.size() == fit.classes.size());
  for (std::size_t c = 0; c < fit.classes.size(); ++c)
    for (std::size_t p = 0; p < fit.classes[c].parameters.size(); ++p)
      CHECK(again.classes[c].parameters[p].value == fit.classes[c].parameters[p].value);
  CHECK(again.fitted.launch_gap_s == fit.fitted.launch_gap_s);
  // Every point is a recipe kernel with its measured kernel time, nothing else.
  for (const FitPoint& p : fit.points) CHECK(p.layers_matched >= 1);

  // The trace's compute kernel time per layer pair: kernel-attribution.md's 32,385 µs.
  double trace_s = 0, unmodelled_s = 0;
  for (const PhaseComparison& p : fit.phases) trace_s += p.trace_s, unmodelled_s += p.unmodelled_s;
  CHECK(trace_s * 1e6 == Approx(32385).epsilon(0.001));
  CHECK(unmodelled_s * 1e6 < 50);  // the recipes cover all but a few µs per layer pair, and say which
  // The seven dense FP8 GEMMs F and B (14 shapes, 16 kernels with the recompute).
  const ClassFit* gemm = nullptr;
  for (const ClassFit& c : fit.classes)
    if (c.law.class_name == "gemm_fp8") gemm = &c;
  REQUIRE(gemm != nullptr);
  CHECK(gemm->points == 16);
  CHECK(gemm->shapes == 14);
  REQUIRE(gemm->leave_one_out.size() == 14);
  REQUIRE(gemm->loo_median_abs.has_value());
  for (const FittedParameter& p : gemm->parameters) CHECK((p.low <= p.value && p.value <= p.high));
  REQUIRE(fit.loo_median_abs().has_value());

  // Text and JSON carry the leave-one-out errors; print them (the check, reported as it comes out).
  std::ostringstream text;
  write_calibration_text(text, fit);
  CHECK_THAT(text.str(), Catch::Contains("Leave one shape out") && Catch::Contains("median |error|"));
  const auto json = calibration_json(fit);
  CHECK(json["classes"][0]["leave_one_out"].size() == 14);
  CHECK(json["leave_one_out_median_abs"].is_number());
  WARN("leave-one-shape-out median |error| over all classes: " << 100 * *fit.loo_median_abs() << " %; gemm_fp8 "
                                                               << 100 * *gemm->loo_median_abs << " %");

  // --write: a calibration file in the laws format that loads back with the fitted parameters.
  const std::string out = temp_file("cal.yaml", "");
  {
    std::ofstream file(out);
    write_calibration_yaml(file, fit);
  }
  const CostLawTable back = load_cost_laws(out, classes);
  CHECK(back.launch_gap_s == Approx(fit.fitted.launch_gap_s).epsilon(1e-3));
  const CostLaw* g = back.find("gemm_fp8");
  REQUIRE(g != nullptr);
  CHECK(g->e_max == Approx(gemm->law.e_max).epsilon(1e-5));
  CHECK(g->k_half == Approx(gemm->law.k_half).epsilon(1e-5));
  CHECK(g->peak_flops == Approx(gemm->law.peak_flops).epsilon(1e-5));
  fs::remove(out);
}

TEST_CASE("recipes: the BF16 dense set expands for Llama 3 8B to the hand listing", "[recipes]") {
  const KernelClassTable classes = load_kernel_classes(kClasses);
  const CostLawTable laws = load_cost_laws(kLaws, classes);
  const RecipeSet recipes = load_recipes(kDir + "recipes-bf16-dense.yaml", laws);
  const WorkloadSpec workload = load_workload(std::string(TRAINSIM_SOURCE_DIR) + "/workloads/llama3-8b.yaml", {});
  const ModelCost cost = model_cost(workload);
  const LayerCost* dense = nullptr;
  for (const LayerCost& l : cost.layers)
    if (l.kind == LayerKind::dense && dense == nullptr) dense = &l;
  REQUIRE(dense != nullptr);
  const auto planned = expand_recipes(recipes, *dense, workload);
  // 8 + 5 + 7 + 15 kernels; one BF16 GEMM per linear and pass, no casts.
  CHECK(planned.size() == 35);
  int gemms = 0;
  for (const PlannedKernel& k : planned) gemms += k.class_name == "gemm_bf16";
  CHECK(gemms == 3 * 6);  // q, k, v, o, gate_up, down × F, B, W
  // attn.k_proj = [8192 × 4096]·[4096 × 1024] (GQA: 8 KV heads of 128).
  const auto f = of(planned, "attn(F)", "attn.k_proj", OpPass::forward);
  REQUIRE(f.size() == 1);
  CHECK((f[0].shape.m == 8192 && f[0].shape.n == 1024 && f[0].shape.k == 4096));
  const auto w = of(planned, "attn(B)", "attn.k_proj", OpPass::backward_weight);
  REQUIRE(w.size() == 1);
  CHECK((w[0].shape.m == 1024 && w[0].shape.n == 4096 && w[0].shape.k == 8192));
  const auto core = of(planned, "attn(B)", "attn.core", OpPass::backward_input);
  REQUIRE(core.size() == 3);
  CHECK(core[0].shape.bytes == 8192.0 * 32 * 128 * 4);  // tokens × heads × d_v × (O + dO in BF16)
}

}  // namespace test_recipes
