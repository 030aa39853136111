// Contiguous min-max split of layers into stages, balanced per rank (see
// stage_partition.hpp). By the shape of the stage→rank map: one stage per rank
// (exact prefix DP), mirrored pairs s and S-1-s on one rank (DualPipe,
// DualPipeV: an exact DP that grows both ends at once), several stages on one
// rank each (interleaved: a bisection over the rank-load cap with a paced greedy,
// then single-layer moves; not proven optimal, within a layer of it on the cases
// tested).
#include "sim/parallel/stage_partition.hpp"

#include <algorithm>
#include <limits>
#include <optional>
#include <utility>
#include <stdexcept>

namespace trainsim::step {
namespace {

using Split = std::vector<std::vector<int>>;
constexpr double kInf = std::numeric_limits<double>::infinity();

std::vector<double> prefix_sums(const std::vector<double>& cost) {
  std::vector<double> prefix(cost.size() + 1, 0);
  for (std::size_t i = 0; i < cost.size(); ++i) prefix[i + 1] = prefix[i] + cost[i];
  return prefix;
}

// Stage s covers layers ends[s]..ends[s+1]-1.
Split split_at(const std::vector<int>& ends) {
  Split split(ends.size() - 1);
  for (std::size_t s = 0; s + 1 < ends.size(); ++s)
    for (int i = ends[s]; i < ends[s + 1]; ++i) split[s].push_back(i);
  return split;
}

// The distinct stages of each rank, sorted.
StagesOfRank distinct(const StagesOfRank& stages_of_rank) {
  StagesOfRank out = stages_of_rank;
  for (auto& v : out) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
  }
  return out;
}

// One stage per rank: minimise the largest stage (exact prefix DP).
Split min_max_stage(const std::vector<double>& prefix, int stages) {
  const int n = static_cast<int>(prefix.size()) - 1;
  // best[s][i]: minimal max-stage cost splitting the first i layers into s stages.
  std::vector<std::vector<double>> best(stages + 1, std::vector<double>(n + 1, kInf));
  std::vector<std::vector<int>> cut(stages + 1, std::vector<int>(n + 1, 0));
  best[0][0] = 0;
  for (int s = 1; s <= stages; ++s)
    for (int i = s; i <= n - (stages - s); ++i)
      for (int j = s - 1; j < i; ++j) {
        const double v = std::max(best[s - 1][j], prefix[i] - prefix[j]);
        if (v < best[s][i] - 1e-15) {
          best[s][i] = v;
          cut[s][i] = j;
        }
      }
  std::vector<int> ends(stages + 1, n);
  for (int s = stages; s >= 1; --s) ends[s - 1] = cut[s][ends[s]];
  return split_at(ends);
}

// Every rank runs stages {s, S-1-s} (or the middle stage alone when S is odd).
bool mirrored(const StagesOfRank& held, int stages) {
  for (const auto& v : held) {
    if (v.empty()) continue;
    const int s = v.front();
    if (v.size() > 2 || v.back() != stages - 1 - s) return false;
  }
  return true;
}

// What a search minimises: the largest rank load, then, among the splits that
// keep every rank load within that optimum, the sum of squared stage costs (the
// stages themselves as even as the rank balance allows: a pipeline's warm-up
// and cool-down run stage by stage).
enum class Objective { rank_load, stage_squares };

// Mirrored pairs. best[i][j] after p pairs: the outer 2p stages cover layers
// 0..i-1 and j..n-1; each pair step grows both ends. Splits with a pair sum
// over `cap` are not considered. Returns the split and its objective value.
std::pair<Split, double> min_max_mirrored(const std::vector<double>& prefix, int stages, Objective objective,
                                          double cap) {
  const int n = static_cast<int>(prefix.size()) - 1, pairs = stages / 2, w = n + 1;
  auto seg = [&](int a, int b) { return prefix[b] - prefix[a]; };
  std::vector<double> best(w * w, kInf);
  std::vector<std::vector<int>> from(pairs + 1, std::vector<int>(w * w, -1));
  best[0 * w + n] = 0;
  for (int p = 0; p < pairs; ++p) {
    const int middle = stages - 2 * (p + 1);  // stages left between the ends after this pair
    std::vector<double> next(w * w, kInf);
    for (int i = 0; i <= n; ++i)
      for (int j = i; j <= n; ++j) {
        const double here = best[i * w + j];
        if (here == kInf) continue;
        for (int i2 = i + 1; i2 <= j; ++i2)
          for (int j2 = j - 1; j2 >= i2 + middle; --j2) {
            const double a = seg(i, i2), b = seg(j2, j);
            if (a + b > cap) break;  // j2 only moves down: b only grows
            const double v = objective == Objective::rank_load ? std::max(here, a + b) : here + a * a + b * b;
            if (v < next[i2 * w + j2] - 1e-15) {
              next[i2 * w + j2] = v;
              from[p + 1][i2 * w + j2] = i * w + j;
            }
          }
      }
    best.swap(next);
  }
  // Close: the ends meet (even S) or the middle stage lies between them (odd S).
  double answer = kInf;
  int at = -1;
  for (int i = 0; i <= n; ++i)
    for (int j = i; j <= n; ++j) {
      if (best[i * w + j] == kInf || (stages % 2 == 0) != (i == j)) continue;
      if (stages % 2 == 1 && seg(i, j) > cap) continue;
      const double middle = stages % 2 == 0 ? 0.0 : seg(i, j);
      const double v = objective == Objective::rank_load ? std::max(best[i * w + j], middle)
                                                         : best[i * w + j] + middle * middle;
      if (v < answer - 1e-15) {
        answer = v;
        at = i * w + j;
      }
    }
  std::vector<int> ends(stages + 1, 0);
  ends[stages] = n;
  for (int p = pairs; p >= 1; --p) {
    ends[p] = at / w;
    ends[stages - p] = at % w;
    at = from[p][at];
  }
  return {split_at(ends), answer};
}

// Rank loads may exceed the optimum by rounding only.
double cap_at(double optimum) { return optimum + 1e-12 * std::max(1.0, optimum); }

// Each stage run by exactly one rank, a rank running several (interleaved: stage
// s on rank s % pp). owner[s]: its rank; nth[s]: which of the rank's stages it is
// (0, 1, ...); count[r]: how many the rank runs.
struct OneOwnerMap {
  std::vector<int> owner, nth, count;
};

std::optional<OneOwnerMap> one_owner_map(const StagesOfRank& held, int stages) {
  OneOwnerMap m{std::vector<int>(stages, -1), std::vector<int>(stages, 0), std::vector<int>(held.size(), 0)};
  for (std::size_t r = 0; r < held.size(); ++r)
    for (int s : held[r]) {
      if (m.owner[s] != -1) return std::nullopt;
      m.owner[s] = static_cast<int>(r);
      m.nth[s] = m.count[r]++;
    }
  return m;
}

std::vector<double> owner_loads(const std::vector<double>& prefix, const std::vector<int>& ends, const OneOwnerMap& m) {
  std::vector<double> load(m.count.size(), 0);
  for (std::size_t s = 0; s + 1 < ends.size(); ++s) load[m.owner[s]] += prefix[ends[s + 1]] - prefix[ends[s]];
  return load;
}

// Paced greedy under a rank-load cap: stage s, the k-th of its rank's c stages,
// ends as late as keeps the rank's load within (k+1)/c of `cap` (its last stage:
// within cap), leaving a layer for each later stage; the last stage takes the
// rest. Pacing keeps a rank from spending its whole cap on its first stage, and a
// rank that ran over its pace (a heavy embedding) takes less later. Returns the
// stage ends, or nothing when a rank ends over the cap.
std::optional<std::vector<int>> paced_ends(const std::vector<double>& prefix, int stages, const OneOwnerMap& m,
                                           double cap) {
  const int n = static_cast<int>(prefix.size()) - 1;
  std::vector<int> ends(stages + 1, 0);
  std::vector<double> load(m.count.size(), 0);
  for (int s = 0; s < stages; ++s) {
    const int r = m.owner[s], start = ends[s];
    int end = start + 1;
    if (s + 1 == stages) {
      end = n;
    } else {
      const int latest = n - (stages - 1 - s);
      const double pace = cap_at(cap * (m.nth[s] + 1) / m.count[r]);
      while (end < latest && load[r] + prefix[end + 1] - prefix[start] <= pace) ++end;
    }
    load[r] += prefix[end] - prefix[start];
    if (load[r] > cap_at(cap)) return std::nullopt;
    ends[s + 1] = end;
  }
  return ends;
}

double largest(const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); }

