// The calibration the step model uses (see step_calibration.hpp).
#include "sim/calibrate/step_calibration.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "sim/calibrate/kernel_classes.hpp"
#include "sim/calibrate/yaml_lists.hpp"
#include "sim/config/error.hpp"
#include "sim/config/percentile.hpp"
#include "sim/config/suggest.hpp"
#include "sim/config/units.hpp"
#include "sim/config/yaml_file.hpp"
#include "sim/config/yaml_reader.hpp"

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

// A file's whole text ("" when it cannot be read: the parse that follows says why).
std::string text_of(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

bool recomputed(const OpCost& op) { return op.recompute_flops > 0 || op.recompute_bytes > 0; }

// ---- model-form error: the `fit` section of a calibration file, which `calibrate --write`
// fills; only the keys read here are checked (the rest is the fit's report).

SourceMark mark_of(const std::string& file, const YAML::Node& node) {
  return {file, node.Mark().line + 1, node.Mark().column + 1};
}

const YAML::Node& sequence_or_absent(const std::string& file, const YAML::Node& node, const std::string& what) {
  if (node.IsDefined() && !node.IsNull() && !node.IsSequence())
    throw InputError(mark_of(file, node), what + ": expected a list");
  return node;
}

// {low, high} with 0 < low <= 1 <= high: a range of multipliers around the fitted law.
std::pair<double, double> multiplier_range(const std::string& file, const YAML::Node& owner, const std::string& path,
                                           const std::string& key) {
  const config::LoadContext ctx{file, "", {}, nullptr, nullptr};
  const config::Section s(ctx, owner[key], config::join_path(path, key), flat_schema({"low", "high"}),
                          owner[key].Mark());
  const config::Range positive{0, false};
  const double low = s.number("low", units::plain_number, positive);
  const double high = s.number("high", units::plain_number, positive);
  if (low > 1) s.fail_value("low", "must be at most 1 (the fitted law), got " + s.text("low"));
  if (high < 1) s.fail_value("high", "must be at least 1 (the fitted law), got " + s.text("high"));
  return {low, high};
}

// Rule 2 of ModelFormError: the factors measured/predicted of the held-out shapes.
void range_from_held_out(ModelFormError& e, std::vector<double> factors, const std::string& file_name) {
  e.shapes = static_cast<int>(factors.size());
  const bool by_percentile = e.shapes >= kPercentileShapes;
  e.low = by_percentile ? config::linear_percentile(factors, 10) : *std::min_element(factors.begin(), factors.end());
  e.high = by_percentile ? config::linear_percentile(factors, 90) : *std::max_element(factors.begin(), factors.end());
  e.low = std::min(e.low, 1.0);
  e.high = std::max(e.high, 1.0);
  e.source = fmt::format("leave one shape out in {}, {} shapes: {} of measured/predicted", file_name, e.shapes,
                         by_percentile ? "10th/90th percentiles" : "min/max");
}

}  // namespace

std::vector<ModelFormError> load_model_form_errors(const std::string& file, const CostLawTable& laws) {
  return model_form_errors_of(file, config::read_yaml_file(file, "a calibration"), laws);
}

