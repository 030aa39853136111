#pragma once
// SimGrid's engine can exist once per process, so a command that needs several
// independent simulations (batch-ramp points, sweep points, claim samples,
// validation cases) runs each job in a forked child, as WRENCH does, and gets its
// result back through a pipe. One pool for all of them: at most N children at
// once, results in the order of the jobs whatever N.
#include <cstddef>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace trainsim {

// A job runs in a child process; what it returns travels back as bytes.
using Job = std::function<std::string()>;

// What came back from one job: its bytes, or why there are none.
struct JobResult {
  std::string bytes;
  std::string error;         // empty when the job returned; else the exception's message or how the child died
  bool input_error = false;  // the job threw InputError (its message is `FILE:LINE:COL: message`)
  int interrupted_by = 0;    // SIGINT or SIGTERM: the pool was interrupted before this job finished (no result)
  [[nodiscard]] bool ok() const { return error.empty(); }
};

// Called in the parent as each job finishes (`index` into the jobs), and about
// twice a second while jobs run (index = npos, result = nullptr): a progress bar.
using JobDone = std::function<void(std::size_t index, const JobResult* result)>;

// SIGINT or SIGTERM arrived while children ran; they were sent it and reaped.
// The CLI exits with status 128 + signal.
class Interrupted : public std::runtime_error {
 public:
  explicit Interrupted(int signal);
  int signal_number;
};

// What run_in_children does when SIGINT or SIGTERM arrives: forward it to the running
// children, reap them, start no more, then throw Interrupted or return what finished
// (the jobs that did not finish carry interrupted_by).
enum class OnInterrupt { throw_interrupted, return_finished };

// Runs every job in its own forked child, at most `parallel` at once. An exception
// or a crash of a child is that job's error; the other jobs still run. Each child
// dies with this process (PR_SET_PDEATHSIG), even when this one is killed outright.
// Must be called before this process creates its own simulator.
[[nodiscard]] std::vector<JobResult> run_in_children(const std::vector<Job>& jobs, int parallel,
                                                     const JobDone& on_done = {},
                                                     OnInterrupt on_interrupt = OnInterrupt::throw_interrupted);

// Jobs that return a few numbers: the same pool, and the first failed job (in the
// order of `jobs`) rethrown here as InputError or std::runtime_error with its message.
using NumbersJob = std::function<std::vector<double>()>;
// `on_done` as run_in_children's (a finished job, or a poll with a null result).
[[nodiscard]] std::vector<std::vector<double>> run_isolated_all(const std::vector<NumbersJob>& jobs, int parallel,
                                                              const JobDone& on_done = {});
[[nodiscard]] std::vector<double> run_isolated(const NumbersJob& job);

}  // namespace trainsim
