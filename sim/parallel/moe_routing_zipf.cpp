// zipf routing: sampled, expert popularity ∝ 1/rank^s with a seeded permutation of
// the experts, node-limited as in DeepSeek-V3 (see moe_routing.hpp).
#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <random>

#include "sim/parallel/moe_routing_registry.hpp"

namespace trainsim::parallel {

namespace {

MoeRouting route_zipf(const MoeRoutingParams& p, int nodes, int m) {
  MoeRouting r;
  r.tokens_to_node.assign(static_cast<std::size_t>(p.ranks) * nodes, 0.0);
  r.tokens_to_rank.assign(static_cast<std::size_t>(p.ranks) * p.ranks, 0.0);
  r.max_nodes_reached.assign(static_cast<std::size_t>(p.ranks), 0);
  r.expert_tokens.assign(static_cast<std::size_t>(p.ranks), 0.0);
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
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::vector<double> affinity(static_cast<std::size_t>(p.experts));
  std::vector<double> node_score(static_cast<std::size_t>(nodes));
  std::vector<int> node_order(static_cast<std::size_t>(nodes));
  std::vector<int> candidates;
  std::vector<char> rank_hit(static_cast<std::size_t>(p.ranks));
  std::vector<char> node_hit(static_cast<std::size_t>(nodes));

  for (int src = 0; src < p.ranks; ++src) {
    for (int token = 0; token < p.tokens; ++token) {
      for (std::size_t e = 0; e < affinity.size(); ++e) {
        // Gumbel(0,1) = −log(−log U); U in (0,1).
        double u = unit(rng);
        while (u <= 0.0) u = unit(rng);
        affinity[e] = log_p[e] - std::log(-std::log(u));
      }
      // Node scores: sum of each node's ceil(k/M) best affinities.
      for (int b = 0; b < nodes; ++b) {
        auto first = affinity.begin() + static_cast<std::ptrdiff_t>(b) * experts_per_node;
        std::vector<double> local(first, first + experts_per_node);
        std::partial_sort(local.begin(), local.begin() + std::min(per_node_top, experts_per_node), local.end(),
                          std::greater<>());
        node_score[static_cast<std::size_t>(b)] =
            std::accumulate(local.begin(), local.begin() + std::min(per_node_top, experts_per_node), 0.0);
      }
      std::iota(node_order.begin(), node_order.end(), 0);
      std::stable_sort(node_order.begin(), node_order.end(),
                       [&](int a, int b) { return node_score[static_cast<std::size_t>(a)] > node_score[static_cast<std::size_t>(b)]; });
      candidates.clear();
      for (int i = 0; i < m; ++i) {
        const int b = node_order[static_cast<std::size_t>(i)];
        for (int e = b * experts_per_node; e < (b + 1) * experts_per_node; ++e) candidates.push_back(e);
      }
      const auto k = std::min<std::size_t>(static_cast<std::size_t>(p.top_k), candidates.size());
      std::partial_sort(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(k), candidates.end(),
                        [&](int a, int b) { return affinity[static_cast<std::size_t>(a)] > affinity[static_cast<std::size_t>(b)]; });
      std::fill(rank_hit.begin(), rank_hit.end(), 0);
      std::fill(node_hit.begin(), node_hit.end(), 0);
      for (std::size_t i = 0; i < k; ++i) {
        const int rank = candidates[i] / experts_per_rank;
        rank_hit[static_cast<std::size_t>(rank)] = 1;
        r.expert_tokens[static_cast<std::size_t>(rank)] += 1;
        node_hit[static_cast<std::size_t>(rank / p.ranks_per_node)] = 1;
      }
      int reached = 0;
      for (int d = 0; d < p.ranks; ++d)
        if (rank_hit[static_cast<std::size_t>(d)]) r.tokens_to_rank[static_cast<std::size_t>(src) * p.ranks + d] += 1;
      for (int b = 0; b < nodes; ++b)
        if (node_hit[static_cast<std::size_t>(b)]) {
          r.tokens_to_node[static_cast<std::size_t>(src) * nodes + b] += 1;
          ++reached;
        }
      auto& most = r.max_nodes_reached[static_cast<std::size_t>(src)];
      most = std::max(most, reached);
    }
  }
  return r;
}

}  // namespace

extern const MoeRoutingKind zipf_routing{
    .name = "zipf",
    .description = "sampled: Zipf expert popularity (model.moe.zipf_exponent, seeded), node-limited top-k",
    .uses_zipf_exponent = true,
    .route = route_zipf};

}  // namespace trainsim::parallel
