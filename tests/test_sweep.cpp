// trainsim sweep / merge: value lists, cartesian order, row flattening and CSV
// (pure, on synthetic rows), then the commands on the small 128-GPU case.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "sim/config/error.hpp"
#include "sim/studies/sweep.hpp"
#include "tests/support.hpp"

namespace test_sweep {

using namespace trainsim;
using sweep::Row;

namespace {

// The small case of the house rules (128 GPUs, 6 layers), one run ~0.2 s with no ramp.
const std::string small_case =
    "--ramp-points 0 --set nodes=16 --set model.layers=6 --set model.moe.first_dense_layers=1 "
    "--set parallelism.dp=64 --set training.global_batch=256 --set training.batch_ramp.start=256 ";

std::string read_file(const std::filesystem::path& path) { return test::file_text(path.string()); }

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// A fresh directory per test case, removed at the end.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& name)
      : path(std::filesystem::temp_directory_path() /
             ("trainsim-sweep-" + name + "-" + std::to_string(getpid()))) {
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  [[nodiscard]] std::string operator/(const std::string& name) const { return (path / name).string(); }
};

}  // namespace

TEST_CASE("sweep value lists split on commas outside braces, brackets and quotes") {
  using V = std::vector<std::string>;
  CHECK(sweep::split_values("1,2,3", "o") == V{"1", "2", "3"});
  CHECK(sweep::split_values("450GB/s", "o") == V{"450GB/s"});
  CHECK(sweep::split_values(" 1 , 2", "o") == V{"1", "2"});
  CHECK(sweep::split_values("{value: 1, low: 0.9, high: 1.1},{value: 2, low: 1, high: 3}", "o") ==
        V{"{value: 1, low: 0.9, high: 1.1}", "{value: 2, low: 1, high: 3}"});
  CHECK(sweep::split_values("[1, 2],[3],4", "o") == V{"[1, 2]", "[3]", "4"});
  CHECK(sweep::split_values("{a: [1, {b: 2}]},x", "o") == V{"{a: [1, {b: 2}]}", "x"});
  CHECK(sweep::split_values("'a,b',\"c,d\",e", "o") == V{"'a,b'", "\"c,d\"", "e"});
  CHECK_THROWS_AS(sweep::split_values("{value: 1, low: 2", "o"), InputError);
  CHECK_THROWS_AS(sweep::split_values("1]", "o"), InputError);
  CHECK_THROWS_AS(sweep::split_values("1,,2", "o"), InputError);
  CHECK_THROWS_AS(sweep::split_values("1,2,", "o"), InputError);
  CHECK_THROWS_AS(sweep::split_values("'1,2", "o"), InputError);
  CHECK_THROWS_WITH(sweep::split_values("1,,2", "--set k=1,,2"), Catch::Contains("--set k=1,,2: empty value"));
}

TEST_CASE("sweep points are the cartesian product, last axis fastest") {
  const auto plan = sweep::parse_plan({"a=1,2", "fixed=x", "b = p,q,r"});
  REQUIRE(plan.sets.size() == 3);
  CHECK(plan.sets[1].key == "fixed");
  CHECK_FALSE(plan.sets[1].is_axis());
  CHECK(plan.sets[2].key == "b");  // blanks around the key are not part of it
  REQUIRE(sweep::point_count(plan) == 6);
  using V = std::vector<std::string>;
  CHECK(sweep::point_set_args(plan, 0) == V{"a=1", "fixed=x", "b=p"});
  CHECK(sweep::point_set_args(plan, 1) == V{"a=1", "fixed=x", "b=q"});
  CHECK(sweep::point_set_args(plan, 2) == V{"a=1", "fixed=x", "b=r"});
  CHECK(sweep::point_set_args(plan, 3) == V{"a=2", "fixed=x", "b=p"});
  CHECK(sweep::point_set_args(plan, 5) == V{"a=2", "fixed=x", "b=r"});
  CHECK(sweep::all_set_args(plan) == V{"a=1", "a=2", "fixed=x", "b=p", "b=q", "b=r"});
  // Every point exactly once.
  std::set<V> seen;
  for (std::size_t p = 0; p < 6; ++p) seen.insert(sweep::point_set_args(plan, p));
  CHECK(seen.size() == 6);
  CHECK(sweep::point_count(sweep::parse_plan({})) == 1);
  CHECK(sweep::point_count(sweep::parse_plan({"a=1,2,3", "b=1,2", "c=1,2,3,4,5"})) == 30);
  CHECK_THROWS_AS(sweep::parse_plan({"a=1,2", "a=3"}), InputError);
  CHECK_THROWS_AS(sweep::parse_plan({"a"}), InputError);
  CHECK_THROWS_AS(sweep::parse_plan({"=1,2"}), InputError);
}

TEST_CASE("sweep rows flatten to CSV with the union of columns") {
  const auto plan = sweep::parse_plan({"k=1,2,3", "f=x"});
  const Row ok = Row::parse(R"({"x": 1.5, "nested": {"a": 1, "b": "s,t \"q\""}, "arr": [1, "u"],
                                "none": null, "flag": true, "k": 99})");
  const Row extra = Row::parse(R"({"x": 0.1, "nested": {"a": 2, "c": 3}, "big": 1048576.0})");
  const std::vector<Row> rows{sweep::make_row(plan, 0, "", ok), sweep::make_row(plan, 1, "boom, twice", Row()),
                              sweep::make_row(plan, 2, "", extra)};
  CHECK_FALSE(sweep::row_failed(rows[0]));
  CHECK(sweep::row_failed(rows[1]));
  CHECK(rows[0]["k"] == "1");  // the axis value wins over a result key of the same name
  CHECK(sweep::to_csv(rows) ==
        "point,k,status,error,x,nested.a,nested.b,arr,none,flag,nested.c,big\n"
        "0,1,ok,,1.5,1,\"s,t \"\"q\"\"\",\"[1,\"\"u\"\"]\",,true,,\n"
        "1,2,error,\"boom, twice\",,,,,,,,\n"
        "2,3,ok,,0.1,2,,,,,3,1048576.0\n");
  CHECK(sweep::to_jsonl({rows[1]}) == "{\"point\":1,\"k\":\"2\",\"status\":\"error\",\"error\":\"boom, twice\"}\n");
}

