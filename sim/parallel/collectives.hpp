#pragma once
// Collectives expanded into transfers (never closed-form formulas): a plan is a
// sequence of phases; the transfers of a phase run concurrently and a phase starts
// when the previous one has ended. One transfer per (source GPU, destination GPU,
// phase) — never per token or message (ENGINE-NOTES.md: the solver's cost grows
// with completions × concurrent flows). Pure C++: the engine runs the plans.
#include <map>
#include <string>
#include <vector>

#include "sim/parallel/moe_routing.hpp"

namespace trainsim::parallel {

struct Transfer {
  int src_gpu = 0;
  int dst_gpu = 0;
  double bytes = 0;
};

struct TransferPhase {
  std::vector<Transfer> transfers;
};

struct CollectivePlan {
  std::string name;
  std::vector<TransferPhase> phases;
  int ranks = 0;                // GPUs taking part (per group)
  double payload_bytes = 0;     // S of the NCCL-tests definitions (per rank; see each builder)
  double bus_factor = 1;        // busbw = algbw × bus_factor (NCCL-tests: 2(n−1)/n, (n−1)/n, 1)

  [[nodiscard]] double total_bytes() const;  // sum over every transfer = bytes sent = bytes received
  [[nodiscard]] std::map<int, double> bytes_sent_by_gpu() const;
  [[nodiscard]] std::map<int, double> bytes_received_by_gpu() const;
  [[nodiscard]] std::size_t transfer_count() const;
};

// One transfer of `bytes` from src to dst. S = bytes, busbw = algbw.
[[nodiscard]] CollectivePlan point_to_point(int src_gpu, int dst_gpu, double bytes);

// Ring algorithms over `group` in the given order (rank i sends to rank i+1 mod n).
// S = the full buffer: the all-reduce buffer; the reduce-scatter input; the all-gather
// output. Each phase moves one S/n chunk per rank.
//   all-reduce: 2(n−1) phases; reduce-scatter and all-gather: n−1 phases.
[[nodiscard]] CollectivePlan ring_all_reduce(const std::vector<int>& group, double bytes);
[[nodiscard]] CollectivePlan ring_reduce_scatter(const std::vector<int>& group, double bytes);
[[nodiscard]] CollectivePlan ring_all_gather(const std::vector<int>& group, double bytes);

// Hierarchical (2-D) algorithms. `gpus_per_node` is the cluster's node size: a member's
// node is gpu / gpus_per_node, whatever its place in `group` (a strided tp>1 DP group
// included); nodes are taken in order of first appearance, members in group order.
// Nodes of k members each (m nodes): every member with in-node index i forms the rail ring i
// across the nodes.
//   all-reduce: NVLink ring reduce-scatter (k−1 phases of S/k), per-rail ring all-reduce
//   of each S/k shard (2(m−1) phases of S/(k·m)), NVLink ring all-gather (k−1 phases of S/k);
//   reduce-scatter: the first two halves; all-gather: the reverse of reduce-scatter.
// m = 1 is the NVLink ring; k = 1 the flat ring over the nodes.
// Nodes of unequal size (k_b members on node b, n in all): the same stages, the NVLink rings
// per node (k_b−1 phases of S/k_b), then rings across nodes over pieces of the buffer that
// have one holder per node, each holder keeping k_b/n of the piece, so that every member
// ends with S/n and sends (n−1)/n·S in all, as the flat ring (see collectives.cpp).
// Throws std::invalid_argument for an empty group, a repeated GPU or gpus_per_node < 1.
[[nodiscard]] CollectivePlan hierarchical_all_reduce(const std::vector<int>& group, int gpus_per_node,
                                                     double bytes);
[[nodiscard]] CollectivePlan hierarchical_reduce_scatter(const std::vector<int>& group, int gpus_per_node,
                                                         double bytes);
[[nodiscard]] CollectivePlan hierarchical_all_gather(const std::vector<int>& group, int gpus_per_node,
                                                     double bytes);

// Direct all-to-all: every rank sends bytes/n to every other rank, all at once.
// S = bytes per rank (its whole send buffer), busbw = algbw·(n−1)/n.
[[nodiscard]] CollectivePlan direct_all_to_all(const std::vector<int>& group, double bytes);

// MoE dispatch, DeepEP-style two hops (DeepSeek-V3 §3.2.2). `group` holds the GPU of each
// EP rank (ordered node by node, routing.ranks_per_node per node). A token of rank s
// (node a, in-node index i) goes over InfiniBand once to each target node b ≠ a, to the
// relay GPU (b, i); the relay forwards it over NVLink to each GPU of node b hosting one of
// its experts. Copies for experts on node a go over NVLink only, s → d directly.
// DeepEP pipelines the two legs in chunks, so the IB and NVLink legs run concurrently:
// the plan is ONE phase, each transfer aggregated per GPU pair (the relay's forwards and
// its own same-node copies to a GPU are one transfer). The chunk pipeline's fill time is
// not modelled. S = mean bytes a rank sends as token copies to other ranks; busbw factor
// (n−1)/n as for an all-to-all.
[[nodiscard]] CollectivePlan moe_dispatch(const std::vector<int>& group, const MoeRouting& routing,
                                          double bytes_per_token);
// Combine: the exact reverse of dispatch (NVLink to the relay, which reduces, then IB back),
// with the combine payload per token copy.
[[nodiscard]] CollectivePlan moe_combine(const std::vector<int>& group, const MoeRouting& routing,
                                         double bytes_per_token);

// Several independent plans run side by side (e.g. G groups of N ranks): phase p of the
// result holds phase p of every plan. ranks/payload/bus factor come from the first plan.
[[nodiscard]] CollectivePlan side_by_side(const std::vector<CollectivePlan>& plans);

}  // namespace trainsim::parallel