std::vector<ModelFormError> model_form_errors_of(const std::string& file, const YAML::Node& root,
                                                 const CostLawTable& laws) {
  const std::string file_name = fs::path(file).filename().string();
  std::map<std::string, ModelFormError> found;  // class → rule 1 or 2
  std::optional<std::pair<double, double>> fallback;
  const YAML::Node fit = root.IsMap() ? root["fit"] : YAML::Node();
  if (fit.IsDefined() && !fit.IsNull()) {
    if (!fit.IsMap()) throw InputError(mark_of(file, fit), "fit: expected a map");
    if (fit["model_error_default"].IsDefined()) fallback = multiplier_range(file, fit, "fit", "model_error_default");
    const YAML::Node classes = sequence_or_absent(file, fit["classes"], "fit.classes");
    for (std::size_t i = 0; classes.IsDefined() && i < classes.size(); ++i) {
      const YAML::Node entry = classes[i];
      const std::string path = fmt::format("fit.classes[{}]", i);
      if (!entry.IsMap()) throw InputError(mark_of(file, entry), path + ": expected a map");
      const YAML::Node name = entry["class"];
      if (!name.IsDefined() || !name.IsScalar())
        throw InputError(mark_of(file, entry), path + ".class: expected a class name");
      ModelFormError e{name.Scalar(), 1, 1, 0, ""};
      if (laws.find(e.class_name) == nullptr)
        throw InputError(mark_of(file, name), path + ".class: \"" + e.class_name + "\" has no law in this file");
      if (found.count(e.class_name) != 0)
        throw InputError(mark_of(file, name), path + ".class: \"" + e.class_name + "\" is listed twice");
      if (entry["model_error"].IsDefined()) {
        std::tie(e.low, e.high) = multiplier_range(file, entry, path, "model_error");
        e.source = "model_error in " + file_name;
        found[e.class_name] = e;
        continue;
      }
      const YAML::Node held_out = sequence_or_absent(file, entry["leave_one_out"], path + ".leave_one_out");
      std::vector<double> factors;
      for (std::size_t j = 0; held_out.IsDefined() && j < held_out.size(); ++j) {
        const YAML::Node error = held_out[j].IsMap() ? held_out[j]["error"] : YAML::Node();
        const std::string where = fmt::format("{}.leave_one_out[{}].error", path, j);
        if (!error.IsDefined() || !error.IsScalar())
          throw InputError(mark_of(file, held_out[j]), where + ": expected a relative error");
        try {
          const double v = units::plain_number(error.Scalar());
          config::Range{-1, false}.check(v, error.Scalar());  // predicted/measured - 1 > -1
          factors.push_back(1 / (1 + v));
        } catch (const std::invalid_argument& ex) {
          throw InputError(mark_of(file, error), where + ": " + config::printable(ex.what()));
        }
      }
      if (factors.empty()) continue;
      range_from_held_out(e, factors, file_name);
      found[e.class_name] = e;
    }
  }
  std::vector<ModelFormError> out;
  for (const CostLaw& law : laws.laws) {
    if (const auto it = found.find(law.class_name); it != found.end()) {
      out.push_back(it->second);
    } else if (fallback) {
      out.push_back({law.class_name, fallback->first, fallback->second, 0,
                     "fit.model_error_default in " + file_name + " (no held-out shape; an assumption)"});
    } else {
      out.push_back({law.class_name, 1, 1, 0, "no held-out shape and no model_error in " + file_name + ": not varied"});
    }
  }
  return out;
}

std::vector<StepStreamOverlap> load_stream_overlaps(const std::string& file) {
  return stream_overlaps_of(file, config::read_yaml_file(file, "a calibration"));
}

std::vector<StepStreamOverlap> stream_overlaps_of(const std::string& file, const YAML::Node& root) {
  const YAML::Node fit = root.IsMap() ? root["fit"] : YAML::Node();
  std::vector<StepStreamOverlap> out;
  if (!fit.IsDefined() || !fit.IsMap()) return out;
  const YAML::Node list = sequence_or_absent(file, fit["stream_overlaps"], "fit.stream_overlaps");
  for (std::size_t i = 0; list.IsDefined() && i < list.size(); ++i) {
    const YAML::Node entry = list[i];
    const std::string path = fmt::format("fit.stream_overlaps[{}]", i);
    if (!entry.IsMap() || !entry["phase"].IsScalar() || !entry["streams"].IsScalar() || !entry["alpha"].IsMap() ||
        !entry["alpha"]["value"].IsScalar())
      throw InputError(mark_of(file, entry), path + ": expected {phase, streams, alpha: {value, ...}}");
    StepStreamOverlap o{entry["phase"].Scalar(), 2, 1};
    try {
      const double streams = units::plain_number(entry["streams"].Scalar());
      config::Range{2, true, 8, true}.check(streams, entry["streams"].Scalar());
      if (streams != std::floor(streams)) throw std::invalid_argument("expected a whole number of streams");
      o.streams = static_cast<int>(streams);
    } catch (const std::invalid_argument& ex) {
      throw InputError(mark_of(file, entry["streams"]), path + ".streams: " + config::printable(ex.what()));
    }
    try {
      o.alpha = units::plain_number(entry["alpha"]["value"].Scalar());
      config::Range{0, true}.check(o.alpha, entry["alpha"]["value"].Scalar());
    } catch (const std::invalid_argument& ex) {
      throw InputError(mark_of(file, entry["alpha"]["value"]), path + ".alpha.value: " + config::printable(ex.what()));
    }
    for (const StepStreamOverlap& seen : out)
      if (seen.phase == o.phase) throw InputError(mark_of(file, entry["phase"]), path + ".phase: \"" + o.phase + "\" is listed twice");
    out.push_back(o);
  }
  return out;
}

