#include "sim/engine/step_executor.hpp"

#include <algorithm>
#include <stdexcept>
#include <unordered_set>

#include "sim/engine/simgrid_access.hpp"

namespace trainsim::engine {

namespace sg = simgrid::s4u;

StepExecution execute_step(const ClusterSpec& cluster, const StepProgram& program) {
  if (!Simulator::exists()) Simulator::create(cluster);
  const double t0 = Simulator::get().now_s();
  const auto& g = program.graph;
  const std::size_t n = boost::num_vertices(g);

  // The activity that marks each task's end, and the Comms of transfer tasks.
  std::vector<sg::ExecPtr> done(n);
  std::vector<std::vector<sg::CommPtr>> comms(n);
  for (std::size_t v = 0; v < n; ++v) {
    const StepTask& t = g[v];
    done[v] = sg::Exec::init();
    done[v]->set_name(t.name);
    done[v]->set_flops_amount(t.is_transfer() ? 0.0 : std::max(0.0, t.seconds));
    done[v]->set_host(gpu_host(t.gpu));
  }
  for (std::size_t v = 0; v < n; ++v) {
    const StepTask& t = g[v];
    std::vector<sg::ExecPtr> preds;
    std::unordered_set<std::size_t> seen;
    for (auto [e, end] = boost::in_edges(v, g); e != end; ++e) {
      const std::size_t u = boost::source(*e, g);
      if (seen.insert(u).second) preds.push_back(done[u]);
    }
    if (t.is_transfer() && !t.transfers.empty()) {
      comms[v] = start_transfers(t.transfers, preds);
      for (auto& c : comms[v]) c->add_successor(done[v]);
      if (comms[v].empty())  // only self transfers: the join waits on the predecessors
        for (auto& p : preds) p->add_successor(done[v]);
    } else {
      for (auto& p : preds) p->add_successor(done[v]);
    }
  }
  for (std::size_t v = 0; v < n; ++v) done[v]->vetoable_start();
  simgrid_engine().run();

  StepExecution result;
  result.tasks.resize(n);
  for (std::size_t v = 0; v < n; ++v) {
    if (done[v]->get_state() != sg::Activity::State::FINISHED)
      throw std::logic_error("step program task never ran (dependency cycle?): " + g[v].name);
    double start = done[v]->get_start_time();
    for (const auto& c : comms[v]) start = std::min(start, c->get_start_time());
    result.tasks[v] = {start - t0, done[v]->get_finish_time() - t0};
    result.makespan_s = std::max(result.makespan_s, result.tasks[v].end_s);
  }
  return result;
}

}  // namespace trainsim::engine
