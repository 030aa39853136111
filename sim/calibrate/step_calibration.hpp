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
#include <optional>
#include <string>
#include <utility>

#include "sim/calibrate/cost_laws.hpp"
#include "sim/calibrate/recipes.hpp"
#include "sim/config/spec.hpp"
#include "sim/model/cost_model.hpp"

namespace trainsim::calibrate {

struct StepCalibration {
  CostLawTable laws;
  RecipeSet recipes;
};

// The files a cluster and a workload name: the calibration relative to the cluster
// file; the recipes by name beside the calibration (NAME.yaml) or, written as a path
// (with a '/' or ending .yaml), relative to the workload file; the kernel classes the
// laws are checked against are kernel-classes.yaml beside the calibration.
// nullopt unless both keys are given. A missing file is an InputError at its key.
[[nodiscard]] std::optional<StepCalibration> load_step_calibration(const ClusterSpec& cluster,
                                                                   const WorkloadSpec& workload);

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
// recipe's steps, with compute kernels getting `sm_share` of the SMs beside communication.
[[nodiscard]] CalibratedOpPasses calibrated_op_passes(const StepCalibration& calibration, const LayerCost& layer,
                                                      const WorkloadSpec& workload, double sm_share);

}  // namespace trainsim::calibrate
