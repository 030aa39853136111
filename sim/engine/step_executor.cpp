#include "sim/engine/step_executor.hpp"

#include <algorithm>
#include <stdexcept>
#include <unordered_map>

#include <simgrid/plugins/energy.h>

#include "sim/engine/simgrid_access.hpp"

namespace trainsim::engine {

namespace sg = simgrid::s4u;

namespace {

// Drives the DAG itself and creates a task's SimGrid activities only when all
// its predecessors have finished. SimGrid 3.32 walks a list of pending
// activities at every completion, so handing it the whole step up front
// (vetoed activities with dependencies) costs time quadratic in the step's
// size; started-when-ready keeps that list to what actually runs.
class DagRunner {
 public:
  DagRunner(const StepProgram& program, double t0) : program_(program), t0_(t0) {
    const auto& g = program.graph;
    const std::size_t n = boost::num_vertices(g);
    waiting_.assign(n, 0);
    pending_comms_.assign(n, 0);
    result_.tasks.resize(n);
    for (std::size_t v = 0; v < n; ++v) {
      std::vector<std::size_t> preds;
      for (auto [e, end] = boost::in_edges(v, g); e != end; ++e) preds.push_back(boost::source(*e, g));
      std::sort(preds.begin(), preds.end());
      waiting_[v] = static_cast<int>(std::unique(preds.begin(), preds.end()) - preds.begin());
    }
  }

  void start_ready() {
    for (std::size_t v = 0; v < waiting_.size(); ++v)
      if (waiting_[v] == 0) start(v);
  }

  void on_completion(const sg::Activity& a) {
    auto it = owner_.find(&a);
    if (it == owner_.end()) return;
    // Our reference to a finished activity is dropped only once the clock has
    // moved on: SimGrid may still touch the activity while it handles the other
    // completions of the same instant. Holding every activity to the end of the
    // step instead cost most of the run's time in allocation (page faults) and
    // most of its memory.
    const double now = sg::Engine::get_clock();
    if (now > retired_at_s_) {
      retired_.clear();
      retired_at_s_ = now;
    }
    const std::size_t v = it->second.task;
    retired_.push_back(std::move(it->second.activity));
    owner_.erase(it);
    if (--pending_comms_[v] == 0) finish(v);
  }

  StepExecution take_result() {
    const auto& g = program_.graph;
    for (std::size_t v = 0; v < waiting_.size(); ++v)
      if (waiting_[v] >= 0) throw std::logic_error("step program task never ran (dependency cycle?): " + g[v].name);
    return std::move(result_);
  }

 private:
  void start(std::size_t v) {
    waiting_[v] = -1;  // started
    const StepTask& t = program_.graph[v];
    result_.tasks[v].start_s = sg::Engine::get_clock() - t0_;
    if (t.is_transfer()) {
      auto comms = make_transfers(t.transfers);
      if (comms.empty()) return finish(v);
      pending_comms_[v] = static_cast<int>(comms.size());
      for (auto& c : comms) {
        owner_[c.get()] = {v, c};
        c->start();
      }
    } else {
      if (t.seconds <= 0) return finish(v);
      auto exec = sg::Exec::init();
      exec->set_name(t.name)->set_flops_amount(t.seconds)->set_host(gpu_host(t.gpu));
      pending_comms_[v] = 1;
      owner_[exec.get()] = {v, exec};
      exec->start();
    }
  }

  void finish(std::size_t v) {
    const double now = sg::Engine::get_clock() - t0_;
    result_.tasks[v].end_s = now;
    result_.makespan_s = std::max(result_.makespan_s, now);
    const auto& g = program_.graph;
    std::vector<std::size_t> succs;
    for (auto [e, end] = boost::out_edges(v, g); e != end; ++e) succs.push_back(boost::target(*e, g));
    std::sort(succs.begin(), succs.end());
    succs.erase(std::unique(succs.begin(), succs.end()), succs.end());
    for (std::size_t s : succs)
      if (--waiting_[s] == 0) start(s);
  }

  const StepProgram& program_;
  double t0_;
  std::vector<int> waiting_;        // unfinished predecessors; -1 once started
  std::vector<int> pending_comms_;  // activities of a started task not yet finished
  struct Running {
    std::size_t task = 0;
    sg::ActivityPtr activity;  // keeps the activity alive while it runs
  };
  std::unordered_map<const sg::Activity*, Running> owner_;
  std::vector<sg::ActivityPtr> retired_;  // finished at retired_at_s_; dropped when the clock moves on
  double retired_at_s_ = -1;
  StepExecution result_;
};

DagRunner* current_runner = nullptr;

std::vector<double> energy_by_gpu_j(const std::vector<int>& gpus) {
  sg_host_energy_update_all();
  std::vector<double> joules;
  for (int gpu : gpus) joules.push_back(Simulator::get().gpu_energy_j(gpu));
  return joules;
}

}  // namespace

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

  DagRunner runner(program, sg::Engine::get_clock());
  current_runner = &runner;
  runner.start_ready();
  simgrid_engine().run();
  current_runner = nullptr;
  StepExecution result = runner.take_result();

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
