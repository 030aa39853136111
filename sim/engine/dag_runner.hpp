#pragma once
// Engine-internal: the step DAG's bookkeeping, shared by both executors (maestro's
// reference and the actors, step_executor.hpp). It decides when a task starts (its
// predecessors are done), when it is done (every flow, or its compute work), and the
// compute rate caps while communication kernels hold SMs; an executor says how the
// SimGrid activities come to be (launch_*) and reports their completions
// (exec_done, flow_done). Only sim/engine/*.cpp include this header.
//
// Communication SMs: while a transfer task runs, its kernels hold SMs on every GPU
// that sends or receives one of its transfers, and a compute task there runs at rate
// seconds / seconds_sm_shared (an Exec bound; the host's speed is 1). SimGrid 3.32
// refuses to change a started Exec's bound, so at the instants a GPU's first
// communication task starts and its last one ends, each compute Exec running there is
// replaced by one for its remaining work at the new rate.
#include <chrono>
#include <cstddef>
#include <vector>

#include "sim/engine/simgrid_access.hpp"
#include "sim/engine/step_executor.hpp"

namespace trainsim::engine {

class DagRunner {
 public:
  DagRunner(const StepProgram& program, double t0, int num_gpus);
  virtual ~DagRunner() = default;
  DagRunner(const DagRunner&) = delete;
  DagRunner& operator=(const DagRunner&) = delete;

  // Starts every task without predecessors (in task order).
  void start_ready();
  [[nodiscard]] bool all_done() const { return finished_ == result_.tasks.size(); }
  // Throws std::logic_error when a task never ran (a dependency cycle).
  StepExecution take_result();

 protected:
  // A running compute task: its Exec (null while an executor has yet to create it).
  struct Computing {
    std::size_t task = 0;
    simgrid::s4u::ExecPtr exec;
    double work_left = 0;  // all-SM seconds of work left at `since`
    double since = 0;
    double rate = 0;       // work per second since `since`
  };

  // Starts every flow of transfer task v (self transfers excluded); returns how many.
  virtual std::size_t launch_flows(std::size_t v) = 0;
  // An Exec for c's work_left at rate_cap(c's task) on its GPU, stored in c.exec (now or,
  // for the actors, later in this instant).
  virtual void launch_exec(Computing& c) = 0;
  // c.exec runs at a cap that no longer holds: stop it; launch_exec follows.
  virtual void drop_exec(Computing& c) = 0;

  // Completions, as the executor sees them.
  void exec_done(std::size_t v);
  void flow_done(std::size_t v);

  [[nodiscard]] const StepProgram& program() const { return program_; }
  [[nodiscard]] double rate_cap(const StepTask& t) const;
  // The running compute task v of GPU gpu (nullptr when none).
  [[nodiscard]] Computing* computing(int gpu, std::size_t v);

 private:
  static constexpr double kWorkEpsilon = 1e-9;  // seconds of work: done at this instant

  void start(std::size_t v);
  void finish(std::size_t v);
  void start_computing(std::size_t v);
  void reschedule_computing(int gpu);
  static void advance(std::vector<Computing>& running);
  void share_host(std::vector<Computing>& running) const;
  void report_progress();

  const StepProgram& program_;
  double t0_;
  std::vector<int> waiting_;        // unfinished predecessors; -1 once started
  std::vector<int> pending_;        // activities of a started task not yet finished
  std::size_t finished_ = 0;
  std::chrono::steady_clock::time_point last_report_ = std::chrono::steady_clock::now();
  std::vector<int> comm_tasks_on_gpu_;                    // per GPU: running transfer tasks that send or receive there
  std::vector<std::vector<Computing>> computing_on_gpu_;  // per GPU: running compute tasks
  StepExecution result_;
};

// The report set_progress_report installed (empty: none).
[[nodiscard]] const ProgressReport& progress_report();

// GPUs whose SMs a transfer task's kernels hold: every sender and receiver, sorted.
[[nodiscard]] std::vector<int> comm_gpus(const StepTask& t);

// The actor-based executor (actor_executor.cpp): runs `program` from now to its end.
[[nodiscard]] StepExecution run_on_actors(const StepProgram& program, double t0, int num_gpus);

}  // namespace trainsim::engine
