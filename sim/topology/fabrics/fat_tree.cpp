// fat-tree: one plane, two layers (leaf, spine); GPUs attached to leaves in rank
// order (node by node).
#include "sim/topology/fabrics/two_layer.hpp"

namespace trainsim {

namespace {

FabricShape shape(const ClusterSpec& spec) { return two_layer::planes_of_leaves(spec, "fat-tree", 1); }

}  // namespace

extern const FabricKind fat_tree_fabric = two_layer::completed(
    {.name = "fat-tree", .description = "one two-layer fat-tree (leaf, spine); GPUs on leaves in rank order",
     .shape = shape});

}  // namespace trainsim