TEST_CASE("sweep axis column and the run key of the same dotted name share one column") {
  const auto plan = sweep::parse_plan({"parallelism.pp=2,4", "parallelism.dp=08,16"});
  const Row result = Row::parse(R"({"parallelism": {"pp": 4, "dp": 8, "ep": 2}})");
  // Headers stay unique; the axis value as typed wins ("08"), failed rows keep theirs.
  CHECK(sweep::to_csv({sweep::make_row(plan, 2, "", result), sweep::make_row(plan, 1, "bad", Row())}) ==
        "point,parallelism.pp,parallelism.dp,status,error,parallelism.ep\n"
        "2,4,08,ok,,2\n"
        "1,2,16,error,bad,\n");
}

TEST_CASE("sweep rows survive JSON lines and merge in point order") {
  const auto plan = sweep::parse_plan({"a=1,2,3,4"});
  std::vector<Row> rows;
  const double values[] = {0.1 + 0.2, 1e-300, 2.0 / 3.0, 123456789.125};
  for (std::size_t p = 0; p < 4; ++p) {
    Row r;
    r["v"] = values[p];
    rows.push_back(sweep::make_row(plan, p, p == 2 ? "bad" : "", r));
  }
  // Per-point files, read back in scrambled order: the same bytes as the rows in order.
  std::vector<Row> scrambled;
  for (std::size_t p : {3, 1, 0, 2, 1})
    for (auto& r : sweep::read_rows(sweep::to_jsonl({rows[p]}), "f")) scrambled.push_back(std::move(r));
  const auto merged = sweep::merge_rows(scrambled);
  REQUIRE(merged.size() == 4);
  CHECK(sweep::to_csv(merged) == sweep::to_csv(rows));
  CHECK(sweep::to_jsonl(merged) == sweep::to_jsonl(rows));
  CHECK(merged[0]["v"].get<double>() == 0.1 + 0.2);  // bit-exact round trip
  CHECK(sweep::missing_points(merged, 0).empty());
  CHECK(sweep::missing_points({merged[0], merged[2]}, 0) == std::vector<long long>{1});
  CHECK(sweep::missing_points({merged[0], merged[2]}, 5) == std::vector<long long>{1, 3, 4});
  // The same point with other content is an error, not a silent pick.
  Row other = rows[1];
  other["v"] = 7;
  CHECK_THROWS_AS(sweep::merge_rows({rows[1], other}), InputError);
  CHECK_THROWS_WITH(sweep::read_rows("{\"point\":0}\n{oops\n", "f.jsonl"), Catch::StartsWith("f.jsonl:2:"));
  CHECK_THROWS_WITH(sweep::read_rows("{\"x\":0}\n", "f.jsonl"), Catch::StartsWith("f.jsonl:1:1:"));
  CHECK(sweep::read_rows("\n{\"point\":3}\n\n", "f").size() == 1);
}

