// Output files (issue 15, category 4): sim/report/output_file through its API, then
// every writing command as a user runs it. TRAINSIM_TEST_EXE pointed at an older
// executable shows which of these it fails.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "sim/config/error.hpp"
#include "sim/report/output_file.hpp"
#include "tests/support.hpp"

namespace test_output_files {

using namespace trainsim;
namespace fs = std::filesystem;

namespace {

// A private directory (mkdtemp), removed with everything in it.
struct Scratch {
  fs::path dir;
  Scratch() {
    std::string name = (fs::temp_directory_path() / "trainsim-outputs-XXXXXX").string();
    REQUIRE(::mkdtemp(name.data()) != nullptr);
    dir = name;
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  [[nodiscard]] std::string at(const std::string& name) const { return (dir / name).string(); }
  [[nodiscard]] std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& entry : fs::directory_iterator(dir)) out.push_back(entry.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }
};

std::string contents(const std::string& path) { return test::file_text(path); }

void put(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

// A character device that answers every write with ENOSPC: a node like /dev/full in
// `scratch` where this user may make one (an old executable that replaces its output
// then replaces only that node), else /dev/full itself.
std::string full_device(const Scratch& scratch) {
  const std::string node = scratch.at("full");
  if (::mknod(node.c_str(), S_IFCHR | 0666, makedev(1, 7)) == 0) return node;
  return "/dev/full";
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

// Four sweep rows as `trainsim merge` reads them.
const std::string kRows = "{\"point\":0,\"status\":\"ok\",\"error\":\"\",\"x\":1}\n"
                          "{\"point\":1,\"status\":\"ok\",\"error\":\"\",\"x\":2}\n";

}  // namespace

TEST_CASE("An output file appears whole at commit with no temporary left") {
  Scratch s;
  const std::string path = s.at("out.csv");
  {
    OutputFile out(path);
    CHECK_FALSE(fs::exists(path));  // nothing under the name until the commit
    REQUIRE(s.names().size() == 1);
    CHECK(s.names()[0].rfind(".out.csv.tmp-", 0) == 0);  // the temporary, beside it
    out.commit("a,b\n1,2\n");
  }
  CHECK(contents(path) == "a,b\n1,2\n");
  CHECK(s.names() == std::vector<std::string>{"out.csv"});
  // A new file gets the mode a plain open gives (0666 less the umask), not mkstemp's 0600.
  const mode_t mask = ::umask(0);
  ::umask(mask);
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == (0666 & ~mask));
}

TEST_CASE("An output that is not committed leaves no new file and an existing one untouched") {
  Scratch s;
  { OutputFile never(s.at("new.json")); }
  CHECK(s.names().empty());
  put(s.at("old.json"), "old");
  REQUIRE(::chmod(s.at("old.json").c_str(), 0640) == 0);
  { OutputFile never(s.at("old.json")); }
  CHECK(contents(s.at("old.json")) == "old");
  CHECK(s.names() == std::vector<std::string>{"old.json"});
  // A replaced file keeps its mode.
  write_output_file(s.at("old.json"), "new");
  struct stat st {};
  REQUIRE(::stat(s.at("old.json").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0640);
  CHECK(contents(s.at("old.json")) == "new");
}

TEST_CASE("Two writers of one path use two temporaries and the file is one of them whole") {
  Scratch s;
  const std::string path = s.at("trace.json");
  OutputFile first(path);
  OutputFile second(path);
  CHECK(s.names().size() == 2);
  const std::string long_text = "{\"traceEvents\": [" + std::string(100000, ' ') + "]}\n";
  first.commit(long_text);
  second.commit("{\"traceEvents\": []}\n");
  CHECK(contents(path) == "{\"traceEvents\": []}\n");
  CHECK(s.names() == std::vector<std::string>{"trace.json"});
}

TEST_CASE("A FIFO, a device and a symbolic link are written in place, never replaced") {
  Scratch s;
  const std::string fifo = s.at("fifo");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
  REQUIRE(reader >= 0);
  write_output_file(fifo, "through the pipe\n");
  char buf[64] = {};
  CHECK(::read(reader, buf, sizeof buf) == 17);
  ::close(reader);
  CHECK(std::string(buf) == "through the pipe\n");
  struct stat st {};
  REQUIRE(::lstat(fifo.c_str(), &st) == 0);
  CHECK(S_ISFIFO(st.st_mode));

  write_output_file("/dev/null", "discarded\n");
  REQUIRE(::lstat("/dev/null", &st) == 0);
  CHECK(S_ISCHR(st.st_mode));

  put(s.at("target.csv"), "old");
  fs::create_symlink("target.csv", s.at("link.csv"));
  write_output_file(s.at("link.csv"), "new");
  CHECK(fs::is_symlink(s.at("link.csv")));
  CHECK(contents(s.at("target.csv")) == "new");
  CHECK(s.names() == std::vector<std::string>{"fifo", "link.csv", "target.csv"});
}

TEST_CASE("A write error is an OutputError naming the path and the reason") {
  Scratch s;
  const std::string full = full_device(s);
  OutputFile out(full);
  CHECK(error_of([&] { out.commit("x"); }) == "trainsim: cannot write " + full + ": No space left on device");
  struct stat st {};
  REQUIRE(::lstat(full.c_str(), &st) == 0);
  CHECK(S_ISCHR(st.st_mode));
  // A path that cannot be written is refused before the work, as an input error.
  CHECK(error_of([&] { OutputFile bad(s.at("no/such/dir.csv")); }) ==
        s.at("no/such/dir.csv") + ": cannot write the file: No such file or directory");
  CHECK(error_of([&] { OutputFile bad(s.dir.string()); }) ==
        s.dir.string() + ": cannot write the file: Is a directory");
}

TEST_CASE("An output that is the same file as an input or another output is refused") {
  Scratch s;
  put(s.at("cluster.yaml"), "name: x\n");
  REQUIRE(::link(s.at("cluster.yaml").c_str(), s.at("hard.yaml").c_str()) == 0);
  const std::string spelled = (s.dir / "." / "cluster.yaml").string();
  CHECK(error_of([&] {
          refuse_outputs_over_inputs({{"--trace", spelled}}, {{"--cluster", s.at("cluster.yaml")}});
        }) == spelled + ": --trace is the same file as the input " + s.at("cluster.yaml") +
                  " (--cluster); refusing to overwrite it");
  CHECK_THROWS_AS(refuse_outputs_over_inputs({{"--csv", s.at("hard.yaml")}}, {{"--cluster", s.at("cluster.yaml")}}),
                  InputError);
  put(s.at("a.csv"), "");
  CHECK(error_of([&] {
          refuse_outputs_over_inputs({{"--csv", s.at("a.csv")}, {"--plot", s.at("a.csv")}}, {});
        }) == s.at("a.csv") + ": --plot is the same file as the output " + s.at("a.csv") +
                  " (--csv); refusing to overwrite it");
  // Two new outputs are compared by their absolute, normal paths.
  CHECK_THROWS_AS(refuse_outputs_over_inputs({{"--csv", s.at("n.csv")}, {"--plot", (s.dir / "." / "n.csv").string()}}, {}),
                  InputError);
  // Distinct files, new files and devices pass.
  CHECK_NOTHROW(refuse_outputs_over_inputs(
      {{"--csv", s.at("a.csv")}, {"--plot", s.at("new.png")}, {"--trace", "/dev/null"}, {"--output", "/dev/null"}},
      {{"--cluster", s.at("cluster.yaml")}, {"--workload", ""}}));
}

TEST_CASE("merge reports a full disk with exit 4 and refuses to write over its input") {
  Scratch s;
  put(s.at("rows.jsonl"), kRows);
  const std::string full = full_device(s);
  const auto r = test::run_trainsim("merge --output " + full + " " + s.at("rows.jsonl"));
  CHECK(r.status == 4);
  CHECK(r.output == "trainsim: cannot write " + full + ": No space left on device\n");
  struct stat st {};
  REQUIRE(::lstat(full.c_str(), &st) == 0);
  CHECK(S_ISCHR(st.st_mode));

  const auto over = test::run_trainsim("merge --output " + s.at("rows.jsonl") + " " + s.at("rows.jsonl"));
  CHECK(over.status == 2);
  CHECK(over.output == s.at("rows.jsonl") + ": --output is the same file as the input " + s.at("rows.jsonl") +
                           " (FILES); refusing to overwrite it\n");
  CHECK(contents(s.at("rows.jsonl")) == kRows);

  // A FIFO given as --output stays a FIFO.
  const std::string fifo = s.at("fifo");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
  REQUIRE(reader >= 0);
  CHECK(test::run_trainsim("merge --output " + fifo + " " + s.at("rows.jsonl")).status == 0);
  char buf[256] = {};
  CHECK(::read(reader, buf, sizeof buf) > 0);
  ::close(reader);
  CHECK(std::string(buf).rfind("point,status,error,x\n0,ok,,1\n", 0) == 0);
  REQUIRE(::lstat(fifo.c_str(), &st) == 0);
  CHECK(S_ISFIFO(st.st_mode));
  const bool only_the_inputs = s.names() == std::vector<std::string>{"fifo", "full", "rows.jsonl"} ||
                               s.names() == std::vector<std::string>{"fifo", "rows.jsonl"};
  CHECK(only_the_inputs);
}

TEST_CASE("A failed run leaves no trace file behind") {
  Scratch s;
  // The memory guard of a full-fidelity run stops it after the trace path was opened.
  const auto run = test::run_trainsim("run --fidelity full --max-memory 1MiB --allow-oversubscribed-memory "
                                      "--ramp-points 0 --trace " + s.at("t.json"));
  CHECK(run.status == 2);
  CHECK(run.output.find("above the --max-memory limit of 1 MiB") != std::string::npos);
  CHECK(s.names().empty());
  // The trace over the workload it reads is refused before anything runs.
  put(s.at("w.yaml"), contents(std::string(TRAINSIM_SOURCE_DIR) + "/workloads/deepseek-v3.yaml"));
  const auto over = test::run_trainsim("run --workload " + s.at("w.yaml") + " --trace " + s.at("w.yaml"));
  CHECK(over.status == 2);
  CHECK(over.output == s.at("w.yaml") + ": --trace is the same file as the input " + s.at("w.yaml") +
                           " (--workload); refusing to overwrite it\n");
  CHECK(contents(s.at("w.yaml")) == contents(std::string(TRAINSIM_SOURCE_DIR) + "/workloads/deepseek-v3.yaml"));
}

TEST_CASE("Two runs writing one trace leave one whole JSON document") {
  Scratch s;
  const std::string small = "--ramp-points 0 --set nodes=16 --set model.moe.first_dense_layers=1 "
                            "--set parallelism.dp=64 --set parallelism.pp=2 --set training.global_batch=256 "
                            "--set training.batch_ramp.start=256 ";
  // Different layer counts: traces of different lengths, written at the same time.
  const std::string exe = test::trainsim_exe();
  const std::string one = "'" + exe + "' run " + small + "--set model.layers=6 --trace " + s.at("t.json");
  const std::string two = "'" + exe + "' run " + small + "--set model.layers=4 --trace " + s.at("t.json");
  const auto r = test::run_command("cd '" TRAINSIM_SOURCE_DIR "' && (" + one + " >/dev/null & " + two +
                                   " >/dev/null; wait) 2>&1");
  CHECK(r.output.empty());
  const auto trace = nlohmann::json::parse(contents(s.at("t.json")), nullptr, false);
  CHECK_FALSE(trace.is_discarded());
  CHECK(s.names() == std::vector<std::string>{"t.json"});
}

}  // namespace test_output_files
