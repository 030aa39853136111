// clos3: three layers (leaf, aggregation = spine, core) in pods of radix/2 leaves and
// radix/2 aggregation switches; the leaf layer is non-blocking and the
// oversubscription applies at the aggregation layer. Aggregation switch j of every
// pod goes to core group j (cores_per_group cores). Holds at most radix^3/4 endpoints.
#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "sim/topology/fabric_registry.hpp"
#include "sim/topology/fabrics/fabric_parts.hpp"
#include "sim/topology/fabrics/two_layer.hpp"

namespace trainsim {

namespace {

using fabric_parts::ceil_div;
using fabric_parts::mod;
using fabric_parts::push;

FabricShape shape(const ClusterSpec& spec) {
  FabricShape s = fabric_parts::leaf_ports(spec);
  const int gpus = spec.num_gpus();
  const int half = s.leaf_down_ports;
  s.leaf_up_ports = half;  // leaf layer non-blocking; oversubscription at aggregation
  s.endpoints_per_plane = gpus;
  s.leaves_per_plane = ceil_div(gpus, half);
  s.pods = ceil_div(s.leaves_per_plane, half);
  if (s.pods > s.radix)
    throw std::invalid_argument(fmt::format(
        "topology: clos3 of radix {} holds at most {} endpoints (radix^3/4), asked for {}", s.radix,
        static_cast<long long>(s.radix) * half * half, gpus));
  s.spines_per_plane = s.pods * half;
  s.spine_up_ports = fabric_parts::up_ports(half, spec.network.oversubscription);
  s.cores_per_group = ceil_div(static_cast<long long>(s.pods) * s.spine_up_ports, s.radix);
  s.cores = half * s.cores_per_group;
  return s;
}

SwitchLabel leaf(const FabricShape& s, int, int l) {
  const int d = s.leaf_down_ports;
  return {fmt::format("pod{}-leaf-{}", l / d, l % d), l / d};
}

SwitchLabel spine(const FabricShape& s, int, int sp) {
  const int d = s.leaf_down_ports;
  return {fmt::format("pod{}-agg-{}", sp / d, sp % d), sp / d};
}

// One cable to each aggregation switch of the leaf's pod.
int leaf_uplink(const FabricShape& s, int, int l, int j) {
  const int d = s.leaf_down_ports;
  return (l / d) * d + j;
}

int spine_uplink(const FabricShape& s, int agg, int t) {
  const int d = s.leaf_down_ports;
  const int pod = agg / d;
  const int position = agg % d;
  return position * s.cores_per_group + mod(static_cast<long long>(pod) * s.spine_up_ports + t, s.cores_per_group);
}

// Aggregation switch by D-mod-k on the destination endpoint; across pods through
// core group j, core port by (destination endpoint / (radix/2)) mod up-ports.
void route_between_leaves(const ClusterGraph& g, int a, int b, std::vector<Hop>& hops) {
  const FabricShape& s = g.shape;
  const int la = g.gpu_leaf[a];
  const int lb = g.gpu_leaf[b];
  const int eb = g.gpu_endpoint[b];
  const int u = s.leaf_up_ports;
  const int h = s.leaf_down_ports;
  const int pod_a = la / h;
  const int pod_b = lb / h;
  const int j = eb % h;  // D-mod-k over the pod's aggregation switches
  push(g, hops, g.leaf_up_edge[static_cast<std::size_t>(la) * u + j], g.leaf_vertex[la]);
  if (pod_a != pod_b) {
    const int ua = s.spine_up_ports;
    const int cg = s.cores_per_group;
    const int agg_a = pod_a * h + j;
    const int agg_b = pod_b * h + j;
    const int t = (eb / h) % ua;
    const int core_local = mod(static_cast<long long>(pod_a) * ua + t, cg);
    push(g, hops, g.spine_up_edge[static_cast<std::size_t>(agg_a) * ua + t], g.spine_vertex[agg_a]);
    // Among the core's parallel cables into pod b's aggregation switch, the one
    // matching the destination's uplink class (t = c·cg + core): distinct
    // destinations spread over distinct cables, as D-mod-k spreads them upward.
    const int t_down = fabric_parts::down_cable(pod_b, core_local, ua, cg, t / cg);
    push(g, hops, g.spine_up_edge[static_cast<std::size_t>(agg_b) * ua + t_down],
         g.core_vertex[static_cast<std::size_t>(j) * cg + core_local]);
    push(g, hops, g.leaf_up_edge[static_cast<std::size_t>(lb) * u + j], g.spine_vertex[agg_b]);
  } else {
    push(g, hops, g.leaf_up_edge[static_cast<std::size_t>(lb) * u + j], g.spine_vertex[pod_a * h + j]);
  }
}

// Leaves pair up A and B endpoints, then pods (capped by the leaf uplinks), then
// the core layer (capped by each pod's aggregation uplinks).
long long bisection_cables(const FabricShape& s, const std::vector<long long>& a, const std::vector<long long>& b) {
  const int leaves = s.planes * s.leaves_per_plane;
  const long long u = s.leaf_up_ports;
  const int h = s.leaf_down_ports;
  const long long pod_up = static_cast<long long>(h) * s.spine_up_ports;
  long long cables = 0;
  long long up = 0;
  long long down = 0;
  for (int pod = 0; pod < s.pods; ++pod) {
    long long x = 0;
    long long y = 0;
    for (int leaf = pod * h; leaf < std::min(leaves, (pod + 1) * h); ++leaf) {
      const long long local = std::min(a[leaf], b[leaf]);
      cables += local;
      x += std::min(a[leaf] - local, u);
      y += std::min(b[leaf] - local, u);
    }
    const long long local = std::min(x, y);
    cables += local;
    up += std::min(x - local, pod_up);
    down += std::min(y - local, pod_up);
  }
  return cables + std::min(up, down);
}

std::string summary(const FabricShape& s) {
  return fmt::format("{} pods x ({} leaf + {} aggregation) + {} core, radix {}", s.pods, s.radix / 2, s.radix / 2,
                     s.cores, s.radix);
}

}  // namespace

extern const FabricKind clos3_fabric{
    .name = "clos3",
    .description = "three-layer fat-tree (leaf, aggregation, core) in pods of radix/2 leaves; "
                   "oversubscription at the aggregation layer",
    .shape = shape,
    .attach = two_layer::attach_by_plane,
    .leaf = leaf,
    .spine = spine,
    .leaf_uplink = leaf_uplink,
    .spine_uplink = spine_uplink,
    .route_between_leaves = route_between_leaves,
    .bisection_cables = bisection_cables,
    .summary = summary,
};
}  // namespace trainsim
