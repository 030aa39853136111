// The run with failures (see goodput.hpp).
#include "sim/reliability/goodput.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "sim/config/error.hpp"
#include "sim/config/percentile.hpp"
#include "sim/model/cost_model.hpp"
#include "sim/topology/cluster_graph.hpp"

namespace trainsim::reliability {

namespace {

constexpr double kSecondsPerDay = 86400;
constexpr double kSecondsPerHour = 3600;

// SplitMix64 (Steele, Lea, Flood 2014): a fixed generator, so a seed gives the
// same failures on every platform (std:: distributions are implementation-defined).
struct SplitMix64 {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
};

// Seconds by cause: a seed's (RunOutcome) and the mean over seeds (GoodputReport).
constexpr std::pair<double RunOutcome::*, double GoodputReport::*> kTimeByCause[] = {
    {&RunOutcome::useful_s, &GoodputReport::useful_s},         {&RunOutcome::checkpoint_s, &GoodputReport::checkpoint_s},
    {&RunOutcome::lost_work_s, &GoodputReport::lost_work_s},   {&RunOutcome::detection_s, &GoodputReport::detection_s},
    {&RunOutcome::replace_wait_s, &GoodputReport::replace_wait_s}, {&RunOutcome::restart_s, &GoodputReport::restart_s},
    {&RunOutcome::load_s, &GoodputReport::load_s}};

double summed_rate(const std::vector<ComponentRate>& components) {
  double rate = 0;
  for (const ComponentRate& c : components) rate += c.job_rate_per_s();
  return rate;
}

// Linear interpolation between the curve's points, held flat outside them.
double seconds_per_token_at(const std::vector<RampCurvePoint>& curve, double batch) {
  if (batch <= curve.front().batch) return curve.front().seconds_per_token;
  for (std::size_t i = 1; i < curve.size(); ++i)
    if (batch <= curve[i].batch) {
      const double f = (batch - curve[i - 1].batch) / (curve[i].batch - curve[i - 1].batch);
      return curve[i - 1].seconds_per_token + f * (curve[i].seconds_per_token - curve[i - 1].seconds_per_token);
    }
  return curve.back().seconds_per_token;
}

Percentiles percentiles(std::vector<double> v) {
  Percentiles p;
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  // Summed as offsets from the smallest, so that equal values (no failures) give that value exactly.
  double offsets = 0;
  for (double x : v) offsets += x - v.front();
  p.mean = v.front() + offsets / static_cast<double>(v.size());
  p.p5 = config::linear_percentile(v, 5);
  p.p50 = config::linear_percentile(v, 50);
  p.p95 = config::linear_percentile(v, 95);
  return p;
}

// Infinity when a seed's run passes `give_up_s`.
double mean_wall_s(const RunShape& run, std::size_t interval, const Recovery& recovery,
                   const std::vector<ComponentRate>& components, int seeds, double give_up_s) {
  double sum = 0;
  for (int seed = 1; seed <= seeds; ++seed) {
    const RunOutcome o = simulate_failures(run, interval, recovery, components,
                                           random_failures(components, static_cast<std::uint64_t>(seed)), give_up_s);
    if (!o.finished) return std::numeric_limits<double>::infinity();
    sum += o.wall_s;
  }
  return sum / seeds;
}

// GoodputReport::interval_curve: the optimum x 1/4 .. 4, each over the report's seeds.
std::vector<IntervalPoint> curve_around_optimum(const RunShape& run, const Recovery& recovery, const GoodputReport& g,
                                          double trillions, double give_up_s) {
  std::vector<IntervalPoint> curve;
  for (const double factor : {0.25, 0.5, 1.0, 2.0, 4.0}) {
    const auto k = std::clamp<std::size_t>(
        static_cast<std::size_t>(std::llround(factor * static_cast<double>(g.optimal_interval_steps))), 1,
        std::max<std::size_t>(1, g.steps));
    if (!curve.empty() && curve.back().interval_steps == k) continue;
    IntervalPoint p{k, static_cast<double>(k) * g.full_step_s, 0, 0};
    bool finished = true;
    for (int seed = 1; seed <= g.seeds && finished; ++seed) {
      const RunOutcome o = simulate_failures(run, k, recovery, g.components,
                                             random_failures(g.components, static_cast<std::uint64_t>(seed)), give_up_s);
      finished = o.finished;
      p.goodput += (o.wall_s > 0 ? o.useful_s / o.wall_s : 1) / g.seeds;
      p.days_per_trillion_tokens += o.wall_s / kSecondsPerDay / trillions / g.seeds;
    }
    if (finished) curve.push_back(p);
  }
  return curve;
}

}  // namespace

CheckpointCost checkpoint_cost(const ClusterSpec& cluster, const WorkloadSpec& workload) {
  CheckpointCost c;
  const OptimizerSpec& o = workload.training.optimizer;
  const double bytes_per_param = o.parameter_bytes + o.master_weight_bytes + 2.0 * o.moment_bytes;
  c.bytes = model_cost(workload).params_total_with_mtp * bytes_per_param;
  c.bytes_per_gpu = c.bytes / cluster.num_gpus();
  c.bytes_per_node = c.bytes / cluster.nodes;
  c.zero = workload.parallelism.zero;
  if (!cluster.reliability) return c;
  const ReliabilitySpec& r = *cluster.reliability;
  const auto transfer_s = [&](double per_node_bytes_per_s) {
    double s = c.bytes_per_node / per_node_bytes_per_s;
    if (r.storage_bytes_per_s > 0) s = std::max(s, c.bytes / r.storage_bytes_per_s);
    return s;
  };
  c.write_s = transfer_s(r.checkpoint_write_bytes_per_s);
  c.read_s = transfer_s(r.checkpoint_read_bytes_per_s);
  c.asynchronous = r.asynchronous;
  c.snapshot_s = r.asynchronous ? c.bytes_per_gpu / r.snapshot_bytes_per_s : 0;
  c.stall_s = r.asynchronous ? c.snapshot_s : c.write_s;
  return c;
}

std::vector<ComponentRate> component_rates(const ClusterSpec& cluster) {
  if (!cluster.reliability) return {};
  const FailureRates& r = cluster.reliability->rates;
  const TopologyFacts facts = topology_facts(build_cluster_graph(cluster), cluster);
  return {{"gpu", static_cast<double>(cluster.num_gpus()), r.gpu, true},
          {"node", static_cast<double>(cluster.nodes), r.node, true},
          {"nic", static_cast<double>(cluster.num_gpus()), r.nic, true},
          {"link", static_cast<double>(facts.nic_links + facts.switch_links), r.link, false},
          {"switch", static_cast<double>(facts.fabric_switches), r.fabric_switch, false}};
}

RunShape run_shape(const WorkloadSpec& workload, const std::vector<RampCurvePoint>& seconds_per_token, double ideal_s) {
  RunShape run;
  const TrainingSpec& t = workload.training;
  const double full_tokens = static_cast<double>(t.global_batch) * t.seq_len;
  const bool ramp = t.batch_ramp && seconds_per_token.size() > 1;
  double done = 0, elapsed = 0;
  while (done < t.tokens) {
    double batch = t.global_batch;
    if (ramp && done < t.batch_ramp->over_tokens)
      batch = t.batch_ramp->start_sequences +
              (t.global_batch - t.batch_ramp->start_sequences) * done / t.batch_ramp->over_tokens;
    const double tokens = std::min(ramp ? batch * t.seq_len : full_tokens, t.tokens - done);
    elapsed += tokens * seconds_per_token_at(seconds_per_token, batch);
    done += tokens;
    run.step_end_s.push_back(elapsed);
  }
  if (ideal_s > 0 && elapsed > 0)
    for (double& s : run.step_end_s) s *= ideal_s / elapsed;
  if (!run.step_end_s.empty() && ideal_s > 0) run.step_end_s.back() = ideal_s;  // exact, not within rounding
  return run;
}

RunShape uniform_run(std::size_t steps, double step_s) {
  RunShape run;
  for (std::size_t i = 1; i <= steps; ++i) run.step_end_s.push_back(static_cast<double>(i) * step_s);
  return run;
}

Recovery recovery_of(const ClusterSpec& cluster, const CheckpointCost& cost) {
  Recovery r;
  if (!cluster.reliability) return r;
  const ReliabilitySpec& s = *cluster.reliability;
  r.detection_s = s.detection_s;
  r.restart_s = s.restart_s;
  r.replace_s = s.replace_s;
  r.spare_nodes = s.spare_nodes;
  r.load_s = cost.read_s;
  r.stall_s = cost.stall_s;
  r.durable_after_s = cost.asynchronous ? cost.write_s : 0;
  return r;
}

FailureSource random_failures(const std::vector<ComponentRate>& components, std::uint64_t seed) {
  const double rate = summed_rate(components);
  return [components, rate, rng = SplitMix64{seed}]() mutable {
    if (rate <= 0) return Failure{std::numeric_limits<double>::infinity(), 0};
    Failure f;
    f.after_s = -std::log1p(-rng.uniform()) / rate;
    double pick = rng.uniform() * rate;
    f.component = static_cast<int>(components.size()) - 1;
    for (std::size_t i = 0; i < components.size(); ++i) {
      pick -= components[i].job_rate_per_s();
      if (pick < 0) {
        f.component = static_cast<int>(i);
        break;
      }
    }
    return f;
  };
}

RunOutcome simulate_failures(const RunShape& run, std::size_t interval_steps, const Recovery& recovery,
                             const std::vector<ComponentRate>& components, const FailureSource& next,
                             double give_up_s) {
  RunOutcome o;
  o.by_component.assign(components.size(), 0);
  const std::size_t n = run.steps();
  if (n == 0) return o;
  const std::size_t k = std::clamp<std::size_t>(interval_steps, 1, n);
  const std::size_t last = (n + k - 1) / k;  // checkpoint j ends step min(j k, n); `last` is the run's end
  // reach[j]: running time from the start to the end of checkpoint j's stall (no stall at the end).
  std::vector<double> reach(last + 1, 0.0);
  for (std::size_t j = 1; j <= last; ++j)
    reach[j] = run.step_end_s[std::min(j * k, n) - 1] + recovery.stall_s * static_cast<double>(std::min(j, last - 1));
  std::vector<double> spare_ready(static_cast<std::size_t>(recovery.spare_nodes), 0.0);
  double now = 0;
  std::size_t from = 0;  // the checkpoint the job (re)started from
  for (;;) {
    const Failure f = next();
    const double left = reach[last] - reach[from];
    if (!(f.after_s < left)) {
      now += left;
      break;
    }
    // The last checkpoint restorable at the failure: written (durable) before it; `from` always is.
    const double reached = reach[from] + f.after_s - recovery.durable_after_s;
    const auto it = std::upper_bound(reach.begin() + static_cast<std::ptrdiff_t>(from) + 1,
                                     reach.begin() + static_cast<std::ptrdiff_t>(last), reached);
    const auto kept = static_cast<std::size_t>(it - reach.begin()) - 1;
    o.lost_work_s += f.after_s - (reach[kept] - reach[from]);
    now += f.after_s + recovery.detection_s;
    o.detection_s += recovery.detection_s;
    ++o.interruptions;
    const auto component = static_cast<std::size_t>(f.component);
    if (component < components.size()) {
      ++o.by_component[component];
      if (components[component].loses_node) {
        double wait = recovery.replace_s;
        if (!spare_ready.empty()) {
          // Take the spare ready first; the failed node, once repaired, takes its place in the pool.
          auto spare = std::min_element(spare_ready.begin(), spare_ready.end());
          wait = std::max(0.0, *spare - now);
          *spare = now + recovery.replace_s;
        }
        now += wait;
        o.replace_wait_s += wait;
      }
    }
    now += recovery.restart_s;
    o.restart_s += recovery.restart_s;
    if (kept > 0) {  // from step 0 there is nothing to load
      now += recovery.load_s;
      o.load_s += recovery.load_s;
    }
    from = kept;
    if (now > give_up_s) {
      o.finished = false;
      break;
    }
  }
  o.wall_s = now;
  o.useful_s = run.useful_s();
  o.checkpoint_s = recovery.stall_s * static_cast<double>(last - 1);
  return o;
}

std::size_t optimal_interval(const RunShape& run, const Recovery& recovery,
                             const std::vector<ComponentRate>& components, int seeds) {
  const std::size_t n = run.steps();
  if (n == 0 || summed_rate(components) <= 0) return std::max<std::size_t>(n, 1);
  // Asynchronous writes: one in flight at a time, so an interval at least one write long (assumption).
  std::size_t smallest = 1;
  if (recovery.durable_after_s > 0) {
    const double step_s = run.useful_s() / static_cast<double>(n);
    smallest = std::max<std::size_t>(1, static_cast<std::size_t>(std::ceil(recovery.durable_after_s / step_s)));
  }
  smallest = std::min(smallest, n);
  std::vector<std::size_t> grid;
  for (double k = static_cast<double>(smallest); k < static_cast<double>(n); k = std::max(k * 1.15, k + 1))
    grid.push_back(static_cast<std::size_t>(k));
  grid.push_back(n);
  // Ascending; past the best, a run longer than twice the best mean is given up and ends the grid
  // (the wall time grows without bound with the interval once it is long against the MTBF).
  std::size_t best = grid.front();
  double best_wall = std::numeric_limits<double>::infinity();
  std::size_t best_index = 0;
  const double give_up_s = kGiveUpFactor * run.useful_s();
  for (std::size_t i = 0; i < grid.size(); ++i) {
    const double wall = mean_wall_s(run, grid[i], recovery, components, seeds, std::min(give_up_s, 2 * best_wall));
    if (wall < best_wall)
      best_wall = wall, best = grid[i], best_index = i;
    else if (std::isinf(wall) && std::isfinite(best_wall))
      break;
  }
  if (!std::isfinite(best_wall))
    throw InputError({"reliability", 0, 0},
                     fmt::format("no checkpoint interval lets the run finish within {:.0f} times its failure-free "
                                 "time: the job's time between failures is too short against a checkpoint",
                                 kGiveUpFactor));
  // Refine between the neighbours of the best grid point, in at most 32 even steps.
  const std::size_t lo = grid[best_index > 0 ? best_index - 1 : 0];
  const std::size_t hi = grid[std::min(best_index + 1, grid.size() - 1)];
  const std::size_t stride = std::max<std::size_t>(1, (hi - lo) / 32);
  for (std::size_t k = lo; k <= hi; k += stride) {
    if (k == best) continue;
    const double wall = mean_wall_s(run, k, recovery, components, seeds, 2 * best_wall);
    if (wall < best_wall) best_wall = wall, best = k;
  }
  return best;
}

GoodputReport simulate_goodput(const ClusterSpec& cluster, const WorkloadSpec& workload,
                               const std::vector<RampCurvePoint>& seconds_per_token, double ideal_s,
                               double full_step_s, const GoodputRequest& request) {
  GoodputReport g;
  g.seeds = std::max(1, request.seeds);
  g.num_gpus = cluster.num_gpus();
  g.tokens = workload.training.tokens;
  g.checkpoint = checkpoint_cost(cluster, workload);
  g.components = component_rates(cluster);
  g.full_step_s = full_step_s;
  g.ideal_days = ideal_s / kSecondsPerDay;
  const double rate = summed_rate(g.components);
  g.job_mtbf_s = rate > 0 ? 1 / rate : 0;
  g.interruptions_per_day = rate * kSecondsPerDay;
  const Recovery recovery = recovery_of(cluster, g.checkpoint);
  const RunShape run = run_shape(workload, seconds_per_token, ideal_s);
  g.steps = run.steps();
  g.optimal_interval_steps = optimal_interval(run, recovery, g.components, g.seeds);
  g.optimal_interval_s = static_cast<double>(g.optimal_interval_steps) * full_step_s;
  g.young_daly_s = rate > 0 ? std::sqrt(2 * g.checkpoint.stall_s * g.job_mtbf_s) : 0;
  std::optional<std::size_t> given = request.interval_steps;
  if (!given && cluster.reliability && cluster.reliability->checkpoint_interval_s > 0)
    given = static_cast<std::size_t>(std::llround(cluster.reliability->checkpoint_interval_s / full_step_s));
  g.interval_searched = !given;
  g.interval_steps =
      std::clamp<std::size_t>(given.value_or(g.optimal_interval_steps), 1, std::max<std::size_t>(1, g.steps));
  if (g.checkpoint.asynchronous && static_cast<double>(g.interval_steps) * full_step_s < g.checkpoint.write_s)
    g.notes.push_back(fmt::format("checkpoint interval {:.0f} s is shorter than one asynchronous write ({:.0f} s): "
                                  "writes would queue; the simulation lets them overlap (assumption)",
                                  static_cast<double>(g.interval_steps) * full_step_s, g.checkpoint.write_s));
  std::vector<double> days, gpu_hours, per_t_days, per_t_hours, goodput;
  g.interruptions_by_component.assign(g.components.size(), 0);
  const double trillions = g.tokens / 1e12;
  for (int seed = 1; seed <= g.seeds; ++seed) {
    const RunOutcome o =
        simulate_failures(run, g.interval_steps, recovery, g.components,
                          random_failures(g.components, static_cast<std::uint64_t>(seed)), kGiveUpFactor * ideal_s);
    if (!o.finished)
      throw InputError({"--checkpoint-interval", 0, 0},
                       fmt::format("{} steps between checkpoints: the run with failures does not finish within {:.0f} "
                                   "times its failure-free time (seed {}; job MTBF {:.2f} h); use a shorter interval",
                                   g.interval_steps, kGiveUpFactor, seed, g.job_mtbf_s / 3600));
    days.push_back(o.wall_s / kSecondsPerDay);
    gpu_hours.push_back(o.wall_s * g.num_gpus / kSecondsPerHour);
    per_t_days.push_back(days.back() / trillions);
    per_t_hours.push_back(gpu_hours.back() / trillions);
    goodput.push_back(o.wall_s > 0 ? o.useful_s / o.wall_s : 1);
    g.interruptions += o.interruptions;
    for (std::size_t i = 0; i < o.by_component.size(); ++i) g.interruptions_by_component[i] += o.by_component[i];
    for (const auto& [seed_s, mean_s] : kTimeByCause) g.*mean_s += o.*seed_s;
  }
  const double n = g.seeds;
  g.interruptions /= n;
  for (double& v : g.interruptions_by_component) v /= n;
  for (const auto& [seed_s, mean_s] : kTimeByCause) g.*mean_s /= n;
  g.days = percentiles(days);
  g.gpu_hours = percentiles(gpu_hours);
  g.days_per_trillion_tokens = percentiles(per_t_days);
  g.gpu_hours_per_trillion_tokens = percentiles(per_t_hours);
  g.goodput = percentiles(goodput);
  g.interval_curve = curve_around_optimum(run, recovery, g, trillions, kGiveUpFactor * ideal_s);
  return g;
}

}  // namespace trainsim::reliability
