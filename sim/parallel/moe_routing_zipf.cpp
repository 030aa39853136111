// zipf routing: sampled, expert popularity ∝ 1/rank^s with a seeded permutation of
// the experts, node-limited as in DeepSeek-V3, device-limited as in DeepSeek-V2, with
// an optional capacity per expert (see moe_routing.hpp).
#include <algorithm>
#include <climits>
#include <cmath>
#include <functional>
#include <numeric>
#include <random>

#include "sim/parallel/moe_routing_registry.hpp"

namespace trainsim::parallel {

namespace {

// The `keep` best of `groups` (group g holds experts [g·size, (g+1)·size)), best first,
// ties in listed order; a group's score is the sum of its `top` best affinities.
std::vector<int> best_groups(const std::vector<int>& groups, int size, int top, int keep,
                             const std::vector<double>& affinity) {
  const int counted = std::min(top, size);
  std::vector<double> score;
  for (int g : groups) {
    auto first = affinity.begin() + static_cast<std::ptrdiff_t>(g) * size;
    std::vector<double> local(first, first + size);
    std::partial_sort(local.begin(), local.begin() + counted, local.end(), std::greater<>());
    score.push_back(std::accumulate(local.begin(), local.begin() + counted, 0.0));
  }
  std::vector<int> order(groups.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return score[static_cast<std::size_t>(a)] > score[static_cast<std::size_t>(b)]; });
  std::vector<int> kept;
  for (int i = 0; i < keep; ++i) kept.push_back(groups[static_cast<std::size_t>(order[static_cast<std::size_t>(i)])]);
  return kept;
}

MoeRouting route_zipf(const MoeRoutingParams& p, int nodes, int m) {
  MoeRouting r;
  r.tokens_to_node.assign(static_cast<std::size_t>(p.ranks) * nodes, 0.0);
  r.tokens_to_rank.assign(static_cast<std::size_t>(p.ranks) * p.ranks, 0.0);
  r.max_nodes_reached.assign(static_cast<std::size_t>(p.ranks), 0);
  r.max_ranks_reached.assign(static_cast<std::size_t>(p.ranks), 0);
  r.expert_tokens.assign(static_cast<std::size_t>(p.ranks), 0.0);
  r.expert_pairs.assign(static_cast<std::size_t>(p.experts), 0.0);
  std::mt19937_64 rng(p.seed);

  // Popularity rank of each expert: a seeded permutation.
  std::vector<int> popularity_rank(static_cast<std::size_t>(p.experts));
  std::iota(popularity_rank.begin(), popularity_rank.end(), 1);
  std::shuffle(popularity_rank.begin(), popularity_rank.end(), rng);
  std::vector<double> log_p(popularity_rank.size());
  for (std::size_t e = 0; e < log_p.size(); ++e) log_p[e] = -p.zipf_exponent * std::log(popularity_rank[e]);

  const int experts_per_rank = p.experts / p.ranks;
  const int experts_per_node = experts_per_rank * p.ranks_per_node;
  const int per_node_top = (p.top_k + m - 1) / m;  // ceil(k/M)
  const int devices = device_limit(p, m);
  // Whole tokens per expert from one source; the capacity is rounded up (DeepSpeed).
  const double capacity = expert_capacity(p);
  const int cap = capacity > 0 ? static_cast<int>(std::ceil(capacity - 1e-9)) : INT_MAX;
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::vector<double> affinity(static_cast<std::size_t>(p.experts));
  std::vector<int> all_nodes(static_cast<std::size_t>(nodes));
  std::iota(all_nodes.begin(), all_nodes.end(), 0);
  std::vector<int> kept_ranks;
  std::vector<int> candidates;
  std::vector<int> taken(static_cast<std::size_t>(p.experts));
  std::vector<char> rank_hit(static_cast<std::size_t>(p.ranks));
  std::vector<char> node_hit(static_cast<std::size_t>(nodes));

  for (int src = 0; src < p.ranks; ++src) {
    std::fill(taken.begin(), taken.end(), 0);
    for (int token = 0; token < p.tokens; ++token) {
      for (std::size_t e = 0; e < affinity.size(); ++e) {
        // Gumbel(0,1) = −log(−log U); U in (0,1).
        double u = unit(rng);
        while (u <= 0.0) u = unit(rng);
        affinity[e] = log_p[e] - std::log(-std::log(u));
      }
      // Nodes by the sum of their ceil(k/M) best affinities (V3), then devices by their best (V2).
      kept_ranks.clear();
      for (int b : best_groups(all_nodes, experts_per_node, per_node_top, m, affinity))
        for (int d = b * p.ranks_per_node; d < (b + 1) * p.ranks_per_node; ++d) kept_ranks.push_back(d);
      if (devices < static_cast<int>(kept_ranks.size()))
        kept_ranks = best_groups(kept_ranks, experts_per_rank, 1, devices, affinity);
      candidates.clear();
      for (int d : kept_ranks)
        for (int e = d * experts_per_rank; e < (d + 1) * experts_per_rank; ++e) candidates.push_back(e);
      const auto k = std::min<std::size_t>(static_cast<std::size_t>(p.top_k), candidates.size());
      std::partial_sort(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(k), candidates.end(),
                        [&](int a, int b) { return affinity[static_cast<std::size_t>(a)] > affinity[static_cast<std::size_t>(b)]; });
      std::fill(rank_hit.begin(), rank_hit.end(), 0);
      std::fill(node_hit.begin(), node_hit.end(), 0);
      r.routed_pairs += static_cast<double>(k);
      for (std::size_t i = 0; i < k; ++i) {
        const int expert = candidates[i];
        if (taken[static_cast<std::size_t>(expert)] >= cap) {  // over capacity: bypasses the expert
          r.dropped_pairs += 1;
          continue;
        }
        ++taken[static_cast<std::size_t>(expert)];
        r.expert_pairs[static_cast<std::size_t>(expert)] += 1;
        const int rank = expert / experts_per_rank;
        rank_hit[static_cast<std::size_t>(rank)] = 1;
        r.expert_tokens[static_cast<std::size_t>(rank)] += 1;
        node_hit[static_cast<std::size_t>(rank / p.ranks_per_node)] = 1;
      }
      int reached = 0;
      int ranks_reached = 0;
      for (int d = 0; d < p.ranks; ++d)
        if (rank_hit[static_cast<std::size_t>(d)]) {
          r.tokens_to_rank[static_cast<std::size_t>(src) * p.ranks + d] += 1;
          ++ranks_reached;
        }
      for (int b = 0; b < nodes; ++b)
        if (node_hit[static_cast<std::size_t>(b)]) {
          r.tokens_to_node[static_cast<std::size_t>(src) * nodes + b] += 1;
          ++reached;
        }
      auto& most = r.max_nodes_reached[static_cast<std::size_t>(src)];
      most = std::max(most, reached);
      auto& most_ranks = r.max_ranks_reached[static_cast<std::size_t>(src)];
      most_ranks = std::max(most_ranks, ranks_reached);
    }
  }
  return r;
}

}  // namespace

extern const MoeRoutingKind zipf_routing{
    .name = "zipf",
    .description = "sampled: Zipf expert popularity (model.moe.zipf_exponent, seeded), node- and device-limited top-k",
    .uses_zipf_exponent = true,
    .route = route_zipf};

}  // namespace trainsim::parallel
