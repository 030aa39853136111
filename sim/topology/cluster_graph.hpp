#pragma once
// The cluster as a Boost.Graph: GPUs, the NVSwitch of each node, one NIC per
// GPU, and the fabric's switches (leaf / spine / core), joined by full-duplex
// links. Built once from a ClusterSpec; the SimGrid platform (sim/engine) and
// every analysis read it. Pure C++: no SimGrid here.
//
// Layout of every node: `node.gpus` GPUs, each with one NVLink edge to the
// node's (logical) NVSwitch and one PCIe edge to its own NIC; the NIC has one
// cable to a leaf switch. The fabric (network.fabric) decides the switches above
// the NICs and their cables: one file each in sim/topology/fabrics/, registered in
// sim/topology/fabric_registry.hpp (fat-tree, multi-plane-fat-tree, rail-optimized,
// clos3; `trainsim topology --list-fabrics`).
// Every physical cable is one edge (parallel edges allowed).
#include <boost/graph/adjacency_list.hpp>
#include <cstddef>
#include <string>
#include <vector>

#include "sim/config/spec.hpp"

namespace trainsim {

struct FabricKind;  // sim/topology/fabric_registry.hpp

enum class VertexKind { gpu, nvswitch, nic, leaf, spine, core };
// nvlink: GPU–NVSwitch. nic_attach: GPU–NIC (PCIe; carries the NIC rate).
// nic_link: NIC–leaf cable. leaf_up: leaf–spine (clos3: leaf–aggregation).
// spine_up: spine–core (clos3 only: aggregation–core).
enum class EdgeKind { nvlink, nic_attach, nic_link, leaf_up, spine_up };

[[nodiscard]] const char* to_string(VertexKind k);
[[nodiscard]] const char* to_string(EdgeKind k);

struct VertexProps {
  VertexKind kind = VertexKind::gpu;
  std::string name;      // unique, e.g. "gpu-n3-g5", "nvswitch-n3", "nic-n3-g5", "p5-leaf-2", "spine-7"
  int node = -1;         // gpu, nvswitch, nic: node index; switches: -1
  int gpu_in_node = -1;  // gpu, nic: index within the node; else -1
  int gpu = -1;          // gpu, nic: global rank = node * gpus_per_node + gpu_in_node; else -1
  int plane = -1;        // gpu, nic, leaf, spine: plane (0 for single-plane fabrics); core: 0; nvswitch: -1
  int index = -1;        // switches: index within its kind (global over planes); gpu/nic: = gpu; nvswitch: = node
  int pod = -1;          // clos3 leaf/spine: pod index; else -1
  double latency_s = 0;  // switch traversal (network.switch_latency_s) for leaf/spine/core; 0 otherwise
};

struct EdgeProps {
  EdgeKind kind = EdgeKind::nvlink;
  double bandwidth_bytes_per_s = 0;  // per direction (links are full duplex)
  double latency_s = 0;              // one way
  std::size_t id = 0;                // EdgeId: position in ClusterGraph::edges
};

using Graph = boost::adjacency_list<boost::vecS, boost::vecS, boost::undirectedS, VertexProps, EdgeProps>;
using VertexId = Graph::vertex_descriptor;  // 0..num_vertices-1
using EdgeId = std::size_t;                 // 0..num_edges-1, in creation order

// The sizes the closed forms and the router use.
struct FabricShape {
  const FabricKind* fabric = nullptr;  // its registry entry
  int radix = 0;
  int planes = 1;                 // independent networks (multi-plane only > 1)
  int rails = 1;                  // rail-optimized: leaf groups (= GPUs per node)
  int endpoints_per_plane = 0;
  int leaf_down_ports = 0;        // d: NIC ports per leaf
  int leaf_up_ports = 0;          // u: uplinks per leaf
  int leaves_per_plane = 0;       // rail-optimized: all rails together; clos3: all pods
  int leaves_per_rail = 0;        // rail-optimized only
  int spines_per_plane = 0;       // clos3: aggregation switches (pods * radix/2)
  int pods = 0;                   // clos3 only
  int spine_up_ports = 0;         // clos3: aggregation uplinks to cores
  int cores_per_group = 0;        // clos3: cores reached by aggregation position j
  int cores = 0;                  // clos3: radix/2 * cores_per_group
};

// One cable as added: `source` is the lower-layer end (GPU, NIC, leaf, spine).
// Kept beside the Boost graph as plain values (not Boost edge descriptors, which
// point into the graph's own storage) so that ClusterGraph copies and moves safely.
struct EdgeRecord {
  VertexId source = 0;
  VertexId target = 0;
  EdgeProps props;
};

struct ClusterGraph {
  Graph graph;                    // for Boost algorithms (BFS, max-flow, graphviz)
  std::vector<EdgeRecord> edges;  // by EdgeId; same properties as the graph's edges
  FabricShape shape;
  int nodes = 0;
  int gpus_per_node = 0;
  // O(GPUs + switches) lookup tables for route(); never an N x N table.
  std::vector<VertexId> gpu_vertex;      // by GPU rank
  std::vector<VertexId> nic_vertex;      // by GPU rank
  std::vector<VertexId> nvswitch_vertex; // by node
  std::vector<VertexId> leaf_vertex;     // by leaf index (plane-major)
  std::vector<VertexId> spine_vertex;    // by spine index (plane-major; clos3: pod-major)
  std::vector<VertexId> core_vertex;     // by core index (group-major)
  std::vector<EdgeId> nvlink_edge;       // by GPU rank
  std::vector<EdgeId> nic_attach_edge;   // by GPU rank
  std::vector<EdgeId> nic_link_edge;     // by GPU rank
  std::vector<int> gpu_leaf;             // by GPU rank: leaf index
  std::vector<int> gpu_endpoint;         // by GPU rank: endpoint index within its plane
  std::vector<EdgeId> leaf_up_edge;      // [leaf * u + j]
  std::vector<EdgeId> spine_up_edge;     // clos3: [aggregation * spine_up_ports + t]

