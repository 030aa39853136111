// The actor-based executor (Executor::actors).
//
// Why actors: SimGrid 3.32 keeps every activity in a std::list of the actor that
// created it (an actor-less Comm::sendto_init always in maestro's) and removes it at
// completion with std::list::remove, a walk of the whole list. Created by maestro, as
// the reference executor does, every running flow of the step is in one list,
// and each completion walks it: the cost grows as running activities x completions.
// Here one actor per simulated GPU, on its host, creates and waits on both sides of its
// flows (a mailbox comm per flow: the source's actor puts, the destination's actor
// gets), so each list holds one GPU's activities. Compute tasks are no activities
// (DagRunner times them; its timer runs in maestro, which then rings the actors).
//
// The DAG's bookkeeping is DagRunner's (shared with the reference): whichever actor (or
// maestro's timer) sees a completion updates it, and a transfer task that becomes ready
// is queued as jobs on the actors that must create its flows (per flow a send on the
// source's and a receive on the destination's). An actor blocked in wait_any is woken by
// its doorbell: a zero-work Exec on its host (whose CPU computes nothing else), kept
// suspended, that sits in its wait set; the asker resumes it and it ends at SimGrid's
// next solve, at the same instant. Not a cancelled Exec: every cancellation of an awaited
// activity throws a CancelException in the waiter, and SimGrid's exceptions record a
// backtrace (unwinding was a third of a symmetric step's CPU under the actors). Only
// actors that sleep are rung; one ring wakes an actor for every job queued meanwhile.
//
// Bundled network model (bundles.hpp): a bundle is a flow from the GPU that holds its
// endpoint to that endpoint, a host of its own with an actor of its own that receives it.
//
// Flows are matched per (source, destination) pair: both actors queue their sides in
// the order DagRunner asks for them, and a mailbox matches puts with gets first come,
// first served, so the n-th receive on a pair is the n-th flow of that pair.
//
// Every SimGrid call an actor makes (starting, cancelling, waiting, even naming a
// mailbox) is a simcall: the actor yields and other actors run before it resumes, so an
// actor re-reads shared state after every call. The bookkeeping makes none: resume() is
// no simcall in SimGrid 3.32 (s4u_Activity.cpp: it acts on the kernel's activity
// directly), and DagRunner's compute timer is set and removed directly in the kernel's
// timer heap, safe with SimGrid's sequential contexts, the only ones trainsim uses.
//
// What differs from the reference: within one simulated instant the actors create
// their activities in SimGrid's actor order (each creation is a simcall), not in the
// order maestro's callback would; flows that share links can then end in another order,
// within the band the reference itself spans when given those flows in other orders
// (tests/test_engine_executors.cpp; README, Performance).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "sim/engine/bundles.hpp"
#include "sim/engine/dag_runner.hpp"

namespace trainsim::engine {

namespace sg = simgrid::s4u;

namespace {

int g_flow_payload = 0;        // what every flow carries (SimGrid refuses a null payload)
void* g_flow_sink = nullptr;   // where every receive writes it

class ActorRunner final : public DagRunner {
 public:
  ActorRunner(const StepProgram& program, double t0, int num_gpus, std::optional<Bundler> bundler)
      : DagRunner(program, t0, num_gpus),
        actors_(static_cast<std::size_t>(bundler ? num_endpoints() : num_gpus)),
        bundler_(std::move(bundler)) {
    const auto& g = program.graph;
    for (std::size_t v = 0; v < num_vertices(g); ++v) {
      if (bundler_) {
        // Gives the flows their bundle endpoints now, in task order (each task then gets
        // the same flows when it runs): actors for the ends of its SimGrid flows only.
        for (const SimFlow& f : bundler_->flows(g[v])) {
          mark_used(f.src);
          mark_used(f.to);
        }
        continue;
      }
      for (const auto& tr : g[v].transfers) {
        if (tr.src_gpu == tr.dst_gpu) continue;
        mark_used(tr.src_gpu);
        mark_used(tr.dst_gpu);
      }
    }
  }

  // One actor per GPU (and bundle endpoint) that sends or receives a flow, each running
  // until the step is done.
  void spawn() {
    for (std::size_t e = 0; e < actors_.size(); ++e)
      if (actors_[e].used)
        sg::Actor::create(fmt::format("endpoint-{}", e), endpoint_host(static_cast<int>(e)),
                          [this, e] { serve(static_cast<int>(e)); });
  }

 private:
  enum class JobKind : std::uint8_t { send, receive };
  struct Job {
    JobKind kind = JobKind::send;
    int peer = 0;            // send: the destination GPU; receive: the source GPU
    std::size_t task = 0;
    std::uint64_t bytes = 0;  // send
  };
  struct GpuActor {
    bool used = false;
    bool sleeping = false;     // blocked in wait_any (its doorbell in the wait set)
    bool rung = false;         // its doorbell is resumed: it ends at the next solve
    std::vector<Job> queue;    // jobs asked of it, in order
    sg::ExecPtr bell;          // its suspended zero-work doorbell; null once it has ended
  };
  struct Waited {
    JobKind kind = JobKind::send;
    std::size_t task = 0;
  };

