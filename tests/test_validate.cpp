// trainsim validate: case files, exact cases that fail the command, predictions
// that never do, and the shipped cases (the CI run).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sim/config/error.hpp"
#include "sim/studies/validation.hpp"
#include "tests/support.hpp"

namespace test_validate {

using namespace trainsim;
namespace fs = std::filesystem;

namespace {

const std::string kCaseDir = std::string(TRAINSIM_SOURCE_DIR) + "/tests/validation";

// A fresh directory under the system temp dir, removed at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "trainsim-validate-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  [[nodiscard]] std::string write(const std::string& name, const std::string& text) const {
    const fs::path p = path / name;
    std::ofstream(p) << text;
    return p.string();
  }
};

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

const std::string kBubble1f1b =
    "name: tmp-1f1b\n"
    "kind: exact\n"
    "description: \"1F1B, 4 ranks, 8 micro-batches\"\n"
    "source: \"test\"\n"
    "published: 9                 # (PP-1)(F+B) = 3 x 3\n"
    "tolerance: 0\n"
    "tolerance_source: \"exact\"\n"
    "compute: {metric: bubble, schedule: 1f1b, pp: 4, microbatches: 8, f: 1, b: 2, w: 1}\n";

// A DeepSeek-V3-shaped workload small enough to simulate in well under a second.
const std::string kSmallSet =
    "[nodes=16, model.layers=6, model.moe.first_dense_layers=1, parallelism.pp=2, parallelism.dp=64, "
    "training.global_batch=256, training.batch_ramp.start=256]";

std::string prediction_case(const std::string& name, const std::string& metric, const std::string& published) {
  return "name: " + name + "\nkind: prediction\ndescription: \"small\"\nsource: \"test\"\npublished: " + published +
         "\ntolerance: 0.1\ntolerance_source: \"test\"\ncompute:\n  metric: " + metric +
         "\n  cluster: topologies/h800-2048.yaml\n  workload: workloads/deepseek-v3.yaml\n  set: " + kSmallSet + "\n";
}

