#pragma once
// Engine-internal: the step DAG's bookkeeping, shared by both executors (maestro's
// reference and the actors, step_executor.hpp). It decides when a task starts (its
// predecessors are done), when it is done (every flow, or its compute work), and the
// compute rate caps while communication kernels hold SMs; an executor says how a
// transfer task's flows come to be (launch_flows) and reports their completions
// (flow_done). Only sim/engine/*.cpp include this header.
//
// Compute tasks are no SimGrid activities: a GPU's compute stream (speed 1) is shared
// max-min fairly by its running tasks under their caps, which this class computes itself
// (share_host), so each task's end is a date, and one SimGrid timer, armed at the
// earliest, moves the clock there (SimGrid's engine advances to its next timer as to its
// next action end). As Execs they cost an activity each in SimGrid 3.32 (in maestro's or
// an actor's list, walked at each completion), a replacement at every change of cap (3.32
// refuses to change a started Exec's bound) and, for the actors, a wake-up; a date costs
// a heap entry. Energy follows from the busy time (StepExecution::gpu_busy_s), as
// SimGrid's host-energy plugin would count it for a one-core host.
//
// Communication SMs: while a transfer task runs, its kernels hold SMs on every GPU
// that sends or receives one of its transfers, and a compute task there runs at rate
// seconds / seconds_sm_shared. At the instants a GPU's first communication task starts
// and its last one ends, the rates of the compute tasks running there change, and with
// them their end dates.
#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <queue>
#include <unordered_map>
#include <vector>

#include "sim/engine/bundles.hpp"
#include "sim/engine/simgrid_access.hpp"
#include "sim/engine/step_executor.hpp"

namespace trainsim::engine {

class DagRunner {
 public:
  DagRunner(const StepProgram& program, double t0, int num_gpus);
  virtual ~DagRunner();
  DagRunner(const DagRunner&) = delete;
  DagRunner& operator=(const DagRunner&) = delete;

  // Starts every task without predecessors (in task order).
  void start_ready();
  [[nodiscard]] bool all_done() const { return finished_ == result_.tasks.size(); }
  // Throws std::logic_error when a task never ran (a dependency cycle).
  StepExecution take_result();

 protected:
  // A running compute task.
  struct Computing {
    std::size_t task = 0;
    double work_left = 0;  // all-SM seconds of work left at `since`
    double since = 0;
    double rate = 0;       // work per second since `since`
    double due = 0;        // when it ends at that rate
  };

  // Starts every flow of transfer task v (self transfers excluded); returns how many.
  virtual std::size_t launch_flows(std::size_t v) = 0;
  // Called in maestro after the compute tasks due at a timer have been finished (and
  // what they made ready started).
  virtual void after_timer() {}

  // A flow of transfer task v has ended (as the executor sees it).
  void flow_done(std::size_t v);

  [[nodiscard]] const StepProgram& program() const { return program_; }
  [[nodiscard]] double rate_cap(const StepTask& t) const;

 private:
  // A pending end date: `due` of task `task`'s Computing, stale once that has changed.
  struct Due {
    double at = 0;
    std::size_t task = 0;
    bool operator>(const Due& o) const { return at != o.at ? at > o.at : task > o.task; }
  };

  void start(std::size_t v);
  void finish(std::size_t v);
  void start_computing(std::size_t v);
  void exec_done(std::size_t v);
  void reschedule_computing(int gpu);
  static void advance(std::vector<Computing>& running);
  void share_host(std::vector<Computing>& running);
  [[nodiscard]] const Computing* computing(std::size_t v) const;
  [[nodiscard]] bool current(const Due& d) const;
  void arm_timer();
  void on_timer();
  void report_progress();
  const std::vector<int>& task_comm_gpus(const StepTask& t);

  const StepProgram& program_;
  double t0_;
  std::vector<int> waiting_;        // unfinished predecessors; -1 once started
  std::vector<int> pending_;        // activities of a started task not yet finished
  std::size_t finished_ = 0;
  std::chrono::steady_clock::time_point last_report_ = std::chrono::steady_clock::now();
  std::vector<int> comm_tasks_on_gpu_;                    // per GPU: running transfer tasks that send or receive there
  std::vector<std::vector<Computing>> computing_on_gpu_;  // per GPU: running compute tasks
  // comm_gpus per transfer list (tasks that share one share it; worked out once).
  std::unordered_map<const std::vector<parallel::Transfer>*, std::vector<int>> comm_gpus_by_list_;
  std::vector<double> busy_since_;                        // per GPU: since when one has run
  std::vector<double> busy_s_;                            // per GPU: seconds with one running
  std::priority_queue<Due, std::vector<Due>, std::greater<>> dues_;  // earliest first
  simgrid::kernel::timer::Timer* timer_ = nullptr;        // armed at timer_at_, or null
  double timer_at_ = -1;
  StepExecution result_;
};

// The report set_progress_report installed (empty: none).
[[nodiscard]] const ProgressReport& progress_report();

// GPUs whose SMs a transfer task's kernels hold: every sender and receiver, sorted, into
// `gpus` (its old contents dropped).
void comm_gpus(const StepTask& t, std::vector<int>& gpus);

// The actor-based executor (actor_executor.cpp): runs `program` from now to its end.
// With a bundler, the bundled network model (bundles.hpp); without, a SimGrid flow per flow.
[[nodiscard]] StepExecution run_on_actors(const StepProgram& program, double t0, int num_gpus,
                                         std::optional<Bundler> bundler);

}  // namespace trainsim::engine
