// multi-plane-fat-tree: `planes` independent two-layer fat-trees; in-node GPU index
// p goes to plane p % planes (DeepSeek ISCA'25 §5.1). No switch joins two planes:
// cross-plane traffic is forwarded inside a node over NVLink (route() in cluster_graph.cpp).
#include <fmt/format.h>

#include <stdexcept>

#include "sim/config/error.hpp"
#include "sim/topology/fabrics/two_layer.hpp"

namespace trainsim {

namespace {

// One plane per in-node GPU index: the planes must divide the GPUs of a node.
void check(const ClusterSpec& spec) {
  if (spec.network.planes < 1 || spec.node.gpus % spec.network.planes != 0)
    throw InputError(cluster_mark(spec, "network.planes"),
                     fmt::format("network.planes: {} planes do not divide the {} GPUs of a node (one plane per "
                                 "in-node GPU index)",
                                 spec.network.planes, spec.node.gpus));
}

SwitchLabel leaf(const FabricShape&, int plane, int l) { return {fmt::format("p{}-leaf-{}", plane, l)}; }

SwitchLabel spine(const FabricShape&, int plane, int sp) { return {fmt::format("p{}-spine-{}", plane, sp)}; }

std::string summary(const FabricShape& s) {
  return fmt::format("{} planes x ({} leaf + {} spine), radix {}", s.planes, s.leaves_per_plane, s.spines_per_plane,
                     s.radix);
}

FabricShape shape(const ClusterSpec& spec) {
  const int planes = spec.network.planes;
  if (planes < 1 || spec.node.gpus % planes != 0)
    throw std::invalid_argument(
        fmt::format("topology: planes ({}) must divide node.gpus ({})", planes, spec.node.gpus));
  return two_layer::planes_of_leaves(spec, "multi-plane-fat-tree", planes);
}

}  // namespace

extern const FabricKind multi_plane_fat_tree_fabric = two_layer::completed(
    {.name = "multi-plane-fat-tree",
     .description = "network.planes independent two-layer fat-trees, GPU i of a node on plane i % planes; "
                    "NVLink joins the planes (DeepSeek ISCA'25)",
     .check = check, .shape = shape, .leaf = leaf, .spine = spine, .summary = summary});

}  // namespace trainsim
