#include "sim/parallel/moe_routing.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

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
  check(p.max_devices >= 0, "max_devices must not be negative");
  check(p.top_k <= device_limit(p, m) * (p.experts / p.ranks), "top_k experts do not fit on max_devices devices");
  check(p.capacity_factor >= 0, "capacity_factor must not be negative");
  const MoeRoutingKind* kind = find_moe_routing(p.routing);
  check(kind != nullptr, "unknown routing kind \"" + p.routing + "\"");
  MoeRouting r = kind->route(p, nodes, m);
  r.ranks = p.ranks;
  r.ranks_per_node = p.ranks_per_node;
  return r;
}

int device_limit(const MoeRoutingParams& p, int max_nodes) {
  const int devices = max_nodes * p.ranks_per_node;
  return p.max_devices == 0 ? devices : std::min(p.max_devices, devices);
}

double expert_capacity(const MoeRoutingParams& p) {
  return p.capacity_factor * p.tokens * p.top_k / p.experts;
}

std::string capacity_note(const MoeSpec& moe, const MoeRouting& routing) {
  return fmt::format(
      "MoE capacity factor {:g}: {:.3f} % of the routed (token, expert) pairs are dropped per micro-batch (they "
      "bypass their expert through the residual; its compute and dispatch/combine shrink accordingly)",
      moe.capacity_factor, 100 * routing.dropped_fraction());
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
    p.max_devices = w.model.moe->max_devices_per_token;
    p.capacity_factor = w.model.moe->capacity_factor;
  }
  return p;
}

}  // namespace trainsim::parallel
