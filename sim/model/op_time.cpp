#include "sim/model/op_time.hpp"

#include <algorithm>

namespace trainsim {

double flop_efficiency(const ClusterSpec& cluster, OpKind kind, Precision precision) {
  const EfficiencySpec& e = cluster.gpu.efficiency;
  const bool fp8 = precision == Precision::fp8;
  switch (kind) {
    case OpKind::dense_gemm: return fp8 ? e.dense_gemm_fp8 : e.dense_gemm_bf16;
    case OpKind::grouped_gemm: return fp8 ? e.grouped_gemm_fp8 : e.grouped_gemm_bf16;
    case OpKind::attention_core: return e.attention_fwd;  // backward handled in op_seconds
    case OpKind::memory_bound:
    case OpKind::embedding: return 1.0;                   // no FLOPs; timed by bytes
  }
  return 1.0;
}

double compute_sm_share(const ClusterSpec& cluster, const WorkloadSpec& workload) {
  const int sms = cluster.gpu.sms;
  const int comm = workload.parallelism.comm_sms;
  if (sms <= 0 || comm <= 0) return 1.0;
  return static_cast<double>(sms - comm) / sms;
}

double op_seconds(const OpCost& op, Pass pass, const ClusterSpec& cluster, double sm_share, int shards) {
  double flops = 0;
  double bytes = 0;
  switch (pass) {
    case Pass::forward: flops = op.flops_fwd; bytes = op.bytes_fwd; break;
    case Pass::backward_input: flops = op.flops_bwd_input; bytes = op.bytes_bwd_input; break;
    case Pass::backward_weight: flops = op.flops_bwd_weight; bytes = op.bytes_bwd_weight; break;
    case Pass::recompute: flops = op.recompute_flops; bytes = op.recompute_bytes; break;
  }
  if (flops <= 0 && bytes <= 0) return 0;
  const double share = std::max(1, shards);
  flops /= share;
  bytes /= share;
  double efficiency = flop_efficiency(cluster, op.kind, op.precision);
  if (op.kind == OpKind::attention_core && pass == Pass::backward_input)
    efficiency = cluster.gpu.efficiency.attention_bwd;
  const double flop_rate = cluster.peak_flops(op.precision) * efficiency * sm_share;
  const double byte_rate = cluster.gpu.hbm_bytes_per_s * cluster.gpu.efficiency.hbm;
  const double flop_time = flops > 0 && flop_rate > 0 ? flops / flop_rate : 0;
  const double byte_time = bytes > 0 && byte_rate > 0 ? bytes / byte_rate : 0;
  return std::max(flop_time, byte_time) + cluster.gpu.launch_overhead_s;
}

}  // namespace trainsim
