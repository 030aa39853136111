#pragma once
// Per-GPU memory: the peak HBM each pipeline rank needs in one step, by part,
// and whether the largest rank fits in the GPU's HBM. Pure arithmetic on the
// schedule, the stage partition and the cost model; no time, no SimGrid.
//
// Parts of one GPU of pipeline rank r (every data-parallel replica of a rank
// holds the same; tensor parallelism divides everything by tp):
// - weights: the working parameters (training.optimizer.parameter_bytes) of every
//   stage the rank runs (DualPipe, DualPipeV: two stages; interleaved: v), dense
//   ones / tp, routed experts / ep;
// - gradients (gradient_bytes per parameter) and optimizer states (master weight
//   + two moments) of the same stages;
//   ZeRO shards them over the stage's reduce-scatter group as
//   data_parallel.cpp builds it: dense parameters over dp x copies, routed
//   experts over (dp / ep) x copies, where copies = the ranks that hold the
//   stage (DualPipe: 2). Stage 1 shards the optimizer states, 2 also the
//   gradients, 3 also the weights, which then keep their shard plus the gathered
//   parameters in flight: two layers, the one computing and the next one
//   prefetched (assumption), the rank's largest layer counted;
// - activations: the per-micro-batch kept activations of each stage
//   (LayerCost::activation_bytes, which reflects training.recompute) held from a
//   chunk's forward until its backward frees them, at the worst moment of a walk
//   over the rank's ops. A full backward (BW) frees the chunk; an input-only
//   backward (B) keeps the activations of the ops that have weight gradients
//   (the GEMM inputs W reads) until the W; their output gradients dY are not
//   counted (assumption). An overlapped FB holds its forward chunk's
//   activations before freeing its backward chunk's;
// - pipeline buffers: the hidden states of a micro-batch in flight between
//   pipeline ranks: for every stage boundary that crosses to another rank, one
//   receive and one send buffer (assumption: one micro-batch in flight per
//   boundary and direction);
// - communication buffers and a framework reserve: the workload's `memory` keys.
#include <string>
#include <vector>

#include "sim/config/spec.hpp"
#include "sim/model/cost_model.hpp"
#include "sim/parallel/schedule.hpp"

namespace trainsim {

// What ZeRO stage `zero` (0..3) shards over the data-parallel group.
struct ZeroSharding {
  bool optimizer_states = false;
  bool gradients = false;
  bool parameters = false;
};
[[nodiscard]] ZeroSharding zero_sharding(int zero);

// Peak HBM of one GPU of a pipeline rank, in bytes, by part.
struct RankMemory {
  int rank = 0;
  std::vector<int> stages;         // the model stages it runs
  double weights = 0;
  double gradients = 0;
  double optimizer_states = 0;     // master weights + both moments
  double activations = 0;          // at the schedule's peak on this rank
  int chunks_in_flight = 0;        // micro-batch chunks holding activations at that peak
  double pipeline_buffers = 0;
  double comm_buffers = 0;
  double reserved = 0;
  [[nodiscard]] double total() const {
    return weights + gradients + optimizer_states + activations + pipeline_buffers + comm_buffers + reserved;
  }
};

struct GpuMemory {
  std::vector<RankMemory> ranks;  // by pipeline rank
  int largest_rank = 0;           // the rank with the largest total (the lowest on a tie)
  double hbm_bytes = 0;           // cluster.gpu.hbm
  [[nodiscard]] const RankMemory& largest() const { return ranks.at(static_cast<std::size_t>(largest_rank)); }
  [[nodiscard]] bool fits() const { return !ranks.empty() && largest().total() <= hbm_bytes; }
};

// The memory of every rank of `schedule` with `stage_layers` (model stage →
// indices into cost.layers) for the workload's parallelism, optimizer and
// memory keys; `hbm_bytes` is the capacity the fit is judged against.
[[nodiscard]] GpuMemory gpu_memory(const WorkloadSpec& workload, double hbm_bytes, const PipelineSchedule& schedule,
                                   const ModelCost& cost, const std::vector<std::vector<int>>& stage_layers);

// The same for a loaded configuration at its full global batch (the schedule and
// the stage partition the step simulator uses).
[[nodiscard]] GpuMemory plan_gpu_memory(const ClusterSpec& cluster, const WorkloadSpec& workload);

// "rank 0 needs 97.3 GB of 80 GB HBM"
[[nodiscard]] std::string memory_verdict(const GpuMemory& m);

// Throws InputError (at parallelism.pp) naming the largest rank, its total and the
// HBM size, unless the configuration fits.
void check_memory_fits(const GpuMemory& m, const WorkloadSpec& workload);

}  // namespace trainsim
