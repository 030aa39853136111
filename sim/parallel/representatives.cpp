// Which GPUs are simulated for a fidelity, and the transfer filter (see representatives.hpp).
#include "sim/parallel/representatives.hpp"

#include <algorithm>
#include <functional>
#include <numeric>
#include <random>

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

std::vector<double> gpu_speeds(const ClusterSpec& cluster) {
  if (!cluster.stragglers) return {};
  const StragglerSpec& st = *cluster.stragglers;
  std::vector<double> speed(static_cast<std::size_t>(cluster.num_gpus()), 1.0);
  if (st.spread > 0) {
    // mt19937_64's output sequence is fixed by the standard (its distributions are not): map it to [0, 1) here.
    std::mt19937_64 rng(static_cast<std::uint64_t>(st.seed));
    for (double& s : speed) s = 1 - st.spread * (static_cast<double>(rng() >> 11) * 0x1.0p-53);
  }
  for (const auto& [gpu, s] : st.slow_gpus) {
    const auto i = static_cast<std::size_t>(gpu);
    speed[i] = std::min(speed[i], s);
  }
  return speed;
}

ComputeSpeeds compute_speeds(const ClusterSpec& cluster, const ParallelismSpec& p, Representatives& reps) {
  ComputeSpeeds out;
  const std::vector<double> speed = gpu_speeds(cluster);
  if (speed.empty()) return out;
  const auto slowest = std::min_element(speed.begin(), speed.end());
  out.pacing_gpu = static_cast<int>(slowest - speed.begin());
  out.pacing_speed = *slowest;
  out.by_gpu.assign(speed.size(), 1.0);
  const int replicas = replicas_per_rank(p);
  for (int r = 0; r < p.pp; ++r) {
    double rank_min = 1;
    for (int d = 0; d < replicas; ++d)
      for (int t = 0; t < p.tp; ++t) rank_min = std::min(rank_min, speed[gpu_of(p, r, d, t)]);
    for (int d = 0; d < replicas; ++d) {
      double group_min = 1;
      for (int t = 0; t < p.tp; ++t) group_min = std::min(group_min, speed[gpu_of(p, r, d, t)]);
      out.by_gpu[gpu_of(p, r, d, 0)] = reps.fidelity == Fidelity::full ? group_min : rank_min;
    }
    if (reps.fidelity == Fidelity::symmetric && rank_min < 1)
      reps.notes.push_back(fmt::format(
          "stragglers in symmetric fidelity: pipeline rank {}'s representative computes at speed {:g}, the slowest "
          "of the rank's {} GPUs (its data-parallel and EP peers wait for it at every all-to-all and at the "
          "gradient reduction); --fidelity full gives each GPU its own speed",
          r, rank_min, replicas * p.tp));
  }
  if (out.pacing_speed >= 1) out.pacing_gpu = -1;
  return out;
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
