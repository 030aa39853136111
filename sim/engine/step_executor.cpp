#include "sim/engine/step_executor.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>

#include "sim/engine/bundles.hpp"
#include "sim/engine/dag_runner.hpp"

namespace trainsim::engine {

namespace sg = simgrid::s4u;

namespace {

// The reference executor: maestro drives the DAG from SimGrid's completion callback and
// creates every flow itself (one actor-less Comm each). A task's activities are created
// only when all its predecessors have finished: SimGrid 3.32 walks a list of pending
// activities at every completion, so handing it the whole step up front (vetoed
// activities with dependencies) costs time quadratic in the step's size. The list is
// still maestro's one list of every running flow (see actor_executor.cpp).
class MaestroRunner final : public DagRunner {
 public:
  MaestroRunner(const StepProgram& program, double t0, int num_gpus, std::uint64_t flow_order_seed,
                std::optional<Bundler> bundler)
      : DagRunner(program, t0, num_gpus),
        flow_order_seed_(flow_order_seed),
        rng_(flow_order_seed),
        bundler_(std::move(bundler)) {}

  void on_completion(const sg::Activity& a) {
    auto it = owner_.find(&a);
    if (it == owner_.end()) return;
    // Our reference to a finished activity is dropped only once the clock has
    // moved on: SimGrid may still touch the activity while it handles the other
    // completions of the same instant. Holding every activity to the end of the
    // step instead cost most of the run's time in allocation (page faults) and
    // most of its memory.
    const std::size_t v = it->second.task;
    retire(std::move(it->second.activity));
    owner_.erase(it);
    flow_done(v);
  }

 private:
  std::size_t launch_flows(std::size_t v) override {
    std::vector<sg::CommPtr> comms;
    if (bundler_) {
      for (const SimFlow& f : bundler_->flows(program().graph[v])) {
        comms.push_back(sg::Comm::sendto_init(gpu_host(f.src), endpoint_host(f.to)));
        comms.back()->set_payload_size(f.bytes);
      }
    } else {
      comms = make_transfers(program().graph[v].transfers.items());
    }
    if (flow_order_seed_ != 0) shuffle(comms);
    for (auto& c : comms) {
      c->start();
      const sg::Activity* key = c.get();
      owner_.emplace(key, Running{v, std::move(c)});
    }
    return comms.size();
  }

  // ExecuteOptions::flow_order_seed: Fisher-Yates with the engine's own draw, so the
  // order does not depend on the standard library's shuffle.
  void shuffle(std::vector<sg::CommPtr>& comms) {
    for (std::size_t i = comms.size(); i > 1; --i) std::swap(comms[i - 1], comms[rng_() % i]);
  }

  void retire(sg::ActivityPtr activity) {
    const double now = sg::Engine::get_clock();
    if (now > retired_at_s_) {
      retired_.clear();
      retired_at_s_ = now;
    }
    retired_.push_back(std::move(activity));
  }

