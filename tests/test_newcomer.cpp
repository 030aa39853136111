// What a newcomer trips over (issue 15): --version, defaults and pointers in --help,
// the cluster's name after --set nodes, the breakdown's order and labels, net's sizes,
// topology's diameter.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "sim/config/load.hpp"
#include "tests/support.hpp"

namespace test_newcomer {

using trainsim::test::run_trainsim;

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// What `trainsim ARGS` prints, after it exited 0.
std::string output_of(const std::string& args) {
  const auto r = run_trainsim(args);
  INFO(r.output);
  REQUIRE(r.status == 0);
  return r.output;
}

// The help line of `option` in `help` (with its wrapped continuation lines).
std::string help_of(const std::string& help, const std::string& option) {
  const auto at = help.find("  " + option + " ");
  if (at == std::string::npos) return "";
  auto end = help.find("\n  -", at + 1);
  return help.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

const char* const kCommandsWithSet[] = {"inspect", "topology", "net", "run", "check", "claim", "sweep", "cost"};

}  // namespace

TEST_CASE("trainsim --version prints the project version and the SimGrid version", "[cli][newcomer]") {
  const auto r = run_trainsim("--version");
  REQUIRE(r.status == 0);
  // "trainsim MAJOR.MINOR.PATCH (SimGrid X.Y)": project(VERSION) in CMakeLists.txt.
  REQUIRE(r.output.rfind("trainsim ", 0) == 0);
  CHECK(std::isdigit(static_cast<unsigned char>(r.output[9])));
  CHECK(std::count(r.output.begin(), r.output.begin() + static_cast<long>(r.output.find(' ', 9)), '.') == 2);
  CHECK(contains(r.output, "(SimGrid 3."));
}

TEST_CASE("net --help shows the default of every option that has one", "[cli][newcomer]") {
  const std::string help = output_of("net --help");
  CHECK(contains(help_of(help, "--ranks"), "default 8"));
  CHECK(contains(help_of(help, "--groups"), "default 1"));
  CHECK(contains(help_of(help, "--size"), "default 1GiB"));
  CHECK(contains(help_of(help, "--format"), "default text"));
  for (const char* moe : {"--tokens", "--hidden", "--top-k", "--experts", "--max-nodes", "--routing",
                          "--zipf-exponent", "--seed"})
    CHECK(contains(help_of(help, moe), "default: the workload's"));
}

TEST_CASE("every --set help points to trainsim keys", "[cli][newcomer]") {
  for (const char* command : kCommandsWithSet) {
    INFO(command);
    CHECK(contains(output_of(std::string(command) + " --help"), "trainsim keys"));
  }
}

TEST_CASE("trainsim keys lists every key with its unit and range", "[cli][newcomer]") {
  const std::string keys = output_of("keys");
  for (const char* part : {"network.nic_bandwidth", "parallelism.pp", "[1, 4096]", "B/s"}) CHECK(contains(keys, part));
}

TEST_CASE("the cluster's name says its size after --set nodes", "[config][newcomer]") {
  const std::string file = std::string(TRAINSIM_SOURCE_DIR) + "/topologies/h800-2048.yaml";
  CHECK(trainsim::load_cluster(file, {}).name == "h800-2048");
  CHECK(trainsim::load_cluster(file, trainsim::parse_overrides({"nodes=16"})).name == "h800-128");
  CHECK(trainsim::load_cluster(file, trainsim::parse_overrides({"nodes=256"})).name == "h800-2048");
  CHECK(trainsim::load_cluster(file, trainsim::parse_overrides({"node.gpus=4"})).name == "h800-1024");
  CHECK(contains(output_of("topology --set nodes=16"), "topology h800-128:"));
}

TEST_CASE("topology explains its diameter", "[cli][newcomer]") {
  CHECK(contains(output_of("topology --set nodes=16"), "hops between the two farthest GPUs"));
}

TEST_CASE("net prints sizes in decimal units", "[cli][newcomer]") {
  const std::string net = output_of("net allreduce --ranks 8 --size 1GiB --set nodes=2");
  CHECK(contains(net, "size (S)        1.07 GB per rank (1073741824 B)"));
  CHECK_FALSE(contains(net, "e+09 B"));
  CHECK(contains(run_trainsim("net --help").output, "1 GB = 1e9 B"));
}

TEST_CASE("schedule --help says chunk times are per virtual stage", "[cli][newcomer]") {
  const std::string help = output_of("schedule --help");
  CHECK(contains(help, "one micro-batch through one stage"));
  CHECK(contains(help, "v*f"));
}

TEST_CASE("the text breakdown is in a fixed order with labels and a total", "[cli][newcomer]") {
  const auto r = run_trainsim(
      "run --ramp-points 1 --allow-oversubscribed-memory --set cluster.nodes=16 --set workload.model.layers=6"
      " --set workload.model.moe.first_dense_layers=1 --set workload.parallelism.pp=2 --set workload.parallelism.dp=64"
      " --set workload.training.global_batch=256 --set workload.training.batch_ramp.start=256");
  REQUIRE(r.status == 0);
  CHECK(contains(r.output, "on h800-128 (128 GPUs;"));
  CHECK(contains(r.output, "breakdown of the step (mean per GPU; seconds and % of the step time)"));
  const std::vector<std::string> order{"attention blocks (compute)", "MLP / experts (compute)",
                                       "exposed EP all-to-all", "exposed DP collectives", "total"};
  std::size_t last = 0;
  for (const auto& label : order) {
    INFO(label);
    const auto at = r.output.find("    " + label, last);
    REQUIRE(at != std::string::npos);
    CHECK(at > last);
    last = at;
  }
  CHECK(contains(r.output.substr(last), "100.0 %"));
  CHECK_FALSE(contains(r.output, "    exposed_ep"));
}

}  // namespace test_newcomer
