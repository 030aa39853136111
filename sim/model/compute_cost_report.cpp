#include "sim/model/compute_cost_report.hpp"

#include <fmt/format.h>

#include <cstddef>

namespace trainsim {

namespace {

nlohmann::json op_json(const OpCost& op) {
  nlohmann::json j = {
      {"name", op.name},
      {"kind", to_string(op.kind)},
      {"precision", to_string(op.precision)},
      {"params", op.params},
      {"active_params", op.active_params},
      {"flops_fwd", op.flops_fwd},
      {"flops_bwd_input", op.flops_bwd_input},
      {"flops_bwd_weight", op.flops_bwd_weight},
      {"bytes_fwd", op.bytes_fwd},
      {"bytes_bwd_input", op.bytes_bwd_input},
      {"bytes_bwd_weight", op.bytes_bwd_weight},
      {"bytes_bwd", op.bytes_bwd},
      {"activation_bytes", op.activation_bytes},
      {"recompute_flops", op.recompute_flops},
      {"recompute_bytes", op.recompute_bytes},
  };
  if (op.kind == OpKind::dense_gemm || op.kind == OpKind::grouped_gemm)
    j["gemm"] = {{"m", op.gemm_m}, {"n", op.gemm_n}, {"k", op.gemm_k}, {"groups", op.groups}};
  return j;
}

nlohmann::json layer_json(const LayerCost& l) {
  nlohmann::json ops = nlohmann::json::array();
  for (const auto& op : l.ops) ops.push_back(op_json(op));
  return {
      {"index", l.index},
      {"name", l.name},
      {"kind", to_string(l.kind)},
      {"params", l.params()},
      {"active_params", l.active_params()},
      {"flops_fwd", l.flops_fwd()},
      {"flops_bwd_input", l.flops_bwd_input()},
      {"flops_bwd_weight", l.flops_bwd_weight()},
      {"bytes_fwd", l.bytes_fwd()},
      {"bytes_bwd", l.bytes_bwd()},
      {"activation_bytes", l.activation_bytes()},
      {"recompute_flops", l.recompute_flops()},
      {"recompute_bytes", l.recompute_bytes()},
      {"ops", ops},
  };
}

// Layers that print the same row are collapsed.
bool same_row(const LayerCost& a, const LayerCost& b) {
  return a.kind == b.kind && a.params() == b.params() && a.flops_fwd() == b.flops_fwd() &&
         a.flops_bwd_input() == b.flops_bwd_input() && a.flops_bwd_weight() == b.flops_bwd_weight() &&
         a.recompute_flops() == b.recompute_flops() && a.activation_bytes() == b.activation_bytes();
}

std::string row_label(const LayerCost& first, const LayerCost& last, std::size_t count) {
  if (count == 1) return first.name;
  const std::string what = first.kind == LayerKind::mtp ? "mtp" : "layers";
  return fmt::format("{} {}\u2013{} ({}) \u00d7{}", what, first.index, last.index, to_string(first.kind), count);
}

}  // namespace

nlohmann::json cost_to_json(const ModelCost& cost, const WorkloadSpec& workload) {
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& l : cost.layers) layers.push_back(layer_json(l));
  return {
      {"workload", workload.model.name},
      {"workload_file", workload.source_file},
      {"tokens_per_micro_batch", cost.tokens_per_micro_batch},
      {"causal", workload.training.causal},
      {"params_total", cost.params_total},
      {"params_total_with_mtp", cost.params_total_with_mtp},
      {"params_mtp", cost.params_mtp},
      {"params_active", cost.params_active},
      {"flops_per_token_causal", cost.flops_per_token_causal},
      {"flops_per_token_noncausal", cost.flops_per_token_noncausal},
      {"flops_per_token_total", cost.flops_per_token_total},
      {"six_n_active_flops_per_token", 6 * cost.params_active},
      {"dispatch_bytes_per_token_per_copy", dispatch_bytes_per_token_per_copy(workload)},
      {"combine_bytes_per_token_per_copy", combine_bytes_per_token_per_copy(workload)},
      {"layers", layers},
  };
}

std::string cost_to_text(const ModelCost& cost, const WorkloadSpec& workload) {
  std::string out;
  const auto& t = workload.training;
  out += fmt::format("{}: cost per micro-batch of {} tokens ({} x {}), unsharded (TP 1)\n", cost.model_name,
                     cost.tokens_per_micro_batch, t.micro_batch, t.seq_len);
  out += fmt::format("precision: GEMMs {}, attention {}; attention products counted {}\n", to_string(t.gemm),
                     to_string(t.attention), t.causal ? "causal (half)" : "non-causal (full)");
  out += "figures of collapsed rows are per layer\n\n";
  out += fmt::format("{:<30} {:<9} {:>12} {:>12} {:>12} {:>12} {:>12} {:>12}\n", "layer", "kind", "params M",
                     "fwd GFLOP", "bwd-B GFLOP", "bwd-W GFLOP", "recomp GFLOP", "activ MB");
  for (std::size_t i = 0; i < cost.layers.size();) {
    std::size_t j = i + 1;
    while (j < cost.layers.size() && same_row(cost.layers[i], cost.layers[j])) ++j;
    const LayerCost& l = cost.layers[i];
    // fmt pads by code points, so the en dash and × in the label align.
    out += fmt::format("{:<30} {:<9} {:>12.1f} {:>12.1f} {:>12.1f} {:>12.1f} {:>12.1f} {:>12.1f}\n",
                       row_label(l, cost.layers[j - 1], j - i), to_string(l.kind), l.params() / 1e6,
                       l.flops_fwd() / 1e9, l.flops_bwd_input() / 1e9, l.flops_bwd_weight() / 1e9,
                       l.recompute_flops() / 1e9, l.activation_bytes() / 1e6);
    i = j;
  }
  const double six_n = 6 * cost.params_active;
  out += "\n";
  out += fmt::format("{:<28}{:.2f} B (embedding + layers + final norm + head)\n", "params total",
                     cost.params_total / 1e9);
  out += fmt::format("{:<28}{:.2f} B (MTP modules' own: {:.2f} B)\n", "params with MTP",
                     cost.params_total_with_mtp / 1e9, cost.params_mtp / 1e9);
  out += fmt::format("{:<28}{:.2f} B per token (embedding and head included)\n", "params active",
                     cost.params_active / 1e9);
  out += fmt::format("{:<28}causal {:.2f} GFLOP, non-causal {:.2f} GFLOP (fwd + bwd, main model, no recompute)\n",
                     "training FLOPs per token", cost.flops_per_token_causal / 1e9,
                     cost.flops_per_token_noncausal / 1e9);
  out += fmt::format("{:<28}{:.2f} GFLOP (MTP and recomputation included, {})\n", "step FLOPs per token",
                     cost.flops_per_token_total / 1e9, t.causal ? "causal" : "non-causal");
  out += fmt::format("{:<28}{:.2f} GFLOP (causal / 6N = {:.3f}, non-causal / 6N = {:.3f})\n", "6 x N_active",
                     six_n / 1e9, cost.flops_per_token_causal / six_n, cost.flops_per_token_noncausal / six_n);
  if (workload.model.moe)
    out += fmt::format("{:<28}dispatch {} B ({}), combine {} B ({})\n", "all-to-all per token copy",
                       dispatch_bytes_per_token_per_copy(workload), to_string(t.dispatch),
                       combine_bytes_per_token_per_copy(workload), to_string(t.combine));
  return out;
}

}  // namespace trainsim
