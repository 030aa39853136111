#pragma once
// The two-layer fat-tree (leaf, spine) that fat-tree, multi-plane-fat-tree and
// rail-optimized share; each of them differs only in sizes, GPU attachment or names.
// Per plane, E endpoints, radix R: a leaf has d = R/2 ports down and
// u = ceil(d / oversubscription) up; leaves L = ceil(E / d); spines S = ceil(L * u / R);
// leaf uplink j of leaf l goes to spine (l*u + j) mod S, so every leaf reaches every
// spine (parallel cables when u > S). Needs L <= R.
#include <string>
#include <vector>

#include "sim/topology/fabric_registry.hpp"

namespace trainsim::two_layer {


// `planes` independent fat-trees over the GPUs, leaves filled in endpoint order.
[[nodiscard]] FabricShape planes_of_leaves(const ClusterSpec& spec, const char* fabric, int planes);
// Spines for the leaves of `s`; std::invalid_argument when a plane has more leaves than the radix.
void add_spines(FabricShape& s, const char* fabric, long long max_endpoints_per_plane);

// In-node GPU index p on plane p % planes; endpoints of a plane in node order.
[[nodiscard]] GpuAttachment attach_by_plane(const FabricShape& s, int node, int gpu_in_node, int gpus_per_node);
[[nodiscard]] SwitchLabel leaf(const FabricShape& s, int plane, int l);    // "leaf-3"
[[nodiscard]] SwitchLabel spine(const FabricShape& s, int plane, int sp);  // "spine-1"
[[nodiscard]] int leaf_uplink(const FabricShape& s, int plane, int l, int j);
// leaf → spine → leaf, uplink by D-mod-k on the destination endpoint.
void route_between_leaves(const ClusterGraph& g, int a, int b, std::vector<Hop>& hops);
// Per plane: A and B endpoints pair up on their leaf, the rest meets at the spines.
[[nodiscard]] long long bisection_cables(const FabricShape& s, const std::vector<long long>& a,
                                         const std::vector<long long>& b);
[[nodiscard]] std::string summary(const FabricShape& s);  // "64 leaf + 32 spine, radix 64"

// A two-layer fabric: `k` with the parts it leaves empty taken from here.
[[nodiscard]] constexpr FabricKind completed(FabricKind k) {
  if (k.attach == nullptr) k.attach = attach_by_plane;
  if (k.leaf == nullptr) k.leaf = leaf;
  if (k.spine == nullptr) k.spine = spine;
  if (k.leaf_uplink == nullptr) k.leaf_uplink = leaf_uplink;
  if (k.route_between_leaves == nullptr) k.route_between_leaves = route_between_leaves;
  if (k.bisection_cables == nullptr) k.bisection_cables = bisection_cables;
  if (k.summary == nullptr) k.summary = summary;
  return k;
}

}  // namespace trainsim::two_layer
