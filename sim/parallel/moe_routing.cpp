#include "sim/parallel/moe_routing.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "sim/parallel/moe_routing_registry.hpp"

namespace trainsim::parallel {
namespace {

void check(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument("MoE routing: " + message);
}

}  // namespace

MoeRouting route_tokens(const MoeRoutingParams& p) {
  check(p.ranks > 0, "EP group size must be positive");
  check(p.ranks_per_node > 0 && p.ranks % p.ranks_per_node == 0,
        "EP group size " + std::to_string(p.ranks) + " must be a multiple of the GPUs per node " +
            std::to_string(p.ranks_per_node) + " (ranks ordered node by node)");
  check(p.tokens >= 0, "tokens must not be negative");
  check(p.top_k > 0, "top_k must be positive");
  check(p.experts > 0 && p.experts % p.ranks == 0,
        "routed experts " + std::to_string(p.experts) + " must be a positive multiple of the EP size " +
            std::to_string(p.ranks));
  check(p.top_k <= p.experts, "top_k exceeds the number of routed experts");
  check(p.max_nodes >= 0, "max_nodes must not be negative");
  const int nodes = p.ranks / p.ranks_per_node;
  const int m = p.max_nodes == 0 ? nodes : std::min(p.max_nodes, nodes);
  check(p.top_k <= m * (p.experts / nodes), "top_k experts do not fit on max_nodes nodes");
  const MoeRoutingKind* kind = find_moe_routing(p.routing);
  check(kind != nullptr, "unknown routing kind \"" + p.routing + "\"");
  MoeRouting r = kind->route(p, nodes, m);
  r.ranks = p.ranks;
  r.ranks_per_node = p.ranks_per_node;
  return r;
}

MoeRoutingParams routing_params(const WorkloadSpec& w, int ranks_per_node) {
  MoeRoutingParams p;
  p.ranks = w.parallelism.ep;
  p.ranks_per_node = std::min(ranks_per_node, w.parallelism.ep);
  p.tokens = w.training.seq_len * w.training.micro_batch;
  if (w.model.moe) {
    p.top_k = w.model.moe->top_k;
    p.experts = w.model.moe->routed_experts;
    p.max_nodes = w.model.moe->max_nodes_per_token;
    p.routing = w.model.moe->routing;
    p.zipf_exponent = w.model.moe->zipf_exponent;
    p.seed = w.model.moe->seed;
  }
  return p;
}

}  // namespace trainsim::parallel