// Rank-balanced split for a one-owner map: the least cap (bisection) under which
// the paced greedy finds a split, if that beats the per-stage optimum `start`; then
// single stage ends moved by one layer while that lowers the largest rank load,
// or keeps it and evens the stages (sum of squared stage costs).
std::vector<int> balance_one_owner(const std::vector<double>& prefix, int stages, const OneOwnerMap& m,
                                   std::vector<int> best) {
  double best_max = largest(owner_loads(prefix, best, m));
  double lo = prefix.back() / static_cast<double>(m.count.size()), hi = best_max;
  for (int i = 0; i < 60 && hi - lo > 1e-12 * std::max(1.0, hi); ++i) {
    const double mid = (lo + hi) / 2;
    if (auto ends = paced_ends(prefix, stages, m, mid)) {
      hi = mid;
      const double got = largest(owner_loads(prefix, *ends, m));
      if (got < best_max) {
        best_max = got;
        best = *ends;
      }
    } else {
      lo = mid;
    }
  }
  auto squares = [&](const std::vector<int>& ends) {
    double sum = 0;
    for (int s = 0; s < stages; ++s) sum += (prefix[ends[s + 1]] - prefix[ends[s]]) * (prefix[ends[s + 1]] - prefix[ends[s]]);
    return sum;
  };
  double best_squares = squares(best);
  for (bool moved = true; moved;) {
    moved = false;
    for (int k = 1; k < stages; ++k)
      for (int step : {-1, 1}) {
        std::vector<int> ends = best;
        ends[k] += step;
        if (ends[k] <= ends[k - 1] || ends[k] >= ends[k + 1]) continue;
        const double got = largest(owner_loads(prefix, ends, m));
        const double sq = squares(ends);
        const bool lower = got < best_max - 1e-12 * std::max(1.0, best_max);
        if (lower || (got <= cap_at(best_max) && sq < best_squares - 1e-12 * std::max(1.0, best_squares))) {
          best = std::move(ends);
          best_max = std::min(best_max, got);
          best_squares = sq;
          moved = true;
        }
      }
  }
  return best;
}

