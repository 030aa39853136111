// The actor-based executor (Executor::actors).
//
// Why actors: SimGrid 3.32 keeps every activity in a std::list of the actor that
// created it (an actor-less Comm::sendto_init always in maestro's) and removes it at
// completion with std::list::remove, a walk of the whole list. Created by maestro, as
// the reference executor does, every running flow and Exec of the step is in one list,
// and each completion walks it: the cost grows as running activities x completions.
// Here one actor per simulated GPU, on its host, creates and waits on that GPU's Execs
// and on both sides of its flows (a mailbox comm per flow: the source's actor puts, the
// destination's actor gets), so each list holds one GPU's activities.
//
// The DAG's bookkeeping is DagRunner's (shared with the reference): whichever actor sees
// a completion updates it, and a task that becomes ready is queued as jobs on the actors
// that must create its activities (an Exec on its GPU's actor; per flow a send on the
// source's and a receive on the destination's). An actor blocked in wait_any is woken by
// its doorbell: an endless Exec on a host of its own (a bell host: no GPU's energy or
// compute share changes) that sits in its wait set and that the asker cancels. Only
// actors that sleep are rung; one ring wakes an actor for every job queued meanwhile.
//
// Flows are matched per (source, destination) pair: both actors queue their sides in
// the order DagRunner asks for them, and a mailbox matches puts with gets first come,
// first served, so the n-th receive on a pair is the n-th flow of that pair.
//
// Every SimGrid call an actor makes (starting, cancelling, waiting, even naming a
// mailbox) is a simcall: the actor yields and other actors run before it resumes. So
// DagRunner's bookkeeping never calls SimGrid: the cancellations it decides (replaced
// Execs, doorbells) are queued as effects and carried out by the actor once the
// bookkeeping has returned, and an actor re-reads shared state after every call.
//
// What differs from the reference: within one simulated instant the actors create
// their activities in SimGrid's actor order (each creation is a simcall), not in the
// order maestro's callback would; flows that share links then share them with another
// rounding and, rarely, another order of completions (see README, Performance).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include "sim/engine/dag_runner.hpp"

namespace trainsim::engine {

namespace sg = simgrid::s4u;

namespace {

int g_flow_payload = 0;        // what every flow carries (SimGrid refuses a null payload)
void* g_flow_sink = nullptr;   // where every receive writes it

class ActorRunner final : public DagRunner {
 public:
  ActorRunner(const StepProgram& program, double t0, int num_gpus)
      : DagRunner(program, t0, num_gpus), actors_(static_cast<std::size_t>(num_gpus)) {
    const auto& g = program.graph;
    for (std::size_t v = 0; v < boost::num_vertices(g); ++v) {
      const StepTask& t = g[v];
      if (!t.is_transfer()) mark_used(t.gpu);
      for (const auto& tr : t.transfers) {
        if (tr.src_gpu == tr.dst_gpu) continue;
        mark_used(tr.src_gpu);
        mark_used(tr.dst_gpu);
      }
    }
  }

  // One actor per GPU the program uses, each running until the step is done.
  void spawn() {
    for (std::size_t gpu = 0; gpu < actors_.size(); ++gpu)
      if (actors_[gpu].used)
        sg::Actor::create(fmt::format("gpu-{}", gpu), gpu_host(static_cast<int>(gpu)),
                          [this, gpu] { serve(static_cast<int>(gpu)); });
  }

 private:
  enum class JobKind : std::uint8_t { exec, send, receive };
  struct Job {
    JobKind kind = JobKind::exec;
    int peer = 0;            // send: the destination GPU; receive: the source GPU
    std::size_t task = 0;
    std::uint64_t bytes = 0;  // send
  };
  struct GpuActor {
    bool used = false;
    bool sleeping = false;     // blocked in wait_any (its doorbell in the wait set)
    std::vector<Job> queue;    // jobs asked of it, in order
    sg::ExecPtr bell;          // its doorbell while it sleeps; null once rung
  };
  struct Waited {
    JobKind kind = JobKind::exec;
    std::size_t task = 0;
  };

  void mark_used(int gpu) { actors_[static_cast<std::size_t>(gpu)].used = true; }

  void ask(int gpu, const Job& job) {
    GpuActor& a = actors_[static_cast<std::size_t>(gpu)];
    a.queue.push_back(job);
    ring(a);
  }

  void ring(GpuActor& a) {
    if (!a.sleeping || !a.bell) return;
    cancels_.push_back({std::move(a.bell), false});
    a.bell = nullptr;
  }

  // Carries out the cancellations the bookkeeping decided (in the calling actor).
  void carry_out_cancels() {
    while (!cancels_.empty()) {
      std::vector<Cancel> now;
      now.swap(cancels_);
      for (Cancel& c : now) {
        if (c.suspend_first) c.exec->suspend();
        c.exec->cancel();
      }
    }
  }

  std::size_t launch_flows(std::size_t v) override {
    std::size_t flows = 0;
    for (const auto& tr : program().graph[v].transfers) {
      if (tr.src_gpu == tr.dst_gpu) continue;
      const auto bytes = static_cast<std::uint64_t>(std::llround(std::max(tr.bytes, 0.0)));
      ask(tr.src_gpu, {JobKind::send, tr.dst_gpu, v, bytes});
      ask(tr.dst_gpu, {JobKind::receive, tr.src_gpu, v, 0});
      ++flows;
    }
    return flows;
  }

  void launch_exec(Computing& c) override { ask(program().graph[c.task].gpu, {JobKind::exec, 0, c.task, 0}); }

