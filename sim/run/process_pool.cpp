#include "sim/run/process_pool.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fmt/format.h>
#include <stdexcept>

#include "sim/config/error.hpp"
#include "sim/engine/platform.hpp"

namespace trainsim {

namespace {

// What a child writes on its pipe: one tag byte, then the job's bytes or the message.
constexpr char kReturned = 'V', kInputError = 'I', kError = 'E';

// The children running now and the signal that interrupted the pool, for the handler
// (fixed storage: a handler may only touch sig_atomic_t and call kill).
constexpr std::size_t kMaxChildren = 1024;
std::array<volatile sig_atomic_t, kMaxChildren> g_child_pids{};
volatile sig_atomic_t g_interrupted_by = 0;

extern "C" void forward_to_children(int signal_number) {
  if (g_interrupted_by == 0) g_interrupted_by = signal_number;
  for (std::size_t i = 0; i < kMaxChildren; ++i)
    if (g_child_pids[i] > 0) ::kill(static_cast<pid_t>(g_child_pids[i]), signal_number);
}

// While a pool runs, SIGINT and SIGTERM are forwarded to its children instead of
// killing this process at once (an ignored signal stays ignored); restored after.
struct ForwardSignals {
  std::array<int, 2> signals{SIGINT, SIGTERM};
  std::array<struct sigaction, 2> previous{};
  ForwardSignals() {
    g_interrupted_by = 0;
    for (auto& pid : g_child_pids) pid = 0;
    for (std::size_t i = 0; i < signals.size(); ++i) {
      ::sigaction(signals[i], nullptr, &previous[i]);
      if (previous[i].sa_handler == SIG_IGN) continue;
      struct sigaction action {};
      action.sa_handler = forward_to_children;
      sigemptyset(&action.sa_mask);
      ::sigaction(signals[i], &action, nullptr);  // no SA_RESTART: poll returns at once
    }
  }
  ~ForwardSignals() {
    for (std::size_t i = 0; i < signals.size(); ++i) ::sigaction(signals[i], &previous[i], nullptr);
  }
  ForwardSignals(const ForwardSignals&) = delete;
  ForwardSignals& operator=(const ForwardSignals&) = delete;
  // In a new child: the parent's handlers (this forwarding, output_file's removal of
  // the parent's temporaries) are not the child's; an ignored signal stays ignored.
  void reset_in_child() const {
    for (std::size_t i = 0; i < signals.size(); ++i)
      if (previous[i].sa_handler != SIG_IGN) std::signal(signals[i], SIG_DFL);
    g_interrupted_by = 0;
    for (auto& pid : g_child_pids) pid = 0;
  }
};

void remember_child(pid_t pid) {
  for (auto& slot : g_child_pids)
    if (slot == 0) {
      slot = pid;
      return;
    }
}

void forget_child(pid_t pid) {
  for (auto& slot : g_child_pids)
    if (slot == pid) slot = 0;
}

std::string signal_name(int signal_number) {
  if (signal_number == SIGINT) return "SIGINT";
  if (signal_number == SIGTERM) return "SIGTERM";
  return fmt::format("signal {}", signal_number);
}

void write_all(int fd, const char* p, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
}

[[noreturn]] void run_child(const Job& job, int fd) {
  std::string frame;
  int status = 0;
  try {
    frame = kReturned + job();
  } catch (const InputError& e) {
    frame = kInputError + std::string(e.what());
    status = 2;
  } catch (const std::exception& e) {
    frame = kError + std::string(e.what());
    status = 3;
  }
  write_all(fd, frame.data(), frame.size());
  ::close(fd);
  ::_exit(status);  // no atexit handlers, no flush of stdio buffers copied from the parent
}

struct Child {
  std::size_t index = 0;
  pid_t pid = -1;
  int fd = -1;
  std::string frame;
};

Child spawn(const std::vector<Job>& jobs, std::size_t index, const ForwardSignals& signals) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    signals.reset_in_child();
    // The child dies with its parent, even one killed by SIGKILL; a parent already
    // gone before prctl took effect is seen as a new parent pid.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);
    ::close(fds[0]);
    run_child(jobs[index], fds[1]);
  }
  remember_child(pid);
  ::close(fds[1]);
  return {index, pid, fds[0], {}};
}

// Reads what is there; closes the pipe at end of file.
void drain(Child& child) {
  char buf[65536];
  const ssize_t n = ::read(child.fd, buf, sizeof buf);
  if (n > 0) {
    child.frame.append(buf, static_cast<std::size_t>(n));
  } else if (n == 0 || errno != EINTR) {
    ::close(child.fd);
    child.fd = -1;
  }
}

