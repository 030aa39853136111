#pragma once
// The calibration the step model uses (issue 13, third part): a cluster's
// `gpu.calibration` (cost laws per kernel class, fitted to a trace by `calibrate
// --write`) and a workload's `training.recipes` (the kernels of each op-pass). With
// both, one pass of an op that the recipes list takes the sum over its recipe kernels
// of kernel_seconds (its class's law) plus one launch gap per kernel, in place of
// op_time's one efficiency per op kind; ops the recipes do not list keep op_time.
//
// SM basis: a gemm or attention law is fitted on the SMs its kernels got in the trace
// (`sms` of the law: 112 of the H800's 132 while DeepEP held 20). Its time on all SMs
// is that time × sms / sms_total, and beside a communication kernel it is the all-SM
// time divided by compute_sm_share: op_time's FLOP-bound scaling (wave quantisation
// stays the one of the fitted SM count; assumption). Memory-bound kernels and launch
// gaps are kept whole, as op_time keeps the HBM-bound part (assumption: the SMs left
// still saturate HBM bandwidth).
#include <map>
#include <yaml-cpp/yaml.h>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sim/calibrate/cost_laws.hpp"
#include "sim/calibrate/recipes.hpp"
#include "sim/config/spec.hpp"
#include "sim/model/cost_model.hpp"

namespace trainsim::calibrate {

// Model-form error of one kernel class (issue 13 point 5): a multiplier on the class's
// law time, 1 for the fitted law, with a range that claim samples beside the files'
// constants. The range comes from the first of these that the calibration file has:
//  1. `model_error: {low, high}` in the class's entry of `fit.classes` (a file written
//     from published benchmarks may give it so);
//  2. the class's `leave_one_out` errors e = predicted/measured - 1 of each held-out
//     shape: each gives f = 1 / (1 + e) = measured/predicted, the factor that would have
//     turned the prediction into the measurement; low/high = the 10th/90th percentiles
//     of f (linear interpolation) with at least kPercentileShapes shapes, else the
//     smallest and largest f; widened where needed to contain 1 (the fitted law);
//  3. `fit.model_error_default: {low, high}`, for classes without held-out shapes (an
//     assumption, which the file says in a comment);
//  4. none of these: low = high = 1, the class is not varied.
// One multiplier scales every kernel of the class: its shapes' errors are taken as fully
// correlated within the class, independent between classes (assumption).
struct ModelFormError {
  std::string class_name;
  double low = 1, high = 1;
  int shapes = 0;      // held-out shapes behind the range (rule 2), else 0
  std::string source;  // which rule, in words, for claim's output
};
inline constexpr int kPercentileShapes = 10;


// One entry per law of `laws`, in law order. Bad entries are FILE:LINE:COL errors.
[[nodiscard]] std::vector<ModelFormError> load_model_form_errors(const std::string& calibration_file,
                                                                 const CostLawTable& laws);

// The two-stream overlap law of one phase (a calibration file's fit.stream_overlaps):
// kernels sharing the SMs over `streams` compute streams take, as a group,
// S/s + alpha·(S − S/s) for a solo sum S; so each kernel's time is its solo time × overlap_factor.
struct StepStreamOverlap {
  std::string phase;
  int streams = 2;
  double alpha = 1;
  [[nodiscard]] double overlap_factor() const { return 1.0 / streams + alpha * (1 - 1.0 / streams); }
};

// fit.stream_overlaps of a calibration file (absent: none). Bad entries are FILE:LINE:COL errors.
[[nodiscard]] std::vector<StepStreamOverlap> load_stream_overlaps(const std::string& calibration_file);

// The same two readers on a calibration already parsed (`file` names it in errors).
[[nodiscard]] std::vector<ModelFormError> model_form_errors_of(const std::string& file, const YAML::Node& root,
                                                               const CostLawTable& laws);
[[nodiscard]] std::vector<StepStreamOverlap> stream_overlaps_of(const std::string& file, const YAML::Node& root);

struct StepCalibration {
  CostLawTable laws;
  std::vector<StepStreamOverlap> stream_overlaps;  // per phase
  RecipeSet recipes;
  std::vector<ModelFormError> model_errors;           // one per law, in law order
  std::vector<CalibrationMultiplier> multipliers;     // the cluster's --set gpu.calibration.CLASS
  // The multiplier on `class_name`'s law time in the step model: its --set value, else 1.
  [[nodiscard]] double multiplier(const std::string& class_name) const;
};

// The files a cluster and a workload name: the calibration relative to the cluster
// file; the recipes by name beside the calibration (NAME.yaml) or, written as a path
// (with a '/' or ending .yaml), relative to the workload file; the kernel classes the
// laws are checked against are kernel-classes.yaml beside the calibration.
// nullopt unless both keys are given. A missing file is an InputError at its key; so
// is a --set gpu.calibration.CLASS without both keys or with a class the laws lack.
[[nodiscard]] std::optional<StepCalibration> load_step_calibration(const ClusterSpec& cluster,
                                                                   const WorkloadSpec& workload);

// The model-form errors as uncertain constants `cluster.gpu.calibration.CLASS` for the
// classes the recipes use, in law order: value 1 and the derived range, or the --set
// multiplier (a plain number fixes it, {value, low, high} replaces the range).
struct ModelFormConstant {
  UncertainConstant constant;
  std::string source;
};
[[nodiscard]] std::vector<ModelFormConstant> model_form_constants(const StepCalibration& calibration);

// Seconds of one op-pass from its recipe kernels, on all SMs and beside a communication kernel.
struct CalibratedPass {
  double all_sms = 0;
  double sm_shared = 0;
  int kernels = 0;
};
using CalibratedOpPasses = std::map<std::pair<std::string, OpPass>, CalibratedPass>;

// Seconds of one kernel of `laws` on all SMs (sm_share 1) or on `sm_share` of them.
[[nodiscard]] double calibrated_kernel_seconds(const CostLawTable& laws, const PlannedKernel& kernel, double sm_share);

// Every op-pass of `layer` that the recipes list (steps naming ops the layer lacks are
// skipped; recompute kernels only for ops the workload recomputes), summed over the
// recipe's steps, with compute kernels getting `sm_share` of the SMs beside communication;
// each kernel's law time times its class's multiplier (the launch gap is not multiplied).
// A recipe kernel on `streams: S` > 1 compute streams takes its law time × the overlap factor
// of its phase's stream-overlap law (S must match the law's streams; a phase without one
// keeps solo times: factor 1). Launch gaps stay whole (assumption: launches do not overlap).
[[nodiscard]] CalibratedOpPasses calibrated_op_passes(const StepCalibration& calibration, const LayerCost& layer,
                                                      const WorkloadSpec& workload, double sm_share);

}  // namespace trainsim::calibrate