TEST_CASE("sweep shell quoting and point file names") {
  for (const std::string word : {"plain", "it's", "a b", "$HOME `x` \"q\" \\ ;|&", "'"}) {
    const auto r = test::run_command("printf %s " + sweep::shell_quote(word));
    CHECK(r.output == word);
  }
  CHECK(sweep::point_file_name(42, 100) == "point-000042.jsonl");
  CHECK(sweep::point_file_name(5, 12345678) == "point-00000005.jsonl");
}

TEST_CASE("sweep gives the same CSV whatever --jobs") {
  TempDir dir("jobs");
  const std::string args = "sweep " + small_case +
                           "--set parallelism.pp=2 --set parallelism.schedule=dualpipe,1f1b "
                           "--set cluster.node.nvlink_bandwidth=150GB/s,200GB/s --output ";
  const auto one = test::run_trainsim(args + (dir / "1.csv") + " --jobs 1");
  const auto two = test::run_trainsim(args + (dir / "2.csv") + " --jobs 2");
  REQUIRE(one.status == 0);
  REQUIRE(two.status == 0);
  const std::string csv = read_file(dir / "1.csv");
  CHECK(read_file(dir / "2.csv") == csv);
  const auto lines = lines_of(csv);
  REQUIRE(lines.size() == 5);
  CHECK(lines[0].rfind("point,parallelism.schedule,cluster.node.nvlink_bandwidth,status,error,", 0) == 0);
  CHECK(lines[0].find(",step_time_s,") != std::string::npos);
  CHECK(lines[0].find(",breakdown.attention,") != std::string::npos);
  CHECK(lines[1].rfind("0,dualpipe,150GB/s,ok,,", 0) == 0);
  CHECK(lines[2].rfind("1,dualpipe,200GB/s,ok,,", 0) == 0);
  CHECK(lines[3].rfind("2,1f1b,150GB/s,ok,,", 0) == 0);
  CHECK(lines[4].rfind("3,1f1b,200GB/s,ok,,", 0) == 0);
  // Each row is that point's own run: the schedule moves the step time.
  const auto jsonl = test::run_trainsim(args + (dir / "r.jsonl") + " --jobs 2 --format jsonl");
  REQUIRE(jsonl.status == 0);
  const auto rows = sweep::read_rows(read_file(dir / "r.jsonl"), "r.jsonl");
  REQUIRE(rows.size() == 4);
  CHECK(rows[0]["step_time_s"] != rows[2]["step_time_s"]);
  CHECK(rows[2]["schedule"] == "1f1b");
  CHECK(rows[1]["parallelism"]["pp"] == 2);
}

TEST_CASE("sweep keeps a failed point as a row and exits 1") {
  TempDir dir("fail");
  const auto r = test::run_trainsim("sweep " + small_case + "--set parallelism.pp=2,3 --output " + (dir / "s.csv"));
  CHECK(r.status == 1);
  CHECK(r.output.find("1 of 2 points failed") != std::string::npos);
  CHECK(r.output.find("elapsed, ETA") == std::string::npos);  // no progress bar: stderr is a pipe
  const auto lines = lines_of(read_file(dir / "s.csv"));
  REQUIRE(lines.size() == 3);
  CHECK(lines[1].rfind("0,2,ok,,", 0) == 0);
  CHECK(lines[2].rfind("1,3,error,\"--set parallelism.pp=3: parallelism.pp: dualpipe needs an even pp, got 3\"", 0) ==
        0);
}

