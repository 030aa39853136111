// Which GPUs are simulated for a fidelity, and the transfer filter (see representatives.hpp).
#include "sim/parallel/representatives.hpp"

#include <algorithm>
#include <functional>
#include <numeric>

#include <fmt/format.h>

namespace trainsim::step {

std::vector<double> expert_load_by_rank(const MoeSpec& moe, const parallel::MoeRouting& routing) {
  std::vector<double> load;
  const auto& pairs = routing.expert_tokens;
  // Over the pairs a rank computes when nothing is dropped (T·k, the mean then): dropped
  // pairs (capacity factor) lower the load, skew spreads it.
  const double nominal =
      (std::accumulate(pairs.begin(), pairs.end(), 0.0) + routing.dropped_pairs) / static_cast<double>(pairs.size());
  if (nominal > 0 && (moe.routing != "balanced" || routing.dropped_pairs > 0))
    for (double x : pairs) load.push_back(x / nominal);
  return load;
}

Representatives choose_representatives(const ClusterSpec& cluster, const ParallelismSpec& p, Fidelity fidelity,
                                       const std::vector<double>& expert_load) {
  Representatives reps;
  reps.fidelity = fidelity;
  if (fidelity == Fidelity::symmetric && cluster.network.oversubscription > 1)
    reps.notes.push_back(
        "symmetric fidelity on an oversubscribed fabric (" + fmt::format("{:g}", cluster.network.oversubscription) +
        ":1): switch links shared with GPUs that are not simulated carry only the representatives' flows, so "
        "contention is underestimated; use --fidelity full for this fabric");
  if (fidelity == Fidelity::full) {
    for (int d = 0; d < replicas_per_rank(p); ++d) reps.replicas.push_back(d);
  } else if (std::adjacent_find(expert_load.begin(), expert_load.end(), std::not_equal_to<>()) == expert_load.end()) {
    // Dense, balanced, or the same load on every EP rank (balanced routing over capacity).
    reps.replicas.push_back(0);
  } else {
    // Skewed routing: the most loaded EP rank's pipeline sets the pace (an
    // all-to-all ends with its slowest rank), so it is the representative.
    const auto most = std::max_element(expert_load.begin(), expert_load.end()) - expert_load.begin();
    reps.replicas.push_back(static_cast<int>(most));
    reps.notes.push_back(
        "skewed routing in symmetric fidelity: the most loaded EP rank (" + std::to_string(most) +
        ", load " + std::to_string(expert_load[static_cast<std::size_t>(most)]) +
        " x mean) is simulated; the waits of the other ranks are not (use --fidelity full for imbalance_wait)");
  }
  // Symmetric: the CP ranks of the chosen data-parallel index run in lockstep
  // and pass KV blocks around their ring, so all of them are simulated
  // (replica = dp_index·cp + cp_index; cp = 1 leaves the DP index alone).
  if (fidelity == Fidelity::symmetric && p.cp > 1) {
    const int dp_index = reps.replicas.front();
    reps.replicas.clear();
    for (int c = 0; c < p.cp; ++c) reps.replicas.push_back(dp_index * p.cp + c);
  }
  for (int r = 0; r < p.pp; ++r)
    for (int d : reps.replicas)
      for (int t = 0; t < (fidelity == Fidelity::full ? p.tp : 1); ++t) reps.gpus.push_back(gpu_of(p, r, d, t));
  std::sort(reps.gpus.begin(), reps.gpus.end());
  reps.simulated.assign(cluster.num_gpus(), false);
  for (int g : reps.gpus) reps.simulated[g] = true;
  return reps;
}

// Symmetric mode keeps the transfers that touch a representative: its own NIC
// and NVLink ports then carry exactly their loads, its peers' mirror traffic
// toward it included, with as many flows as in `full` (max-min sharing is per
// flow, so merging flows would change the shares). Exact when the
// representatives' ports are the bottleneck (non-blocking fabrics); `full` is
// the reference otherwise.
std::vector<parallel::Transfer> keep_transfers(const Representatives& reps,
                                               const std::vector<parallel::Transfer>& all) {
  if (reps.fidelity == Fidelity::full) return all;
  std::vector<parallel::Transfer> kept;
  for (const auto& t : all)
    if (t.src_gpu != t.dst_gpu && (reps.simulated[t.src_gpu] || reps.simulated[t.dst_gpu])) kept.push_back(t);
  return kept;
}

}  // namespace trainsim::step
