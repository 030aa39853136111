// rail-optimized: one leaf group per in-node GPU index (rail), one spine layer
// shared by all rails; traffic across rails goes through the spines (no NVLink hop).
#include <fmt/format.h>

#include "sim/topology/fabrics/fabric_parts.hpp"
#include "sim/topology/fabrics/two_layer.hpp"

namespace trainsim {

namespace {

FabricShape shape(const ClusterSpec& spec) {
  FabricShape s = fabric_parts::leaf_ports(spec);
  s.endpoints_per_plane = spec.num_gpus();
  s.rails = spec.node.gpus;
  s.leaves_per_rail = fabric_parts::ceil_div(spec.nodes, s.leaf_down_ports);
  s.leaves_per_plane = s.rails * s.leaves_per_rail;
  two_layer::add_spines(s, "rail-optimized",
                        static_cast<long long>(s.radix / s.rails) * s.leaf_down_ports * s.rails);
  return s;
}

// GPU i of every node on rail i; a rail's leaves take the nodes in order.
GpuAttachment attach(const FabricShape& s, int node, int gpu_in_node, int) {
  const int d = s.leaf_down_ports;
  GpuAttachment a;
  a.leaf = gpu_in_node * s.leaves_per_rail + node / d;
  a.endpoint = a.leaf * d + node % d;
  return a;
}

SwitchLabel leaf(const FabricShape& s, int, int l) {
  return {fmt::format("rail{}-leaf-{}", l / s.leaves_per_rail, l % s.leaves_per_rail)};
}

std::string summary(const FabricShape& s) {
  return fmt::format("{} rails x {} leaf + {} shared spine, radix {}", s.rails, s.leaves_per_rail, s.spines_per_plane,
                     s.radix);
}

}  // namespace

extern const FabricKind rail_optimized_fabric = two_layer::completed(
    {.name = "rail-optimized",
     .description = "one leaf group per in-node GPU index (rail), one spine layer shared by all rails",
     .shape = shape, .attach = attach, .leaf = leaf, .summary = summary});

}  // namespace trainsim
