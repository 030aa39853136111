#pragma once
// The build context of a step program: what the parts that build it share.
// plan_step fills the plan (schedule, layer plans, stage partition, MoE
// routing, representatives); the emitters (step_tasks, chunk_passes,
// data_parallel, step_program.cpp) then add tasks to `program` in order,
// tracking the last task of every GPU stream.
#include <array>
#include <map>
#include <tuple>
#include <utility>
#include <vector>

#include "sim/config/spec.hpp"
#include "sim/model/cost_model.hpp"
#include "sim/parallel/collectives.hpp"
#include "sim/parallel/layer_plan.hpp"
#include "sim/parallel/moe_routing.hpp"
#include "sim/parallel/representatives.hpp"
#include "sim/parallel/schedule.hpp"
#include "sim/parallel/step_program.hpp"

namespace trainsim::step {

inline constexpr int kNone = -1;         // no task
using Tasks = std::vector<int>;          // one task per simulated replica of a rank (order of replicas)

// First and last tasks of one chunk pass, per replica.
struct ChunkEnds {
  Tasks entry, exit;
};

struct StepBuild {
  StepBuild(const ClusterSpec& c, const WorkloadSpec& w, Fidelity f)
      : cluster(c), workload(w), p(w.parallelism), fidelity(f) {}

  const ClusterSpec& cluster;
  const WorkloadSpec& workload;
  const ParallelismSpec& p;
  Fidelity fidelity;

  // ---- the plan (plan_step) --------------------------------------------------
  int microbatches = 0;
  PipelineSchedule schedule;
  ModelCost cost;
  std::vector<LayerPlan> layers;                // by index into cost.layers
  std::vector<std::vector<int>> stage_layers;   // model stage → layer indices
  double activation_bytes = 0;                  // one micro-batch's hidden states, BF16
  parallel::MoeRouting routing;
  std::vector<double> expert_load;              // by EP rank; empty = balanced
  double dispatch_bytes = 0, combine_bytes = 0; // per token and expert copy
  Representatives reps;
  ComputeSpeeds speeds;                         // stragglers: compute speed by GPU (empty: all nominal)
  double cp_kv_bytes = 0;                       // one ring-attention KV block per TP rank (cp > 1), BF16

  // ---- emission state --------------------------------------------------------
  StepProgram program;                                  // its graph made from `draft` at the end
  StepGraphDraft draft;                                 // tasks and edges as emitted
  std::vector<std::array<int, 3>> last;                 // per GPU: last task per stream
  std::map<std::tuple<int, int, int>, ChunkEnds> ends;  // (fwd?1:0, mb, stage) → first/last tasks
  std::map<std::pair<int, int>, Tasks> last_bwd;        // (rank, stage) → last backward compute task per replica
  TaskPass pass = TaskPass::none;  // the pipeline op being emitted: its pass and index, set on its tasks
  int pipeline_op = -1;
  // Dispatch/combine plans by (rank, EP group's first DP index, dispatch shape?, bytes).
  std::map<std::tuple<int, int, bool, double>, parallel::CollectivePlan> moe_plans;

  // ---- ZeRO-2/3 collectives emitted during the passes (data_parallel.cpp) -----
  struct Zero {
    bool planned = false;
    std::vector<int> stage_of_layer;                      // layer index → model stage
    std::vector<std::vector<int>> holders;                // stage → pipeline ranks that run it, sorted
    std::map<std::pair<int, int>, int> last_grads_mb;     // (rank, stage) → micro-batch whose gradients end last
    std::vector<std::vector<int>> compute_gate;           // per GPU: what its next compute task waits for
    std::map<int, Tasks> gather_chain;                    // rank → end of its last parameter gather
    std::map<int, Tasks> prefetch_after;                  // rank → compute to end before its next gather
    std::map<std::vector<int>, Tasks> scatter_chain;      // holders → end of their last gradient reduce-scatter
    std::map<int, std::map<int, Tasks>> grads_ready;      // ZeRO-2: layer → holder → its last gradient tasks
    std::map<int, Tasks> stage_reduced;                   // stage → end of its last gradient reduce-scatter
  } zero;
  // The first tasks a layer pass created from a chunk's placeholders: the chunk's
  // entry (taken and cleared by the chunk builder), when a pass creates a chain
  // (compute, then a TP collective or ring steps) and returns its last tasks.
  Tasks chain_start;
};

// Plans the step for `global_batch_sequences`: throws InputError for what the
// batch or parallelism does not allow. Leaves the emission state empty.
void plan_step(StepBuild& b, int global_batch_sequences);
// The first part of plan_step: micro-batches, schedule, cost model, layer plans
// and stage partition (no routing: what the memory model needs, cheaply).
void plan_partition(StepBuild& b, int global_batch_sequences);

// The layer-to-stage partition is planned on reference costs that no uncertain
// constant moves: the cluster with every efficiency at 1 (an op at its
// precision's dense peak or at HBM peak bandwidth), no launch overhead and no
// calibration multiplier (the calibration's laws stay: they are kernel data). A
// what-if on a kernel efficiency, a link or a model-form error therefore changes
// the simulated times and not the partition, so a slower kernel or link cannot
// give a faster step by flipping the partition (a discrete choice planned on
// estimates; issue 15). The datasheet peaks, the workload and parallelism still
// move it.
[[nodiscard]] ClusterSpec partition_reference(const ClusterSpec& c);
// Seconds (forward + backward, all SMs) of each layer of `cost` on partition_reference(c),
// with `calibration` (c's, loaded once by the caller; null without one) stripped of its
// multipliers.
[[nodiscard]] std::vector<double> partition_layer_seconds(const ModelCost& cost, const ClusterSpec& c,
                                                          const WorkloadSpec& w,
                                                          const calibrate::StepCalibration* calibration);

// Bytes of one ring-attention KV block on one TP rank: K and V of seq_len/cp
// tokens of a micro-batch for the rank's heads, in BF16. GQA/MHA: 2 x
// max(1, kv_heads/tp) x head_dim; MLA: the up-projected per-head keys and values
// (heads/tp x (qk_nope + qk_rope + v_head_dim)), as Megatron's MLA passes them,
// not the compressed latent (assumption).
[[nodiscard]] double cp_kv_block_bytes(const WorkloadSpec& w);

}  // namespace trainsim::step
