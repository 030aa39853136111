#pragma once
// Representatives: which GPUs a step program simulates for a fidelity, the
// notes on what that leaves out, and the filter that keeps the transfers those
// GPUs take part in. `full` simulates every data-parallel replica; `symmetric`
// one pipeline of representatives: replica 0, or under skewed MoE routing the
// most loaded EP rank's, with every context-parallel rank of that replica.
#include <string>
#include <vector>

#include "sim/config/spec.hpp"
#include "sim/parallel/collectives.hpp"
#include "sim/parallel/moe_routing.hpp"
#include "sim/parallel/step_program.hpp"

namespace trainsim::step {

struct Representatives {
  Fidelity fidelity = Fidelity::symmetric;
  std::vector<int> replicas;        // replicas (dp_index·cp + cp_index) simulated on every pipeline rank
  std::vector<int> gpus;            // the simulated GPUs, sorted
  std::vector<bool> simulated;      // by GPU of the cluster
  std::vector<std::string> notes;   // approximations the choice makes
};

// Tokens each EP rank receives over the mean of its group; empty when the
// routing is balanced (every rank 1).
[[nodiscard]] std::vector<double> expert_load_by_rank(const MoeSpec& moe, const parallel::MoeRouting& routing);

// `expert_load` as expert_load_by_rank returns it (empty: balanced or dense).
[[nodiscard]] Representatives choose_representatives(const ClusterSpec& cluster, const ParallelismSpec& p,
                                                     Fidelity fidelity, const std::vector<double>& expert_load);

// Stragglers (issue 16): each GPU's compute speed as a fraction of nominal, from
// the cluster's `stragglers:` section (the seeded spread, then slow_gpus); empty
// when the section is absent (every GPU at 1, today's numbers exactly).
[[nodiscard]] std::vector<double> gpu_speeds(const ClusterSpec& cluster);

// The speed each simulated compute stream runs at, and the GPU that sets the pace.
// A compute stream (pipeline rank r, replica d) runs its TP group's GEMM shards in
// lockstep, so it takes the slowest of the group's tp GPUs (full fidelity). In
// symmetric fidelity the representative of rank r stands for all of the rank's
// replicas, which meet at every MoE all-to-all and at the gradient reduction, so it
// takes the slowest of all the rank's GPUs (and says so in reps.notes).
struct ComputeSpeeds {
  std::vector<double> by_gpu;  // by GPU of the cluster; empty: all nominal
  int pacing_gpu = -1;         // the slowest GPU (lowest index among equals); -1: none slower than nominal
  double pacing_speed = 1;
};
[[nodiscard]] ComputeSpeeds compute_speeds(const ClusterSpec& cluster, const ParallelismSpec& p,
                                           Representatives& reps);

// The transfers of `all` kept for the simulated GPUs.
[[nodiscard]] std::vector<parallel::Transfer> keep_transfers(const Representatives& reps,
                                                             const std::vector<parallel::Transfer>& all);

}  // namespace trainsim::step