TEST_CASE("sweep rejects a misspelt key before running any point") {
  TempDir dir("typo");
  const auto r = test::run_trainsim("sweep " + small_case + "--set parallelism.ppp=2,4 --output " + (dir / "s.csv"));
  CHECK(r.status == 2);
  CHECK(r.output.find("--set parallelism.ppp=2: unknown key \"ppp\" in parallelism; did you mean \"pp\"?") !=
        std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir / "s.csv"));
  const auto braces = test::run_trainsim("sweep --set 'parallelism.pp={a: 1, b: 2' --output " + (dir / "s.csv"));
  CHECK(braces.status == 2);
  CHECK(braces.output.find("unbalanced") != std::string::npos);
  const auto missing = test::run_trainsim("sweep --workload /nonexistent.yaml --output " + (dir / "s.csv"));
  CHECK(missing.status == 2);
  CHECK(missing.output.find("/nonexistent.yaml: cannot read the file") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir / "s.csv"));
}

TEST_CASE("sweep emitted jobs run by bash and a Slurm script merge to the local CSV") {
  TempDir dir("emit");
  const std::string sets = small_case + "--set parallelism.pp=2,3 --set cluster.node.nvlink_bandwidth=150GB/s,200GB/s ";
  const auto local = test::run_trainsim("sweep " + sets + "--jobs 2 --output " + (dir / "local.csv"));
  REQUIRE(local.status == 1);  // pp=3 points fail and are kept
  const auto local_jsonl = test::run_trainsim("sweep " + sets + "--format jsonl --output " + (dir / "local.jsonl"));
  REQUIRE(local_jsonl.status == 1);

  // Emitted from another directory: every path in the lines is absolute.
  const auto emit = test::run_trainsim("sweep " + sets + "--emit-jobs jobs.txt --jobs-dir rows", true, dir.path.string());
  REQUIRE(emit.status == 0);
  const auto jobs = lines_of(read_file(dir / "jobs.txt"));
  REQUIRE(jobs.size() == 4);
  CHECK(jobs[3].find("--only-point 3 --format jsonl --output '" + (dir / "rows/point-000003.jsonl") + "'") !=
        std::string::npos);
  CHECK(jobs[0].rfind("'/", 0) == 0);

  // Each line alone, from elsewhere, in reverse order.
  for (int k = 3; k >= 0; --k) {
    const auto r = test::run_command("cd / && sed -n '" + std::to_string(k + 1) + "p' '" + (dir / "jobs.txt") +
                                     "' | bash 2>/dev/null");
    CHECK(r.status == (k >= 2 ? 1 : 0));
  }
  const auto merged = test::run_trainsim("merge --expect-points 4 --output " + (dir / "merged.csv") + " " + (dir / "rows"));
  CHECK(merged.status == 1);
  CHECK(merged.output.find("2 of 4 points failed") != std::string::npos);
  CHECK(read_file(dir / "merged.csv") == read_file(dir / "local.csv"));
  const auto merged_jsonl =
      test::run_trainsim("merge --format jsonl " + (dir / "rows/point-000002.jsonl") + " " + (dir / "rows"), false);
  CHECK(merged_jsonl.output == read_file(dir / "local.jsonl"));

  // A point without output is reported, the others still merged.
  std::filesystem::remove(dir / "rows/point-000001.jsonl");
  const auto gap = test::run_trainsim("merge --expect-points 5 " + (dir / "rows"));
  CHECK(gap.status == 1);
  CHECK(gap.output.find("2 points have no output: 1, 4") != std::string::npos);

  // The Slurm array script: task K runs line K+1 (#SBATCH lines are comments to bash).
  std::filesystem::remove_all(dir / "rows");
  const auto slurm = test::run_command("'" TRAINSIM_SOURCE_DIR "/scripts/sweep-slurm' '" + (dir / "jobs.txt") +
                                       "' --max-running 3 --time 0:05:00 2>&1 >'" + (dir / "job.sbatch") + "'");
  REQUIRE(slurm.status == 0);
  CHECK(slurm.output.find("merge --expect-points 4 " + (dir / "rows")) != std::string::npos);
  const std::string script = read_file(dir / "job.sbatch");
  CHECK(script.rfind("#!/bin/bash\n", 0) == 0);
  CHECK(script.find("\n#SBATCH --array=0-3%3\n") != std::string::npos);
  CHECK(script.find("\n#SBATCH --time=0:05:00\n") != std::string::npos);
  for (int k = 0; k < 4; ++k)
    test::run_command("SLURM_ARRAY_TASK_ID=" + std::to_string(k) + " bash '" + (dir / "job.sbatch") + "' 2>/dev/null");
  const auto after_slurm = test::run_trainsim("merge --expect-points 4 " + (dir / "rows"), false);
  CHECK(after_slurm.output == read_file(dir / "local.csv"));
  CHECK(test::run_command("SLURM_ARRAY_TASK_ID=4 bash '" + (dir / "job.sbatch") + "' 2>/dev/null").status == 2);
}

