#pragma once
// Shared helpers for tests: running the trainsim executable as a user would, and a
// small H800-like cluster written in code.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "sim/config/load.hpp"
#include "sim/config/spec.hpp"
#include "sim/parallel/schedule.hpp"
#include "sim/parallel/step_program.hpp"

namespace trainsim::test {

// A file's bytes, or "" when it cannot be read.
inline std::string file_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct CommandResult {
  int status = -1;     // exit status; -1 when the command did not exit normally
  std::string output;  // what it printed (stdout, plus stderr when asked)
};

// Runs a shell command and captures its standard output.
inline CommandResult run_command(const std::string& command) {
  CommandResult r;
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) r.output.append(buf.data(), n);
  const int raw = pclose(pipe);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return r;
}

// TRAINSIM_TEST_EXE, when set, names the executable to run instead of the one built
// beside the tests (scripts/test runs the Monte Carlo claim tests of the sanitizer
// build's test binary against the Release executable).
inline std::string trainsim_exe() {
  const char* chosen = std::getenv("TRAINSIM_TEST_EXE");
  return chosen != nullptr && *chosen != '\0' ? chosen : TRAINSIM_EXE;
}

// Runs `trainsim ARGS` in `dir` (the source tree by default, so the default
// config files resolve); stderr is captured too unless `with_stderr` is false.
inline CommandResult run_trainsim(const std::string& args, bool with_stderr = true,
                                  const std::string& dir = TRAINSIM_SOURCE_DIR) {
  return run_command("cd '" + dir + "' && '" + trainsim_exe() + "' " + args + (with_stderr ? " 2>&1" : " 2>/dev/null"));
}

// --set arguments that cut the default case to 128 GPUs (16 nodes, 6 layers, pp 2, dp 64,
// 256 sequences): a step of about a second, for command-line tests.
inline const std::string kCut128Sets =
    "--set nodes=16 --set model.layers=6 --set model.moe.first_dense_layers=1 --set parallelism.pp=2 "
    "--set parallelism.dp=64 --set training.global_batch=256 --set training.batch_ramp.start=256 ";

// `trainsim ARGS` from the source tree twice: with its standard error to a pipe (`piped`
// holds stderr only) and under `script` (util-linux), which gives it a terminal
// (`on_terminal` holds both streams): for what a command prints on a terminal only.
struct TerminalRuns {
  CommandResult piped, on_terminal;
};
inline TerminalRuns run_trainsim_off_and_on_terminal(const std::string& args) {
  const std::string cmd = "cd '" + std::string(TRAINSIM_SOURCE_DIR) + "' && '" + trainsim_exe() + "' " + args;
  return {run_command(cmd + " 2>&1 >/dev/null"), run_command("script -qec \"" + cmd + "\" /dev/null")};
}

// A small H800-like cluster written in code (numbers as in topologies/h800-2048.yaml),
// for tests that build the platform directly.
inline ClusterSpec h800_like_cluster(int nodes, const std::string& fabric = "multi-plane-fat-tree") {
  ClusterSpec c;
  c.name = "test";
  c.nodes = nodes;
  c.node.gpus = 8;
  c.node.nvlink_bytes_per_s = 200e9;
  c.node.nvlink_efficiency = 0.8;
  c.node.nvlink_latency_s = 1e-6;
  c.network.fabric = fabric;
  c.network.planes = fabric == "multi-plane-fat-tree" ? 8 : 1;
  c.network.nic_bytes_per_s = 50e9;
  c.network.nic_efficiency = 0.8;
  c.network.switch_radix = 64;
  c.network.oversubscription = 1;
  c.network.link_latency_s = 0.5e-6;
  c.network.switch_latency_s = 0.3e-6;
  return c;
}

struct LoadedCase {
  ClusterSpec cluster;
  WorkloadSpec workload;
};

// A cluster and a workload file of the source tree (paths relative to it) with
// `sets` (--set values without the file prefix), checked as `trainsim run` checks them.
inline LoadedCase load_case(const std::string& cluster_file, const std::string& workload_file,
                            const std::vector<std::string>& sets) {
  const auto o = parse_overrides(sets);
  LoadedCase c{load_cluster(std::string(TRAINSIM_SOURCE_DIR) + "/" + cluster_file, o),
               load_workload(std::string(TRAINSIM_SOURCE_DIR) + "/" + workload_file, o)};
  check_workload_schedule(c.workload);
  check_workload_fits_cluster(c.workload, c.cluster);
  return c;
}

// The default case (topologies/h800-2048.yaml, workloads/deepseek-v3.yaml).
inline LoadedCase load_default_case(const std::vector<std::string>& sets) {
  return load_case("topologies/h800-2048.yaml", "workloads/deepseek-v3.yaml", sets);
}

// Hand-made step programs (tests of the engine): a task added (its id) or a dependency.
// The graph is immutable (StepGraph), so each call makes it again from a draft of what
// it holds: fine for the few dozen tasks of a hand-made program.
inline StepGraphDraft draft_of(StepGraph& g) {
  StepGraphDraft d;
  for (TaskId v = 0; v < num_vertices(g); ++v) {
    d.tasks.push_back(std::move(g[v]));
    for (auto [e, end] = out_edges(v, g); e != end; ++e) d.add_edge(v, target(*e, g));
  }
  return d;
}
inline std::size_t add_task(StepProgram& p, StepTask t) {
  StepGraphDraft d = draft_of(p.graph);
  const TaskId id = d.add_task(std::move(t));
  p.graph = make_step_graph(std::move(d));
  return id;
}
inline void add_dependency(StepProgram& p, std::size_t before, std::size_t after) {
  StepGraphDraft d = draft_of(p.graph);
  d.add_edge(before, after);
  p.graph = make_step_graph(std::move(d));
}

// A transfer task (an expert-parallel one, on the comm stream of its first flow's source).
inline StepTask transfer(const std::string& name, std::vector<parallel::Transfer> flows) {
  StepTask t;
  t.name = name;
  t.category = Category::ep;
  t.gpu = flows.front().src_gpu;
  t.stream = Stream::comm;
  t.transfers = std::move(flows);
  return t;
}

// An all-to-all among GPUs first..first+gpus-1 with unequal sizes, `bytes` to 2.48×
// `bytes` (so completions are spread and links shared: every flow into one GPU crosses
// its NVLink or NIC).
inline std::vector<parallel::Transfer> all_to_all(int gpus, int first, double bytes) {
  std::vector<parallel::Transfer> flows;
  for (int s = 0; s < gpus; ++s)
    for (int d = 0; d < gpus; ++d)
      if (s != d) flows.push_back({first + s, first + d, bytes * (1 + 0.37 * ((s * 7 + d * 3) % 5))});
  return flows;
}

}  // namespace trainsim::test
