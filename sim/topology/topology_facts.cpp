// Closed-form facts of a cluster graph: counts from the shape, the diameter
// from the route classes, the bisection bandwidth from a bottom-up flow count.
#include <algorithm>
#include <vector>

#include "sim/topology/cluster_graph.hpp"

namespace trainsim {

namespace {

// GPU-to-GPU diameter in edges. Shortest paths: same node 2 (NVLink); same
// leaf 4; across leaves 6 (leaf–spine–leaf); across clos3 pods 8. Multi-plane:
// a pair on different planes and nodes needs one NVLink crossing (+2) on top of
// the longest in-plane path (any path changes plane inside some node; doing it
// in the source or destination node is shortest).
int diameter_hops(const ClusterGraph& g) {
  const FabricShape& s = g.shape;
  if (g.num_gpus() <= 1) return 0;
  if (g.nodes == 1) return 2;
  int network = 4;
  if (s.fabric == Fabric::clos3) {
    network = s.pods > 1 ? 8 : s.leaves_per_plane > 1 ? 6 : 4;
  } else {
    network = s.leaves_per_plane > 1 ? 6 : 4;
  }
  if (s.fabric == Fabric::multi_plane_fat_tree && s.planes > 1) network += 2;
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
  const long long u = s.leaf_up_ports;
  long long cables = 0;
  if (s.fabric == Fabric::clos3) {
    const int h = s.leaf_down_ports;
    const long long pod_up = static_cast<long long>(h) * s.spine_up_ports;
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
    cables += std::min(up, down);
  } else {
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
  }
  return static_cast<double>(cables) * spec.network.nic_bytes_per_s;
}

}  // namespace

TopologyFacts topology_facts(const ClusterGraph& g, const ClusterSpec& spec) {
  const FabricShape& s = g.shape;
  TopologyFacts f;
  f.fabric = to_string(s.fabric);
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
  f.spine_up_links = s.fabric == Fabric::clos3 ? s.spines_per_plane * s.spine_up_ports : 0;
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
