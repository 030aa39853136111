// The calibration the step model uses (see step_calibration.hpp).
#include "sim/calibrate/step_calibration.hpp"

#include <filesystem>

#include "sim/calibrate/kernel_classes.hpp"
#include "sim/config/error.hpp"

namespace trainsim::calibrate {
namespace {

namespace fs = std::filesystem;

SourceMark mark_in(const std::map<std::string, SourceMark>& marks, const std::string& file, const std::string& key) {
  const auto it = marks.find(key);
  return it != marks.end() ? it->second : SourceMark{file, 0, 0};
}

std::string existing(const fs::path& path, const SourceMark& mark, const std::string& what) {
  if (!fs::is_regular_file(path)) throw InputError(mark, what + " \"" + path.string() + "\" is not a file");
  return path.string();
}

bool recomputed(const OpCost& op) { return op.recompute_flops > 0 || op.recompute_bytes > 0; }

}  // namespace

std::optional<StepCalibration> load_step_calibration(const ClusterSpec& cluster, const WorkloadSpec& workload) {
  if (cluster.gpu.calibration.empty() || workload.training.recipes.empty()) return std::nullopt;
  const SourceMark cal_mark = mark_in(cluster.marks, cluster.source_file, "gpu.calibration");
  const fs::path calibration = fs::path(cluster.source_file).parent_path() / cluster.gpu.calibration;
  const std::string cal_file = existing(calibration, cal_mark, "calibration file");
  const fs::path dir = calibration.parent_path();
  const std::string& recipes = workload.training.recipes;
  const bool as_path = recipes.find('/') != std::string::npos || fs::path(recipes).extension() == ".yaml";
  const fs::path recipes_path =
      as_path ? fs::path(workload.source_file).parent_path() / recipes : dir / (recipes + ".yaml");
  const SourceMark recipes_mark = mark_in(workload.marks, workload.source_file, "training.recipes");
  const std::string recipes_file = existing(recipes_path, recipes_mark, "recipe set");
  const std::string classes_file = existing(dir / "kernel-classes.yaml", cal_mark, "kernel-class table beside the calibration,");
  StepCalibration out;
  out.laws = load_cost_laws(cal_file, load_kernel_classes(classes_file));
  out.recipes = load_recipes(recipes_file, out.laws);
  return out;
}

double calibrated_kernel_seconds(const CostLawTable& laws, const PlannedKernel& kernel, double sm_share) {
  const CostLaw* law = laws.find(kernel.class_name);
  if (law == nullptr) throw InputError(kernel.mark, "class \"" + kernel.class_name + "\" has no law in " + laws.file);
  const double at_fitted_sms = kernel_seconds(*law, kernel.shape);
  if (law->form == LawForm::memory) return at_fitted_sms;
  const double all_sms = at_fitted_sms * law->sms / laws.sms_total;
  return all_sms / sm_share;
}

CalibratedOpPasses calibrated_op_passes(const StepCalibration& calibration, const LayerCost& layer,
                                        const WorkloadSpec& workload, double sm_share) {
  RecipeSet own = calibration.recipes;  // the steps of ops this layer has
  for (RecipePhase& phase : own.phases)
    std::erase_if(phase.steps, [&](const RecipeStep& s) {
      const OpCost* op = layer.find(s.op);
      return op == nullptr || (s.pass == OpPass::recompute && !recomputed(*op));
    });
  CalibratedOpPasses out;
  const double gap = calibration.laws.launch_gap_s;
  for (const PlannedKernel& k : expand_recipes(own, layer, workload)) {
    CalibratedPass& p = out[{k.op, k.pass}];
    p.all_sms += calibrated_kernel_seconds(calibration.laws, k, 1) + gap;
    p.sm_shared += calibrated_kernel_seconds(calibration.laws, k, sm_share) + gap;
    ++p.kernels;
  }
  return out;
}

}  // namespace trainsim::calibrate
