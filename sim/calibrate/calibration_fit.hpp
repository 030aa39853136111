#pragma once
// The fit of cost laws to a trace (issue 13): the recipe kernels of each phase
// (expand_recipes) are matched in order to the trace's kernels of that phase
// (a longest common subsequence of class names, per layer), each matched recipe
// kernel becomes a point (its shape, its mean measured time over the layers), and
// each class's law parameters are fitted by least squares:
// - gemm: achieved efficiency e = flops / (peak · wave · t); 1/e = 1/e_max + (k_half/e_max)·(1/K)
//   is linear in 1/K;
// - memory: t = fixed + bytes / bandwidth, linear in bytes;
// - attention: t = flops / (peak · efficiency), through the origin.
// The launch gap is the median idle gap between consecutive kernels of a stream
// within the recipe's phases. Trace kernels that no recipe kernel matched are
// unmodelled work, reported per phase and name, never dropped. Each class is
// checked by leaving one shape out: refit without it, predict it.
//
// Only kernel records enter the fit (CalibrationInput): no step time, throughput,
// MFU or GPU-hours figure can.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "sim/calibrate/cost_laws.hpp"
#include "sim/calibrate/kernel_attribution.hpp"
#include "sim/calibrate/recipes.hpp"

namespace trainsim::calibrate {

// The kernels of one phase, per layer instance, on compute streams, by start time.
struct PhaseKernels {
  std::string phase;
  std::vector<std::vector<KernelRecord>> layers;
};

struct CalibrationInput {
  std::string trace_file;
  std::uintmax_t trace_bytes = 0;
  std::string trace_sha256;  // hex; empty when the file could not be read again
  std::vector<PhaseKernels> phases;
};

// The kernel records of an attribution: the one thing the fit reads of a trace.
[[nodiscard]] CalibrationInput calibration_input(const TraceAttribution& attribution);

// One matched recipe kernel.
struct FitPoint {
  std::string phase, op;
  OpPass pass = OpPass::forward;
  std::string class_name;
  KernelShape shape;
  double measured_s = 0;  // mean over the layers it matched in
  int layers_matched = 0;
  std::string kernel_name;  // the trace kernel it matched in the first layer
  // Ran on SMs it shared with a kernel of another compute stream (in most layers it
  // matched in): its time is not its solo time, so no class law is fitted to it; the
  // two-stream overlap law (StreamOverlap) predicts the group it ran in.
  bool shared_sms = false;
  // The recipe kernel's shape under the nominal rows (its key when one shape is left out:
  // a kernel whose shape follows each layer's routed rows has a point per layer, and they
  // are left out together); empty: the point's own shape.
  std::string held_out_key;
  double layer_share = 1;  // the share of its recipe kernel's matched layers this point stands for
};

// A fitted parameter and its range: the lowest and highest value over the
// leave-one-shape-out refits (= value when the class has too few shapes).
struct FittedParameter {
  std::string name;
  double value = 0, low = 0, high = 0;
};

struct LeaveOneOut {
  std::string label;  // the left-out shape: "phase op pass"
  double measured_s = 0, predicted_s = 0;
  [[nodiscard]] double error() const { return (predicted_s - measured_s) / measured_s; }
};

struct ClassFit {
  CostLaw law;  // the fitted law
  int points = 0, shapes = 0;
  std::vector<FittedParameter> parameters;
  double rms_residual = 0;  // relative, over the points
  std::vector<LeaveOneOut> leave_one_out;  // empty: too few shapes
  std::optional<double> loo_median_abs;    // median |error|
  std::string note;                        // where the fit was constrained
};

// Kernels of one phase on several compute streams at once, sharing the SMs. Law:
// the group's wall time = S/s + alpha·(S − S/s), with S the sum of the kernels' solo
// times (their classes' laws) and s the streams; alpha 0 is perfect overlap, 1 none.
// alpha is fitted per layer from the trace's union of the group's kernel intervals
// (value: from the mean over layers; low/high: the per-layer extremes). Which kernels
// overlap varies between layers, so the kernels' own durations stretch by a second
// fitted factor (Σ durations / S), which only the phase's kernel-sum row uses.
struct StreamOverlap {
  std::string phase;
  int streams = 0;
  int kernels = 0;                 // recipe kernels in the group
  double solo_sum_s = 0;           // S: Σ the group's solo law times
  double trace_wall_s = 0;         // mean per layer: the union of the group's kernel intervals
  double trace_kernel_s = 0;       // mean per layer: Σ the group's kernel durations
  FittedParameter alpha{"alpha", 0, 0, 0};
  FittedParameter stretch{"stretch", 1, 1, 1};
  [[nodiscard]] double wall_s() const;  // predicted wall time of the group
};

struct PhaseComparison {
  std::string phase;
  int trace_layers = 0;
  double trace_kernels = 0;    // mean kernel count per layer
  int recipe_kernels = 0;
  double matched = 0;          // mean matched kernels per layer
  double trace_s = 0;          // mean kernel time per layer
  double predicted_s = 0;      // Σ kernel_seconds of the phase's recipe kernels
  double unmodelled_s = 0;     // mean per layer of the trace kernels no recipe kernel matched
  double trace_gap_s = 0;      // mean per layer of the idle gaps between kernels of a stream
  double predicted_gap_s = 0;  // launch gap × (recipe kernels − 1)
  // Per layer (mean): the union of the phase's compute-kernel intervals, and its prediction
  // (solo kernels' sum + the stream-overlap group's wall). Equal to the sums when no kernel overlaps.
  double trace_wall_s = 0, predicted_wall_s = 0;
};

// Leave one layer out: the fit without one layer instance of every phase predicts that
// layer's phase times (kernel sum, and wall: the union of its kernel intervals).
struct HeldOutLayer {
  std::string phase;  // a phase, or "layer pair (all phases)"
  int layer = 0;      // 0-based, as the trace's ranges come in time order
  double measured_s = 0, predicted_s = 0;
  double measured_wall_s = 0, predicted_wall_s = 0;
  [[nodiscard]] double error() const { return (predicted_s - measured_s) / measured_s; }
  [[nodiscard]] double wall_error() const { return (predicted_wall_s - measured_wall_s) / measured_wall_s; }
};

// The routed rows the trace gave one phase, per layer instance (0: no rule or no matching kernel).
struct PhaseRoutedRows {
  std::string phase;
  std::vector<double> rows;
};

struct UnmodelledKernel {
  std::string phase, name, class_name;
  double count_per_layer = 0, seconds_per_layer = 0;
};

struct CalibrationFit {
  CalibrationInput input;  // provenance: its trace path and size
  std::string recipes_file, laws_file;
  // What the recipes were expanded for (set by the caller, for the provenance).
  std::string workload_file;
  RoutedRows routed_rows;
  CostLawTable fitted;  // the laws with fitted parameters and launch gap
  std::vector<ClassFit> classes;          // law order; classes without points are left out
  std::vector<std::string> classes_without_points;
  std::vector<FitPoint> points;
  std::vector<PhaseComparison> phases;    // recipe order
  std::vector<StreamOverlap> overlaps;    // phases whose kernels shared the SMs over streams
  std::vector<UnmodelledKernel> unmodelled;  // largest first
  std::vector<PlannedKernel> recipe_unmatched;  // recipe kernels no trace kernel matched in any layer
  std::vector<HeldOutLayer> leave_one_layer_out;  // per held-out layer, per phase (recipe order), then the pair
  std::vector<PhaseRoutedRows> layer_routed_rows;  // when the recipes were expanded per layer
  std::vector<bool> overlap_member;  // per planned kernel: in its phase's stream-overlap group
  int gaps = 0;                          // gaps the launch gap is the median of
  [[nodiscard]] std::optional<double> loo_median_abs() const;  // over every class's errors
  // The same, each held-out shape weighted by its measured time (half the held-out time has a smaller |error|).
  [[nodiscard]] std::optional<double> loo_median_abs_time_weighted() const;
};

// Fits one law to points of its class (exported for the tests).
[[nodiscard]] CostLaw fit_law(const CostLaw& prior, const std::vector<FitPoint>& points, std::string* note = nullptr);

// The recipes expanded once per layer instance: each phase with the routed rows its own
// instance shows (routed_rows_in), `fallback` where it shows none. Entry l is in the
// order of expand_recipes; `rows` (if given) receives the rows found per phase.
[[nodiscard]] std::vector<std::vector<PlannedKernel>> expand_recipes_per_layer(
    const RecipeSet& recipes, const LayerCost& layer, const WorkloadSpec& workload, const CalibrationInput& input,
    const RoutedRows& fallback, std::vector<PhaseRoutedRows>* rows = nullptr);

// The nominal rows of per-layer rows: per pass side (F/R; B/W) of the phase's kernels whose
// m is its rows in `plan` (layer 0's), the mean over the phases' layers.
[[nodiscard]] RoutedRows mean_routed_rows(const std::vector<PhaseRoutedRows>& rows, const std::vector<PlannedKernel>& plan);

// `per_layer` (empty, or one plan per layer instance, each in the order of `planned`):
// each layer's kernels are matched against, fitted with and predicted with its own plan;
// `planned` is the nominal plan (phase order, held-out shape keys, recipe_unmatched).
[[nodiscard]] CalibrationFit fit_calibration(const CalibrationInput& input, const std::vector<PlannedKernel>& planned,
                                             const CostLawTable& laws, const std::string& recipes_file,
                                             bool leave_layers_out = true,
                                             const std::vector<std::vector<PlannedKernel>>& per_layer = {});

void write_calibration_text(std::ostream& out, const CalibrationFit& fit);
[[nodiscard]] nlohmann::ordered_json calibration_json(const CalibrationFit& fit);
// The calibration file (YAML): the laws file's format with the fitted parameters,
// plus provenance, residuals, leave-one-out errors and unmodelled time.
void write_calibration_yaml(std::ostream& out, const CalibrationFit& fit);

}  // namespace trainsim::calibrate
