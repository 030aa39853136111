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
//
// Communication SMs: while a transfer task runs, its kernels hold SMs on every
// GPU that sends or receives one of its transfers, and a compute task there
// runs at rate seconds / seconds_sm_shared (an Exec bound; the host's speed is
// 1). SimGrid 3.32 refuses to change a started Exec's bound, so at the instants
// a GPU's first communication task starts and its last one ends, each compute
// Exec running there is replaced by one for its remaining work at the new rate.
class DagRunner {
 public:
  DagRunner(const StepProgram& program, double t0, int num_gpus)
      : program_(program), t0_(t0), comm_tasks_on_gpu_(static_cast<std::size_t>(num_gpus), 0),
        computing_on_gpu_(static_cast<std::size_t>(num_gpus)) {
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
    if (!program_.graph[v].is_transfer()) stop_computing(v);
    if (--pending_comms_[v] == 0) finish(v);
  }

  StepExecution take_result() {
    const auto& g = program_.graph;
    for (std::size_t v = 0; v < waiting_.size(); ++v)
      if (waiting_[v] >= 0) throw std::logic_error("step program task never ran (dependency cycle?): " + g[v].name);
    return std::move(result_);
  }

 private:
  struct Computing {
    std::size_t task = 0;
    sg::ExecPtr exec;      // the Exec doing its remaining work now
    double work_left = 0;  // all-SM seconds of work left at `since`
    double since = 0;
    double rate = 0;       // work per second since `since`
  };
  static constexpr double kWorkEpsilon = 1e-9;  // seconds of work: done at this instant

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
      for (int gpu : comm_gpus(t))
        if (comm_tasks_on_gpu_[static_cast<std::size_t>(gpu)]++ == 0) reschedule_computing(gpu);
    } else {
      if (t.seconds <= 0) return finish(v);
      pending_comms_[v] = 1;
      start_computing(v);
    }
  }

  // Rate of compute task t relative to its all-SM speed while a communication
  // task holds SMs on its GPU.
  [[nodiscard]] static double sm_shared_rate(const StepTask& t) {
    return t.seconds_sm_shared > t.seconds ? t.seconds / t.seconds_sm_shared : 1.0;
  }

  // An Exec for `work` of compute task v's all-SM seconds, at the rate its GPU allows now.
  sg::ExecPtr start_exec(std::size_t v, double work) {
    const StepTask& t = program_.graph[v];
    auto exec = sg::Exec::init();
    exec->set_name(t.name)->set_flops_amount(work)->set_host(gpu_host(t.gpu));
    const double cap = rate_cap(t);
    if (cap < 1.0) exec->set_bound(cap);
    owner_[exec.get()] = {v, exec};
    exec->start();
    return exec;
  }

  [[nodiscard]] double rate_cap(const StepTask& t) const {
    return comm_tasks_on_gpu_[static_cast<std::size_t>(t.gpu)] > 0 ? sm_shared_rate(t) : 1.0;
  }

  void start_computing(std::size_t v) {
    const StepTask& t = program_.graph[v];
    auto& running = computing_on_gpu_[static_cast<std::size_t>(t.gpu)];
    advance(running);
    running.push_back({v, start_exec(v, t.seconds), t.seconds, sg::Engine::get_clock(), 0});
    share_host(running);
  }

  void stop_computing(std::size_t v) {
    auto& running = computing_on_gpu_[static_cast<std::size_t>(program_.graph[v].gpu)];
    advance(running);
    std::erase_if(running, [v](const Computing& c) { return c.task == v; });
    share_host(running);
  }

  // The GPU's communication state changed: every compute Exec running there whose
  // rate cap changes continues its remaining work in a new Exec with the new cap.
  void reschedule_computing(int gpu) {
    auto& running = computing_on_gpu_[static_cast<std::size_t>(gpu)];
    advance(running);
    for (Computing& c : running) {
      if (sm_shared_rate(program_.graph[c.task]) >= 1.0) continue;
      // Finishing at this instant (SimGrid may have ended it already and not yet
      // told us: it then refuses even get_remaining()).
      if (c.work_left <= kWorkEpsilon) continue;
      sg::ExecPtr old = c.exec;
      owner_.erase(old.get());
      // Suspended first: SimGrid 3.32 keeps a cancelled Exec's share of the host
      // until it next processes ended actions.
      old->suspend();
      old->cancel();
      replaced_[old.get()] = old;
      c.exec = start_exec(c.task, c.work_left);
    }
    share_host(running);
  }

  // Remaining work of the running compute Execs, kept here rather than asked of
  // SimGrid (see reschedule_computing): brought to now at their last rates.
  static void advance(std::vector<Computing>& running) {
    const double now = sg::Engine::get_clock();
    for (Computing& c : running) {
      c.work_left -= (now - c.since) * c.rate;
      c.since = now;
    }
  }

  // The rates SimGrid gives the Execs sharing one host of speed 1: max-min fair
  // shares under each one's cap (water-filling, equal weights).
  void share_host(std::vector<Computing>& running) const {
    std::vector<std::pair<double, Computing*>> by_cap;
    for (Computing& c : running) by_cap.emplace_back(rate_cap(program_.graph[c.task]), &c);
    std::sort(by_cap.begin(), by_cap.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    double capacity = 1.0;
    std::size_t left = by_cap.size();
    for (auto& [cap, c] : by_cap) {
      c->rate = std::min(cap, capacity / static_cast<double>(left));
      capacity -= c->rate;
      --left;
    }
  }

  // GPUs whose SMs a transfer task's kernels hold: every sender and receiver.
  static std::vector<int> comm_gpus(const StepTask& t) {
    std::vector<int> gpus;
    for (const auto& tr : t.transfers) {
      if (tr.src_gpu == tr.dst_gpu) continue;
      gpus.push_back(tr.src_gpu);
      gpus.push_back(tr.dst_gpu);
    }
    std::sort(gpus.begin(), gpus.end());
    gpus.erase(std::unique(gpus.begin(), gpus.end()), gpus.end());
    return gpus;
  }

  void retire(sg::ActivityPtr activity) {
    const double now = sg::Engine::get_clock();
    if (now > retired_at_s_) {
      retired_.clear();
      retired_at_s_ = now;
    }
    retired_.push_back(std::move(activity));
  }

  void finish(std::size_t v) {
    const StepTask& t = program_.graph[v];
    if (t.is_transfer())
      for (int gpu : comm_gpus(t))
        if (--comm_tasks_on_gpu_[static_cast<std::size_t>(gpu)] == 0) reschedule_computing(gpu);
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
  std::vector<int> comm_tasks_on_gpu_;    // per GPU: running transfer tasks that send or receive there
  std::vector<std::vector<Computing>> computing_on_gpu_;  // per GPU: running compute tasks
  std::unordered_map<const sg::Activity*, sg::ActivityPtr> replaced_;  // cancelled, not yet processed
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

  DagRunner runner(program, sg::Engine::get_clock(), sim.num_gpus());
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
