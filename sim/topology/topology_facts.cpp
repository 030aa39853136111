// Closed-form facts of a cluster graph: counts from the shape, the diameter
// from the route classes, the bisection bandwidth from a bottom-up flow count.
#include <algorithm>
#include <vector>

#include "sim/topology/cluster_graph.hpp"
#include "sim/topology/fabric_registry.hpp"

namespace trainsim {

namespace {

// GPU-to-GPU diameter in edges. Shortest paths: same node 2 (NVLink); same
// leaf 4; across leaves 6 (leaf–spine–leaf); across clos3 pods 8 (up to a core).
// Several planes: a pair on different planes and nodes needs one NVLink crossing
// (+2) on top of the longest in-plane path (any path changes plane inside some
// node; doing it in the source or destination node is shortest).
int diameter_hops(const ClusterGraph& g) {
  const FabricShape& s = g.shape;
  if (g.num_gpus() <= 1) return 0;
  if (g.nodes == 1) return 2;
  int network = s.pods > 1 ? 8 : s.leaves_per_plane > 1 ? 6 : 4;
  if (s.planes > 1) network += 2;
  return std::max(network, 2);
}

// Bisection: maximum flow per direction from the GPUs of the first half of the
// nodes (A) to those of the second half (B). Every fabric cable has the NIC rate,
// so count in cables. Bottom-up over the tree (exact for up–down trees whose
// cables spread evenly over the upper layer): at each switch, A and B endpoints
// below it pair up locally (costs no uplink), the rest goes up / comes down,
// capped by the uplinks; the top layer joins what is left.
//   Regular cases reduce to: two layers, node-aligned halves, L even:
//     planes * min(E/2, (L/2) * u) cables; clos3: min(E/2, pods/2 * (radix/2) * ua).
double bisection_bytes_per_s(const ClusterGraph& g, const ClusterSpec& spec) {
  const FabricShape& s = g.shape;
  const int gpus = g.num_gpus();
  const int a_nodes = g.nodes / 2;
  const int leaves = s.planes * s.leaves_per_plane;
  std::vector<long long> a(leaves, 0);
  std::vector<long long> b(leaves, 0);
  for (int rank = 0; rank < gpus; ++rank) {
    if (rank / g.gpus_per_node < a_nodes)
      ++a[g.gpu_leaf[rank]];
    else
      ++b[g.gpu_leaf[rank]];
  }
  const long long cables = s.fabric->bisection_cables(s, a, b);
  return static_cast<double>(cables) * spec.network.nic_bytes_per_s;
}

}  // namespace

TopologyFacts topology_facts(const ClusterGraph& g, const ClusterSpec& spec) {
  const FabricShape& s = g.shape;
  TopologyFacts f;
  f.fabric = s.fabric->name;
  f.gpus = g.num_gpus();
  f.nodes = g.nodes;
  f.planes = s.planes;
  f.nics = f.gpus;
  f.nvswitches = g.nodes;
  f.leaf_switches = s.planes * s.leaves_per_plane;
  f.spine_switches = s.planes * s.spines_per_plane;
  f.core_switches = s.cores;
  f.fabric_switches = f.leaf_switches + f.spine_switches + f.core_switches;
  f.nvlink_links = f.gpus;
  f.nic_attach_links = f.gpus;
  f.nic_links = f.gpus;
  f.leaf_up_links = f.leaf_switches * s.leaf_up_ports;
  f.spine_up_links = s.spines_per_plane * s.spine_up_ports;  // three layers only
  f.switch_links = f.leaf_up_links + f.spine_up_links;
  f.total_links = f.nvlink_links + f.nic_attach_links + f.nic_links + f.switch_links;
  f.diameter_hops = diameter_hops(g);
  f.bisection_bytes_per_s = bisection_bytes_per_s(g, spec);
  f.nic_bytes_per_s = spec.network.nic_bytes_per_s;
  f.nvlink_bytes_per_s = spec.node.nvlink_bytes_per_s;
  f.shape = s;
  return f;
}

}  // namespace trainsim
