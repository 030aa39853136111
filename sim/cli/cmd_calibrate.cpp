// trainsim calibrate: read a PyTorch profiler (Kineto) trace, classify its GPU
// kernels by the kernel-class table and attribute them to the trace's phases
// (sim/calibrate). With --fit or --write, expand the recipes for one MoE (else
// dense) layer of the workload, match them to the trace's kernels and fit the
// cost law of each kernel class (kernel records only); --write FILE writes the
// calibration file, which a cluster's gpu.calibration puts into the step model
// (sim/calibrate/step_calibration.hpp).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "sim/calibrate/attribution_output.hpp"
#include "sim/calibrate/calibration_fit.hpp"
#include "sim/calibrate/cost_laws.hpp"
#include "sim/calibrate/kernel_attribution.hpp"
#include "sim/calibrate/kernel_classes.hpp"
#include "sim/calibrate/kineto_trace.hpp"
#include "sim/calibrate/recipes.hpp"
#include "sim/cli/commands.hpp"
#include "sim/config/load.hpp"
#include "sim/model/cost_model.hpp"
#include "sim/report/output_file.hpp"

namespace trainsim::cli {

namespace {

const std::string kCalibrationDir = std::string(TRAINSIM_SOURCE_DIR) + "/topologies/calibration/";

struct CalibrateOptions {
  std::string trace_path;
  std::string classes_path = kCalibrationDir + "kernel-classes.yaml";
  std::string recipes_path = kCalibrationDir + "recipes-fp8-moe.yaml";
  std::string laws_path = kCalibrationDir + "laws-h800.yaml";
  std::string workload_path = std::string(TRAINSIM_SOURCE_DIR) + "/workloads/deepseek-v3.yaml";
  double routed_rows_forward = 0, routed_rows_backward = 0;
  bool fit = false;
  std::string write_path;
  ConfigOptions output;  // --format only
};

// A path inside the source tree as relative to it, so that a written file does not name the checkout.
std::string shown(const std::string& path) {
  const std::string root = std::string(TRAINSIM_SOURCE_DIR) + "/";
  return path.rfind(root, 0) == 0 ? path.substr(root.size()) : path;
}

// The layer the recipes describe: the first MoE layer, else the first dense one.
const LayerCost& recipe_layer(const ModelCost& cost) {
  for (const LayerKind kind : {LayerKind::moe, LayerKind::dense})
    for (const LayerCost& layer : cost.layers)
      if (layer.kind == kind) return layer;
  throw std::logic_error("a model without transformer layers");
}

}  // namespace

void register_calibrate(CLI::App& app, Action& action) {
  auto opts = std::make_shared<CalibrateOptions>();
  auto* cmd = app.add_subcommand(
      "calibrate",
      "Read a Kineto trace: classify its GPU kernels, attribute them to phases; --fit / --write: fit cost laws per kernel class");
  cmd->add_option("trace", opts->trace_path, "PyTorch profiler / Chrome trace JSON (Kineto)")->required();
  cmd->add_option("--classes", opts->classes_path, "Kernel-class table (default topologies/calibration/kernel-classes.yaml)");
  cmd->add_option("--recipes", opts->recipes_path, "Recipe set (default topologies/calibration/recipes-fp8-moe.yaml)");
  cmd->add_option("--laws", opts->laws_path, "Cost laws to fit (default topologies/calibration/laws-h800.yaml)");
  cmd->add_option("--workload", opts->workload_path, "Workload whose layer the recipes expand (default workloads/deepseek-v3.yaml)");
  cmd->add_option("--routed-rows-forward", opts->routed_rows_forward,
                  "Routed-expert GEMM rows per GPU in F/R (default: the cost model's tokens x top_k)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--routed-rows-backward", opts->routed_rows_backward,
                  "Routed-expert GEMM rows per GPU in B/W (default: the cost model's tokens x top_k)")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--fit", opts->fit, "Fit the cost laws and print the fit instead of the attribution");
  cmd->add_option("--write", opts->write_path, "Fit the cost laws and write the calibration file (YAML) here");
  add_format_option(*cmd, opts->output, {"text", "json"});
  cmd->callback([&action, opts] {
    action = [opts]() -> int {
      refuse_outputs_over_inputs({{"--write", opts->write_path}},
                                 {{"TRACE", opts->trace_path},
                                  {"--classes", opts->classes_path},
                                  {"--laws", opts->laws_path},
                                  {"--recipes", opts->recipes_path},
                                  {"--workload", opts->workload_path}});
      OutputFile calibration_out(opts->write_path);  // before the fit: a bad path loses no work
      const calibrate::KernelClassTable table = calibrate::load_kernel_classes(opts->classes_path);
      const calibrate::KinetoTrace trace = calibrate::read_kineto_trace(opts->trace_path);
      const calibrate::TraceAttribution attribution = calibrate::attribute_kernels(trace, table);
      if (!opts->fit && opts->write_path.empty()) {
        if (opts->output.format == "json")
          std::cout << calibrate::attribution_json(attribution).dump(2) << '\n';
        else
          calibrate::write_attribution_text(std::cout, attribution);
        return 0;
      }
      const calibrate::CostLawTable laws = calibrate::load_cost_laws(opts->laws_path, table);
      const calibrate::RecipeSet recipes = calibrate::load_recipes(opts->recipes_path, laws);
      const WorkloadSpec workload = load_workload(opts->workload_path, {});
      const ModelCost cost = model_cost(workload);
      const calibrate::CalibrationInput input = calibrate::calibration_input(attribution);
      calibrate::RoutedRows rows{opts->routed_rows_forward, opts->routed_rows_backward};
      // Without --routed-rows: each layer instance's rows as its trace kernels show them.
      std::vector<calibrate::PhaseRoutedRows> layer_rows;
      const auto per_layer = rows.forward > 0 || rows.backward > 0
                                 ? std::vector<std::vector<calibrate::PlannedKernel>>{}
                                 : calibrate::expand_recipes_per_layer(recipes, recipe_layer(cost), workload, input,
                                                                       rows, &layer_rows);
      if (!layer_rows.empty()) rows = calibrate::mean_routed_rows(layer_rows, per_layer.front());
      const auto planned = calibrate::expand_recipes(recipes, recipe_layer(cost), workload, rows);
      calibrate::CalibrationFit fit = calibrate::fit_calibration(input, planned, laws, recipes.file, true, per_layer);
      fit.layer_routed_rows = layer_rows;
      fit.workload_file = shown(opts->workload_path);
      fit.input.trace_file = shown(fit.input.trace_file);
      fit.recipes_file = shown(fit.recipes_file);
      fit.laws_file = shown(fit.laws_file);
      fit.fitted.file = shown(fit.fitted.file);
      fit.routed_rows = rows;
      if (!opts->write_path.empty()) {
        std::ostringstream yaml;
        calibrate::write_calibration_yaml(yaml, fit);
        calibration_out.commit(yaml.str());
      }
      if (opts->output.format == "json")
        std::cout << calibrate::calibration_json(fit).dump(2) << '\n';
      else
        calibrate::write_calibration_text(std::cout, fit);
      if (opts->output.format != "json")
        for (const calibrate::PhaseRoutedRows& r : fit.layer_routed_rows)
          std::cout << fmt::format("routed rows per GPU from the trace, {} per layer: {}\n", r.phase, fmt::join(r.rows, " / "));
      return 0;
    };
  });
}

}  // namespace trainsim::cli
