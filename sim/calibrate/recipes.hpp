#pragma once
// Recipes (topologies/calibration/recipes-*.yaml): per phase of a transformer layer
// as a framework annotates it (`attn(F)`, `mlp(W)`, ...), the cost-model ops it runs
// (names as sim/model/cost_model.cpp emits them) with their pass (F forward,
// B input gradient, W weight gradient, R recompute), and per op-pass the kernels
// a real framework launches, in launch order: each a kernel class and a shape
// written over the op's shape. A GEMM kernel gives m, n, k (its own M×N×K: the
// reduction dimension is k, so a weight gradient of [m×k]·[k×n] is `m: k, n: n,
// k: m`); a memory-bound kernel gives bytes; an attention kernel gives flops.
// `count: N` repeats a kernel N times; `streams: S` says it runs over S compute streams
// that share the SMs (the two-stream overlap law). Variables an expression may name:
//   m n k groups       the op's GEMM shape (routed experts: m = the rows per GPU)
//   flops bytes        the op's FLOPs and HBM bytes of this pass (R: the recompute's)
//   bytes_f bytes_b bytes_w   the op's HBM bytes of F, B, W whatever the pass
//   tokens hidden heads d_qk d_v top_k intermediate   the workload's
//   routed             the routed-expert rows per GPU of this pass (RoutedRows; else tokens × top_k),
//                      for the kernels that touch the routed rows but are not grouped GEMMs
// Unknown keys, classes, ops, passes and names in an expression are
// FILE:LINE:COL errors.
#include <optional>
#include <string>
#include <vector>

#include "sim/calibrate/cost_laws.hpp"
#include "sim/calibrate/kernel_attribution.hpp"
#include "sim/calibrate/kernel_classes.hpp"
#include "sim/config/error.hpp"
#include "sim/config/spec.hpp"
#include "sim/model/cost_model.hpp"

namespace trainsim::calibrate {

enum class OpPass { forward, backward_input, backward_weight, recompute };
[[nodiscard]] const char* to_string(OpPass p);  // F, B, W, R

struct RecipeKernel {
  std::string class_name;
  LawForm form = LawForm::memory;  // of the class's law: which expressions it has
  std::string m, n, k, bytes, flops;  // expressions as written ("" where not written)
  int count = 1;
  SourceMark mark;
  // > 1: the kernel runs on one of this many compute streams that share the SMs
  // (calibration_fit's stream-overlap group; the step model applies its law).
  int streams = 1;
};

struct RecipeStep {
  std::string op;
  OpPass pass = OpPass::forward;
  std::vector<RecipeKernel> kernels;
  SourceMark mark;  // of the op's name
};

struct RecipePhase {
  std::string name;  // the trace's annotation name
  std::vector<RecipeStep> steps;
};

// Where a trace shows a phase instance's routed-expert rows per GPU (a trace records no
// input shapes): rows = the launch grid's `axis` × rows_per_block of the phase's first
// kernel whose name `match` (an ECMAScript regex) finds.
struct RoutedRowsRule {
  std::string phase, match;
  int axis = 0;  // 0 = x, 1 = y, 2 = z
  double rows_per_block = 1;
  SourceMark mark;  // of `match`
};

struct RecipeSet {
  std::string file, name, source;
  std::vector<RecipePhase> phases;
  std::vector<RoutedRowsRule> routed_rows;  // the file's `routed_rows` list (optional)
};

// Classes must be in `laws` (so each kernel's expressions are the ones its law reads).
[[nodiscard]] RecipeSet load_recipes(const std::string& file, const CostLawTable& laws);

// The rows per GPU of the routed-expert GEMMs, per pass (the cost model's own
// is tokens × top_k over all experts; a trace's are what its EP rank received).
struct RoutedRows {
  double forward = 0;   // F and R; 0 = the cost model's gemm_m
  double backward = 0;  // B and W; 0 = the cost model's gemm_m
};

// The routed rows of one phase instance by the set's rule for `phase`; nullopt when no
// rule names the phase or no kernel of the instance matches it (or has no grid).
[[nodiscard]] std::optional<double> routed_rows_in(const RecipeSet& recipes, const std::string& phase,
                                                   const std::vector<KernelRecord>& kernels);

// One kernel of an expanded recipe.
struct PlannedKernel {
  std::string phase, op;
  OpPass pass = OpPass::forward;
  std::string class_name;
  KernelShape shape;
  SourceMark mark;
  int streams = 1;  // of its recipe kernel
};

// The kernels of `layer` (a transformer layer of the workload's cost model), in
// recipe order. An op the layer lacks is an InputError at the recipe's op name.
[[nodiscard]] std::vector<PlannedKernel> expand_recipes(const RecipeSet& recipes, const LayerCost& layer,
                                                        const WorkloadSpec& workload, const RoutedRows& rows = {});

}  // namespace trainsim::calibrate