// The stage ends of a split.
std::vector<int> ends_of(const Split& split) {
  std::vector<int> ends{0};
  for (const auto& stage : split) ends.push_back(stage.back() + 1);
  return ends;
}

}  // namespace

StagesOfRank one_stage_per_rank(int stages) {
  StagesOfRank out(stages);
  for (int s = 0; s < stages; ++s) out[s] = {s};
  return out;
}

std::vector<double> rank_loads(const std::vector<double>& layer_seconds, const Split& split,
                               const StagesOfRank& stages_of_rank) {
  std::vector<double> loads;
  for (const auto& stages : distinct(stages_of_rank)) {
    double sum = 0;
    for (int s : stages)
      for (int layer : split[s]) sum += layer_seconds[layer];
    loads.push_back(sum);
  }
  return loads;
}

Split partition_layers(const std::vector<double>& layer_seconds, int stages, const StagesOfRank& stages_of_rank) {
  const std::vector<double> prefix = prefix_sums(layer_seconds);
  const StagesOfRank held = distinct(stages_of_rank);
  std::vector<std::vector<int>> holders(stages);
  std::vector<int> last_stage;
  for (std::size_t r = 0; r < held.size(); ++r) {
    for (int s : held[r]) {
      if (s < 0 || s >= stages) throw std::invalid_argument("partition_layers: a rank runs a stage out of range");
      holders[s].push_back(static_cast<int>(r));
    }
    last_stage.push_back(held[r].empty() ? -1 : held[r].back());
  }
  for (const auto& h : holders)
    if (h.empty()) throw std::invalid_argument("partition_layers: a stage no rank runs");
  bool one_each = true;
  for (const auto& v : held) one_each = one_each && v.size() <= 1;
  if (one_each) return min_max_stage(prefix, stages);
  if (mirrored(held, stages)) {
    const double optimum = min_max_mirrored(prefix, stages, Objective::rank_load, kInf).second;
    return min_max_mirrored(prefix, stages, Objective::stage_squares, cap_at(optimum)).first;
  }
  // Each stage on one rank, a rank running several (interleaved: stage s on rank
  // s % pp, the embedding in stage 0 on rank 0, the head and MTP in the last
  // stage on rank pp-1): balanced per rank from the per-stage optimum.
  const Split per_stage = min_max_stage(prefix, stages);
  if (const auto m = one_owner_map(held, stages))
    return split_at(balance_one_owner(prefix, stages, *m, ends_of(per_stage)));
  return per_stage;
}

Split partition_layers(const std::vector<double>& layer_seconds, int stages) {
  return partition_layers(layer_seconds, stages, one_stage_per_rank(stages));
}

}  // namespace trainsim::step
