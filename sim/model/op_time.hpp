#pragma once
// Compute model: how long an operator of the cost model takes on one GPU
// (DESIGN.md rule 2):
//   time = max(FLOPs / (peak(precision) × efficiency(kind) × SM share),
//              bytes / (HBM bandwidth × HBM efficiency)) + launch overhead
// The SM share is 1 while the op has the GPU to itself and (sms − comm_sms) / sms
// while a communication kernel (NCCL, DeepEP: SM kernels) runs beside it on the
// same GPU (DeepSeek-V3 report §3.2.2: 20 of 132 SMs for communication). A step
// task carries both times; the engine switches between them at the instants a
// communication task starts and ends on the GPU. Only the FLOP-bound part scales
// with the share: the HBM-bound part is kept whole (assumption: the SMs left
// still saturate HBM bandwidth). The efficiencies in the cluster YAML are
// normalised to the SMs the op gets.
#include "sim/config/spec.hpp"
#include "sim/model/cost_model.hpp"

namespace trainsim {

enum class Pass { forward, backward_input, backward_weight, recompute };

// Efficiency of an op kind at a precision (fraction of the dense peak).
[[nodiscard]] double flop_efficiency(const ClusterSpec& cluster, OpKind kind, Precision precision);

// Share of the GPU's SMs that compute kernels get while comm kernels hold theirs
// (1 when comm_sms is 0).
[[nodiscard]] double compute_sm_share(const ClusterSpec& cluster, const WorkloadSpec& workload);

// Seconds for one pass of `op` on one GPU whose compute kernels get `sm_share` of
// its SMs (1: all of them), its FLOPs and bytes divided by `shards` (tensor
// parallelism). 0 when the op has no work in that pass.
[[nodiscard]] double op_seconds(const OpCost& op, Pass pass, const ClusterSpec& cluster, double sm_share,
                                int shards = 1);

}  // namespace trainsim
