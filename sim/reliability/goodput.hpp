#pragma once
// The run with failures (issue 16, parts 1-3): checkpoint cost from the model,
// failure rates per component from the cluster's `reliability:` section, and a
// seeded discrete-event simulation of the whole run at step granularity, jumping
// from event to event (failure, durable checkpoint, end), repeated over seeds.
// Pure arithmetic: no SimGrid; the step times come from `run`'s simulated steps.
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "sim/config/spec.hpp"

namespace trainsim::reliability {

// What one checkpoint costs. Saved: the working weights, the FP32 master weights
// and both Adam moments of every parameter once (training.optimizer's bytes;
// gradients are not saved). Each state is written by the GPUs that hold it: a
// ZeRO-sharded state by its shard's owner, a replicated one split evenly over its
// data-parallel replicas (assumption: deduplicated, fully parallel save as in
// torch.distributed.checkpoint), so every GPU writes total / GPUs and every node
// total / nodes, in parallel, capped by the storage plane's aggregate bandwidth.
struct CheckpointCost {
  double bytes = 0;           // the whole checkpoint
  double bytes_per_gpu = 0;   // what each GPU writes (and reads back)
  double bytes_per_node = 0;
  double write_s = 0;         // all nodes writing in parallel to the storage plane
  double read_s = 0;          // the load at a restart
  double snapshot_s = 0;      // asynchronous: device-to-host copy of a GPU's part; 0 when blocking
  double stall_s = 0;         // what a checkpoint stops training for: snapshot_s or write_s
  bool asynchronous = false;
  int zero = 0;               // the workload's ZeRO stage (who holds what; see above)
};
[[nodiscard]] CheckpointCost checkpoint_cost(const ClusterSpec& cluster, const WorkloadSpec& workload);

// One kind of component that fails: how many the cluster has and its rate.
struct ComponentRate {
  std::string name;           // gpu, node, nic, link, switch
  double count = 0;
  double rate_per_s = 0;      // per component
  bool loses_node = false;    // the job needs a spare (or waits replace_time)
  [[nodiscard]] double job_rate_per_s() const { return count * rate_per_s; }
};
// GPUs, nodes, NICs (one per GPU), fabric cables and switches (the topology's facts).
[[nodiscard]] std::vector<ComponentRate> component_rates(const ClusterSpec& cluster);

// The run as the failure simulation sees it: cumulative useful seconds after each
// step (step_end_s[i] = end of step i+1 with no failure; the last step may be partial).
struct RunShape {
  std::vector<double> step_end_s;
  [[nodiscard]] std::size_t steps() const { return step_end_s.size(); }
  [[nodiscard]] double useful_s() const { return step_end_s.empty() ? 0 : step_end_s.back(); }
};
// Step by step over the token budget: the batch grows linearly in tokens over the
// ramp (as `run` integrates it), each step's seconds = its tokens x seconds per
// token at its batch, interpolated between `seconds_per_token` points (batch
// sequences, s/token; one point = no ramp). The steps are then scaled so they sum
// to `ideal_s`, the run's own integral (the step granularity moves it < 0.1 %),
// so that without failures the figures are exactly the idealised ones.
struct RampCurvePoint {
  double batch = 0;
  double seconds_per_token = 0;
};
[[nodiscard]] RunShape run_shape(const WorkloadSpec& workload, const std::vector<RampCurvePoint>& seconds_per_token,
                                 double ideal_s);
// Uniform steps of `step_s`, for tests.
[[nodiscard]] RunShape uniform_run(std::size_t steps, double step_s);

// Recovery after a failure, and what a checkpoint costs, in seconds.
struct Recovery {
  double detection_s = 0, restart_s = 0, replace_s = 0, load_s = 0;
  int spare_nodes = 0;
  double stall_s = 0;         // training stops this long per checkpoint
  double durable_after_s = 0; // after the stall, until the checkpoint can be restored (async write); 0 blocking
};
[[nodiscard]] Recovery recovery_of(const ClusterSpec& cluster, const CheckpointCost& cost);

// The next failure: seconds of running time after the job (re)started, and which component.
struct Failure {
  double after_s = 0;
  int component = 0;
};
using FailureSource = std::function<Failure()>;
// Exponential inter-arrival at the components' summed rate, the component drawn by
// its share of the rate; one stream per seed (SplitMix64, identical on every platform).
[[nodiscard]] FailureSource random_failures(const std::vector<ComponentRate>& components, std::uint64_t seed);

// Time by cause over one run, in seconds; they sum to wall_s.
struct RunOutcome {
  double wall_s = 0;
  double useful_s = 0;
  double checkpoint_s = 0;     // stalls of checkpoints that were kept
  double lost_work_s = 0;      // run since the last durable checkpoint at each failure
  double detection_s = 0, replace_wait_s = 0, restart_s = 0, load_s = 0;
  int interruptions = 0;
  std::vector<int> by_component;  // interruptions per component index
  bool finished = true;           // false: stopped at give_up_s (wall_s is then the time given up at)
};
// The run with a checkpoint every `interval_steps` steps (none at the end) and the
// failures `next` hands out, from event to event. Failures arrive only while the
// job runs (assumption: recovery is short against the time between failures).
// A run whose wall clock passes `give_up_s` stops there, unfinished (an interval
// long against the time between failures may never finish: each failure goes back
// to the start).
[[nodiscard]] RunOutcome simulate_failures(const RunShape& run, std::size_t interval_steps, const Recovery& recovery,
                                           const std::vector<ComponentRate>& components, const FailureSource& next,
                                           double give_up_s = std::numeric_limits<double>::infinity());
// Runs that take longer than this many times their failure-free time are given up:
// the search skips such intervals, and `run` refuses such a --checkpoint-interval.
inline constexpr double kGiveUpFactor = 100;

struct Percentiles {
  double mean = 0, p5 = 0, p50 = 0, p95 = 0;
};
// The run with failures at one checkpoint interval (the report's curve around the optimum).
struct IntervalPoint {
  std::size_t interval_steps = 0;
  double interval_s = 0;                // at the full-batch step time
  double goodput = 0;                   // mean over seeds
  double days_per_trillion_tokens = 0;  // mean over seeds
};
// What `run` reports when the cluster has a reliability section.
struct GoodputReport {
  int seeds = 0;
  int num_gpus = 0;
  double tokens = 0;
  CheckpointCost checkpoint;
  std::vector<ComponentRate> components;
  double job_mtbf_s = 0;               // 1 / summed rate; 0 = no failures
  double interruptions_per_day = 0;    // summed rate, per day of running
  double full_step_s = 0;
  std::size_t steps = 0;
  std::size_t interval_steps = 0;      // the one reported (searched, or --checkpoint-interval)
  bool interval_searched = true;
  std::size_t optimal_interval_steps = 0;
  double optimal_interval_s = 0;       // at the full-batch step time
  double young_daly_s = 0;             // sqrt(2 C MTBF); 0 without failures
  double ideal_days = 0;
  Percentiles days, gpu_hours, days_per_trillion_tokens, gpu_hours_per_trillion_tokens, goodput;
  double interruptions = 0;            // mean over seeds
  std::vector<double> interruptions_by_component;  // mean, by components
  // Mean seconds over seeds, by cause.
  double useful_s = 0, checkpoint_s = 0, lost_work_s = 0, detection_s = 0, replace_wait_s = 0, restart_s = 0,
         load_s = 0;
  // The optimal interval x 1/4, 1/2, 1, 2, 4 (distinct, within the run; an interval
  // whose run is given up is left out): goodput against the interval, same seeds,
  // no step re-simulated.
  std::vector<IntervalPoint> interval_curve;
  std::vector<std::string> notes;
};
struct GoodputRequest {
  int seeds = 100;
  std::optional<std::size_t> interval_steps;  // --checkpoint-interval; empty: the cluster's
                                              // reliability.checkpoint.interval, else searched
};
// The idealised run's per-token curve (see run_shape) in, the report out.
[[nodiscard]] GoodputReport simulate_goodput(const ClusterSpec& cluster, const WorkloadSpec& workload,
                                             const std::vector<RampCurvePoint>& seconds_per_token, double ideal_s,
                                             double full_step_s, const GoodputRequest& request);

// The interval (in steps) with the least mean wall time over `seeds` seeds (the
// same failure streams for every interval), searched on a geometric grid then
// refined step by step around the best; 0 failures: no checkpoint (the run length).
[[nodiscard]] std::size_t optimal_interval(const RunShape& run, const Recovery& recovery,
                                           const std::vector<ComponentRate>& components, int seeds);

}  // namespace trainsim::reliability
