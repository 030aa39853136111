#include "sim/topology/fabrics/two_layer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "sim/topology/fabrics/fabric_parts.hpp"

namespace trainsim::two_layer {

using fabric_parts::ceil_div;
using fabric_parts::mod;
using fabric_parts::push;

FabricShape planes_of_leaves(const ClusterSpec& spec, const char* fabric, int planes) {
  FabricShape s = fabric_parts::leaf_ports(spec);
  s.planes = planes;
  s.endpoints_per_plane = spec.num_gpus() / s.planes;
  s.leaves_per_plane = ceil_div(s.endpoints_per_plane, s.leaf_down_ports);
  add_spines(s, fabric, static_cast<long long>(s.radix) * s.leaf_down_ports);
  return s;
}

void add_spines(FabricShape& s, const char* fabric, long long max_endpoints_per_plane) {
  // Every leaf must reach every spine: L * u / R spines <= u, i.e. L <= R.
  if (s.leaves_per_plane > s.radix)
    throw std::invalid_argument(fmt::format(
        "topology: {} needs {} leaf switches per plane but a two-layer fat-tree of radix {} holds at most {} "
        "(at most {} endpoints per plane); use more planes or fabric clos3",
        fabric, s.leaves_per_plane, s.radix, s.radix, max_endpoints_per_plane));
  s.spines_per_plane = ceil_div(static_cast<long long>(s.leaves_per_plane) * s.leaf_up_ports, s.radix);
}

GpuAttachment attach_by_plane(const FabricShape& s, int node, int gpu_in_node, int gpus_per_node) {
  GpuAttachment a;
  a.plane = gpu_in_node % s.planes;
  a.endpoint = node * (gpus_per_node / s.planes) + gpu_in_node / s.planes;
  a.leaf = a.plane * s.leaves_per_plane + a.endpoint / s.leaf_down_ports;
  return a;
}

SwitchLabel leaf(const FabricShape&, int, int l) { return {fmt::format("leaf-{}", l)}; }

SwitchLabel spine(const FabricShape&, int, int sp) { return {fmt::format("spine-{}", sp)}; }

int leaf_uplink(const FabricShape& s, int plane, int l, int j) {
  return plane * s.spines_per_plane + mod(static_cast<long long>(l) * s.leaf_up_ports + j, s.spines_per_plane);
}

void route_between_leaves(const ClusterGraph& g, int a, int b, std::vector<Hop>& hops) {
  const FabricShape& s = g.shape;
  const int la = g.gpu_leaf[a];
  const int lb = g.gpu_leaf[b];
  const int u = s.leaf_up_ports;
  const int lp = s.leaves_per_plane;
  const int sp = s.spines_per_plane;
  const int plane = la / lp;
  const int la_local = la % lp;
  const int lb_local = lb % lp;
  const int j = g.gpu_endpoint[b] % u;  // D-mod-k: uplink chosen by the destination
  const int spine_local = mod(static_cast<long long>(la_local) * u + j, sp);
  push(g, hops, g.leaf_up_edge[static_cast<std::size_t>(la) * u + j], g.leaf_vertex[la]);
  // The spine's parallel cables into leaf b: the destination's uplink class picks
  // one (j = c·sp + spine offset), so distinct destinations use distinct cables.
  // (Choosing by source collapsed rail traffic, whose sources share an index
  // modulo the cable count, onto one cable.)
  const int j_down = fabric_parts::down_cable(lb_local, spine_local, u, sp, j / sp);
  push(g, hops, g.leaf_up_edge[static_cast<std::size_t>(lb) * u + j_down],
       g.spine_vertex[static_cast<std::size_t>(plane) * sp + spine_local]);
}

long long bisection_cables(const FabricShape& s, const std::vector<long long>& a, const std::vector<long long>& b) {
  const long long u = s.leaf_up_ports;
  long long cables = 0;
  for (int plane = 0; plane < s.planes; ++plane) {
    long long up = 0;
    long long down = 0;
    for (int leaf = plane * s.leaves_per_plane; leaf < (plane + 1) * s.leaves_per_plane; ++leaf) {
      const long long local = std::min(a[leaf], b[leaf]);
      cables += local;
      up += std::min(a[leaf] - local, u);
      down += std::min(b[leaf] - local, u);
    }
    cables += std::min(up, down);
  }
  return cables;
}

std::string summary(const FabricShape& s) {
  return fmt::format("{} leaf + {} spine, radix {}", s.leaves_per_plane, s.spines_per_plane, s.radix);
}

}  // namespace trainsim::two_layer
