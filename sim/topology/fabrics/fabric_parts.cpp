#include "sim/topology/fabrics/fabric_parts.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace trainsim::fabric_parts {

int up_ports(int down, double oversubscription) {
  const int u = static_cast<int>(std::ceil(down / oversubscription - 1e-9));
  return std::max(u, 1);
}

void check_sizes(const ClusterSpec& spec) {
  const NetworkSpec& net = spec.network;
  if (spec.nodes < 1) throw std::invalid_argument("topology: nodes must be at least 1");
  if (spec.node.gpus < 1) throw std::invalid_argument("topology: node.gpus must be at least 1");
  if (net.switch_radix < 2 || net.switch_radix % 2 != 0)
    throw std::invalid_argument(fmt::format("topology: switch_radix must be even and >= 2, got {}", net.switch_radix));
  if (!(net.oversubscription >= 1))
    throw std::invalid_argument(fmt::format("topology: oversubscription must be >= 1, got {}", net.oversubscription));
}

FabricShape leaf_ports(const ClusterSpec& spec) {
  FabricShape s;
  s.radix = spec.network.switch_radix;
  s.leaf_down_ports = s.radix / 2;
  s.leaf_up_ports = up_ports(s.leaf_down_ports, spec.network.oversubscription);
  return s;
}

void push(const ClusterGraph& g, std::vector<Hop>& hops, EdgeId e, VertexId from) {
  const VertexId a = g.edge_source(e);
  const VertexId to = a == from ? g.edge_target(e) : a;
  hops.push_back(Hop{e, from, to});
}

int down_cable(int lower, int upper, int ports, int uppers, int selector) {
  const int first = mod(upper - static_cast<long long>(lower) * ports, uppers);
  const int count = (ports - first + uppers - 1) / uppers;
  return first + (selector % count) * uppers;
}

}  // namespace trainsim::fabric_parts
