#include "sim/parallel/moe_routing.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>

namespace trainsim::parallel {
namespace {

void check(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument("MoE routing: " + message);
}

MoeRouting route_balanced(const MoeRoutingParams& p, int nodes, int m) {
  MoeRouting r;
  const double t = p.tokens;
  const double node_share = static_cast<double>(m) / nodes;
  const double rank_hit = std::min(static_cast<double>(p.top_k) / (static_cast<double>(m) * p.ranks_per_node), 1.0);
  r.tokens_to_node.assign(static_cast<std::size_t>(p.ranks) * nodes, t * node_share);
  r.tokens_to_rank.assign(static_cast<std::size_t>(p.ranks) * p.ranks, t * node_share * rank_hit);
  r.max_nodes_reached.assign(static_cast<std::size_t>(p.ranks), m);
  // Every rank hosts E/R experts and receives its share k/R of each source's T·k pairs.
  r.expert_tokens.assign(static_cast<std::size_t>(p.ranks), static_cast<double>(t) * p.top_k);
  return r;
}

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

MoeRouting route_tokens(const MoeRoutingParams& p) {
  check(p.ranks > 0, "EP group size must be positive");
  check(p.ranks_per_node > 0 && p.ranks % p.ranks_per_node == 0,
        "EP group size " + std::to_string(p.ranks) + " must be a multiple of the GPUs per node " +
            std::to_string(p.ranks_per_node) + " (ranks ordered node by node)");
  check(p.tokens >= 0, "tokens must not be negative");
  check(p.top_k > 0, "top_k must be positive");
  check(p.experts > 0 && p.experts % p.ranks == 0,
        "routed experts " + std::to_string(p.experts) + " must be a positive multiple of the EP size " +
            std::to_string(p.ranks));
  check(p.top_k <= p.experts, "top_k exceeds the number of routed experts");
  check(p.max_nodes >= 0, "max_nodes must not be negative");
  const int nodes = p.ranks / p.ranks_per_node;
  const int m = p.max_nodes == 0 ? nodes : std::min(p.max_nodes, nodes);
  check(p.top_k <= m * (p.experts / nodes), "top_k experts do not fit on max_nodes nodes");
  MoeRouting r = p.routing == RoutingKind::zipf ? route_zipf(p, nodes, m) : route_balanced(p, nodes, m);
  r.ranks = p.ranks;
  r.ranks_per_node = p.ranks_per_node;
  return r;
}

MoeRoutingParams routing_params(const WorkloadSpec& w, int ranks_per_node) {
  MoeRoutingParams p;
  p.ranks = w.parallelism.ep;
  p.ranks_per_node = std::min(ranks_per_node, w.parallelism.ep);
  p.tokens = w.training.seq_len * w.training.micro_batch;
  if (w.model.moe) {
    p.top_k = w.model.moe->top_k;
    p.experts = w.model.moe->routed_experts;
    p.max_nodes = w.model.moe->max_nodes_per_token;
    p.routing = w.model.moe->routing;
    p.zipf_exponent = w.model.moe->zipf_exponent;
    p.seed = w.model.moe->seed;
  }
  return p;
}

}  // namespace trainsim::parallel
