// fat-tree: one plane, two layers (leaf, spine); GPUs attached to leaves in rank
// order (node by node).
#include "sim/topology/fabrics/two_layer.hpp"

namespace trainsim {

namespace {

FabricShape shape(const ClusterSpec& spec) { return two_layer::planes_of_leaves(spec, "fat-tree", 1); }

}  // namespace

const FabricKind& fat_tree_fabric() {
  static const FabricKind kind{
      .name = "fat-tree",
      .description = "one two-layer fat-tree (leaf, spine); GPUs on leaves in rank order",
      .shape = shape,
      .attach = two_layer::attach_by_plane,
      .leaf = two_layer::leaf,
      .spine = two_layer::spine,
      .leaf_uplink = two_layer::leaf_uplink,
      .route_between_leaves = two_layer::route_between_leaves,
      .bisection_cables = two_layer::bisection_cables,
      .summary = two_layer::summary,
  };
  return kind;
}

}  // namespace trainsim
