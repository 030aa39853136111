#pragma once
// The fabrics (network.fabric), registered by name. Each fabric is one file in
// sim/topology/fabrics/ that fills a FabricKind with what differs per fabric: its
// config rules, its sizes, where each GPU's NIC attaches, how switches are named and
// cabled, how a route crosses between leaves, its bisection count and its one-line
// summary. The graph builder, the router, the facts and the outputs call these and
// never name a fabric. To add a fabric: one file in fabrics/ plus its line in
// fabric_registry.cpp.
#include <string>
#include <string_view>
#include <vector>

#include "sim/config/spec.hpp"
#include "sim/topology/cluster_graph.hpp"

namespace trainsim {

// Where the NIC of one GPU attaches.
struct GpuAttachment {
  int endpoint = 0;  // index within its plane
  int leaf = 0;      // leaf index (plane-major)
  int plane = 0;
};

struct SwitchLabel {
  std::string name;
  int pod = -1;  // clos3: the pod; else -1
};

struct FabricKind {
  const char* name = "";         // as written in network.fabric
  const char* description = "";  // one line, for `trainsim topology --list-fabrics`
  // Rules on the cluster keys this fabric reads (InputError at the key); nullptr: none.
  void (*check)(const ClusterSpec& spec) = nullptr;
  // The sizes; std::invalid_argument when the fabric cannot hold the GPUs.
  FabricShape (*shape)(const ClusterSpec& spec) = nullptr;
  GpuAttachment (*attach)(const FabricShape& s, int node, int gpu_in_node, int gpus_per_node) = nullptr;
  // Switch l (or sp) of `plane`, counted within the plane.
  SwitchLabel (*leaf)(const FabricShape& s, int plane, int l) = nullptr;
  SwitchLabel (*spine)(const FabricShape& s, int plane, int sp) = nullptr;
  // The spine (global index) that uplink j of leaf l of `plane` goes to.
  int (*leaf_uplink)(const FabricShape& s, int plane, int l, int j) = nullptr;
  // Three layers only: the core that uplink t of spine (aggregation switch) `spine` goes to.
  int (*spine_uplink)(const FabricShape& s, int spine, int t) = nullptr;
  // Appends the hops from leaf gpu_leaf[a] up and down to leaf gpu_leaf[b] (two different leaves).
  void (*route_between_leaves)(const ClusterGraph& g, int a, int b, std::vector<Hop>& hops) = nullptr;
  // Bisection in cables, given per leaf the endpoints of each half (see topology_facts.cpp).
  long long (*bisection_cables)(const FabricShape& s, const std::vector<long long>& a,
                                const std::vector<long long>& b) = nullptr;
  std::string (*summary)(const FabricShape& s) = nullptr;  // "8 planes x (8 leaf + 4 spine), radix 64"
};

// In registration order (the order of listings and error messages).
[[nodiscard]] const std::vector<const FabricKind*>& fabric_kinds();
[[nodiscard]] std::vector<std::string> fabric_names();
[[nodiscard]] const FabricKind* find_fabric(std::string_view name);  // nullptr when unknown
// std::invalid_argument naming the registered fabrics when unknown.
[[nodiscard]] const FabricKind& fabric_named(const std::string& name);

// The cluster's fabric is registered and its rules hold; else InputError at the key
// (FILE:LINE:COL, "did you mean" for a misspelt name). Run after load_cluster.
void check_fabric(const ClusterSpec& spec);

// Where a cluster key was written (the file alone when it was not).
[[nodiscard]] SourceMark cluster_mark(const ClusterSpec& spec, const std::string& key);

}  // namespace trainsim
