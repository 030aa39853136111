#include "sim/engine/dag_runner.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include <simgrid/kernel/Timer.hpp>

namespace trainsim::engine {

namespace sg = simgrid::s4u;

namespace {

// Rate of compute task t relative to its all-SM speed while a communication task
// holds SMs on its GPU.
double sm_shared_rate(const StepTask& t) { return t.seconds_sm_shared > t.seconds ? t.seconds / t.seconds_sm_shared : 1.0; }

}  // namespace

void comm_gpus(const StepTask& t, std::vector<int>& gpus) {
  gpus.clear();
  for (const auto& tr : t.transfers) {
    if (tr.src_gpu == tr.dst_gpu) continue;
    gpus.push_back(tr.src_gpu);
    gpus.push_back(tr.dst_gpu);
  }
  std::sort(gpus.begin(), gpus.end());
  gpus.erase(std::unique(gpus.begin(), gpus.end()), gpus.end());
}

const std::vector<int>& DagRunner::task_comm_gpus(const StepTask& t) {
  auto [it, added] = comm_gpus_by_list_.try_emplace(t.transfers.shared().get());
  if (added) comm_gpus(t, it->second);
  return it->second;
}

DagRunner::DagRunner(const StepProgram& program, double t0, int num_gpus)
    : program_(program), t0_(t0), comm_tasks_on_gpu_(static_cast<std::size_t>(num_gpus), 0),
      computing_on_gpu_(static_cast<std::size_t>(num_gpus)), busy_since_(static_cast<std::size_t>(num_gpus), 0),
      busy_s_(static_cast<std::size_t>(num_gpus), 0) {
  const auto& g = program.graph;
  const std::size_t n = num_vertices(g);
  waiting_.assign(n, 0);
  pending_.assign(n, 0);
  result_.tasks.resize(n);
  for (std::size_t v = 0; v < n; ++v) {
    std::vector<std::size_t> preds;
    for (auto [e, end] = in_edges(static_cast<TaskId>(v), g); e != end; ++e) preds.push_back(source(*e, g));
    std::sort(preds.begin(), preds.end());
    waiting_[v] = static_cast<int>(std::unique(preds.begin(), preds.end()) - preds.begin());
  }
}

// A timer still armed (the step stopped by an exception) must not call a runner that is gone.
DagRunner::~DagRunner() {
  if (timer_ != nullptr) timer_->remove();
}

void DagRunner::start_ready() {
  for (std::size_t v = 0; v < waiting_.size(); ++v)
    if (waiting_[v] == 0) start(v);
}

StepExecution DagRunner::take_result() {
  const auto& g = program_.graph;
  for (std::size_t v = 0; v < waiting_.size(); ++v)
    if (waiting_[v] >= 0) throw std::logic_error("step program task never ran (dependency cycle?): " + g[v].name.str());
  for (int gpu : program_.simulated_gpus) result_.gpu_busy_s.push_back(busy_s_.at(static_cast<std::size_t>(gpu)));
  return std::move(result_);
}

double DagRunner::rate_cap(const StepTask& t) const {
  return comm_tasks_on_gpu_[static_cast<std::size_t>(t.gpu)] > 0 ? sm_shared_rate(t) : 1.0;
}

const DagRunner::Computing* DagRunner::computing(std::size_t v) const {
  for (const Computing& c : computing_on_gpu_[static_cast<std::size_t>(program_.graph[v].gpu)])
    if (c.task == v) return &c;
  return nullptr;
}

void DagRunner::exec_done(std::size_t v) {
  const auto gpu = static_cast<std::size_t>(program_.graph[v].gpu);
  auto& running = computing_on_gpu_[gpu];
  advance(running);
  std::erase_if(running, [v](const Computing& c) { return c.task == v; });
  if (running.empty()) busy_s_[gpu] += sg::Engine::get_clock() - busy_since_[gpu];
  share_host(running);
  flow_done(v);
}

void DagRunner::flow_done(std::size_t v) {
  if (--pending_[v] == 0) finish(v);
}

void DagRunner::start(std::size_t v) {
  waiting_[v] = -1;  // started
  const StepTask& t = program_.graph[v];
  result_.tasks[v].start_s = sg::Engine::get_clock() - t0_;
  if (t.is_transfer()) {
    const std::size_t flows = launch_flows(v);
    result_.simgrid_flows += flows;
    if (flows == 0) return finish(v);
    pending_[v] = static_cast<int>(flows);
    for (int gpu : task_comm_gpus(t))
      if (comm_tasks_on_gpu_[static_cast<std::size_t>(gpu)]++ == 0) reschedule_computing(gpu);
  } else {
    if (t.seconds <= 0) return finish(v);
    pending_[v] = 1;
    start_computing(v);
  }
}

void DagRunner::start_computing(std::size_t v) {
  const StepTask& t = program_.graph[v];
  const auto gpu = static_cast<std::size_t>(t.gpu);
  auto& running = computing_on_gpu_[gpu];
  advance(running);
  if (running.empty()) busy_since_[gpu] = sg::Engine::get_clock();
  running.push_back({v, t.seconds, sg::Engine::get_clock(), 0, 0});
  share_host(running);
}

// The GPU's communication state changed: the compute tasks running there continue their
// remaining work at their new caps.
void DagRunner::reschedule_computing(int gpu) {
  auto& running = computing_on_gpu_[static_cast<std::size_t>(gpu)];
  advance(running);
  share_host(running);
}

// Remaining work of the running compute tasks, brought to now at their last rates.
void DagRunner::advance(std::vector<Computing>& running) {
  const double now = sg::Engine::get_clock();
  for (Computing& c : running) {
    c.work_left -= (now - c.since) * c.rate;
    c.since = now;
  }
}

// The rates of the compute tasks sharing one GPU's stream (speed 1): max-min fair shares
// under each one's cap (water-filling, equal weights; SimGrid's CPU model would give the
// same), then their end dates at those rates.
void DagRunner::share_host(std::vector<Computing>& running) {
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
  const double now = sg::Engine::get_clock();
  for (Computing& c : running) {
    const double due = now + std::max(c.work_left, 0.0) / c.rate;
    if (due == c.due) continue;
    c.due = due;
    dues_.push({due, c.task});
  }
  arm_timer();
}

// Whether d is its task's end date still: the task runs and has not moved it since.
bool DagRunner::current(const Due& d) const {
  const Computing* c = computing(d.task);
  return c != nullptr && c->due == d.at;
}

// The timer at the earliest end date still pending (entries whose task has ended or
// moved its date are dropped here).
void DagRunner::arm_timer() {
  while (!dues_.empty() && !current(dues_.top())) dues_.pop();
  const double at = dues_.empty() ? -1 : dues_.top().at;
  if (at == timer_at_) return;
  if (timer_ != nullptr) timer_->remove();
  timer_ = nullptr;
  timer_at_ = at;
  if (at >= 0) timer_ = simgrid::kernel::timer::Timer::set(at, [this] { on_timer(); });
}

// SimGrid's clock has reached the armed date: every compute task due by now ends, in
// date then task order (those that end meanwhile at this instant too).
void DagRunner::on_timer() {
  timer_ = nullptr;  // SimGrid deletes it after this call
  timer_at_ = -1;
  const double now = sg::Engine::get_clock();
  while (!dues_.empty() && dues_.top().at <= now) {
    const Due d = dues_.top();
    dues_.pop();
    if (current(d)) exec_done(d.task);
  }
  arm_timer();
  after_timer();
}

// Every 1024 finished tasks: a report when a quarter of a second of wall time has passed.
void DagRunner::report_progress() {
  const ProgressReport& report = progress_report();
  if (!report) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_report_ < std::chrono::milliseconds(250)) return;
  last_report_ = now;
  report(sg::Engine::get_clock() - t0_, finished_, result_.tasks.size());
}

void DagRunner::finish(std::size_t v) {
  const StepTask& t = program_.graph[v];
  if (t.is_transfer()) {
    for (int gpu : task_comm_gpus(t))
      if (--comm_tasks_on_gpu_[static_cast<std::size_t>(gpu)] == 0) reschedule_computing(gpu);
  }
  const double now = sg::Engine::get_clock() - t0_;
  result_.tasks[v].end_s = now;
  result_.makespan_s = std::max(result_.makespan_s, now);
  ++finished_;
  if ((finished_ & 1023) == 0) report_progress();
  const auto& g = program_.graph;
  std::vector<std::size_t> succs;
  for (auto [e, end] = out_edges(static_cast<TaskId>(v), g); e != end; ++e) succs.push_back(target(*e, g));
  std::sort(succs.begin(), succs.end());
  succs.erase(std::unique(succs.begin(), succs.end()), succs.end());
  for (std::size_t s : succs)
    if (--waiting_[s] == 0) start(s);
}

}  // namespace trainsim::engine