TEST_CASE("sweep emitted jobs run by scripts/sweep-parallel merge to the local CSV") {
  if (test::run_command("command -v parallel >/dev/null 2>&1").status != 0) {
    WARN("GNU parallel is not installed (scripts/packages.txt lists it); sweep-parallel not tested");
    return;
  }
  TempDir dir("parallel");
  const std::string sets = small_case + "--set parallelism.pp=2,3 --set cluster.node.nvlink_bandwidth=150GB/s,200GB/s ";
  REQUIRE(test::run_trainsim("sweep " + sets + "--output " + (dir / "local.csv")).status == 1);
  REQUIRE(test::run_trainsim("sweep " + sets + "--emit-jobs " + (dir / "jobs.txt")).status == 0);
  const auto r = test::run_command("'" TRAINSIM_SOURCE_DIR "/scripts/sweep-parallel' -j 2 --output '" +
                                   (dir / "parallel.csv") + "' '" + (dir / "jobs.txt") + "' 2>&1");
  CHECK(r.status == 1);  // the pp=3 points
  CHECK(r.output.find("2 of 4 points failed") != std::string::npos);
  CHECK(read_file(dir / "parallel.csv") == read_file(dir / "local.csv"));
  CHECK(test::run_command("'" TRAINSIM_SOURCE_DIR "/scripts/sweep-parallel' /nonexistent 2>/dev/null").status == 2);
}

TEST_CASE("sweep points get the full-fidelity memory guard of the run pipeline") {
  TempDir dir("memory");
  const auto r = test::run_trainsim("sweep " + small_case +
                                    "--fidelity full --max-memory 1MiB --set parallelism.pp=2 "
                                    "--set cluster.node.nvlink_bandwidth=150GB/s,200GB/s --output " +
                                    (dir / "s.csv"));
  CHECK(r.status == 1);
  CHECK(r.output.find("2 of 2 points failed") != std::string::npos);
  const auto lines = lines_of(read_file(dir / "s.csv"));
  REQUIRE(lines.size() == 3);
  CHECK(lines[1].rfind("0,150GB/s,error,\"--fidelity full: a full-fidelity step of 128 GPUs needs about", 0) == 0);
  CHECK(lines[2].find("above the --max-memory limit of 1 MiB") != std::string::npos);
}

TEST_CASE("sweep emitted jobs carry the run options") {
  TempDir dir("emit-options");
  REQUIRE(test::run_trainsim("sweep --fidelity full --network-model per-pair --max-memory 16GiB --ramp-points 0 "
                             "--set parallelism.pp=2,4 --emit-jobs " + (dir / "jobs.txt")).status == 0);
  const auto lines = lines_of(read_file(dir / "jobs.txt"));
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].find(" --fidelity 'full' --network-model 'per-pair' --ramp-points '0' --max-memory '17179869184B' ") !=
        std::string::npos);
}

}  // namespace test_sweep
