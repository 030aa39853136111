// Signals (issue 15, category 5): a real sweep of a few small points is sent SIGTERM
// (or SIGKILL) while its children run; no child may survive it, and the points it
// finished, completed with --resume, give the CSV of an uninterrupted sweep byte for byte.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "sim/config/error.hpp"
#include "sim/studies/sweep.hpp"
#include "tests/support.hpp"

namespace test_signals {

using namespace trainsim;
namespace fs = std::filesystem;

namespace {

// Six points of the small case (128 GPUs, 6 layers, no ramp), one child at a time.
const std::vector<std::string> kSweepArgs = {
    "sweep", "--jobs", "1", "--ramp-points", "0", "--set", "nodes=16", "--set", "model.layers=6", "--set",
    "model.moe.first_dense_layers=1", "--set", "parallelism.dp=64", "--set", "training.global_batch=256", "--set",
    "training.batch_ramp.start=256", "--set", "parallelism.pp=2", "--set", "node.nvlink_bandwidth=150GB/s,160GB/s,170GB/s,180GB/s,190GB/s,200GB/s"};

// A fresh directory (mkdtemp); each test removes it at its end.
fs::path fresh_directory() {
  std::string name = (fs::temp_directory_path() / "trainsim-signals-XXXXXX").string();
  REQUIRE(::mkdtemp(name.data()) != nullptr);
  return name;
}

// The sweep writing its rows to `output`.
std::vector<std::string> sweep_to(const fs::path& output) {
  std::vector<std::string> args = kSweepArgs;
  args.insert(args.end(), {"--output", output.string()});
  return args;
}

std::string slurp(const std::string& path) { return test::file_text(path); }

// Starts `trainsim ARGS` in the source tree, stdout and stderr to `log`.
pid_t start_trainsim(std::vector<std::string> args, const std::string& log) {
  args.insert(args.begin(), test::trainsim_exe());
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    if (::chdir(TRAINSIM_SOURCE_DIR) != 0) ::_exit(127);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

// Runs `trainsim ARGS` to its end; its exit status (-1: killed).
int run_to_end(const std::vector<std::string>& args, const std::string& log) {
  const pid_t pid = start_trainsim(args, log);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Parent pid and state of a live process, from /proc/PID/stat (state 'Z': a zombie).
struct ProcessState {
  pid_t ppid = 0;
  char state = 0;
};
bool process_state(pid_t pid, ProcessState& out) {
  const std::string stat = slurp("/proc/" + std::to_string(pid) + "/stat");
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream rest(stat.substr(close + 1));
  rest >> out.state >> out.ppid;
  return static_cast<bool>(rest);
}

// Every process below `root` now (children, grandchildren...), added to `seen`.
void collect_descendants(pid_t root, std::set<pid_t>& seen) {
  std::set<pid_t> parents{root};
  for (bool grew = true; grew;) {
    grew = false;
    for (const auto& entry : fs::directory_iterator("/proc")) {
      const std::string name = entry.path().filename().string();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      const auto pid = static_cast<pid_t>(std::stol(name));
      ProcessState st;
      if (parents.count(pid) == 0 && process_state(pid, st) && parents.count(st.ppid) > 0) {
        parents.insert(pid);
        seen.insert(pid);
        grew = true;
      }
    }
  }
}

bool alive(pid_t pid) {
  ProcessState st;
  return process_state(pid, st) && st.state != 'Z';
}

// Runs the sweep until its second child starts (the first point has finished), sends
// `signal_number` to the parent alone, waits for it and returns every child pid seen.
std::set<pid_t> interrupt_sweep(const std::vector<std::string>& args, const std::string& log, int signal_number,
                                int& wait_status) {
  const pid_t sweep = start_trainsim(args, log);
  std::set<pid_t> seen;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (seen.size() < 2 && std::chrono::steady_clock::now() < deadline) {
    collect_descendants(sweep, seen);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  REQUIRE(seen.size() >= 2);
  REQUIRE(::kill(sweep, signal_number) == 0);
  REQUIRE(::waitpid(sweep, &wait_status, 0) == sweep);
  return seen;
}

// True when none of `pids` is alive within 0.1 s: a point takes several times as long,
// so a child left running (and finishing its point on its own) is seen alive.
bool all_gone(const std::set<pid_t>& pids) {
  for (int i = 0; i < 10; ++i) {
    bool any = false;
    for (const pid_t p : pids) any = any || alive(p);
    if (!any) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

}  // namespace

TEST_CASE("SIGTERM to a sweep ends its children and keeps its finished points for --resume") {
  const fs::path w = fresh_directory();
  REQUIRE(run_to_end(sweep_to(w / "full.csv"), w / "log0") == 0);

  int status = 0;
  const std::set<pid_t> children = interrupt_sweep(sweep_to(w / "s.csv"), w / "log", SIGTERM, status);
  CHECK(all_gone(children));
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 128 + SIGTERM);
  const std::string log = slurp(w / "log");
  const std::string kept = (w / "s.csv.partial.jsonl").string();
  INFO(log);
  CHECK(log.find("trainsim sweep: interrupted by SIGTERM; ") == 0);
  CHECK(log.find("kept in " + kept) != std::string::npos);
  CHECK(log.find("--resume " + kept) != std::string::npos);
  CHECK_FALSE(fs::exists(w / "s.csv"));  // the output is written by a sweep that finished only
  const auto rows = sweep::read_rows(slurp(kept), "partial");
  CHECK(rows.size() >= 1);
  CHECK(rows.size() < 6);

  std::vector<std::string> resume = sweep_to(w / "s.csv");
  resume.insert(resume.end(), {"--resume", kept});
  CHECK(run_to_end(resume, w / "log2") == 0);
  CHECK(slurp(w / "s.csv") == slurp(w / "full.csv"));
  CHECK(slurp(w / "full.csv").size() > 100);
  fs::remove_all(w);
}

TEST_CASE("Children of a sweep killed outright die with it") {
  const fs::path w = fresh_directory();
  int status = 0;
  const std::set<pid_t> children = interrupt_sweep(sweep_to(w / "s.csv"), w / "log", SIGKILL, status);
  CHECK(WIFSIGNALED(status));
  CHECK(all_gone(children));
  CHECK_FALSE(fs::exists(w / "s.csv"));
  fs::remove_all(w);
}

TEST_CASE("sweep --resume takes only rows of the same sweep") {
  const sweep::Plan plan = sweep::parse_plan({"parallelism.pp=2,4", "nodes=16"});
  const std::string good = "{\"point\":1,\"parallelism.pp\":\"4\",\"status\":\"ok\",\"error\":\"\"}\n";
  CHECK(sweep::read_resumed_rows(plan, good, "r.jsonl").size() == 1);
  const std::string other = "{\"point\":1,\"parallelism.pp\":\"8\",\"status\":\"ok\",\"error\":\"\"}\n";
  CHECK_THROWS_WITH(sweep::read_resumed_rows(plan, other, "r.jsonl"),
                    "r.jsonl: point 1 was run with another parallelism.pp: not a row of this sweep");
  const std::string beyond = "{\"point\":2,\"parallelism.pp\":\"4\",\"status\":\"ok\",\"error\":\"\"}\n";
  CHECK_THROWS_WITH(sweep::read_resumed_rows(plan, beyond, "r.jsonl"),
                    "r.jsonl: point 2 is not a point of this sweep (2 points)");
}

}  // namespace test_signals
