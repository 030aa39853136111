#include "sim/engine/step_executor.hpp"

#include <algorithm>
#include <cstdlib>
#include <string>
#include <stdexcept>
#include <unordered_map>
#include <utility>

#include <simgrid/plugins/energy.h>

#include "sim/engine/dag_runner.hpp"

namespace trainsim::engine {

namespace sg = simgrid::s4u;

namespace {

// The reference executor: maestro drives the DAG from SimGrid's completion callback and
// creates every activity itself (one actor-less Comm per flow). A task's activities are
// created only when all its predecessors have finished: SimGrid 3.32 walks a list of
// pending activities at every completion, so handing it the whole step up front
// (vetoed activities with dependencies) costs time quadratic in the step's size. The
// list is still maestro's one list of every running activity (see actor_executor.cpp).
class MaestroRunner final : public DagRunner {
 public:
  using DagRunner::DagRunner;

  void on_completion(const sg::Activity& a) {
    auto it = owner_.find(&a);
    if (it == owner_.end()) {
      // A replaced Exec: SimGrid reports its cancellation once more when it
      // processes it; only then may our reference go (as for a finished one).
      if (auto c = replaced_.find(&a); c != replaced_.end()) {
        retire(std::move(c->second));
        replaced_.erase(c);
      }
      return;
    }
    // Our reference to a finished activity is dropped only once the clock has
    // moved on: SimGrid may still touch the activity while it handles the other
    // completions of the same instant. Holding every activity to the end of the
    // step instead cost most of the run's time in allocation (page faults) and
    // most of its memory.
    const std::size_t v = it->second.task;
    retire(std::move(it->second.activity));
    owner_.erase(it);
    if (program().graph[v].is_transfer())
      flow_done(v);
    else
      exec_done(v);
  }

 private:
  std::size_t launch_flows(std::size_t v) override {
    auto comms = make_transfers(program().graph[v].transfers);
    for (auto& c : comms) {
      owner_[c.get()] = {v, c};
      c->start();
    }
    return comms.size();
  }

  void launch_exec(Computing& c) override {
    const StepTask& t = program().graph[c.task];
    auto exec = sg::Exec::init();
    exec->set_name(t.name)->set_flops_amount(c.work_left)->set_host(gpu_host(t.gpu));
    const double cap = rate_cap(t);
    if (cap < 1.0) exec->set_bound(cap);
    owner_[exec.get()] = {c.task, exec};
    exec->start();
    c.exec = exec;
  }

  void drop_exec(Computing& c) override {
    sg::ExecPtr old = c.exec;
    owner_.erase(old.get());
    // Suspended first: SimGrid 3.32 keeps a cancelled Exec's share of the host
    // until it next processes ended actions.
    old->suspend();
    old->cancel();
    replaced_[old.get()] = old;
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
  std::unordered_map<const sg::Activity*, sg::ActivityPtr> replaced_;  // cancelled, not yet processed
};

MaestroRunner* current_runner = nullptr;
ProgressReport g_progress_report;

std::vector<double> energy_by_gpu_j(const std::vector<int>& gpus) {
  sg_host_energy_update_all();
  std::vector<double> joules;
  for (int gpu : gpus) joules.push_back(Simulator::get().gpu_energy_j(gpu));
  return joules;
}

}  // namespace

void set_progress_report(ProgressReport report) { g_progress_report = std::move(report); }
const ProgressReport& progress_report() { return g_progress_report; }

Executor default_executor(Fidelity fidelity) {
  const char* env = std::getenv("TRAINSIM_EXECUTOR");
  if (env == nullptr || *env == '\0') return fidelity == Fidelity::full ? Executor::actors : Executor::reference;
  const std::string name = env;
  if (name == "actors") return Executor::actors;
  if (name == "reference") return Executor::reference;
  throw std::invalid_argument("TRAINSIM_EXECUTOR=" + name + ": expected actors or reference");
}

StepExecution execute_step(const ClusterSpec& cluster, const StepProgram& program, const ExecuteOptions& options) {
  if (!Simulator::exists()) Simulator::create(cluster, PlatformOptions{options.audit_links});
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
  const std::vector<double> energy_before_j = energy_by_gpu_j(program.simulated_gpus);

  StepExecution result;
  if (options.executor.value_or(default_executor(program.fidelity)) == Executor::actors) {
    result = run_on_actors(program, sg::Engine::get_clock(), sim.num_gpus());
  } else {
    MaestroRunner runner(program, sg::Engine::get_clock(), sim.num_gpus());
    current_runner = &runner;
    runner.start_ready();
    simgrid_engine().run();
    current_runner = nullptr;
    result = runner.take_result();
  }

  if (g_progress_report) g_progress_report(result.makespan_s, result.tasks.size(), result.tasks.size());
  result.gpu_energy_j = energy_by_gpu_j(program.simulated_gpus);
  for (std::size_t i = 0; i < energy_before_j.size(); ++i) result.gpu_energy_j[i] -= energy_before_j[i];
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
