// Contiguous min-max split of layers into stages (see stage_partition.hpp).
#include "sim/parallel/stage_partition.hpp"

#include <algorithm>
#include <limits>

namespace trainsim::step {

std::vector<std::vector<int>> partition_layers(const std::vector<double>& layer_seconds, int stages) {
  const int n = static_cast<int>(layer_seconds.size());
  std::vector<double> prefix(n + 1, 0);
  for (int i = 0; i < n; ++i) prefix[i + 1] = prefix[i] + layer_seconds[i];
  // best[s][i]: minimal max-stage cost splitting the first i layers into s stages.
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<std::vector<double>> best(stages + 1, std::vector<double>(n + 1, inf));
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
  std::vector<std::vector<int>> result(stages);
  int end = n;
  for (int s = stages; s >= 1; --s) {
    const int begin = cut[s][end];
    for (int i = begin; i < end; ++i) result[s - 1].push_back(i);
    end = begin;
  }
  return result;
}

}  // namespace trainsim::step
