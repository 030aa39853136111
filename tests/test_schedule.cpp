// Pipeline schedules: structure, dependency order, and the simulated bubble
// against the published formulas.
//
// How the bubble is measured (simulate_schedule): every rank runs its ops in
// order, an op starting when its rank is free and its dependencies have ended;
// the step starts at 0 and ends with the last op of any rank (makespan). A
// rank's idle time is makespan - busy (busy = sum of its op durations). The
// bubble is the largest idle time over the ranks. That is the DualPipe README's
// per-device bubble, and the 1F1B / ZB1P rows of its table (Qi et al. count the
// same way). Chunk times are small dyadic numbers, so every sum is exact and the
// comparisons below are exact.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <vector>

#include "sim/config/load.hpp"
#include "sim/parallel/schedule.hpp"
#include "sim/parallel/schedule_registry.hpp"
#include "sim/parallel/schedule_timing.hpp"
#include "tests/support.hpp"

namespace test_schedule {

using namespace trainsim;

namespace {

double bubble(const std::string& name, int pp, int m, const ChunkTimes& t, int v = 1) {
  const PipelineSchedule s = make_schedule(name, pp, m, v);
  check_schedule(s);
  return simulate_schedule(s, t).bubble_s;
}

std::map<PassKind, int> count_ops(const std::vector<PipelineOp>& ops) {
  std::map<PassKind, int> n;
  for (const auto& op : ops) ++n[op.kind];
  return n;
}

trainsim::test::CommandResult run_cli(const std::string& args) { return trainsim::test::run_trainsim(args); }

}  // namespace

TEST_CASE("1F1B and GPipe bubble is (PP-1)(F+B)", "[schedule]") {
  const ChunkTimes t{1, 2, 1, 3, 0};  // F=1, B=2 (full backward)
  for (int pp : {4, 8, 16}) {
    for (int m : {pp, 2 * pp, 3 * pp + 2}) {
      CAPTURE(pp, m);
      const double expected = (pp - 1) * (t.f + t.b);
      REQUIRE(bubble("1f1b", pp, m, t) == expected);
      REQUIRE(bubble("gpipe", pp, m, t) == expected);
    }
  }
  // GPipe also runs with fewer micro-batches than ranks.
  REQUIRE(bubble("gpipe", 8, 3, t) == 7 * 3.0);
}

TEST_CASE("Naive model parallelism: no overlap, bubble (PP-1) m (F+B)", "[schedule]") {
  // One micro-batch at a time through every stage and back: the step is
  // m * pp * (f+b) long and each rank is busy m (f+b) of it.
  for (const ChunkTimes& t : {ChunkTimes{1, 2, 1, 3, 0}, ChunkTimes{3, 4, 1, 7, 0}}) {
    for (int pp : {1, 2, 4, 8}) {
      for (int m : {1, 3, 8}) {
        CAPTURE(t.f, t.b, pp, m);
        const PipelineSchedule s = make_schedule("naive", pp, m);
        check_schedule(s);
        const ScheduleTiming tm = simulate_schedule(s, t);
        REQUIRE(tm.makespan_s == m * pp * (t.f + t.b));
        for (const auto& rank : tm.ranks) REQUIRE(rank.busy_s == m * (t.f + t.b));
        REQUIRE(tm.bubble_s == (pp - 1) * m * (t.f + t.b));
      }
    }
  }
}

TEST_CASE("ZB-H1 bubble is (PP-1)(F+B-2W)", "[schedule]") {
  // B is the full backward, so an input-only B takes B-W. The formula holds when
  // the W passes fit the gaps they are meant to fill: F >= W and B-W >= W.
  const ChunkTimes distinct{3, 4, 1, 7, 0};
  const ChunkTimes equal{1, 2, 1, 3, 0};  // Qi et al.'s T_F = T_B = T_W
  for (int pp : {4, 8, 16}) {
    for (int m : {pp, 2 * pp, 3 * pp + 2}) {
      CAPTURE(pp, m);
      REQUIRE(bubble("zb-h1", pp, m, distinct) == (pp - 1) * (3.0 + 4.0 - 2 * 1.0));
      REQUIRE(bubble("zb-h1", pp, m, equal) == (pp - 1) * 1.0);
      // One third of 1F1B's with equal F, B, W (the paper's claim).
      REQUIRE(3 * bubble("zb-h1", pp, m, equal) == (pp - 1) * 3.0);
    }
  }
}

TEST_CASE("ZB-H1 keeps 1F1B's peak number of micro-batches in flight", "[schedule]") {
  // In flight on a rank: forward done, weight gradient not yet (1F1B: BW not yet).
  auto peak = [](const PipelineSchedule& s) {
    int most = 0;
    for (const auto& ops : s.ranks) {
      int live = 0;
      for (const auto& op : ops) {
        if (op.kind == PassKind::F) ++live;
        if (op.kind == PassKind::W || op.kind == PassKind::BW) --live;
        most = std::max(most, live);
      }
    }
    return most;
  };
  for (int pp : {4, 8}) {
    REQUIRE(peak(make_schedule("zb-h1", pp, 3 * pp)) == pp);
    REQUIRE(peak(make_schedule("1f1b", pp, 3 * pp)) == pp);
  }
}

TEST_CASE("Interleaved 1F1B bubble is (PP-1)(F+B)/v", "[schedule]") {
  // f and b are per chunk; a rank's forward of a whole micro-batch is F = v*f.
  const ChunkTimes t{1, 2, 1, 3, 0};
  for (int pp : {4, 8, 16}) {
    for (int v : {2, 4}) {
      for (int m : {pp, 3 * pp}) {
        CAPTURE(pp, v, m);
        const double F = v * t.f, B = v * t.b;
        REQUIRE(bubble("interleaved", pp, m, t, v) == (pp - 1) * (F + B) / v);
      }
    }
  }
}

TEST_CASE("DualPipe bubble is (PP/2-1)(F&B+B-3W)", "[schedule]") {
  // The README's formula assumes a forward chunk takes as long as an input-only
  // backward (F = B - W, Qi et al.'s T_F = T_B); then the most idle rank (a middle
  // one) idles exactly that long, whatever the number of micro-batches. With
  // F < B - W the simulated bubble is below the formula (not tested here).
  const std::vector<ChunkTimes> times = {
      {2, 3, 1, 3.5, 0},  // F&B < F+B: overlap helps
      {1, 2, 1, 2.5, 0},
      {1, 2, 1, 3, 0},    // F&B = F+B: no overlap benefit
      {1.5, 2, 0.5, 3, 0},
  };
  for (const ChunkTimes& t : times) {
    for (int pp : {4, 8, 16}) {
      for (int m : {2 * pp, 2 * pp + 4, 6 * pp}) {
        CAPTURE(t.f, t.b, t.w, t.fb, pp, m);
        REQUIRE(bubble("dualpipe", pp, m, t) == (pp / 2 - 1) * (t.fb + t.b - 3 * t.w));
      }
    }
  }
}

TEST_CASE("DualPipeV bubble is (PP/2-1)(F&B+B-3W) with PP = 2 x ranks stages", "[schedule]") {
  const std::vector<ChunkTimes> times = {{2, 3, 1, 3.5, 0}, {1, 2, 1, 3, 0}};
  for (const ChunkTimes& t : times) {
    for (int ranks : {2, 4, 8}) {
      for (int m : {2 * ranks, 2 * ranks + 6, 6 * ranks}) {
        CAPTURE(t.f, t.fb, ranks, m);
        const int stages = 2 * ranks;
        REQUIRE(bubble("dualpipev", ranks, m, t) == (stages / 2 - 1) * (t.fb + t.b - 3 * t.w));
      }
    }
  }
}

TEST_CASE("DualPipe pp=16, 120 micro-batches: op counts of section 2", "[schedule]") {
  const PipelineSchedule s = make_schedule("dualpipe", 16, 120);
  check_schedule(s);
  auto n = count_ops(s.ranks[0]);
  // Reference: rank 0 runs 97 overlapped F&B pairs, 23 lone F, 23 lone B, 15 W.
  // The 23 lone backwards are 15 input-only B (each with its W) and 8 full BW.
  REQUIRE(n[PassKind::FB] == 97);
  REQUIRE(n[PassKind::F] == 23);
  REQUIRE(n[PassKind::B] + n[PassKind::BW] == 23);
  REQUIRE(n[PassKind::B] == 15);
  REQUIRE(n[PassKind::BW] == 8);
  REQUIRE(n[PassKind::W] == 15);
  for (int r = 0; r < 16; ++r) {
    CAPTURE(r);
    auto c = count_ops(s.ranks[r]);
    // Every rank runs each of its two chunks for half the micro-batches: 120
    // forwards and 120 backwards in all, and one W per input-only B.
    REQUIRE(c[PassKind::F] + c[PassKind::FB] == 120);
    REQUIRE(c[PassKind::B] + c[PassKind::BW] + c[PassKind::FB] == 120);
    REQUIRE(c[PassKind::W] == c[PassKind::B]);
    // Main loop: 2*(N/2 - PP + h + 1) pairs (one fewer on the middle ranks, which
    // run their first pair apart) plus PP/2 - h - 1 in step 5.
    const int h = std::min(r, 15 - r);
    const int pairs = 2 * (60 - 16 + h + 1) + (8 - h - 1) - (h == 7 ? 1 : 0);
    REQUIRE(c[PassKind::FB] == pairs);
  }
}

TEST_CASE("Schedules run every pass once and never break a dependency", "[schedule]") {
  struct Case {
    std::string name;
    int pp, m, v;
  };
  const std::vector<Case> cases = {
      {"gpipe", 4, 3, 1},        {"gpipe", 8, 16, 1},       {"1f1b", 4, 4, 1},
      {"1f1b", 8, 19, 1}, {"zb-h1", 4, 4, 1},        {"zb-h1", 8, 21, 1},
      {"interleaved", 4, 8, 2},  {"interleaved", 8, 8, 3},  {"dualpipe", 2, 4, 1},
      {"dualpipe", 8, 20, 1},    {"dualpipe", 16, 40, 1},   {"dualpipev", 1, 2, 1},
      {"dualpipev", 4, 10, 1},   {"dualpipev", 8, 22, 1},
      {"naive", 1, 2, 1},        {"naive", 4, 3, 1},
  };
  const ChunkTimes t{1, 2, 0.5, 2.5, 0.25};  // with a transfer latency
  for (const Case& c : cases) {
    CAPTURE(c.name, c.pp, c.m, c.v);
    const PipelineSchedule s = make_schedule(c.name, c.pp, c.m, c.v);
    REQUIRE_NOTHROW(check_schedule(s));
    for (int mb = 0; mb < s.microbatches; ++mb)
      for (int st = 0; st < s.num_stages; ++st) REQUIRE(rank_of(s, mb, st) < s.pp);
    const ScheduleTiming tm = simulate_schedule(s, t);
    for (const OpDependency& d : dependencies(s)) {
      const double ready = tm.ranks[d.before.rank].ops[d.before.index].end_s + (d.cross_rank ? t.p2p_latency : 0);
      REQUIRE(tm.ranks[d.after.rank].ops[d.after.index].start_s >= ready);
      REQUIRE(d.cross_rank == (d.before.rank != d.after.rank));
    }
    for (int r = 0; r < s.pp; ++r) {
      const auto& ops = tm.ranks[r].ops;
      for (std::size_t i = 1; i < ops.size(); ++i) REQUIRE(ops[i].start_s >= ops[i - 1].end_s);
      REQUIRE(tm.ranks[r].idle_s == tm.makespan_s - tm.ranks[r].busy_s);
    }
  }
}

TEST_CASE("Placement: DualPipe holds stage r and pp-1-r, DualPipeV stages r and 2pp-1-r", "[schedule]") {
  const PipelineSchedule d = make_schedule("dualpipe", 8, 16);
  REQUIRE(rank_of(d, 0, 2) == 2);   // first half enters at rank 0
  REQUIRE(rank_of(d, 8, 2) == 5);   // second half enters at rank pp-1
  REQUIRE(rank_of(d, 15, 0) == 7);
  const PipelineSchedule v = make_schedule("dualpipev", 4, 8);
  REQUIRE(v.num_stages == 8);
  REQUIRE(rank_of(v, 3, 3) == 3);
  REQUIRE(rank_of(v, 3, 4) == 3);
  REQUIRE(rank_of(v, 3, 7) == 0);
  const PipelineSchedule i = make_schedule("interleaved", 4, 8, 3);
  REQUIRE(i.num_stages == 12);
  REQUIRE(rank_of(i, 5, 9) == 1);
}

TEST_CASE("Invalid schedule parameters are rejected", "[schedule]") {
  REQUIRE_THROWS_AS(make_schedule("dualpipe", 3, 12), std::invalid_argument);   // odd pp
  REQUIRE_THROWS_AS(make_schedule("dualpipe", 4, 6), std::invalid_argument);    // < 2*pp
  REQUIRE_THROWS_AS(make_schedule("dualpipe", 4, 9), std::invalid_argument);    // odd
  REQUIRE_THROWS_AS(make_schedule("dualpipev", 4, 6), std::invalid_argument);
  REQUIRE_THROWS_AS(make_schedule("dualpipev", 4, 11), std::invalid_argument);
  REQUIRE_THROWS_AS(make_schedule("1f1b", 8, 7), std::invalid_argument);
  REQUIRE_THROWS_AS(make_schedule("zb-h1", 8, 7), std::invalid_argument);
  REQUIRE_THROWS_AS(make_schedule("interleaved", 4, 8, 1), std::invalid_argument);
  REQUIRE_THROWS_AS(make_schedule("interleaved", 4, 10, 2), std::invalid_argument);
  REQUIRE_THROWS_AS(make_schedule("gpipe", 0, 4), std::invalid_argument);
  REQUIRE_THROWS_AS(make_schedule("gpipe", 4, 0), std::invalid_argument);
  REQUIRE_THROWS_AS(make_schedule("zb-h2", 4, 4), std::invalid_argument);
  REQUIRE(schedule_name("zb1p") == "zb-h1");
  REQUIRE_THROWS_AS(simulate_schedule(make_schedule("gpipe", 2, 2), {1, 1, 2, 2, 0}),
                    std::invalid_argument);  // b < w
}

TEST_CASE("trainsim schedule prints the timing as JSON and rejects bad input", "[schedule][cli]") {
  const auto ok = run_cli("schedule --schedule dualpipe --pp 8 --microbatches 20 --f 2 --b 3 --w 1 --fb 3.5 --format json");
  REQUIRE(ok.status == 0);
  const auto j = nlohmann::json::parse(ok.output);
  REQUIRE(j["schedule"] == "dualpipe");
  REQUIRE(j["pp"] == 8);
  REQUIRE(j["microbatches"] == 20);
  REQUIRE(j["bubble"].get<double>() == 3 * (3.5 + 3 - 3));
  REQUIRE(j["ranks"].size() == 8);
  const auto& op0 = j["ranks"][0]["ops"][0];
  REQUIRE(op0["kind"] == "F");
  REQUIRE(op0["start"].get<double>() == 0);
  REQUIRE(op0["end"].get<double>() == 2);
  // Units on the times (w defaults to 1 s, above b, so it is given too).
  const auto units = run_cli("schedule --schedule 1f1b --pp 4 --microbatches 8 --f 1ms --b 2ms --w 500us --format json");
  REQUIRE(units.status == 0);
  REQUIRE(nlohmann::json::parse(units.output)["bubble"].get<double>() == Approx(3 * 3e-3).epsilon(1e-12));
  const auto text = run_cli("schedule --schedule zb-h1 --pp 4 --microbatches 4");
  REQUIRE(text.status == 0);
  REQUIRE(text.output.find("rank   3") != std::string::npos);
  REQUIRE(text.output.find("bubble 3 s") != std::string::npos);  // (4-1)(1+2-2*1)

  const auto odd = run_cli("schedule --schedule dualpipe --pp 3 --microbatches 12");
  REQUIRE(odd.status == 2);
  REQUIRE(odd.output == "--pp: dualpipe needs an even pp, got 3\n");
  const auto few = run_cli("schedule --schedule 1f1b --pp 8 --microbatches 4");
  REQUIRE(few.status == 2);
  REQUIRE(few.output == "--microbatches: 1f1b needs at least pp = 8 micro-batches; got 4 micro-batches\n");
}

TEST_CASE("The registry: one spelling per schedule, lookup by alias, suggestions", "[schedule]") {
  std::vector<std::string> spellings;
  for (const ScheduleDescriptor& d : registered_schedules()) {
    CAPTURE(d.name);
    REQUIRE(!d.description.empty());
    REQUIRE(find_schedule(d.name) == &d);
    spellings.push_back(d.name);
    for (const std::string& a : d.aliases) {
      REQUIRE(find_schedule(a) == &d);
      spellings.push_back(a);
    }
    // Every schedule builds a valid schedule at a shape all rules accept.
    const PipelineSchedule s = make_schedule(d, 4, 16, 2);
    REQUIRE_NOTHROW(check_schedule(s));
    REQUIRE(s.descriptor == &d);
  }
  std::sort(spellings.begin(), spellings.end());
  REQUIRE(std::adjacent_find(spellings.begin(), spellings.end()) == spellings.end());
  REQUIRE(schedule_name("one_f_one_b") == "1f1b");
  REQUIRE(find_schedule("dual-pipe") == nullptr);
  REQUIRE(unknown_schedule_message("dual-pipe") ==
          "expected one of gpipe, 1f1b, interleaved, zb-h1, dualpipe, dualpipev, naive, got \"dual-pipe\"; "
          "did you mean \"dualpipe\"?");
  REQUIRE(schedules_reading_virtual_stages() == "interleaved");
}

TEST_CASE("Workload schedule checks point at the workload's keys", "[schedule][config]") {
  const std::string file = std::string(TRAINSIM_SOURCE_DIR) + "/workloads/deepseek-v3.yaml";
  auto load = [&](const std::vector<std::string>& sets) { return load_workload(file, parse_overrides(sets)); };
  auto error_of = [&](const std::vector<std::string>& sets) {
    try {
      check_workload_schedule(load(sets));
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  REQUIRE_NOTHROW(check_workload_schedule(load({})));
  // An alias is accepted and reported under the canonical name.
  const WorkloadSpec zb = load({"parallelism.schedule=zb1p"});
  REQUIRE_NOTHROW(check_workload_schedule(zb));
  REQUIRE(schedule_of(zb).name == "zb-h1");
  REQUIRE(error_of({"parallelism.schedule=dual-pipe"}) ==
          "--set parallelism.schedule=dual-pipe: parallelism.schedule: " + unknown_schedule_message("dual-pipe"));
  REQUIRE(error_of({"parallelism.schedule=1f1b", "parallelism.virtual_stages=2"}) ==
          "--set parallelism.virtual_stages=2: parallelism.virtual_stages: virtual_stages 2 applies only to schedule "
          "interleaved");
  REQUIRE(error_of({"parallelism.schedule=interleaved", "parallelism.virtual_stages=4"}).find(
              "parallelism.virtual_stages: pp x virtual_stages = 64 chunks but the model has 61 layers") != std::string::npos);
  REQUIRE(error_of({"parallelism.schedule=dualpipev", "parallelism.pp=15"}) ==
          "--set parallelism.pp=15: parallelism.pp: dualpipev needs an even pp, got 15");
  // The naive schedule has no rules of its own.
  REQUIRE_NOTHROW(check_workload_schedule(load({"parallelism.schedule=naive"})));
}

TEST_CASE("trainsim schedule --list describes every registered schedule", "[schedule][cli]") {
  const auto r = run_cli("schedule --list");
  REQUIRE(r.status == 0);
  for (const ScheduleDescriptor& d : registered_schedules()) {
    CAPTURE(d.name);
    REQUIRE(r.output.find(d.name) != std::string::npos);
    REQUIRE(r.output.find(d.description) != std::string::npos);
  }
  const auto unknown = run_cli("schedule --schedule zb-h2 --pp 4 --microbatches 4");
  REQUIRE(unknown.status == 2);
  REQUIRE(unknown.output == "--schedule: " + unknown_schedule_message("zb-h2") + "\n");
  const auto missing = run_cli("schedule --pp 4 --microbatches 4");
  REQUIRE(missing.status == 2);
  REQUIRE(missing.output.find("--schedule is required") != std::string::npos);
}

}  // namespace test_schedule
