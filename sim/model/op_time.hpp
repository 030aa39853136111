#pragma once
// Compute model: how long an operator of the cost model takes on one GPU
// (DESIGN.md rule 2):
//   time = max(FLOPs / (peak(precision) × efficiency(kind) × SM share),
//              bytes / (HBM bandwidth × HBM efficiency)) + launch overhead
// The SM share is (sms − comm_sms) / sms: DeepSeek-V3 dedicates comm_sms SMs to
// the all-to-all kernels for the whole step (report §3.2.2; the profile's expert
// GEMMs launch on 112 = 132 − 20 SMs), so compute never gets them back. The
// efficiencies in the cluster YAML are normalised to the SMs the op gets.
#include "sim/config/spec.hpp"
#include "sim/model/cost_model.hpp"

namespace trainsim {

enum class Pass { forward, backward_input, backward_weight, recompute };

// Efficiency of an op kind at a precision (fraction of the dense peak).
[[nodiscard]] double flop_efficiency(const ClusterSpec& cluster, OpKind kind, Precision precision);

// Share of the GPU's SMs that compute kernels get while comm kernels hold theirs.
[[nodiscard]] double compute_sm_share(const ClusterSpec& cluster, const WorkloadSpec& workload);

// Seconds for one pass of `op` on one GPU, its FLOPs and bytes divided by `shards`
// (tensor parallelism). 0 when the op has no work in that pass.
[[nodiscard]] double op_seconds(const OpCost& op, Pass pass, const ClusterSpec& cluster,
                                const WorkloadSpec& workload, int shards = 1);

}  // namespace trainsim