JobResult finish(const Child& child) {
  forget_child(child.pid);  // before the wait: a reaped pid may be reused by another process
  int status = 0;
  while (::waitpid(child.pid, &status, 0) < 0 && errno == EINTR) {
  }
  JobResult r;
  const std::string body = child.frame.empty() ? std::string() : child.frame.substr(1);
  const bool exited = WIFEXITED(status);
  const int code = exited ? WEXITSTATUS(status) : 0;
  if (!child.frame.empty() && child.frame[0] == kReturned && exited && code == 0) {
    r.bytes = body;
  } else if (!child.frame.empty() && child.frame[0] == kInputError && exited && code == 2) {
    r.error = body;
    r.input_error = true;
  } else if (!child.frame.empty() && child.frame[0] == kError && exited && code == 3) {
    r.error = body;
  } else {
    r.error = exited ? fmt::format("the simulation process exited with status {} without a result", code)
                     : fmt::format("the simulation process was killed by signal {}", WTERMSIG(status));
  }
  return r;
}

}  // namespace

Interrupted::Interrupted(int signal)
    : std::runtime_error("interrupted by " + signal_name(signal)), signal_number(signal) {}

std::vector<JobResult> run_in_children(const std::vector<Job>& jobs, int parallel, const JobDone& on_done,
                                       OnInterrupt on_interrupt) {
  if (engine::Simulator::exists()) throw std::logic_error("run_in_children after this process created its simulator");
  if (engine::simulations_refused()) throw engine::SimulationRefused();
  std::vector<JobResult> results(jobs.size());
  const std::size_t width = std::min(static_cast<std::size_t>(std::max(1, parallel)), kMaxChildren);
  const ForwardSignals signals;
  std::vector<Child> running;
  std::size_t next = 0;
  while ((next < jobs.size() && g_interrupted_by == 0) || !running.empty()) {
    while (next < jobs.size() && running.size() < width && g_interrupted_by == 0)
      running.push_back(spawn(jobs, next++, signals));
    // Again here: a child forked just before the signal was not in the handler's list yet.
    if (g_interrupted_by != 0)
      for (const Child& c : running) ::kill(c.pid, g_interrupted_by);
    std::vector<pollfd> fds;
    for (const Child& c : running) fds.push_back({c.fd, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), 500) < 0 && errno != EINTR)
      throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
    for (std::size_t k = 0; k < fds.size(); ++k)
      if (fds[k].revents != 0) drain(running[k]);
    for (auto it = running.begin(); it != running.end();) {
      if (it->fd >= 0) {
        ++it;
        continue;
      }
      results[it->index] = finish(*it);
      if (g_interrupted_by != 0 && !results[it->index].ok()) results[it->index].interrupted_by = g_interrupted_by;
      if (on_done) on_done(it->index, &results[it->index]);
      it = running.erase(it);
    }
    if (on_done) on_done(static_cast<std::size_t>(-1), nullptr);
  }
  if (const int signal_number = g_interrupted_by; signal_number != 0) {
    for (std::size_t i = next; i < jobs.size(); ++i) {
      results[i].error = "not run: interrupted by " + signal_name(signal_number);
      results[i].interrupted_by = signal_number;
    }
    if (on_interrupt == OnInterrupt::throw_interrupted) throw Interrupted(signal_number);
  }
  return results;
}

std::vector<std::vector<double>> run_isolated_all(const std::vector<NumbersJob>& jobs, int parallel,
                                                  const JobDone& on_done) {
  std::vector<Job> byte_jobs;
  for (const NumbersJob& job : jobs)
    byte_jobs.push_back([&job] {
      const std::vector<double> values = job();
      return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(double));
    });
  std::vector<std::vector<double>> values;
  for (const JobResult& r : run_in_children(byte_jobs, parallel, on_done)) {
    if (r.input_error) throw InputError({}, r.error);
    if (!r.ok()) throw std::runtime_error(r.error);
    std::vector<double> v(r.bytes.size() / sizeof(double));
    std::memcpy(v.data(), r.bytes.data(), v.size() * sizeof(double));
    values.push_back(std::move(v));
  }
  return values;
}

std::vector<double> run_isolated(const NumbersJob& job) { return run_isolated_all({job}, 1).front(); }

}  // namespace trainsim
