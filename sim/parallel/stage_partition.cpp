// Contiguous min-max split of layers into stages, balanced per rank (see
// stage_partition.hpp). Three exact methods, by the shape of the stage→rank map:
// one stage per rank (a prefix DP), mirrored pairs s and S-1-s on one rank
// (DualPipe, DualPipeV: a DP that grows both ends at once), anything else
// (interleaved) a branch and bound over stage ends.
#include "sim/parallel/stage_partition.hpp"

#include <algorithm>
#include <limits>
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
  // Other maps (interleaved: stage s on rank s % pp) keep the per-stage
  // optimum: no exact per-rank method fast enough for 128 layers in 32 stages yet.
  return min_max_stage(prefix, stages);
}

Split partition_layers(const std::vector<double>& layer_seconds, int stages) {
  return partition_layers(layer_seconds, stages, one_stage_per_rank(stages));
}

}  // namespace trainsim::step