std::string replace(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("validate: a case file with an unknown key exits 2 with FILE:LINE:COL", "[validate]") {
  TempDir dir;
  const std::string file = dir.write("bad.yaml", replace(kBubble1f1b, "tolerance: 0\n", "tolerence: 0\n"));
  const auto r = test::run_trainsim("validate '" + file + "'");
  CHECK(r.status == 2);
  CHECK(r.output == file + ":6:1: unknown key \"tolerence\" at top level; did you mean \"tolerance\"?\n");
}

TEST_CASE("validate: case files are strict", "[validate]") {
  TempDir dir;
  auto error_of = [&](const std::string& text) -> std::string {
    const std::string file = dir.write("case.yaml", text);
    try {
      (void)load_case(file);
    } catch (const InputError& e) {
      return e.what();
    }
    return "";
  };
  const std::string f = (dir.path / "case.yaml").string();
  CHECK(error_of(replace(kBubble1f1b, "kind: exact", "kind: exactly")).rfind(f + ":2:7: kind: expected one of", 0) == 0);
  CHECK(error_of(replace(kBubble1f1b, "published: 9 ", "published: 0 ")) ==
        f + ":5:12: published: must be > 0, got 0");
  CHECK(error_of(replace(kBubble1f1b, "source: \"test\"\n", "")) == f + ":1:1: missing key \"source\" at top level");
  // A key that belongs to another metric.
  CHECK(error_of(replace(kBubble1f1b, "w: 1}", "w: 1, fidelity: full}")).rfind(
            f + ":8:85: compute.fidelity: not read by metric bubble", 0) == 0);
  // A simulated metric is never exact.
  CHECK(error_of(replace(prediction_case("p", "days_per_trillion_tokens", "1"), "kind: prediction", "kind: exact"))
            .rfind(f + ":2:7: kind: a simulated metric is a prediction", 0) == 0);
  // `set` is a list of key.path=value texts.
  CHECK(error_of(replace(prediction_case("p", "days_per_trillion_tokens", "1"), kSmallSet, "nodes=16")) ==
        f + ":12:8: compute.set: expected a list of key.path=value texts, e.g. [nodes=16]");
  CHECK(error_of(replace(prediction_case("p", "days_per_trillion_tokens", "1"), "topologies/h800-2048.yaml",
                         "topologies/none.yaml"))
            .rfind(f + ":10:12: no such file \"topologies/none.yaml\"", 0) == 0);

  const ValidationCase v = load_case(dir.write("ok.yaml", replace(kBubble1f1b, "w: 1}", "w: 1, fb: 2.5}")));
  CHECK(v.name == "tmp-1f1b");
  CHECK(v.kind == CaseKind::exact);
  CHECK(v.metric == CaseMetric::bubble);
  CHECK(v.published == 9);
  CHECK(v.bubble.schedule == "1f1b");
  CHECK(v.bubble.pp == 4);
  CHECK(v.bubble.microbatches == 8);
  CHECK(v.bubble.times.fb == 2.5);
}

TEST_CASE("validate: errors in a case's --set list point at the case file", "[validate]") {
  TempDir dir;
  const std::string file =
      dir.write("p.yaml", replace(prediction_case("p", "gpu_hours_per_trillion_tokens", "1"), "nodes=16", "nodes=x"));
  const auto r = test::run_trainsim("validate '" + file + "'");
  CHECK(r.status == 2);
  CHECK(r.output == file + ":12:9: compute.set \"nodes=x\": nodes: expected an integer, got \"x\"\n");
}

TEST_CASE("validate: an exact case outside its tolerance fails the command (exit 1)", "[validate]") {
  TempDir dir;
  const std::string good = dir.write("good.yaml", kBubble1f1b);
  const std::string bad = dir.write("bad.yaml", replace(replace(kBubble1f1b, "published: 9 ", "published: 10 "),
                                                        "tmp-1f1b", "tmp-1f1b-wrong"));
  const auto ok = test::run_trainsim("validate '" + good + "'");
  CHECK(ok.status == 0);
  const auto r = test::run_trainsim("validate --format json '" + good + "' '" + bad + "'", false);
  CHECK(r.status == 1);
  const auto j = nlohmann::json::parse(r.output);
  REQUIRE(j["cases"].size() == 2);
  CHECK(j["exact_failed"] == 1);
  const auto& wrong = j["cases"][1];
  CHECK(wrong["name"] == "tmp-1f1b-wrong");
  CHECK(wrong["predicted"] == 9.0);
  CHECK(wrong["relative_error"].get<double>() == 9.0 / 10.0 - 1);
  CHECK(wrong["verdict"] == "FAIL");
  CHECK(j["cases"][0]["verdict"] == "pass");
  // A tolerance that covers the 10 % error turns it into a pass.
  const std::string loose = dir.write("loose.yaml", replace(replace(read_file(bad), "tolerance: 0\n", "tolerance: 0.1\n"),
                                                            "tmp-1f1b-wrong", "tmp-loose"));
  CHECK(test::run_trainsim("validate '" + loose + "'").status == 0);
}

TEST_CASE("validate: every shipped exact case passes, from any working directory", "[validate]") {
  std::vector<std::string> exact_files;
  for (const auto& file : case_files(kCaseDir))
    if (load_case(file).kind == CaseKind::exact) exact_files.push_back(file);
  REQUIRE(exact_files.size() >= 12);  // 1F1B, ZB1P, DualPipe at two sizes each, Table 3 counts
  std::string args;
  for (const auto& f : exact_files) args += " '" + f + "'";
  TempDir elsewhere;  // config paths resolve from the case file, not the working directory
  const auto r = test::run_trainsim("validate --format json" + args, false, elsewhere.path.string());
  REQUIRE(r.status == 0);
  const auto j = nlohmann::json::parse(r.output);
  CHECK(j["exact"] == exact_files.size());
  CHECK(j["exact_failed"] == 0);
  int bubbles = 0, switches = 0;
  for (const auto& c : j["cases"]) {
    CAPTURE(c["name"].get<std::string>());
    CHECK(c["predicted"].get<double>() == c["published"].get<double>());
    CHECK(c["verdict"] == "pass");
    bubbles += c["metric"] == "bubble" ? 1 : 0;
    switches += c["metric"] == "switches" ? 1 : 0;
  }
  CHECK(bubbles >= 6);
  CHECK(switches >= 2);
}

TEST_CASE("validate: predictions are reported with their error, never a failure, one simulation per config",
          "[validate]") {
  TempDir dir;
  // Published values far from any prediction: OUTSIDE, exit status 0.
  const std::string hours = dir.write("h.yaml", prediction_case("small-hours", "gpu_hours_per_trillion_tokens", "1"));
  const std::string days = dir.write("d.yaml", prediction_case("small-days", "days_per_trillion_tokens", "1e6"));
  const auto r = test::run_trainsim("validate --format json '" + hours + "' '" + days + "'", false);
  REQUIRE(r.status == 0);
  const auto j = nlohmann::json::parse(r.output);
  CHECK(j["predictions"] == 2);
  CHECK(j["predictions_outside"] == 2);
  CHECK(j["exact_failed"] == 0);
  const auto& d = j["cases"][0];  // sorted by name: small-days, small-hours
  const auto& h = j["cases"][1];
  CHECK(d["name"] == "small-days");
  CHECK(d["verdict"] == "OUTSIDE");
  CHECK(h["verdict"] == "OUTSIDE");
  const double gpu_hours = h["predicted"].get<double>();
  const double day_count = d["predicted"].get<double>();
  CHECK(gpu_hours > 0);
  CHECK(h["relative_error"].get<double>() == gpu_hours / 1 - 1);
  // Both from one simulated step of 128 GPUs (one child process): GPU-hours = days x 24 h x GPUs.
  CHECK(j["simulations"] == 1);
  CHECK(d["simulation"] == 0);
  CHECK(h["simulation"] == 0);
  CHECK(gpu_hours == Approx(day_count * 24 * 128).epsilon(1e-12));
  // Deterministic: the same cases give byte-identical output.
  CHECK(test::run_trainsim("validate --format json '" + hours + "' '" + days + "'", false).output == r.output);
}

TEST_CASE("validate: case names select shipped cases, unknown names exit 2", "[validate]") {
  const auto r = test::run_trainsim("validate switches-ft2-2048 bubble-zb1p-pp4-m8", false);
  CHECK(r.status == 0);
  CHECK(r.output.find("bubble-zb1p-pp4-m8") < r.output.find("switches-ft2-2048"));  // sorted by name
  CHECK(r.output.find("2 exact cases: 2 pass, 0 FAIL") != std::string::npos);
  const auto bad = test::run_trainsim("validate switches-ft2-2049");
  CHECK(bad.status == 2);
  CHECK(bad.output.rfind("switches-ft2-2049: no validation case of that name", 0) == 0);
}

// The "runs in CI" point: every shipped case, the DeepSeek-V3 simulation included.
TEST_CASE("validate: trainsim validate runs every shipped case", "[validate][ci]") {
  const auto r = test::run_trainsim("validate --format json", false);
  REQUIRE(r.status == 0);
  const auto j = nlohmann::json::parse(r.output);
  CHECK(j["cases"].size() == case_files(kCaseDir).size());
  CHECK(j["exact_failed"] == 0);
  CHECK(j["predictions"] >= 2);
  bool hours = false, days = false;
  for (const auto& c : j["cases"]) {
    CHECK(std::isfinite(c["relative_error"].get<double>()));
    if (c["metric"] == "gpu_hours_per_trillion_tokens") {
      hours = true;
      CHECK(c["published"] == 180000.0);
      CHECK(c["predicted"].get<double>() > 0);
    }
    if (c["metric"] == "days_per_trillion_tokens") {
      days = true;
      CHECK(c["published"] == 3.7);
      CHECK(c["predicted"].get<double>() > 0);
    }
  }
  CHECK(hours);
  CHECK(days);
  CHECK(j["simulations"] == 1);  // the two DeepSeek-V3 predictions share one simulation
}

}  // namespace test_validate