  [[nodiscard]] int num_gpus() const { return nodes * gpus_per_node; }
  [[nodiscard]] const VertexProps& vertex(VertexId v) const { return graph[v]; }
  [[nodiscard]] const EdgeProps& edge(EdgeId e) const { return edges[e].props; }
  [[nodiscard]] VertexId edge_source(EdgeId e) const { return edges[e].source; }
  [[nodiscard]] VertexId edge_target(EdgeId e) const { return edges[e].target; }
  [[nodiscard]] int plane_of_gpu(int gpu) const { return graph[gpu_vertex[gpu]].plane; }
};

// Throws std::invalid_argument when the fabric is not registered, cannot hold the
// endpoints with that radix (two layers: more than radix^2/2 per plane; clos3:
// radix^3/4), or when the shape is inconsistent (planes not dividing node.gpus, radix < 2, ...).
[[nodiscard]] ClusterGraph build_cluster_graph(const ClusterSpec& spec);

// One traversal of an edge, in the direction of travel (links are full duplex:
// SimGrid's split-duplex halves are told apart by from/to).
struct Hop {
  EdgeId edge = 0;
  VertexId from = 0;
  VertexId to = 0;
};

// Deterministic up–down route from GPU rank src to GPU rank dst (empty if equal),
// computed on the fly in O(hops):
//   same node:          GPU → NVSwitch → GPU (NVLink, 2 hops);
//   same leaf:          GPU → NIC → leaf → NIC → GPU (4 hops);
//   across leaves:      ... leaf → spine → leaf ... (6 hops); the uplink is chosen by
//                       D-mod-k (uplink j = destination endpoint index mod u, as InfiniBand's
//                       fat-tree routing does), the downlink cable among parallel ones by
//                       source endpoint index; clos3 across pods adds aggregation → core →
//                       aggregation (8 hops), core port by (destination endpoint / (radix/2)) mod up-ports;
//   multi-plane, dst on another plane and another node: PXN-style, first NVLink to the GPU
//                       of the source's node with the destination's in-node index (which
//                       is on the destination's plane), then that plane's route (+2 hops).
//   rail-optimized across rails: through the shared spine (no NVLink forwarding).
[[nodiscard]] std::vector<Hop> route(const ClusterGraph& g, int src_gpu, int dst_gpu);
[[nodiscard]] std::vector<EdgeId> route_edges(const ClusterGraph& g, int src_gpu, int dst_gpu);

struct TopologyFacts {
  std::string fabric;
  int gpus = 0;
  int nodes = 0;
  int planes = 1;
  int nics = 0;
  int nvswitches = 0;          // one logical NVSwitch per node
  int leaf_switches = 0;
  int spine_switches = 0;      // clos3: aggregation switches
  int core_switches = 0;
  int fabric_switches = 0;     // leaf + spine + core (ISCA'25 Table 3 "Switches")
  int nvlink_links = 0;
  int nic_attach_links = 0;
  int nic_links = 0;           // NIC–leaf cables (endpoint links)
  int leaf_up_links = 0;
  int spine_up_links = 0;
  int switch_links = 0;        // leaf_up + spine_up (ISCA'25 Table 3 "Links")
  int total_links = 0;
  int diameter_hops = 0;       // max over GPU pairs of the shortest path, in edges
  double bisection_bytes_per_s = 0;  // per direction, between the first and second half of the nodes
  double nic_bytes_per_s = 0;
  double nvlink_bytes_per_s = 0;
  FabricShape shape;
};

// Closed forms from the structure (no graph search); tests check them against
// BFS and max-flow on small instances.
[[nodiscard]] TopologyFacts topology_facts(const ClusterGraph& g, const ClusterSpec& spec);

}  // namespace trainsim
