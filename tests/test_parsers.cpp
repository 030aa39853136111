// Parsers and their messages (issue 15, category 6): YAML tags, nesting and line ends,
// counts past 2^63, units in range errors, --set given twice or to a file the command
// does not read, flags named as typed, --seed, non-regular config files and deeply
// nested JSON given to merge. Each error is one precise line with exit status 2.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "sim/config/error.hpp"
#include "sim/config/keys.hpp"
#include "sim/config/load.hpp"
#include "sim/config/units.hpp"
#include "sim/config/yaml_file.hpp"
#include "tests/support.hpp"

namespace test_parsers {

namespace {

namespace fs = std::filesystem;

// A fresh folder for this process's files, removed at the end of the test.
struct ScratchDir {
  fs::path path;
  explicit ScratchDir(const std::string& name)
      : path(fs::temp_directory_path() / ("trainsim-parsers-" + name + "-" + std::to_string(::getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  [[nodiscard]] std::string write(const std::string& file, const std::string& text) const {
    const fs::path p = path / file;
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }
};

// What `trainsim ARGS` prints; it must exit 2 (an input error).
std::string refusal(const std::string& args) {
  const auto r = trainsim::test::run_trainsim(args);
  CHECK(r.status == 2);
  return r.output;
}

std::string source_text(const std::string& relative) {
  std::ifstream in(std::string(TRAINSIM_SOURCE_DIR) + "/" + relative, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("An explicit YAML tag is refused at its position, named as written", "[config][parsers]") {
  ScratchDir dir("tags");
  const std::string file = dir.write("tag.yaml", "name: x\nnodes: !!float 256\n");
  CHECK_THROWS_WITH((void)trainsim::config::read_yaml_file(file, "a cluster"),
                    file + ":2:8: YAML tag \"!!float\" is not accepted; write the value without a tag");
  const std::string local = dir.write("local.yaml", "node: !mine\n  gpus: 8\n");
  CHECK_THROWS_WITH((void)trainsim::config::read_yaml_file(local, "a cluster"),
                    local + ":1:7: YAML tag \"!mine\" is not accepted; write the value without a tag");
  // Quoted and plain scalars carry no tag of their own.
  const std::string plain = dir.write("plain.yaml", "name: \"x\"\nnodes: 256\n");
  CHECK(trainsim::config::read_yaml_file(plain, "a cluster")["nodes"].as<int>() == 256);
  // A --set value is read by the same rule (was: "!!float 61" read as 61 layers).
  CHECK(refusal("check --set 'model.layers=!!float 61'") ==
        "--set model.layers=!!float 61: YAML tag \"!!float\" is not accepted; write the value without a tag\n");
}

TEST_CASE("YAML nested deeper than 64 is refused with its position, before yaml-cpp's own limit", "[config][parsers]") {
  ScratchDir dir("nesting");
  // 3000 levels: yaml-cpp 0.7 said "malformed YAML: bad file" at its limit of 2000.
  const std::string deep = dir.write("deep.yaml", "name: " + std::string(3000, '[') + std::string(3000, ']') + "\n");
  // The root map is level 1, the 64th '[' (column 7 + 63) level 65.
  CHECK_THROWS_WITH((void)trainsim::config::read_yaml_file(deep, "a cluster"),
                    deep + ":1:70: nested deeper than 64 maps and lists; no trainsim file nests so deep");
  const std::string at_limit = dir.write("limit.yaml", "name: " + std::string(63, '[') + std::string(63, ']') + "\n");
  CHECK(trainsim::config::read_yaml_file(at_limit, "a cluster")["name"].IsSequence());
}

TEST_CASE("CR-only line ends are read as line ends", "[config][parsers]") {
  ScratchDir dir("cr");
  std::string text = source_text("topologies/h800-2048.yaml");
  REQUIRE(text.find('\r') == std::string::npos);
  const auto with_cr = [](std::string s) {
    for (char& c : s)
      if (c == '\n') c = '\r';
    return s;
  };
  const std::string file = dir.write("cr.yaml", with_cr(text));
  const trainsim::ClusterSpec cr = trainsim::load_cluster(file, {});
  const trainsim::ClusterSpec lf =
      trainsim::load_cluster(std::string(TRAINSIM_SOURCE_DIR) + "/topologies/h800-2048.yaml", {});
  CHECK(cr.name == lf.name);
  CHECK(cr.num_gpus() == lf.num_gpus());
  CHECK(cr.network.nic_bytes_per_s == lf.network.nic_bytes_per_s);
  // Positions count the CR line ends: an unknown key on line 2 is reported on line 2.
  const std::string bad = dir.write("bad.yaml", "name: x\rbogus: 1\r");
  CHECK_THROWS_WITH((void)trainsim::load_cluster(bad, {}), Catch::StartsWith(bad + ":2:1: unknown key \"bogus\""));
}

TEST_CASE("A count past 2^63 is out of range, with the range", "[config][parsers]") {
  // Was: "expected an integer" for any count of more than 12 characters.
  CHECK(trainsim::units::integer_count("99999999999999999999") == 1e20);
  CHECK(trainsim::units::integer_count(std::string(400, '9')) == std::numeric_limits<double>::infinity());
  CHECK_THROWS_AS(trainsim::units::integer_count("1e3"), std::invalid_argument);
  CHECK(refusal("check --set model.layers=99999999999999999999") ==
        "--set model.layers=99999999999999999999: model.layers: must be in [1, 2147483647], got "
        "99999999999999999999\n");
}

TEST_CASE("Range errors print the bound with its base unit", "[config][parsers]") {
  using trainsim::config::Range;
  CHECK(Range::between(125000, 1.25e12).describe("B/s") == "must be in [125000, 1.25e+12] B/s");
  CHECK(Range::positive().describe("s") == "must be > 0 s");
  CHECK(Range::at_least(1).describe() == "must be at least 1");
  CHECK(trainsim::config::base_unit(trainsim::units::bandwidth_bytes_per_s) == "B/s");
  CHECK(trainsim::config::base_unit(trainsim::units::integer_count).empty());
  CHECK(
      refusal("check --set network.nic_bandwidth=9000TB/s") ==
      "--set network.nic_bandwidth=9000TB/s: network.nic_bandwidth: must be in [125000, 1.25e+12] B/s, got 9000TB/s\n");
}

TEST_CASE("A key given twice in --set is an error in every command", "[config][parsers]") {
  // Was last-wins in run and check, an error in sweep.
  CHECK_THROWS_WITH((void)trainsim::parse_overrides({"model.layers=4", "workload.model.layers=61"}),
                    "--set workload.model.layers=61: key \"model.layers\" given twice (first in --set model.layers=4)");
  CHECK_THROWS_WITH((void)trainsim::parse_overrides({"gpu.calibration.gemm=1.1", "cluster.gpu.calibration.gemm=1.2"}),
                    "--set cluster.gpu.calibration.gemm=1.2: key \"gpu.calibration.gemm\" given twice (first in --set "
                    "gpu.calibration.gemm=1.1)");
  CHECK(trainsim::parse_overrides({"model.layers=4", "nodes=16"}).size() == 2);
}

TEST_CASE("A command refuses --set of a file it does not read", "[cli][parsers]") {
  // Was: accepted and ignored.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"topology --set parallelism.pp=4",
       "--set parallelism.pp=4: trainsim topology reads no workload file; parallelism.pp would have no effect"},
      {"inspect --set nodes=16", "--set nodes=16: trainsim inspect reads no cluster file; nodes would have no effect"},
      {"net allreduce --set model.layers=4",
       "--set model.layers=4: trainsim net allreduce reads no workload file; model.layers would have no effect"},
  };
  for (const auto& [args, message] : cases) CHECK(refusal(args) == message + "\n");
}

TEST_CASE("A negative --seed is refused instead of wrapped to 2^64-1", "[cli][parsers]") {
  const auto r = trainsim::test::run_trainsim("net dispatch --seed -1");
  CHECK(r.status == 2);
  CHECK(r.output.find("--seed") != std::string::npos);
  CHECK(r.output.find("must be a whole number from 0 to 4294967295, got -1") != std::string::npos);
  const auto claim = trainsim::test::run_trainsim("claim --metric step_time_s --value 1 --seed -1");
  CHECK(claim.status == 2);
  CHECK(claim.output.find("must be a whole number from 0 to 18446744073709551615, got -1") != std::string::npos);
}

TEST_CASE("A config path that is a FIFO or a device is refused before it is opened", "[config][parsers]") {
  ScratchDir dir("fifo");
  const std::string fifo = (dir.path / "cluster.fifo").string();
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  // Was: open() blocked for ever on a FIFO without a writer (timeout's 124).
  CHECK(refusal("check --cluster '" + fifo + "'") ==
        fifo + ": cannot read: not a regular file (a device, FIFO or socket)\n");
  CHECK(refusal("merge '" + fifo + "'") == fifo + ": cannot read: not a regular file (a device, FIFO or socket)\n");
  CHECK_THROWS_WITH((void)trainsim::config::read_text_file("/dev/zero"),
                    "/dev/zero: cannot read: not a regular file (a device, FIFO or socket)");
}

TEST_CASE("merge refuses JSON nested 100,000 deep instead of overflowing the stack", "[studies][parsers]") {
  ScratchDir dir("json");
  // Was SIGSEGV (status -1 here): flattening the row recursed once per level.
  const std::string rows =
      dir.write("deep.jsonl", "{\"point\":0,\"a\":" + std::string(100000, '[') + std::string(100000, ']') + "}\n");
  // The 65th '[' is the 64th of the run after `{"point":0,"a":` (15 bytes): column 15 + 64.
  CHECK(refusal("merge '" + rows + "'") ==
        rows + ":1:79: JSON nested deeper than 64 arrays and objects; not a sweep row\n");
}

}  // namespace test_parsers