double StepCalibration::multiplier(const std::string& class_name) const {
  for (const CalibrationMultiplier& m : multipliers)
    if (m.class_name == class_name) return m.value;
  return 1;
}

std::vector<ModelFormConstant> model_form_constants(const StepCalibration& calibration) {
  std::set<std::string> used;
  for (const RecipePhase& phase : calibration.recipes.phases)
    for (const RecipeStep& step : phase.steps)
      for (const RecipeKernel& k : step.kernels) used.insert(k.class_name);
  std::vector<ModelFormConstant> out;
  for (const ModelFormError& e : calibration.model_errors) {
    if (used.count(e.class_name) == 0) continue;
    ModelFormConstant& c = out.emplace_back();
    c.constant.path = "cluster.gpu.calibration." + e.class_name;
    c.constant.value = 1;
    c.constant.low = e.low;
    c.constant.high = e.high;
    c.source = e.source;
    for (const CalibrationMultiplier& m : calibration.multipliers)
      if (m.class_name == e.class_name) {
        c.constant.value = m.value;
        c.constant.low = m.low;
        c.constant.high = m.high;
        c.source = (m.ranged ? "set by " : "fixed by ") + m.origin;
      }
  }
  return out;
}

std::optional<StepCalibration> load_step_calibration(const ClusterSpec& cluster, const WorkloadSpec& workload) {
  if (cluster.gpu.calibration.empty() || workload.training.recipes.empty()) {
    if (!cluster.calibration_multipliers.empty())
      throw InputError({cluster.calibration_multipliers.front().origin, 0, 0},
                       "a kernel-class multiplier needs a calibration: gpu.calibration in the cluster and "
                       "training.recipes in the workload");
    return std::nullopt;
  }
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
  // Parsed once per process and set of file contents: `run` asks for the calibration
  // three or four times (the input checks, the memory plan twice, the step program),
  // each parse about 1 % of the default case's CPU. Keyed by the files' paths and texts,
  // so a file rewritten meanwhile is read again.
  static std::map<std::vector<std::string>, StepCalibration> parsed;
  std::vector<std::string> key{cal_file, recipes_file, classes_file};
  for (const std::string& file : std::vector<std::string>(key)) key.push_back(text_of(file));
  auto cached = parsed.find(key);
  if (cached == parsed.end()) {
    StepCalibration loaded;
    loaded.laws = load_cost_laws(cal_file, load_kernel_classes(classes_file));
    loaded.recipes = load_recipes(recipes_file, loaded.laws);
    const YAML::Node calibration_root = config::read_yaml_file(cal_file, "a calibration");  // read once for both
    loaded.model_errors = model_form_errors_of(cal_file, calibration_root, loaded.laws);
    loaded.stream_overlaps = stream_overlaps_of(cal_file, calibration_root);
    cached = parsed.emplace(std::move(key), std::move(loaded)).first;
  }
  StepCalibration out = cached->second;
  for (const CalibrationMultiplier& m : cluster.calibration_multipliers) {
    if (out.laws.find(m.class_name) != nullptr) continue;
    std::vector<std::string> names;
    for (const CostLaw& law : out.laws.laws) names.push_back(law.class_name);
    throw InputError({m.origin, 0, 0}, "gpu.calibration." + m.class_name + ": no class \"" + m.class_name +
                                           "\" in " + cal_file + config::suggestion(m.class_name, names));
  }
  out.multipliers = cluster.calibration_multipliers;
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
    double multiplier = calibration.multiplier(k.class_name);
    if (k.streams > 1) {  // shares the SMs with kernels of another stream: the phase's overlap law
      for (const StepStreamOverlap& o : calibration.stream_overlaps) {
        if (o.phase != k.phase) continue;
        if (o.streams != k.streams)
          throw InputError(k.mark, fmt::format("streams: {} but the calibration's stream-overlap law of phase \"{}\" is "
                                               "for {} streams", k.streams, k.phase, o.streams));
        multiplier *= o.overlap_factor();
      }
    }
    p.all_sms += multiplier * calibrated_kernel_seconds(calibration.laws, k, 1) + gap;
    p.sm_shared += multiplier * calibrated_kernel_seconds(calibration.laws, k, sm_share) + gap;
    ++p.kernels;
  }
  return out;
}

}  // namespace trainsim::calibrate