  void mark_used(int gpu) { actors_[static_cast<std::size_t>(gpu)].used = true; }

  void ask(int gpu, const Job& job) {
    GpuActor& a = actors_[static_cast<std::size_t>(gpu)];
    a.queue.push_back(job);
    ring(a);
  }

  static void ring(GpuActor& a) {
    if (!a.sleeping || !a.bell || a.rung) return;
    a.bell->resume();
    a.rung = true;
  }

  std::size_t launch_flows(std::size_t v) override {
    std::size_t flows = 0;
    if (bundler_) {
      for (const SimFlow& f : bundler_->flows(program().graph[v])) {
        ask(f.src, {JobKind::send, f.to, v, f.bytes});
        ask(f.to, {JobKind::receive, f.src, v, 0});
        ++flows;
      }
      return flows;
    }
    for (const auto& tr : program().graph[v].transfers) {
      if (tr.src_gpu == tr.dst_gpu) continue;
      ask(tr.src_gpu, {JobKind::send, tr.dst_gpu, v, flow_bytes(tr.bytes)});
      ask(tr.dst_gpu, {JobKind::receive, tr.src_gpu, v, 0});
      ++flows;
    }
    return flows;
  }

  // Compute tasks ended in maestro (DagRunner's timer; ask() has rung whom they asked for
  // flows): when the step is done, ring everyone, so the actors leave.
  void after_timer() override {
    if (all_done())
      for (GpuActor& a : actors_) ring(a);
  }

  sg::Mailbox* mailbox(int src, int dst) {
    const std::uint64_t key = (static_cast<std::uint64_t>(src) << 32) | static_cast<std::uint32_t>(dst);
    if (auto it = mailboxes_.find(key); it != mailboxes_.end()) return it->second;
    sg::Mailbox* box = sg::Mailbox::by_name(fmt::format("flow-{}-{}", src, dst));  // a simcall
    mailboxes_.emplace(key, box);
    return box;
  }

  // Creates the activity of one job in the calling (GPU gpu's) actor.
  sg::ActivityPtr create(int gpu, const Job& job) {
    if (job.kind == JobKind::send) return mailbox(gpu, job.peer)->put_async(&g_flow_payload, job.bytes);
    return mailbox(job.peer, gpu)->get_async<void>(&g_flow_sink);
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
        for (const Job& job : jobs) {
          mine.push_back(create(gpu, job));
          what.push_back({job.kind, job.task});
        }
        jobs.clear();
      }
      if (mine.empty() && all_done()) break;
      if (!me.bell) {
        sg::ExecPtr bell = sg::Exec::init();
        bell->set_flops_amount(0)->set_host(endpoint_host(gpu))->suspend();
        bell->start();  // a simcall; start() suspends it again once SimGrid has made it
        me.bell = bell;
        me.rung = false;
      }
      // Jobs asked while it yielded above: no ring reached it (it was not sleeping).
      if (!me.queue.empty()) continue;
      mine.push_back(me.bell);
      me.sleeping = true;
      const ssize_t k = sg::Activity::wait_any(mine);
      me.sleeping = false;
      mine.pop_back();
      if (k < 0 || static_cast<std::size_t>(k) >= mine.size()) {
        me.bell = nullptr;  // it rang: it has ended; its new jobs are handled above
        continue;
      }
      const auto i = static_cast<std::size_t>(k);
      const Waited done = what[i];
      mine[i] = std::move(mine.back());
      mine.pop_back();
      what[i] = what.back();
      what.pop_back();
      if (done.kind == JobKind::receive) flow_done(done.task);
      if (all_done())
        for (GpuActor& a : actors_) ring(a);
    }
    if (me.bell) {
      sg::ExecPtr bell = std::move(me.bell);
      me.bell = nullptr;
      bell->cancel();  // nobody waits on it: no exception
    }
  }

  std::vector<GpuActor> actors_;  // by endpoint: the GPUs, then the bundle endpoints (bundled model)
  std::optional<Bundler> bundler_;  // the bundled network model; none: a SimGrid flow per flow
  std::unordered_map<std::uint64_t, sg::Mailbox*> mailboxes_;  // key: src · 2^32 + dst
};

}  // namespace

StepExecution run_on_actors(const StepProgram& program, double t0, int num_gpus, std::optional<Bundler> bundler) {
  ActorRunner runner(program, t0, num_gpus, std::move(bundler));
  runner.start_ready();  // queues the first jobs; no actor sleeps yet
  runner.spawn();
  simgrid_engine().run();
  return runner.take_result();
}

}  // namespace trainsim::engine
