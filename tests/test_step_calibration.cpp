// The step model on a calibration (issue 13, third part; sim/calibrate/step_calibration.hpp):
// an op-pass the recipes list takes its recipe kernels' law times plus a launch gap each;
// without a calibration, op_time as before; a bad calibration path is FILE:LINE:COL, exit 2.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "sim/calibrate/step_calibration.hpp"
#include "sim/config/load.hpp"
#include "sim/model/op_time.hpp"
#include "sim/parallel/layer_plan.hpp"
#include "tests/support.hpp"

namespace test_step_calibration {

namespace {

using namespace trainsim;
const std::string kRoot = std::string(TRAINSIM_SOURCE_DIR) + "/";

ClusterSpec h800(const std::vector<std::string>& sets = {}) {
  return load_cluster(kRoot + "topologies/h800-2048.yaml", parse_overrides(sets));
}
WorkloadSpec deepseek(const std::vector<std::string>& sets = {}) {
  return load_workload(kRoot + "workloads/deepseek-v3.yaml", parse_overrides(sets));
}
const LayerCost& first_moe_layer(const ModelCost& cost) {
  for (const LayerCost& l : cost.layers)
    if (l.kind == LayerKind::moe) return l;
  FAIL("no MoE layer");
  return cost.layers.front();
}

Pass pass_of(calibrate::OpPass p) {
  switch (p) {
    case calibrate::OpPass::forward: return Pass::forward;
    case calibrate::OpPass::backward_input: return Pass::backward_input;
    case calibrate::OpPass::backward_weight: return Pass::backward_weight;
    case calibrate::OpPass::recompute: return Pass::recompute;
  }
  return Pass::forward;
}

}  // namespace

TEST_CASE("calibrated kernel: the law at its fitted SMs, scaled to all SMs and to the SMs beside communication",
          "[step_calibration]") {
  const ClusterSpec c = h800();
  const WorkloadSpec w = deepseek();
  const auto cal = calibrate::load_step_calibration(c, w);
  REQUIRE(cal.has_value());
  const calibrate::CostLaw* gemm = cal->laws.find("gemm_fp8");
  REQUIRE(gemm != nullptr);
  REQUIRE(gemm->sms == 112);
  REQUIRE(cal->laws.sms_total == 132);
  // attn.q_down forward: [4096 x 7168] . [7168 x 1536] on 112 SMs, by hand.
  calibrate::PlannedKernel k;
  k.class_name = "gemm_fp8";
  k.shape = {4096, 1536, 7168, 0, 0};
  const double tiles = 32.0 * 12.0;                  // ceil(4096/128) x ceil(1536/128)
  const double wave = tiles / (4 * 112.0);           // 384 tiles: 4 waves of 112
  const double peak_112 = gemm->peak_flops;  // the file's 1979 TFLOP/s x 112/132
  CHECK(peak_112 == Approx(1979e12 * 112 / 132).epsilon(1e-9));
  const double eff = gemm->e_max * 7168 / (7168 + gemm->k_half);
  const double at_112 = 2.0 * 4096 * 1536 * 7168 / (peak_112 * eff * wave);
  CHECK(calibrated_kernel_seconds(cal->laws, k, 1) == Approx(at_112 * 112 / 132).epsilon(1e-12));
  CHECK(calibrated_kernel_seconds(cal->laws, k, 112.0 / 132) == Approx(at_112).epsilon(1e-12));
  // A memory-bound kernel keeps its time whatever the SMs.
  const calibrate::CostLaw* norm = cal->laws.find("norm");
  REQUIRE(norm != nullptr);
  calibrate::PlannedKernel m;
  m.class_name = "norm";
  m.shape.bytes = 1e8;
  const double by_hand = norm->fixed_s + 1e8 / norm->bandwidth;
  CHECK(calibrated_kernel_seconds(cal->laws, m, 1) == Approx(by_hand).epsilon(1e-12));
  CHECK(calibrated_kernel_seconds(cal->laws, m, 0.5) == Approx(by_hand).epsilon(1e-12));
}

TEST_CASE("calibrated MoE layer: F/B/W block seconds are the hand sum of its recipe kernels + gaps",
          "[step_calibration]") {
  const ClusterSpec c = h800();
  const WorkloadSpec w = deepseek();
  REQUIRE(w.parallelism.comm_sms == 20);
  const auto cal = calibrate::load_step_calibration(c, w);
  REQUIRE(cal.has_value());
  const ModelCost cost = model_cost(w);
  const LayerCost& layer = first_moe_layer(cost);
  const step::LayerPlan plan = step::plan_layer(layer, c, w, &*cal);

  // The hand sum: every recipe kernel of an op this layer has, by block and pass;
  // recompute kernels of ops the workload recomputes; routed experts on one GPU's share
  // of the weight bytes (ep 64). Op-passes no recipe lists keep op_time.
  LayerCost local = layer;
  for (OpCost& op : local.ops)
    if (op.block == OpBlock::routed_experts) {
      const double foreign = op.params * (1.0 - 1.0 / w.parallelism.ep);
      op.bytes_fwd -= foreign * element_bytes(op.precision);
      op.bytes_bwd_input -= foreign * element_bytes(op.precision);
      op.bytes_bwd_weight -= foreign * w.training.optimizer.gradient_bytes;
    }
  double f[2] = {0, 0}, b[2] = {0, 0}, wt[2] = {0, 0}, f_shared[2] = {0, 0};
  std::set<std::pair<std::string, Pass>> listed;
  const double gap = cal->laws.launch_gap_s;
  REQUIRE(gap == Approx(2e-6));
  const double share = 112.0 / 132;
  int kernels = 0;
  for (const calibrate::PlannedKernel& k : calibrate::expand_recipes(cal->recipes, local, w)) {
    const OpCost* op = local.find(k.op);
    REQUIRE(op != nullptr);  // every op of the FP8 MoE recipes is an op of a DeepSeek-V3 MoE layer
    const Pass pass = pass_of(k.pass);
    if (pass == Pass::recompute && op->recompute_flops <= 0 && op->recompute_bytes <= 0) continue;
    listed.insert({k.op, pass});
    ++kernels;
    const calibrate::CostLaw* law = cal->laws.find(k.class_name);
    REQUIRE(law != nullptr);
    // The routed weight-gradient GEMMs share the SMs over 2 streams: the file's mlp(W) overlap law,
    // alpha 0.8072, gives each 1/2 + alpha/2 of its solo time.
    const double t = kernel_seconds(*law, k.shape) * (k.streams == 2 ? 0.5 + 0.5 * 0.8072 : 1);
    const bool sm_bound = law->form != calibrate::LawForm::memory;
    const double all = (sm_bound ? t * law->sms / 132 : t) + gap;
    const double beside = (sm_bound ? t * law->sms / 132 / share : t) + gap;
    const int blk = step::in_mlp_block(op->block) ? 1 : 0;
    if (pass == Pass::forward) f[blk] += all, f_shared[blk] += beside;
    if (pass == Pass::backward_input || pass == Pass::recompute) b[blk] += all;
    if (pass == Pass::backward_weight) wt[blk] += all;
  }
  CHECK(kernels > 200);  // the profile's ~232 kernels per layer pair
  for (const OpCost& op : local.ops) {
    const int blk = step::in_mlp_block(op.block) ? 1 : 0;
    for (const Pass pass : {Pass::forward, Pass::backward_input, Pass::backward_weight, Pass::recompute}) {
      if (listed.count({op.name, pass}) != 0) continue;
      const double t = op_seconds(op, pass, c, 1);
      if (pass == Pass::forward) f[blk] += t, f_shared[blk] += op_seconds(op, pass, c, share);
      if (pass == Pass::backward_input || pass == Pass::recompute) b[blk] += t;
      if (pass == Pass::backward_weight) wt[blk] += t;
    }
  }
  CHECK(plan.attn.f == Approx(f[0]).epsilon(1e-12));
  CHECK(plan.attn.b == Approx(b[0]).epsilon(1e-12));
  CHECK(plan.attn.w == Approx(wt[0]).epsilon(1e-12));
  CHECK(plan.mlp.f == Approx(f[1]).epsilon(1e-12));
  CHECK(plan.mlp.b == Approx(b[1]).epsilon(1e-12));
  CHECK(plan.mlp.w == Approx(wt[1]).epsilon(1e-12));
  CHECK(plan.attn.f_shared == Approx(f_shared[0]).epsilon(1e-12));
  CHECK(plan.mlp.f_shared == Approx(f_shared[1]).epsilon(1e-12));
  // The calibrated layer is slower than op_time's (issue 13: 32.4 ms of kernels in the profile).
  const step::LayerPlan old_plan = step::plan_layer(layer, c, w);
  CHECK(plan.seconds() > old_plan.seconds());
}

TEST_CASE("without a calibration, or without recipes, the layer plan is op_time's", "[step_calibration]") {
  const WorkloadSpec w = deepseek();
  const ClusterSpec h100 =
      load_cluster(kRoot + "topologies/h100-2048.yaml", parse_overrides({"cluster.gpu.calibration=none"}));
  CHECK_FALSE(calibrate::load_step_calibration(h100, w).has_value());  // calibration switched off
  const ModelCost cost = model_cost(w);
  const LayerCost& layer = first_moe_layer(cost);
  const step::LayerPlan plan = step::plan_layer(layer, h100, w);
  double attn_f = 0;
  for (const OpCost& op : layer.ops)
    if (!step::in_mlp_block(op.block)) attn_f += op_seconds(op, Pass::forward, h100, 1);
  CHECK(plan.attn.f == Approx(attn_f).epsilon(1e-12));
  // A workload without training.recipes on the calibrated H800 cluster: op_time too.
  WorkloadSpec bare = w;
  bare.training.recipes.clear();
  const ClusterSpec c = h800();
  CHECK_FALSE(calibrate::load_step_calibration(c, bare).has_value());
  // `none` is the declared default of both keys: no calibration.
  CHECK_FALSE(calibrate::load_step_calibration(c, deepseek({"training.recipes=none"})).has_value());
  CHECK_FALSE(calibrate::load_step_calibration(h800({"gpu.calibration=none"}), w).has_value());
  const step::LayerPlan on_h800 = step::plan_layer(layer, c, bare);
  double attn_f_h800 = 0;
  for (const OpCost& op : layer.ops)
    if (!step::in_mlp_block(op.block)) attn_f_h800 += op_seconds(op, Pass::forward, c, 1);
  CHECK(on_h800.attn.f == Approx(attn_f_h800).epsilon(1e-12));
}

TEST_CASE("a missing or bad calibration path is FILE:LINE:COL, exit 2", "[step_calibration]") {
  using trainsim::test::run_trainsim;
  const std::string base = "check --cluster topologies/h800-2048.yaml --workload workloads/deepseek-v3.yaml ";
  // In the cluster file: a copy of h800-2048.yaml in a folder without calibration/.
  const std::string dir = std::filesystem::temp_directory_path() / "trainsim-step-calibration";
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(kRoot + "topologies/h800-2048.yaml", dir + "/c.yaml",
                             std::filesystem::copy_options::overwrite_existing);
  int line = 0, col = 0;
  {
    std::ifstream in(dir + "/c.yaml");
    std::string text;
    for (int n = 1; std::getline(in, text); ++n)
      if (const auto at = text.find("calibration: calibration/"); at != std::string::npos) line = n, col = static_cast<int>(at) + 1;  // the key
  }
  REQUIRE(line > 0);
  const auto missing = run_trainsim("check --cluster " + dir + "/c.yaml --workload workloads/deepseek-v3.yaml");
  CHECK(missing.status == 2);
  CHECK(missing.output == dir + "/c.yaml:" + std::to_string(line) + ":" + std::to_string(col) +
                              ": calibration file \"" + dir + "/calibration/h800-deepseek-v3.yaml\" is not a file\n");
  const auto set_missing = run_trainsim(base + "--set gpu.calibration=calibration/nope.yaml");
  CHECK(set_missing.status == 2);
  CHECK_THAT(set_missing.output, Catch::Contains("calibration file \"topologies/calibration/nope.yaml\" is not a file"));
  const auto not_laws = run_trainsim(base + "--set gpu.calibration=calibration/recipes-fp8-moe.yaml");
  CHECK(not_laws.status == 2);
  CHECK_THAT(not_laws.output, Catch::Matches(".*calibration/recipes-fp8-moe\\.yaml:[0-9]+:[0-9]+: .*\n"));
  const auto no_recipes = run_trainsim(base + "--set training.recipes=recipes-none");
  CHECK(no_recipes.status == 2);
  CHECK_THAT(no_recipes.output, Catch::Contains("recipe set \"topologies/calibration/recipes-none.yaml\" is not a file"));
}

TEST_CASE("a calibration read again after its file changed is the new file's", "[step_calibration]") {
  // load_step_calibration keeps what it parsed per process, keyed by the files' texts:
  // a rewritten file must be read again (here: into its error), never served stale.
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "trainsim-calibration-reread";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir / "calibration");
  std::filesystem::copy_file(kRoot + "topologies/h800-2048.yaml", dir / "c.yaml");
  for (const char* f : {"h800-deepseek-v3.yaml", "kernel-classes.yaml", "recipes-fp8-moe.yaml"})
    std::filesystem::copy_file(kRoot + "topologies/calibration/" + f, dir / "calibration" / f);
  const WorkloadSpec w = deepseek();
  const ClusterSpec c = load_cluster((dir / "c.yaml").string(), {});
  const auto first = calibrate::load_step_calibration(c, w);
  REQUIRE(first);
  const auto again = calibrate::load_step_calibration(c, w);
  REQUIRE(again);
  CHECK(again->laws.laws.size() == first->laws.laws.size());
  CHECK(again->recipes.phases.size() == first->recipes.phases.size());
  std::ofstream(dir / "calibration" / "h800-deepseek-v3.yaml") << "laws: [\n";  // no longer YAML
  CHECK_THROWS_AS(calibrate::load_step_calibration(c, w), InputError);
  std::filesystem::remove_all(dir);
}

}  // namespace test_step_calibration
