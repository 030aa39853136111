// Interleaved 1F1B with any number of virtual stages (Megatron-LM's rules,
// micro-batch groups included), its per-rank stage partition, and the
// schedule's phases in `trainsim run`.
#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sim/config/error.hpp"
#include "sim/config/load.hpp"
#include "sim/engine/step_executor.hpp"
#include "sim/parallel/schedule.hpp"
#include "sim/parallel/schedule_timing.hpp"
#include "sim/parallel/stage_partition.hpp"
#include "sim/parallel/step_build.hpp"
#include "sim/parallel/step_program.hpp"
#include "sim/report/step_result.hpp"
#include "sim/run/process_pool.hpp"
#include "tests/support.hpp"

namespace test_interleaved {

using namespace trainsim;

namespace {

// A rank's ops as "F<mb>.<stage>" / "B<mb>.<stage>" (BW printed as B).
std::string listing(const std::vector<PipelineOp>& ops) {
  std::string s;
  for (const PipelineOp& op : ops) {
    const bool f = op.kind == PassKind::F;
    const ChunkRef c = f ? op.fwd : op.bwd;
    if (!s.empty()) s += ' ';
    s += f ? 'F' : 'B';
    s += std::to_string(c.microbatch);
    s += '.';
    s += std::to_string(c.stage);
  }
  return s;
}

// Interleaved map: stage s on rank s % pp.
step::StagesOfRank interleaved_map(int pp, int v) {
  step::StagesOfRank held(pp);
  for (int s = 0; s < pp * v; ++s) held[s % pp].push_back(s);
  return held;
}

double largest_load(const std::vector<double>& cost, const std::vector<std::vector<int>>& split,
                    const step::StagesOfRank& held) {
  const auto loads = step::rank_loads(cost, split, held);
  return *std::max_element(loads.begin(), loads.end());
}

// The optimum largest rank load, by recursion over every stage end.
double optimum_load(const std::vector<double>& cost, int stages, const step::StagesOfRank& held) {
  const int n = static_cast<int>(cost.size());
  std::vector<std::vector<int>> split(stages);
  double best = 1e300;
  std::function<void(int, int)> place = [&](int stage, int first) {
    if (stage == stages - 1) {
      split[stage].clear();
      for (int i = first; i < n; ++i) split[stage].push_back(i);
      best = std::min(best, largest_load(cost, split, held));
      return;
    }
    for (int end = first + 1; end <= n - (stages - 1 - stage); ++end) {
      split[stage].clear();
      for (int i = first; i < end; ++i) split[stage].push_back(i);
      place(stage + 1, end);
    }
  };
  place(0, 0);
  return best;
}

std::string schedule_error(const std::vector<std::string>& sets) {
  try {
    const auto c = trainsim::test::load_default_case(sets);
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("interleaved: op order of pp 2, v 2 against a hand listing (Megatron's table)", "[schedule][interleaved]") {
  // m = 4, groups of pp = 2: table (mb, chunk) = (0,0) (1,0) (0,1) (1,1) (2,0) (3,0) (2,1) (3,1).
  // Rank 0 warms up (2-0-1)*2 + (2-1)*2 = 4 forwards, rank 1 0*2 + 2 = 2.
  const PipelineSchedule s = make_schedule("interleaved", 2, 4, 2);
  CHECK(listing(s.ranks[0]) == "F0.0 F1.0 F0.2 F1.2 F2.0 B0.2 F3.0 B1.2 F2.2 B0.0 F3.2 B1.0 B2.2 B3.2 B2.0 B3.0");
  CHECK(listing(s.ranks[1]) == "F0.1 F1.1 F0.3 B0.3 F1.3 B1.3 F2.1 B0.1 F3.1 B1.1 F2.3 B2.3 F3.3 B3.3 B2.1 B3.1");
}

TEST_CASE("interleaved: 5 micro-batches on pp 2 in groups of 3 (Megatron's PP2 N3 M5 example)", "[schedule][interleaved]") {
  // Table: mb 0 1 2 0 1 2 3 4 3 4, chunk 0 0 0 1 1 1 0 0 1 1. Warm-up: rank 0 1*2 + 3 = 5, rank 1 3.
  const PipelineSchedule s = make_schedule("interleaved", 2, 5, 2, 3);
  CHECK(listing(s.ranks[0]) ==
        "F0.0 F1.0 F2.0 F0.2 F1.2 F2.2 B0.2 F3.0 B1.2 F4.0 B2.2 F3.2 B0.0 F4.2 B1.0 B2.0 B3.2 B4.2 B3.0 B4.0");
  CHECK(listing(s.ranks[1]) ==
        "F0.1 F1.1 F2.1 F0.3 B0.3 F1.3 B1.3 F2.3 B2.3 F3.1 B0.1 F4.1 B1.1 F3.3 B2.1 F4.3 B3.3 B4.3 B3.1 B4.1");
  // Without the group the last one would hold 1 < pp micro-batch: refused, as Megatron refuses it.
  CHECK_THROWS_WITH(make_schedule("interleaved", 2, 5, 2),
                    Catch::Contains("set parallelism.microbatch_group") && Catch::Contains("got 5 micro-batches"));
  CHECK_THROWS_WITH(make_schedule("interleaved", 4, 8, 2, 3), Catch::Contains("microbatch_group >= pp = 4, got 3"));
  CHECK_THROWS_WITH(make_schedule("interleaved", 4, 8, 2, 12), Catch::Contains("at least microbatch_group = 12"));
}

TEST_CASE("interleaved: every chunk of every micro-batch runs F then B, once, without deadlock", "[schedule][interleaved]") {
  const ChunkTimes t{1, 2, 1, 3, 0.125};
  int shapes = 0;
  for (int pp : {1, 2, 3, 4, 8})
    for (int v : {2, 3, 4, 5})
      for (int m = pp; m <= 3 * pp + 3; ++m)
        for (int group : {0, pp, pp + 1, pp + 3, 2 * pp}) {
          const int n = group == 0 ? pp : group;
          if (n > m || (m % n != 0 && m % n < pp)) {
            CHECK_THROWS_AS(make_schedule("interleaved", pp, m, v, group), std::invalid_argument);
            continue;
          }
          CAPTURE(pp, v, m, group);
          const PipelineSchedule s = make_schedule("interleaved", pp, m, v, group);
          REQUIRE(s.num_stages == pp * v);
          REQUIRE_NOTHROW(check_schedule(s));  // each chunk's F and BW once, on rank stage % pp
          for (const auto& ops : s.ranks) {
            std::map<std::pair<int, int>, int> forward_at;
            for (int i = 0; i < static_cast<int>(ops.size()); ++i) {
              if (ops[i].kind == PassKind::F) forward_at[{ops[i].fwd.microbatch, ops[i].fwd.stage}] = i;
              else REQUIRE(forward_at.count({ops[i].bwd.microbatch, ops[i].bwd.stage}) == 1);
            }
          }
          REQUIRE_NOTHROW(simulate_schedule(s, t));  // throws on a deadlock
          ++shapes;
        }
  CHECK(shapes > 300);
}

TEST_CASE("interleaved: micro-batch counts that are not a multiple of pp, through the workload", "[schedule][interleaved]") {
  // DeepSeek-V3's file at pp 16, v 2: 24 micro-batches per pipeline (global batch 3072 / dp 128).
  const std::vector<std::string> base{"parallelism.schedule=interleaved", "parallelism.virtual_stages=2",
                                      "training.global_batch=3072", "training.batch_ramp.start=3072"};
  auto with = [&](std::vector<std::string> more) {
    more.insert(more.begin(), base.begin(), base.end());
    return schedule_error(more);
  };
  // 24 = 16 + 8: the last group of 8 < pp is refused with the way out named.
  CHECK_THAT(with({}), Catch::Contains("training.global_batch: interleaved needs micro-batches = a multiple of "
                                       "microbatch_group = 16 plus 0 or at least pp = 16") &&
                           Catch::Contains("set parallelism.microbatch_group") &&
                           Catch::Contains("got 24 micro-batches per step"));
  CHECK(with({"parallelism.microbatch_group=24"}) == "no error");  // one group
  CHECK_THAT(with({"parallelism.microbatch_group=8"}),
             Catch::Contains("parallelism.microbatch_group: interleaved needs microbatch_group >= pp = 16, got 8"));
  CHECK_THAT(schedule_error({"parallelism.microbatch_group=16"}),
             Catch::Contains("parallelism.microbatch_group: microbatch_group 16 applies only to schedule interleaved"));
  // `trainsim check` refuses it with the same message (exit 2), accepts the grouped form.
  const auto refused = trainsim::test::run_trainsim(
      "check --set workload.parallelism.schedule=interleaved --set workload.parallelism.virtual_stages=2 "
      "--set workload.training.global_batch=3072 --set workload.training.batch_ramp.start=3072");
  CHECK(refused.status == 2);
  CHECK_THAT(refused.output, Catch::Contains("set parallelism.microbatch_group"));
}

TEST_CASE("interleaved partition: balanced per rank, within one layer of the optimum", "[step][parts][interleaved]") {
  // pp 3, v 2: rank r runs stages r and r+3. An embedding, 12 even layers and a
  // heavy head (+ MTP) in the last stage, on rank 2, which also runs stage 2. The
  // per-stage optimum (largest stage 5: the head alone) puts 8 on rank 2; the
  // optimum per rank is 6.
  std::vector<double> cost{1.0};
  for (int i = 0; i < 12; ++i) cost.push_back(1.0);
  cost.push_back(5.0);
  const auto held = interleaved_map(3, 2);
  const double optimum = optimum_load(cost, 6, held);
  const double layer = 1.0;
  const auto per_stage = step::partition_layers(cost, 6);  // what the old code returned for this map
  const auto split = step::partition_layers(cost, 6, held);
  CAPTURE(optimum, largest_load(cost, per_stage, held), largest_load(cost, split, held));
  CHECK(optimum == 6.0);
  CHECK(largest_load(cost, per_stage, held) == 8.0);  // the per-stage split (the old code) is unbalanced per rank
  CHECK(largest_load(cost, per_stage, held) > optimum + layer);
  CHECK(largest_load(cost, split, held) <= optimum + layer);
  int next = 0;
  for (const auto& stage : split) {
    REQUIRE_FALSE(stage.empty());
    for (int l : stage) REQUIRE(l == next++);
  }
  REQUIRE(next == static_cast<int>(cost.size()));

  // Random small cases, a heavy embedding and head in some: never worse than the
  // per-stage split, within the heaviest layer of the optimum.
  std::uint32_t seed = 7;
  auto draw = [&] {
    seed = seed * 1664525u + 1013904223u;
    return 0.25 + 2.75 * static_cast<double>(seed >> 8) / static_cast<double>(1u << 24);
  };
  for (int pp : {2, 3})
    for (int v : {2, 3})
      for (int trial = 0; trial < 8; ++trial) {
        const int stages = pp * v, n = stages + 1 + trial % 4;
        std::vector<double> c(n);
        for (double& x : c) x = draw();
        if (trial % 2 == 0) c.front() *= 3, c.back() *= 4;
        const auto h = interleaved_map(pp, v);
        const auto got = step::partition_layers(c, stages, h);
        CAPTURE(pp, v, trial, n);
        CHECK(largest_load(c, got, h) <= largest_load(c, step::partition_layers(c, stages), h) + 1e-12);
        CHECK(largest_load(c, got, h) <= optimum_load(c, stages, h) + *std::max_element(c.begin(), c.end()));
      }
}

TEST_CASE("interleaved partition: DeepSeek-V3 at pp 16, v 2 is balanced per rank within one layer", "[step][parts][interleaved]") {
  const auto c = trainsim::test::load_default_case(
      {"parallelism.schedule=interleaved", "parallelism.virtual_stages=2", "parallelism.microbatch_group=32",
       "training.global_batch=4096", "training.batch_ramp.start=4096"});
  step::StepBuild b(c.cluster, c.workload, Fidelity::symmetric);
  step::plan_step(b, c.workload.training.global_batch);
  std::vector<double> seconds;
  for (const auto& l : b.layers) seconds.push_back(l.seconds());
  const auto held = interleaved_map(16, 2);
  const auto loads = step::rank_loads(seconds, b.stage_layers, held);
  double total = 0;
  for (double x : seconds) total += x;
  // The ideal is total/pp on every rank; the largest is within the heaviest layer of it.
  CHECK(*std::max_element(loads.begin(), loads.end()) <=
        total / 16 + *std::max_element(seconds.begin(), seconds.end()));
}

namespace {

// DeepSeek-V3's recipe cut to 128 GPUs: 16 nodes, 8 layers (1 dense), pp 4, dp 32, ep 32, 16 micro-batches.
std::vector<std::string> small_pipeline(const std::string& schedule) {
  return {"nodes=16",          "model.layers=8",           "model.moe.first_dense_layers=1",
          "parallelism.pp=4",  "parallelism.dp=32",        "parallelism.ep=32",
          "training.global_batch=512", "training.batch_ramp.start=512", "parallelism.schedule=" + schedule};
}

// Per rank, kPerRank numbers: total of the phases - step time, warm-up busy
// seconds, the seconds of one forward chunk of the rank (its op 0, a forward),
// the weight-gradient tail, the step time, the smallest part (>= 0), the largest
// idle-over-phase excess (<= 0), whether op 0 is a forward (1); then the critical rank.
constexpr std::size_t kPerRank = 8;
std::vector<double> phase_numbers(const std::vector<std::string>& sets) {
  const auto c = trainsim::test::load_default_case(sets);
  return run_isolated([&] {
    const auto program = build_step_program(c.cluster, c.workload, c.workload.training.global_batch, Fidelity::symmetric);
    const auto x = engine::execute_step(c.cluster, program);
    const StepResult r = summarize_step(c.cluster, c.workload, program, x);
    std::vector<double> out;
    for (const RankPhases& p : r.phases.ranks) {
      double first_forward = 0;
      bool forward = true;
      for (std::size_t v = 0; v < num_vertices(program.graph); ++v) {
        const StepTask& t = program.graph[v];
        if (t.gpu == p.gpu && !t.is_transfer() && t.pipeline_op == 0) {
          forward = forward && t.pass == TaskPass::F;
          first_forward += t.seconds;
        }
      }
      const double smallest = std::min({p.warmup_idle_s, p.steady_idle_s, p.cooldown_idle_s, p.weight_tail_idle_s,
                                        p.optimizer_s, p.exposed_dp_s, p.end_idle_s});
      const double excess = std::max({p.warmup_idle_s - p.warmup_s, p.steady_idle_s - p.steady_s,
                                      p.cooldown_idle_s - p.cooldown_s, p.weight_tail_idle_s - p.weight_tail_s});
      out.insert(out.end(), {p.total_s() - r.step_time_s, p.warmup_s - p.warmup_idle_s, first_forward,
                             p.weight_tail_s, r.step_time_s, smallest, excess, forward ? 1.0 : 0.0});
    }
    out.push_back(r.phases.critical_rank);
    return out;
  });
}

void check_phases_sum(const std::vector<double>& n) {
  for (std::size_t r = 0; r + 1 < n.size(); r += kPerRank) {
    CAPTURE(r / kPerRank);
    CHECK(n[r] == Approx(0).margin(1e-9 * n[r + 4]));
    CHECK(n[r + 5] >= -1e-12);
    CHECK(n[r + 6] <= 1e-12);
    CHECK(n[r + 7] == 1);
  }
}

}  // namespace

TEST_CASE("schedule phases: 1F1B warm-up of rank r holds pp-1-r forwards, phases sum to the step", "[step][phases]") {
  // comm_sms 0: a forward beside a pipeline transfer would otherwise run on fewer SMs
  // (issue 12, defect 2) and its busy time exceed its all-SM seconds.
  auto sets = small_pipeline("1f1b");
  sets.push_back("parallelism.comm_sms=0");
  const auto n = phase_numbers(sets);
  REQUIRE(n.size() == 4 * kPerRank + 1);
  check_phases_sum(n);
  for (int r = 0; r < 4; ++r) {
    CAPTURE(r);
    const double* p = &n[kPerRank * r];
    CHECK(p[1] == Approx((4 - 1 - r) * p[2]).epsilon(1e-9).margin(1e-15));  // warm-up compute: pp-1-r forwards
    CHECK(p[3] == 0);                                                      // no W-only ops in 1F1B
  }
}

TEST_CASE("schedule phases sum to the step on every rank for every schedule", "[step][phases]") {
  for (const std::string schedule : {"gpipe", "zb-h1", "dualpipe", "dualpipev", "interleaved"}) {
    CAPTURE(schedule);
    auto sets = small_pipeline(schedule);
    if (schedule == "interleaved") sets.push_back("parallelism.virtual_stages=2");
    const auto n = phase_numbers(sets);
    REQUIRE(n.size() == 4 * kPerRank + 1);
    check_phases_sum(n);
    CHECK(n.back() >= 0);
    CHECK(n.back() < 4);
    if (schedule == "zb-h1" || schedule == "dualpipe") {  // W-only ops at the end of some rank
      double tail = 0;
      for (std::size_t r = 0; r + 1 < n.size(); r += kPerRank) tail = std::max(tail, n[r + 3]);
      CHECK(tail > 0);
    }
  }
}

TEST_CASE("trainsim run prints the schedule's phases in JSON and text", "[step][phases][cli]") {
  const std::string sets =
      "--ramp-points 1 --set cluster.nodes=16 --set workload.model.layers=8 --set workload.model.moe.first_dense_layers=1 "
      "--set workload.parallelism.pp=4 --set workload.parallelism.dp=32 --set workload.parallelism.ep=32 "
      "--set workload.training.global_batch=512 --set workload.training.batch_ramp.start=512 "
      "--set workload.parallelism.schedule=1f1b";
  const auto json = trainsim::test::run_trainsim("run --format json " + sets, false);
  REQUIRE(json.status == 0);
  const auto j = nlohmann::json::parse(json.output);
  const auto& phases = j["schedule_phases"];
  REQUIRE(phases["ranks"].size() == 4);
  const int critical = phases["critical_rank"].get<int>();
  CHECK(phases["critical"] == phases["ranks"][critical]);
  for (const auto& rank : phases["ranks"]) {
    double sum = 0;
    for (const char* k : {"warmup_s", "steady_s", "cooldown_s", "weight_tail_s", "optimizer_s", "exposed_dp_s",
                          "end_idle_s"})
      sum += rank[k].get<double>();
    CHECK(sum == Approx(j["step_time_s"].get<double>()).epsilon(1e-9));
  }
  const auto text = trainsim::test::run_trainsim("run " + sets, false);
  REQUIRE(text.status == 0);
  CHECK_THAT(text.output, Catch::Contains("schedule phases per pipeline rank"));
}

}  // namespace test_interleaved
