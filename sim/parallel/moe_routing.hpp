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
//
// Device-limited routing (DeepSeek-V2 §2.2.2): a token's experts lie on at most D EP
// ranks (GPUs). With a node limit as well, both hold: nodes are chosen first, then the
// D best devices among the kept nodes (so D > M·g does not bind).
// balanced — without the limit a token reaches u = M'·min(k/M', g) = min(k, M'·g) ranks
//   (tokens_to_rank = T·u/R above, R = n·g). D ≥ u does not bind: the counts above hold
//   unchanged. D < u: the token's k experts lie k/D per device on D devices, spread evenly
//   over N = min(M', D) nodes (D/N ≤ g devices per node, as the node-limited form spreads
//   its experts over distinct GPUs), so for every (s, d, b):
//       tokens_to_node[s][b] = T · N/n
//       tokens_to_rank[s][d] = T · D/R
//   e.g. R = 8, g = 4 (n = 2), k = 4, no node limit: u = 4; D = 2 gives T/4 per rank and
//   T per node (one device on each node); D = 1 (with 4 experts per rank) gives T/8 per
//   rank and T/2 per node.
// zipf — as DeepSeek-V2: a device's score is its best expert affinity; the D best
//   devices (among the kept nodes) are kept and the top_k taken among their experts.
//
// Capacity factor c (GShard, arXiv 2006.16668; Switch Transformer, arXiv 2101.03961;
// 0 = no cap): each source rank (one group: its T tokens of a micro-batch) sends an
// expert at most C = c·T·k/E tokens;
// the excess (token, expert) pairs are dropped: the token skips that expert through the
// residual, is not sent for it and the expert does not compute it. Over the EP group an
// expert computes at most R·C of the R·T·k/E pairs it receives on average.
// balanced — every expert fills at the same rate, so in token order all reach capacity
//   at the same position: the last (1 − min(c, 1)) of the tokens are dropped whole, and
//   every count above (to_rank, to_node, expert pairs) scales by min(c, 1); c ≥ 1 drops
//   nothing.
// zipf — tokens in order, each of a token's top_k pairs (best affinity first) is kept
//   while its expert has taken fewer than ceil(C) tokens from this source (whole tokens,
//   as DeepSpeed's MoE gate rounds the capacity up); a rank or node is reached only
//   through kept pairs.
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
  int max_devices = 0;          // D, EP ranks a token's experts may span; 0 = unlimited
  double capacity_factor = 0;   // c; 0 = no cap
};

struct MoeRouting {
  int ranks = 0;
  int ranks_per_node = 0;
  std::vector<double> tokens_to_rank;  // [src·ranks + dst]: tokens of src with ≥1 expert on dst
  std::vector<double> tokens_to_node;  // [src·nodes + node]: tokens of src with ≥1 expert on node
  std::vector<int> max_nodes_reached;  // per src rank: most nodes any of its tokens reached (zipf)
  std::vector<double> expert_tokens;   // per dst rank: (token, expert) pairs it computes, from every src
  std::vector<int> max_ranks_reached;  // per src rank: most EP ranks any of its tokens reached
  std::vector<double> expert_pairs;    // per expert: (token, expert) pairs it computes, from every src
  double routed_pairs = 0;             // pairs the router chose (R·T·k): computed + dropped
  double dropped_pairs = 0;            // pairs over capacity, bypassing their expert

  [[nodiscard]] double dropped_fraction() const { return routed_pairs > 0 ? dropped_pairs / routed_pairs : 0; }

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

// Devices a token may reach within `max_nodes` nodes: min(D, max_nodes·g), max_nodes·g when D = 0.
[[nodiscard]] int device_limit(const MoeRoutingParams& params, int max_nodes);
// Per-source capacity C = c·T·k/E of one expert (0 when there is no cap).
[[nodiscard]] double expert_capacity(const MoeRoutingParams& params);

// The step note on dropped pairs: the capacity factor and the fraction dropped.
[[nodiscard]] std::string capacity_note(const MoeSpec& moe, const MoeRouting& routing);

// Parameters from a workload (model.moe, parallelism.ep, training.seq_len × micro_batch).
[[nodiscard]] MoeRoutingParams routing_params(const WorkloadSpec& workload, int ranks_per_node);

}  // namespace trainsim::parallel