  void drop_exec(Computing& c) override {
    if (!c.exec) return;  // its Exec is not created yet: launch_exec's job will use the new cap
    // Suspended first: SimGrid 3.32 keeps a cancelled Exec's share of the host until it
    // next processes ended actions. Its actor drops it (its Computing no longer names it).
    cancels_.push_back({std::move(c.exec), true});
    c.exec = nullptr;
  }

  sg::Mailbox* mailbox(int src, int dst) {
    const std::uint64_t key = (static_cast<std::uint64_t>(src) << 32) | static_cast<std::uint32_t>(dst);
    if (auto it = mailboxes_.find(key); it != mailboxes_.end()) return it->second;
    sg::Mailbox* box = sg::Mailbox::by_name(fmt::format("flow-{}-{}", src, dst));  // a simcall
    mailboxes_.emplace(key, box);
    return box;
  }

  // Creates the activity of one job in the calling (GPU gpu's) actor; null when the job
  // is stale (an Exec asked twice in one instant, or already made).
  sg::ActivityPtr create(int gpu, const Job& job) {
    switch (job.kind) {
      case JobKind::send:
        return mailbox(gpu, job.peer)->put_async(&g_flow_payload, job.bytes);
      case JobKind::receive:
        return mailbox(job.peer, gpu)->get_async<void>(&g_flow_sink);
      case JobKind::exec: break;
    }
    Computing* c = computing(gpu, job.task);
    if (c == nullptr || c->exec) return nullptr;
    const StepTask& t = program().graph[job.task];
    auto exec = sg::Exec::init();
    exec->set_name(t.name)->set_flops_amount(c->work_left)->set_host(gpu_host(gpu));
    const double cap = rate_cap(t);
    if (cap < 1.0) exec->set_bound(cap);
    c->exec = exec;  // before start(): a simcall, after which `c` may be gone
    exec->start();
    return exec;
  }

  // An Exec of ours that DagRunner replaced (its Computing names another or none).
  bool stale(int gpu, const sg::ActivityPtr& activity, const Waited& w) {
    if (w.kind != JobKind::exec) return false;
    const Computing* c = computing(gpu, w.task);
    return c == nullptr || c->exec.get() != activity.get();
  }

  // GPU gpu's actor: create what is asked, wait for any of its activities or its
  // doorbell, report completions; until the step is done and nothing of its own runs.
  void serve(int gpu) {
    GpuActor& me = actors_[static_cast<std::size_t>(gpu)];
    std::vector<sg::ActivityPtr> mine;  // its running activities, then the doorbell while waiting
    std::vector<Waited> what;           // per entry of `mine`
    std::vector<Job> jobs;
    for (;;) {
      while (!me.queue.empty()) {
        jobs.swap(me.queue);
        for (const Job& job : jobs)
          if (auto activity = create(gpu, job)) {
            mine.push_back(std::move(activity));
            what.push_back({job.kind, job.task});
          }
        jobs.clear();
      }
      for (std::size_t i = 0; i < mine.size();) {
        if (!stale(gpu, mine[i], what[i])) {
          ++i;
          continue;
        }
        mine[i] = std::move(mine.back());
        mine.pop_back();
        what[i] = what.back();
        what.pop_back();
      }
      if (mine.empty() && all_done()) break;
      if (!me.bell) {
        sg::ExecPtr bell = sg::Exec::init();
        bell->set_flops_amount(1e30)->set_host(bell_host(gpu))->start();
        me.bell = bell;
      }
      // Jobs asked while it yielded above: no ring reached it (it was not sleeping).
      if (!me.queue.empty()) continue;
      mine.push_back(me.bell);
      me.sleeping = true;
      ssize_t k = -1;
      try {
        k = sg::Activity::wait_any(mine);
      } catch (const simgrid::CancelException&) {
        // Rung, or one of its Execs was replaced: both handled above.
      }
      me.sleeping = false;
      mine.pop_back();
      if (k < 0 || static_cast<std::size_t>(k) >= mine.size()) continue;
      const auto i = static_cast<std::size_t>(k);
      const Waited done = what[i];
      // An Exec that ended at the instant DagRunner replaced it: its successor does the work.
      const bool stale_exec = stale(gpu, mine[i], done);
      mine[i] = std::move(mine.back());
      mine.pop_back();
      what[i] = what.back();
      what.pop_back();
      if (done.kind == JobKind::exec && !stale_exec) exec_done(done.task);
      if (done.kind == JobKind::receive) flow_done(done.task);
      if (all_done())
        for (GpuActor& a : actors_) ring(a);
      carry_out_cancels();
    }
    if (me.bell) {
      sg::ExecPtr bell = std::move(me.bell);
      me.bell = nullptr;
      bell->cancel();
    }
  }

  struct Cancel {
    sg::ExecPtr exec;
    bool suspend_first = false;
  };
  std::vector<Cancel> cancels_;   // decided by the bookkeeping, not yet carried out
  std::vector<GpuActor> actors_;  // by GPU
  std::unordered_map<std::uint64_t, sg::Mailbox*> mailboxes_;  // key: src · 2^32 + dst
};

}  // namespace

StepExecution run_on_actors(const StepProgram& program, double t0, int num_gpus) {
  ActorRunner runner(program, t0, num_gpus);
  runner.start_ready();  // queues the first jobs; no actor sleeps yet
  runner.spawn();
  simgrid_engine().run();
  return runner.take_result();
}

}  // namespace trainsim::engine
