// The run with failures (sim/reliability/goodput.hpp): hand counts of the event
// simulation, the closed forms it must reproduce, determinism, and no failures =
// the idealised figures exactly.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "sim/model/cost_model.hpp"
#include "sim/reliability/goodput.hpp"
#include "tests/support.hpp"

namespace test_reliability {

using namespace trainsim;
using namespace trainsim::reliability;

// Failures after the given running times, then none.
FailureSource schedule(std::vector<Failure> failures) {
  return [failures, i = std::size_t{0}]() mutable {
    return i < failures.size() ? failures[i++] : Failure{std::numeric_limits<double>::infinity(), 0};
  };
}

const std::vector<ComponentRate> kLinkAndNode = {{"link", 1, 0, false}, {"node", 1, 0, true}};

TEST_CASE("reliability: a fixed failure schedule gives the hand count of wall time and its causes") {
  // 100 steps of 1 s, a checkpoint every 10 steps stalling 2 s (none at the end): 118 s without failures.
  Recovery r;
  r.detection_s = 5, r.restart_s = 7, r.load_s = 3, r.stall_s = 2;
  // A link fails 35 s into the run: checkpoint 2 ended at 24 s, checkpoint 3 would end at 36 s.
  const RunOutcome o = simulate_failures(uniform_run(100, 1.0), 10, r, kLinkAndNode, schedule({{35, 0}}));
  CHECK(o.interruptions == 1);
  CHECK(o.by_component == std::vector<int>{1, 0});
  CHECK(o.lost_work_s == Approx(11));        // 35 - 24
  CHECK(o.checkpoint_s == Approx(18));       // 9 checkpoints kept
  CHECK(o.replace_wait_s == 0);              // a link loses no node
  CHECK(o.load_s == Approx(3));
  // 35 s run + 5 detect + 7 restart + 3 load, then the 94 s from checkpoint 2 to the end.
  CHECK(o.wall_s == Approx(35 + 5 + 7 + 3 + 94));
  CHECK(o.wall_s == Approx(o.useful_s + o.checkpoint_s + o.lost_work_s + o.detection_s + o.replace_wait_s +
                           o.restart_s + o.load_s));
}

TEST_CASE("reliability: an asynchronous checkpoint counts only once written") {
  Recovery r;
  r.stall_s = 0.5, r.durable_after_s = 5;
  // Checkpoint 2 stalls until 21 s and is written at 26 s: a failure at 22 s goes back to checkpoint 1 (10.5 s).
  const RunOutcome o = simulate_failures(uniform_run(100, 1.0), 10, r, kLinkAndNode, schedule({{22, 0}}));
  CHECK(o.lost_work_s == Approx(22 - 10.5));
  // Checkpoint 2 stalls until 21 s (two stalls of 0.5 s): a failure at 26 s, after its write, keeps it.
  const RunOutcome later = simulate_failures(uniform_run(100, 1.0), 10, r, kLinkAndNode, schedule({{26, 0}}));
  CHECK(later.lost_work_s == Approx(26 - 21));
}

TEST_CASE("reliability: a node failure waits for a node unless a spare is ready") {
  Recovery r;
  r.replace_s = 100;
  const auto failures = std::vector<Failure>{{10, 1}, {10, 1}};
  CHECK(simulate_failures(uniform_run(100, 1.0), 10, r, kLinkAndNode, schedule(failures)).replace_wait_s ==
        Approx(200));
  r.spare_nodes = 1;
  // The first takes the spare (no wait); the second, 10 s later, waits for the repaired node: 100 - 10 s.
  CHECK(simulate_failures(uniform_run(100, 1.0), 10, r, kLinkAndNode, schedule(failures)).replace_wait_s ==
        Approx(90));
  r.spare_nodes = 2;
  CHECK(simulate_failures(uniform_run(100, 1.0), 10, r, kLinkAndNode, schedule(failures)).replace_wait_s == 0);
}

TEST_CASE("reliability: the lost work per failure is K t / 2 when failures are rare against the interval") {
  // Exponential failures, MTBF 10,000 s, checkpoints every 100 steps of 1 s with no stall: a failure lands
  // uniformly in its interval, so it loses 50 s on average.
  const std::vector<ComponentRate> one = {{"gpu", 1, 1e-4, false}};
  double lost = 0, failures = 0;
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    const RunOutcome o = simulate_failures(uniform_run(1'000'000, 1.0), 100, Recovery{}, one, random_failures(one, seed));
    lost += o.lost_work_s;
    failures += o.interruptions;
  }
  CHECK(failures > 3000);
  CHECK(lost / failures == Approx(50).epsilon(0.03));
}

