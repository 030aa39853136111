// The study definitions (scripts/studies/*.yaml) and their driver scripts:
// every point a study will sweep is accepted by `trainsim check`, the plot
// names axes and runs that exist, and scripts/study / scripts/plot.py behave
// on bad input and on error points. The studies themselves take minutes and
// are run by hand (scripts/study NAME).
#include <catch2/catch.hpp>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tests/support.hpp"

namespace test_studies {

namespace fs = std::filesystem;

namespace {

const fs::path kStudies = fs::path(TRAINSIM_SOURCE_DIR) / "scripts" / "studies";

std::vector<fs::path> study_files() {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(kStudies))
    if (e.path().extension() == ".yaml") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

std::string quoted(const std::string& s) { return "'" + s + "'"; }

// Every combination of the axes' values (last axis fastest), as --set arguments.
std::vector<std::string> axis_points(const YAML::Node& axes) {
  std::vector<std::string> points{""};
  if (!axes) return points;
  for (const auto& axis : axes) {
    std::vector<std::string> next;
    for (const auto& p : points)
      for (const auto& v : axis.second)
        next.push_back(p + " --set " + quoted(axis.first.as<std::string>() + "=" + v.as<std::string>()));
    points = next;
  }
  return points;
}

}  // namespace

TEST_CASE("every study point is accepted by trainsim check unless marked invalid", "[studies][cli]") {
  const auto files = study_files();
  // interconnect, schedule, fabric, routing, precision, dense-vs-moe (issue 5).
  REQUIRE(files.size() >= 6);
  for (const auto& file : files) {
    INFO(file.string());
    const YAML::Node study = YAML::LoadFile(file.string());
    REQUIRE(study["title"]);
    REQUIRE(study["runs"].IsSequence());
    int points = 0;
    for (const auto& run : study["runs"]) {
      std::string fixed;
      for (const char* key : {"cluster", "workload"}) {
        const YAML::Node v = run[key] ? run[key] : study[key];
        if (v) fixed += std::string(" --") + key + " " + quoted(v.as<std::string>());
      }
      // Study-level values first, a run's own values override them (as scripts/study does).
      std::map<std::string, std::string> sets;
      for (const YAML::Node& level : {study["set"], run["set"]})
        if (level)
          for (const auto& kv : level) sets[kv.first.as<std::string>()] = kv.second.as<std::string>();
      for (const auto& [key, value] : sets) fixed += " --set " + quoted(key + "=" + value);
      for (const auto& point : axis_points(run["axes"])) {
        // Studies run as sweeps, which simulate a point that does not fit in HBM and flag its row.
        const auto r = trainsim::test::run_trainsim("check --allow-oversubscribed-memory" + fixed + point);
        INFO("check" + fixed + point << "\n" << r.output);
        // A run marked `invalid` is kept to show what trainsim refuses: check must refuse it.
        CHECK(r.status == (run["invalid"] ? 2 : 0));
        ++points;
      }
    }
    CHECK(points >= 2);
  }
}

TEST_CASE("every study plot names axes and runs of its study", "[studies]") {
  const std::set<std::string> kinds{"heatmap", "bars", "line", "ratio", "reliability"};
  for (const auto& file : study_files()) {
    INFO(file.string());
    const YAML::Node study = YAML::LoadFile(file.string());
    const YAML::Node plot = study["plot"];
    REQUIRE(plot);
    const auto kind = plot["kind"].as<std::string>();
    CHECK(kinds.count(kind) == 1);
    CHECK(plot["metric"]);
    CHECK(plot["metric_label"]);
    std::set<std::string> runs, axes;
    for (const auto& run : study["runs"]) {
      runs.insert(run["label"].as<std::string>());
      if (run["axes"])
        for (const auto& a : run["axes"]) axes.insert(a.first.as<std::string>());
    }
    CHECK(runs.size() == study["runs"].size());  // labels tell the runs apart in the CSV
    if (kind == "heatmap") {
      CHECK(axes.count(plot["x"].as<std::string>()) == 1);
      CHECK(axes.count(plot["y"].as<std::string>()) == 1);
    }
    if (kind == "line") {
      CHECK(axes.count(plot["x"].as<std::string>()) == 1);
      for (const auto& panel : plot["panels"]) {
        std::set<std::string> drawn;
        for (const auto& name : panel["runs"]) {
          CHECK(runs.count(name.as<std::string>()) == 1);
          drawn.insert(name.as<std::string>());
        }
        for (const auto& name : panel["points_only"]) CHECK(drawn.count(name.as<std::string>()) == 1);
      }
    }
    if (kind == "ratio") {
      CHECK(runs.count(study["baseline"].as<std::string>()) == 1);
      CHECK(study["inspect"][0].as<std::string>() == "params_active");
    }
  }
}

TEST_CASE("scripts/study lists the studies and refuses an unknown one with status 2", "[studies][cli]") {
  const std::string study = std::string(TRAINSIM_SOURCE_DIR) + "/scripts/study";
  const auto list = trainsim::test::run_command(quoted(study) + " --list 2>&1");
  REQUIRE(list.status == 0);
  for (const auto& file : study_files()) CHECK_THAT(list.output, Catch::Contains(file.stem().string()));
  CHECK_THAT(list.output, !Catch::Contains("invalid"));

  const auto unknown = trainsim::test::run_command(quoted(study) + " no-such-study 2>&1");
  CHECK(unknown.status == 2);
  CHECK_THAT(unknown.output, Catch::Contains("unknown study 'no-such-study'"));
  CHECK_THAT(unknown.output, Catch::Contains("interconnect"));
}

TEST_CASE("plot.py draws a heatmap whose error point is shown, not dropped", "[studies]") {
  const fs::path dir = fs::temp_directory_path() / ("trainsim-test-studies-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  {
    std::ofstream yaml(dir / "s.yaml");
    yaml << "title: t\nruns:\n  - label: r\n    axes: {a: [1, 2], b: [x, y]}\n"
            "plot: {kind: heatmap, x: a, y: b, metric: m, metric_label: M, reference: {x: 1, y: x}}\n";
    std::ofstream csv(dir / "s.csv");
    csv << "run,point,a,b,status,error,cluster,workload,num_gpus,fidelity,m\n"
           "r,0,1,x,ok,,c,w,8,full,10\n"
           "r,1,1,y,ok,,c,w,8,full,12\n"
           "r,2,2,x,error,bad point,,,,,\n"
           "r,3,2,y,ok,,c,w,8,full,11\n";
  }
  const std::string plot = std::string(TRAINSIM_SOURCE_DIR) + "/scripts/plot.py";
  const auto r = trainsim::test::run_command(quoted(plot) + " " + quoted((dir / "s.yaml").string()) + " " +
                                             quoted((dir / "s.csv").string()) + " " +
                                             quoted((dir / "s.png").string()) + " 2>&1");
  INFO(r.output);
  CHECK(r.status == 0);
  std::ifstream png(dir / "s.png", std::ios::binary);
  std::string magic(4, '\0');
  png.read(magic.data(), 4);
  CHECK(magic == "\x89PNG");
  fs::remove_all(dir);
}

}  // namespace test_studies
