// balanced routing: exact expected values, identical on every rank (see moe_routing.hpp).
#include <algorithm>

#include "sim/parallel/moe_routing_registry.hpp"

namespace trainsim::parallel {

namespace {

MoeRouting route_balanced(const MoeRoutingParams& p, int nodes, int m) {
  MoeRouting r;
  double t = p.tokens;
  // Capacity below 1: the last tokens overflow every expert at once and are dropped whole.
  const double kept = p.capacity_factor > 0 ? std::min(p.capacity_factor, 1.0) : 1.0;
  r.routed_pairs = static_cast<double>(p.ranks) * t * p.top_k;
  if (kept < 1) {
    t *= kept;
    r.dropped_pairs = r.routed_pairs * (1 - kept);
  }
  const double rank_hit = std::min(static_cast<double>(p.top_k) / (static_cast<double>(m) * p.ranks_per_node), 1.0);
  double to_node = t * (static_cast<double>(m) / nodes);
  double to_rank = to_node * rank_hit;
  const int reach = std::min(p.top_k, m * p.ranks_per_node);  // u: ranks a token reaches without a device limit
  int devices = reach;
  int reached_nodes = m;
  if (const int d = device_limit(p, m); d < reach) {
    devices = d;
    reached_nodes = std::min(m, d);
    to_node = t * reached_nodes / nodes;
    to_rank = t * d / p.ranks;
  }
  r.tokens_to_node.assign(static_cast<std::size_t>(p.ranks) * nodes, to_node);
  r.tokens_to_rank.assign(static_cast<std::size_t>(p.ranks) * p.ranks, to_rank);
  r.max_nodes_reached.assign(static_cast<std::size_t>(p.ranks), reached_nodes);
  r.max_ranks_reached.assign(static_cast<std::size_t>(p.ranks), devices);
  // Every rank hosts E/R experts and receives its share k/R of each source's T·k pairs.
  r.expert_tokens.assign(static_cast<std::size_t>(p.ranks), t * p.top_k);
  r.expert_pairs.assign(static_cast<std::size_t>(p.experts), t * p.top_k * p.ranks / p.experts);
  return r;
}

}  // namespace

extern const MoeRoutingKind balanced_routing{
    .name = "balanced",
    .description = "expected token counts: every token spreads its experts evenly over min(M, nodes) nodes "
                   "(and D devices when device-limited)",
    .route = route_balanced};

}  // namespace trainsim::parallel
