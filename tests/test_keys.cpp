// trainsim keys: the configuration reference written from the key declarations,
// and README.md's copy of it.
#include <yaml-cpp/yaml.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "sim/config/keys.hpp"
#include "sim/config/yaml_reader.hpp"
#include "tests/support.hpp"

namespace test_keys {

using namespace trainsim;

namespace {
// The lines of README.md strictly between the keys:begin and keys:end markers.
std::string readme_reference() {
  std::ifstream in(std::string(TRAINSIM_SOURCE_DIR) + "/README.md");
  std::string line, out;
  bool inside = false, closed = false;
  while (std::getline(in, line)) {
    if (line.rfind("<!-- keys:begin", 0) == 0) {
      inside = true;
    } else if (line.rfind("<!-- keys:end", 0) == 0) {
      closed = inside;
      inside = false;
    } else if (inside) {
      out += line + "\n";
    }
  }
  REQUIRE(closed);
  return out;
}

std::size_t key_count() { return config::cluster_keys().keys().size() + config::workload_keys().keys().size(); }
}  // namespace

TEST_CASE("keys: README's configuration reference is `trainsim keys --format markdown`", "[keys][cli]") {
  const auto r = test::run_trainsim("keys --format markdown", false);
  REQUIRE(r.status == 0);
  // On failure: regenerate it as README.md's "Configuration reference" says.
  CHECK(readme_reference() == r.output);
}

TEST_CASE("keys: the Markdown reference has one row per declared key", "[keys][cli]") {
  const auto r = test::run_trainsim("keys --format markdown", false);
  std::istringstream in(r.output);
  std::string line;
  std::size_t rows = 0;
  while (std::getline(in, line))
    if (line.rfind("| `", 0) == 0) ++rows;
  CHECK(rows == key_count());
  CHECK(r.output.find("| `network.nic_bandwidth` | bandwidth | [125000, 1.25e+12] B/s | required | yes |") != std::string::npos);
  CHECK(r.output.find("| `parallelism.comm_sms` | integer | >= 0 | 0 |  |") != std::string::npos);
}

TEST_CASE("keys: text and JSON list every key with kind, range, default and help", "[keys][cli]") {
  const auto text = test::run_trainsim("keys", false);
  REQUIRE(text.status == 0);
  for (const auto* table : {&config::cluster_keys(), &config::workload_keys()})
    for (const auto& k : table->keys()) CHECK(text.output.find("  " + k.path + " ") != std::string::npos);

  const auto json = test::run_trainsim("keys --format json", false);
  REQUIRE(json.status == 0);
  const auto j = nlohmann::json::parse(json.output);
  REQUIRE(j["keys"].size() == key_count());
  const auto& first = j["keys"][0];
  CHECK(first["file"] == "cluster");
  CHECK(first["key"] == "name");
  bool found = false;
  for (const auto& k : j["keys"]) {
    if (k["key"] != "training.precision.dispatch") continue;
    found = true;
    CHECK(k["file"] == "workload");
    CHECK(k["kind"] == "one of fp8, bf16");
    CHECK(k["choices"] == nlohmann::json::array({"fp8", "bf16"}));
    CHECK(k["presence"] == "optional");
    CHECK(k["default"] == "bf16");
    CHECK(k["uncertainty"] == false);
  }
  CHECK(found);
  CHECK(test::run_trainsim("keys --format yaml").status == 2);
}

TEST_CASE("keys: a read with a unit, range or default other than the declaration is a bug", "[keys][config]") {
  std::map<std::string, SourceMark> marks;
  const config::LoadContext ctx{"t.yaml", "cluster.", {}, &marks, nullptr, &config::cluster_keys()};
  const YAML::Node root = YAML::Load("nodes: 4\nnode: {gpus: 8}\n");
  const config::Section top(ctx, root, "", config::cluster_schema(), root.Mark());
  CHECK(top.integer("nodes") == 4);
  CHECK(top.integer("nodes", config::Range::at_least(1)) == 4);
  CHECK_THROWS_AS(top.integer("nodes", config::Range::at_least(2)), std::logic_error);
  const config::Section net(ctx, YAML::Load("{}"), "network", *config::cluster_schema().child("network"), root.Mark());
  CHECK(net.number("bandwidth_factor") == 1);
  CHECK_THROWS_AS(net.number_or("bandwidth_factor", config::quantity::plain.parse, config::Range::positive(), 2),
                  std::logic_error);
  CHECK_THROWS_AS(top.number("gpu"), std::logic_error);  // a section is not a number
}

}  // namespace test_keys
