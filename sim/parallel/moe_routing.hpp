#pragma once
// MoE token routing over one expert-parallel (EP) group: how many tokens each EP rank
// sends to each node and to each rank. These counts decide the all-to-all sizes.
//
// Placement: the routed experts are split in contiguous groups over the EP ranks
// (rank r hosts experts [r·E/R, (r+1)·E/R)); the ranks of the group are ordered node by
// node, `ranks_per_node` consecutive ranks share a node.
//
// Node-limited routing (DeepSeek-V3 §2.1.2): a token reaches at most M nodes.
//
// The kinds (moe_routing_registry.hpp; one file each, moe_routing_<name>.cpp):
// balanced (default) — exact expected values, identical on every rank. Every token picks
//   M' = min(M, nodes) nodes uniformly at random (its own node included) and spreads its
//   top_k experts evenly over the chosen nodes: k/M' experts per node, on
//   min(k/M', g) distinct GPUs of that node (g = ranks per node). Hence, for every pair
//   of ranks (s, d) and every node b:
//       tokens_to_node[s][b] = T · M'/n
//       tokens_to_rank[s][d] = T · (M'/n) · min(k/(M'·g), 1)
//   (n = nodes in the group, T = tokens per rank). A token reaching a rank is sent there
//   once, whatever the number of its experts on that rank (DeepEP sends per rank).
// zipf — sampled: expert e has popularity p_e ∝ 1/rank(e)^s, with popularity ranks a
//   seeded permutation of the experts (hot experts land on random EP ranks). Each token
//   draws affinities a_e = log p_e + Gumbel noise (std::mt19937_64, seeded): its top_k
//   experts by affinity are a popularity-weighted sample without replacement. Node limit
//   as in DeepSeek-V3: a node's score is the sum of its ceil(k/M) highest affinities, the
//   M best nodes are kept, and the top_k experts are taken among the kept nodes only.
#include <string>
#include <vector>

#include "sim/config/spec.hpp"

namespace trainsim::parallel {

struct MoeRoutingParams {
  int ranks = 0;             // EP group size
  int ranks_per_node = 0;    // GPUs of the group sharing one node
  int tokens = 0;            // tokens per rank (one micro-batch)
  int top_k = 0;
  int experts = 0;           // routed experts, divisible by ranks
  int max_nodes = 0;         // M; 0 = unlimited
  std::string routing = "balanced";  // a registered kind (moe_routing_registry.hpp)
  double zipf_exponent = 1;
  unsigned seed = 0;
};

struct MoeRouting {
  int ranks = 0;
  int ranks_per_node = 0;
  std::vector<double> tokens_to_rank;  // [src·ranks + dst]: tokens of src with ≥1 expert on dst
  std::vector<double> tokens_to_node;  // [src·nodes + node]: tokens of src with ≥1 expert on node
  std::vector<int> max_nodes_reached;  // per src rank: most nodes any of its tokens reached (zipf)
  std::vector<double> expert_tokens;   // per dst rank: (token, expert) pairs it computes, from every src

  [[nodiscard]] int nodes() const { return ranks / ranks_per_node; }
  [[nodiscard]] int node_of(int rank) const { return rank / ranks_per_node; }
  [[nodiscard]] double to_rank(int src, int dst) const {
    return tokens_to_rank[static_cast<std::size_t>(src) * ranks + dst];
  }
  [[nodiscard]] double to_node(int src, int node) const {
    return tokens_to_node[static_cast<std::size_t>(src) * nodes() + node];
  }
};

// Validates the parameters (std::invalid_argument with a message) and routes.
[[nodiscard]] MoeRouting route_tokens(const MoeRoutingParams& params);

// Parameters from a workload (model.moe, parallelism.ep, training.seq_len × micro_batch).
[[nodiscard]] MoeRoutingParams routing_params(const WorkloadSpec& workload, int ranks_per_node);

}  // namespace trainsim::parallel
