#pragma once
// Pieces every fabric uses: integer helpers, the leaf port split, hop recording.
#include <vector>

#include "sim/config/spec.hpp"
#include "sim/topology/cluster_graph.hpp"

namespace trainsim::fabric_parts {

[[nodiscard]] inline int ceil_div(long long a, long long b) { return static_cast<int>((a + b - 1) / b); }

// Smallest non-negative residue.
[[nodiscard]] inline int mod(long long a, long long m) { return static_cast<int>(((a % m) + m) % m); }

// Uplinks for `down` ports at the spec's oversubscription. Ceil: the achieved
// down:up ratio is never worse than the one asked for.
[[nodiscard]] int up_ports(int down, double oversubscription);

// Refuses sizes no fabric can take (std::invalid_argument).
void check_sizes(const ClusterSpec& spec);

// Radix and leaf ports: d = radix/2 down, u = ceil(d / oversubscription) up.
[[nodiscard]] FabricShape leaf_ports(const ClusterSpec& spec);

// Appends the traversal of edge e leaving vertex `from`.
void push(const ClusterGraph& g, std::vector<Hop>& hops, EdgeId e, VertexId from);

// Among the parallel cables of `lower` (local index within its group) going to
// upper switch `upper` (local index), with cable i of `lower` going to upper
// (lower * ports + i) mod uppers: the cable index chosen by `selector`.
[[nodiscard]] int down_cable(int lower, int upper, int ports, int uppers, int selector);

}  // namespace trainsim::fabric_parts