TEST_CASE("reliability: the searched interval recovers Young and Daly's optimum when C is small against the MTBF") {
  // C = 1 s, MTBF = 2,000 s: sqrt(2 C M) = 63.2 s (Daly's next order, sqrt(2 C M) - C = 62.2 s).
  const std::vector<ComponentRate> one = {{"gpu", 1, 1.0 / 2000, false}};
  Recovery r;
  r.stall_s = 1;
  const std::size_t k = optimal_interval(uniform_run(1'000'000, 1.0), r, one, 20);
  CHECK(static_cast<double>(k) == Approx(std::sqrt(2 * 1 * 2000.0)).epsilon(0.05));
}

TEST_CASE("reliability: the same seed gives the same run, another seed another") {
  const std::vector<ComponentRate> two = {{"gpu", 8, 1e-5, true}, {"link", 4, 1e-5, false}};
  Recovery r;
  r.stall_s = 3, r.detection_s = 60, r.restart_s = 300, r.load_s = 30, r.replace_s = 3600, r.spare_nodes = 1;
  const auto run = uniform_run(100'000, 2.0);
  const RunOutcome a = simulate_failures(run, 50, r, two, random_failures(two, 7));
  const RunOutcome b = simulate_failures(run, 50, r, two, random_failures(two, 7));
  const RunOutcome c = simulate_failures(run, 50, r, two, random_failures(two, 8));
  CHECK(a.wall_s == b.wall_s);
  CHECK(a.by_component == b.by_component);
  CHECK(a.interruptions > 0);
  CHECK(a.wall_s != c.wall_s);
}

// The default case with a reliability section; `rates` = failures per 1,000 GPU-days.
test::LoadedCase with_reliability(const std::string& gpu_rate) {
  return test::load_default_case({"cluster.reliability.failures_per_1000_days.gpu=" + gpu_rate,
                                  "cluster.reliability.detection_time=2min", "cluster.reliability.restart_time=10min",
                                  "cluster.reliability.replace_time=4h",
                                  "cluster.reliability.checkpoint.write_bandwidth=10GB/s",
                                  "cluster.reliability.checkpoint.read_bandwidth=20GB/s",
                                  "cluster.reliability.checkpoint.storage_bandwidth=1TB/s"});
}

TEST_CASE("reliability: checkpoint size and time from the model, the per-node bandwidth and the storage cap") {
  const auto c = with_reliability("0");
  const CheckpointCost cost = checkpoint_cost(c.cluster, c.workload);
  const OptimizerSpec& o = c.workload.training.optimizer;
  const double params = model_cost(c.workload).params_total_with_mtp;
  CHECK(cost.bytes == Approx(params * (o.parameter_bytes + o.master_weight_bytes + 2 * o.moment_bytes)));
  CHECK(cost.bytes_per_gpu == Approx(cost.bytes / 2048));
  // 256 nodes at 10 GB/s = 2.56 TB/s, above the 1 TB/s plane: the plane sets the write; reads at 5.12 TB/s too.
  CHECK(cost.write_s == Approx(cost.bytes / 1e12));
  CHECK(cost.read_s == Approx(cost.bytes / 1e12));
  CHECK(cost.stall_s == cost.write_s);
  CHECK_FALSE(cost.asynchronous);
}

TEST_CASE("reliability: no failures give exactly the idealised run, without a checkpoint") {
  const auto c = with_reliability("0");
  const double ideal_s = 50 * 86400.0;
  const GoodputReport g = simulate_goodput(c.cluster, c.workload, {{15360, 1e-6}}, ideal_s, 30, GoodputRequest{});
  CHECK(g.days.mean == ideal_s / 86400);
  CHECK(g.days.p95 == ideal_s / 86400);
  CHECK(g.goodput.mean == 1);
  CHECK(g.interruptions == 0);
  CHECK(g.interval_steps == g.steps);  // the whole run: no checkpoint
  CHECK(g.young_daly_s == 0);
}

TEST_CASE("reliability: components are counted from the cluster and its fabric") {
  const auto c = with_reliability("2");
  const auto comps = component_rates(c.cluster);
  REQUIRE(comps.size() == 5);
  CHECK(comps[0].count == 2048);
  CHECK(comps[1].count == 256);
  CHECK(comps[0].rate_per_s == Approx(2.0 / 1000 / 86400));
  // 2 per 1,000 GPU-days on 2048 GPUs: 4.096 interruptions a day.
  const GoodputReport g = simulate_goodput(c.cluster, c.workload, {{15360, 1e-6}}, 20 * 86400.0, 30, {10, {}});
  CHECK(g.interruptions_per_day == Approx(4.096));
  CHECK(g.days.mean > 20);
  CHECK(g.goodput.mean < 1);
}

}  // namespace test_reliability
