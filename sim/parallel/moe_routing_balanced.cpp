// balanced routing: exact expected values, identical on every rank (see moe_routing.hpp).
#include <algorithm>

#include "sim/parallel/moe_routing_registry.hpp"

namespace trainsim::parallel {

namespace {

MoeRouting route_balanced(const MoeRoutingParams& p, int nodes, int m) {
  MoeRouting r;
  const double t = p.tokens;
  const double node_share = static_cast<double>(m) / nodes;
  const double rank_hit = std::min(static_cast<double>(p.top_k) / (static_cast<double>(m) * p.ranks_per_node), 1.0);
  r.tokens_to_node.assign(static_cast<std::size_t>(p.ranks) * nodes, t * node_share);
  r.tokens_to_rank.assign(static_cast<std::size_t>(p.ranks) * p.ranks, t * node_share * rank_hit);
  r.max_nodes_reached.assign(static_cast<std::size_t>(p.ranks), m);
  // Every rank hosts E/R experts and receives its share k/R of each source's T·k pairs.
  r.expert_tokens.assign(static_cast<std::size_t>(p.ranks), static_cast<double>(t) * p.top_k);
  return r;
}

}  // namespace

extern const MoeRoutingKind balanced_routing{
    .name = "balanced",
    .description = "expected token counts: every token spreads its experts evenly over min(M, nodes) nodes",
    .route = route_balanced};

}  // namespace trainsim::parallel
