// Issue 15, category 1: sizes that would make a command allocate or run without bound are refused up front.
#include <catch2/catch.hpp>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <functional>
#include <string>
#include <vector>

#include "sim/config/error.hpp"
#include "sim/config/load.hpp"
#include "sim/config/size_limits.hpp"
#include "sim/run/inputs.hpp"
#include "sim/studies/sweep.hpp"
#include "tests/support.hpp"

namespace test_unbounded_work {

using namespace trainsim;

namespace {
// `axes` --set arguments of `values` values each.
std::vector<std::string> sweep_axes(int axes, int values) {
  std::vector<std::string> args;
  for (int a = 0; a < axes; ++a) {
    std::string arg = "k" + std::to_string(a) + "=";
    for (int v = 0; v < values; ++v) arg += (v ? "," : "") + std::to_string(v);
    args.push_back(arg);
  }
  return args;
}
}  // namespace

TEST_CASE("a sweep's point count cannot wrap around: 8 axes of 256 values are refused, not 0 points",
          "[sweep][robustness]") {
  // 256^8 = 2^64 wrapped to 0 in size_t: the old code returned a plan of 0 points (an empty CSV, exit 0).
  try {
    (void)sweep::parse_plan(sweep_axes(8, 256));
    FAIL("a sweep of 2^64 points was accepted");
  } catch (const InputError& e) {
    const std::string what = e.what();
    CHECK(what.find("256 x 256 x 256 x 256 x 256 x 256 x 256 x 256 values = 1.84467e+19 points") != std::string::npos);
    CHECK(what.find("about 1.07e+15 CPU-days at 5 s each; at most 100000") != std::string::npos);
  }
}

TEST_CASE("a sweep is refused above 100,000 points and accepted at it", "[sweep][robustness]") {
  CHECK_THROWS_AS(sweep::parse_plan(sweep_axes(8, 5)), InputError);  // 390,625 points
  CHECK_THROWS_AS(sweep::parse_plan(sweep_axes(6, 7)), InputError);  // 117,649 points
  CHECK(sweep::point_count(sweep::parse_plan(sweep_axes(5, 10))) == 100000);
}

namespace {

// --allow-large for one test: the process's switch, put back however the test ends.
struct LargeInputsAllowed {
  LargeInputsAllowed() { allow_large_inputs(true); }
  ~LargeInputsAllowed() { allow_large_inputs(false); }
  LargeInputsAllowed(const LargeInputsAllowed&) = delete;
  LargeInputsAllowed& operator=(const LargeInputsAllowed&) = delete;
};

// The InputError's line, or "(accepted)".
std::string error_of(const std::function<void()>& f) {
  std::string what = "(accepted)";
  try {
    f();
  } catch (const InputError& e) {
    what = e.what();
  }
  return what;
}

std::string cluster_error(const std::string& nodes) {
  return error_of([&] { (void)load_cluster(default_cluster_path(), parse_overrides({"nodes=" + nodes})); });
}

std::string workload_error(const std::string& set) {
  return error_of([&] { (void)load_checked_workload(default_workload_path(), parse_overrides({set})); });
}

// A new directory under the temporary one (removed by the test), and a file's text.
std::string fresh_dir(const std::string& name) {
  const auto path = std::filesystem::temp_directory_path() / ("trainsim-" + name + "-" + std::to_string(getpid()));
  std::filesystem::remove_all(path);
  std::filesystem::create_directories(path);
  return path.string();
}
std::string text_of(const std::string& path) { return test::file_text(path); }

}  // namespace

TEST_CASE("the GPU limit names --allow-large and its figure, and --allow-large lifts it to 2^22",
          "[config][robustness]") {
  // 200,000 nodes x 8 = 1.6e6 GPUs: above 2^20, below 2^22.
  CHECK(cluster_error("200000") ==
        "--set nodes=200000: nodes: 200000 nodes x 8 GPUs = 1600000 GPUs; at most 1048576 are supported (the cluster "
        "graph alone takes about 1.5 KB per GPU, 2.4 GB here); --allow-large lifts this limit (up to 4194304)");
  CHECK(cluster_error("131072") == "(accepted)");  // 2^20 GPUs exactly
  const LargeInputsAllowed allowed;
  CHECK(cluster_error("200000") == "(accepted)");
  CHECK(cluster_error("524288") == "(accepted)");  // 2^22 GPUs exactly
  CHECK(cluster_error("524289") ==
        "--set nodes=524289: nodes: 524289 nodes x 8 GPUs = 4194312 GPUs; at most 4194304 are supported (the cluster "
        "graph alone takes about 1.5 KB per GPU, 6.29 GB here) (the bound even with --allow-large)");
}

TEST_CASE("the layer-pass limit states the memory and time estimate, and --allow-large lifts it to 1e8",
          "[config][robustness]") {
  // (100,000 + 1 MTP + 2) layers x 120 micro-batches = 12,000,360 passes: 15 KB and 0.5 ms each.
  CHECK(workload_error("model.layers=100000") ==
        "--set model.layers=100000: model.layers: 100000 layers + 1 MTP + 2 (embedding, head) = 100003 layers x 120 "
        "micro-batches (global_batch 15360 / (dp 128 x micro_batch 1)) = 1.2e+07 layer passes per pipeline, about "
        "180 GB and 1.67 hours (15 KB and 0.5 ms each); at most 1e+06 can be simulated; --allow-large lifts this "
        "limit (up to 100000000)");
  const LargeInputsAllowed allowed;
  CHECK(workload_error("model.layers=100000") == "(accepted)");
  // 1,000,000 layers x 120 = 1.2e8 passes: above the bound.
  CHECK(workload_error("model.layers=1000000").find("= 1.2e+08 layer passes per pipeline, about 1.8e+03 GB and 16.7 "
                                                     "hours (15 KB and 0.5 ms each); at most 1e+08 can be simulated "
                                                     "(the bound even with --allow-large)") != std::string::npos);
}

TEST_CASE("the sweep-point limit is lifted by --allow-large to a million points, rows and --expect-points alike",
          "[sweep][robustness]") {
  const std::string refused = error_of([] { (void)sweep::parse_plan(sweep_axes(8, 5)); });
  CHECK(refused.find("; --allow-large lifts this limit (up to 1000000)") != std::string::npos);
  CHECK(error_of([] { sweep::check_expected_points(100001); }) ==
        "--expect-points: 100001 is beyond the largest sweep (100000 points); --allow-large lifts this limit (up to "
        "1000000)");
  CHECK_THROWS_AS(sweep::read_rows("{\"point\": 100000}\n", "rows.jsonl"), InputError);
  const LargeInputsAllowed allowed;
  CHECK(sweep::point_count(sweep::parse_plan(sweep_axes(8, 5))) == 390625);
  CHECK(sweep::point_count(sweep::parse_plan(sweep_axes(6, 10))) == 1000000);
  CHECK(error_of([] { (void)sweep::parse_plan(sweep_axes(6, 11)); })
            .find("= 1.77156e+06 points, about 103 CPU-days at 5 s each; at most 1000000 are run in one sweep: use fewer "
                  "values or split the sweep (the bound even with --allow-large)") != std::string::npos);
  CHECK(error_of([] { sweep::check_expected_points(1000000); }) == "(accepted)");
  CHECK(sweep::read_rows("{\"point\": 999999}\n", "rows.jsonl").size() == 1);
  CHECK_THROWS_AS(sweep::read_rows("{\"point\": 1000000}\n", "rows.jsonl"), InputError);
}

TEST_CASE("ramp points above 100 are refused naming --allow-large, by a sweep once before any point",
          "[cli][robustness]") {
  const auto run = test::run_trainsim("run --ramp-points 101");
  CHECK(run.status == 2);
  CHECK(run.output ==
        "--ramp-points: 101 ramp points, each one more step simulated (about 5 s each on the default case, 0.14 "
        "CPU-hours); at most 100; --allow-large lifts this limit (up to 1000)\n");
  const auto sweep = test::run_trainsim("sweep --ramp-points 150 --set nodes=16,32");
  CHECK(sweep.status == 2);
  CHECK(sweep.output.rfind("--ramp-points: 150 ramp points", 0) == 0);
  // The bound of --allow-large is CLI11's range.
  CHECK(test::run_trainsim("run --allow-large --ramp-points 1001").status == 2);
}

TEST_CASE("sweep --emit-jobs carries --allow-large into every job, and only when given", "[sweep][cli][robustness]") {
  const std::string dir = fresh_dir("allow-large-jobs");
  const std::string args = " --ramp-points 150 --set nodes=16,32 --emit-jobs " + dir + "/jobs.txt";
  const auto with = test::run_trainsim("sweep --allow-large" + args);
  REQUIRE(with.status == 0);
  const std::string jobs = text_of(dir + "/jobs.txt");
  CHECK(std::count(jobs.begin(), jobs.end(), '\n') == 2);
  std::size_t carried = 0;
  for (std::size_t at = jobs.find(" --allow-large "); at != std::string::npos; at = jobs.find(" --allow-large ", at + 1))
    ++carried;
  CHECK(carried == 2);
  CHECK(jobs.find("--ramp-points '150'") != std::string::npos);
  // Without it the plan is refused (150 ramp points), and a plan within the limits emits no flag.
  CHECK(test::run_trainsim("sweep" + args).status == 2);
  REQUIRE(test::run_trainsim("sweep --set nodes=16,32 --emit-jobs " + dir + "/plain.txt").status == 0);
  CHECK(text_of(dir + "/plain.txt").find("--allow-large") == std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("a sweep's points, run in forked children, see --allow-large", "[sweep][cli][robustness]") {
  // 1.6e6 GPUs pass the GPU limit with the flag and stop at the fabric's next rule (radix 64 holds 2048 GPUs
  // per plane); without it each point's row is the GPU limit. Both fail fast, before any step is built.
  const auto with = test::run_trainsim("sweep --allow-large --jobs 1 --set nodes=200000,200001", false);
  CHECK(with.status == 1);
  CHECK(with.output.find("network.switch_radix: multi-plane-fat-tree needs 6250 leaf switches") != std::string::npos);
  CHECK(with.output.find("--allow-large lifts") == std::string::npos);
  const auto without = test::run_trainsim("sweep --jobs 1 --set nodes=200000,200001", false);
  CHECK(without.status == 1);
  CHECK(without.output.find("1600000 GPUs; at most 1048576 are supported") != std::string::npos);
}

TEST_CASE("every command that reads a bounded size documents --allow-large in its help", "[cli][robustness]") {
  for (const std::string command : {"inspect", "topology", "net", "schedule", "run", "check", "claim", "sweep",
                                    "merge", "cost", "validate"}) {
    INFO(command);
    CHECK(test::run_trainsim(command + " --help").output.find("--allow-large") != std::string::npos);
  }
}

}  // namespace test_unbounded_work