  struct Running {
    std::size_t task = 0;
    sg::ActivityPtr activity;  // keeps the activity alive while it runs
  };
  std::unordered_map<const sg::Activity*, Running> owner_;
  std::vector<sg::ActivityPtr> retired_;  // finished at retired_at_s_; dropped when the clock moves on
  double retired_at_s_ = -1;
  std::uint64_t flow_order_seed_ = 0;
  std::mt19937_64 rng_;
  std::optional<Bundler> bundler_;  // the bundled network model; none: a SimGrid flow per flow
};

MaestroRunner* current_runner = nullptr;
ProgressReport g_progress_report;

// Joules of each GPU over `elapsed_s` of which it computed busy_s[i]: idle power
// throughout, busy power while computing (the platform's gpu.power; SimGrid's host-energy
// plugin gives this for a one-core host busy at any load).
std::vector<double> energy_by_gpu_j(const std::vector<double>& busy_s, double elapsed_s) {
  const auto& power = Simulator::get().spec().gpu;
  std::vector<double> joules;
  joules.reserve(busy_s.size());
  for (double busy : busy_s)
    joules.push_back(power.power_idle_w * elapsed_s + (power.power_busy_w - power.power_idle_w) * busy);
  return joules;
}

}  // namespace

void set_progress_report(ProgressReport report) { g_progress_report = std::move(report); }
const ProgressReport& progress_report() { return g_progress_report; }

std::optional<Executor> executor_from_environment() {
  const char* env = std::getenv("TRAINSIM_EXECUTOR");
  if (env == nullptr || *env == '\0') return std::nullopt;
  const std::string name = env;
  if (name == "actors") return Executor::actors;
  if (name == "reference") return Executor::reference;
  throw std::invalid_argument("TRAINSIM_EXECUTOR=" + name + ": expected actors or reference");
}

Executor default_executor(Fidelity fidelity) {
  return executor_from_environment().value_or(fidelity == Fidelity::full ? Executor::actors : Executor::reference);
}

namespace {

// Full fidelity, bundled, no executor asked for: SimGrid flows per flow of the program (every
// task's bundles given out now, in task order, as the runner would) decide.
Executor executor_for_bundles(const StepProgram& program, Bundler& bundler) {
  double flows = 0, simgrid_flows = 0;
  const auto& g = program.graph;
  for (std::size_t v = 0; v < num_vertices(g); ++v) {
    for (const auto& t : g[v].transfers) flows += t.src_gpu != t.dst_gpu ? 1 : 0;
    simgrid_flows += static_cast<double>(bundler.flows(g[v]).size());
  }
  return simgrid_flows <= kReferenceAtMostSimFlowsPerFlow * flows ? Executor::reference : Executor::actors;
}

}  // namespace

StepExecution execute_step(const ClusterSpec& cluster, const StepProgram& program, const ExecuteOptions& options) {
  const bool bundled = options.network == NetworkModel::bundled;
  if (!Simulator::exists())
    Simulator::create(cluster, PlatformOptions{options.audit_links, bundled ? kBundleSlotsPerGpu : 0});
  if (options.audit_links && !Simulator::get().options().audit_links)
    throw std::logic_error("engine::execute_step: links can be audited only if the first step of the process asks");
  static bool hooked = false;
  if (!hooked) {
    sg::Activity::on_completion_cb([](const sg::Activity& a) {
      if (current_runner != nullptr) current_runner->on_completion(a);
    });
    hooked = true;
  }
  const Simulator& sim = Simulator::get();
  std::vector<double> links_bytes_before;
  if (options.audit_links)
    for (LinkIndex l = 0; l < sim.num_links(); ++l) links_bytes_before.push_back(sim.link_bytes(l));
  const double t0 = sg::Engine::get_clock();

  std::optional<Bundler> bundler;
  if (bundled) bundler.emplace();
  std::optional<Executor> executor = options.executor;
  if (!executor) executor = executor_from_environment();
  if (!executor && bundled && program.fidelity == Fidelity::full) executor = executor_for_bundles(program, *bundler);
  if (!executor) executor = default_executor(program.fidelity);

  StepExecution result;
  if (*executor == Executor::actors) {
    result = run_on_actors(program, t0, sim.num_gpus(), std::move(bundler));
  } else {
    MaestroRunner runner(program, t0, sim.num_gpus(), options.flow_order_seed, std::move(bundler));
    current_runner = &runner;
    runner.start_ready();
    simgrid_engine().run();
    current_runner = nullptr;
    result = runner.take_result();
  }

  result.executor = *executor;
  if (g_progress_report) g_progress_report(result.makespan_s, result.tasks.size(), result.tasks.size());
  result.gpu_energy_j = energy_by_gpu_j(result.gpu_busy_s, sg::Engine::get_clock() - t0);
  if (options.audit_links)
    for (LinkIndex l = 0; l < sim.num_links(); ++l) {
      const double bytes = sim.link_bytes(l) - links_bytes_before[l];
      if (bytes <= 0) continue;
      // The plugin's peak is over the whole process; one audited step per process.
      result.links.push_back({l, sim.link_bandwidth_bytes_per_s(l), bytes, sim.link_peak_load_bytes_per_s(l)});
    }
  return result;
}

}  // namespace trainsim::engine
