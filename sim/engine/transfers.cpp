#include "sim/engine/transfers.hpp"

#include <algorithm>

#include "sim/engine/simgrid_access.hpp"

namespace trainsim::engine {

PlanTiming run_plan(Simulator& sim, const parallel::CollectivePlan& plan) {
  PlanTiming timing;
  timing.start_s = sim.now_s();
  // Phases are strictly sequential, so each runs to completion on its own: no
  // all-to-all dependency edges between consecutive phases are needed.
  for (const auto& phase : plan.phases) {
    const double start = sim.now_s();
    auto comms = start_transfers(phase.transfers);
    simgrid_engine().run();
    timing.phase_seconds.push_back(sim.now_s() - start);
  }
  timing.seconds = sim.now_s() - timing.start_s;
  return timing;
}

std::vector<double> link_bytes(const Simulator& sim, const parallel::TransferPhase& phase) {
  std::vector<double> bytes(sim.num_links(), 0.0);
  for (const auto& t : phase.transfers)
    for (LinkIndex link : sim.route_links(t.src_gpu, t.dst_gpu)) bytes[link] += t.bytes;
  return bytes;
}

LinkLoad busiest_link(const Simulator& sim, const parallel::CollectivePlan& plan, const PlanTiming& timing) {
  LinkLoad busiest;
  for (std::size_t p = 0; p < plan.phases.size() && p < timing.phase_seconds.size(); ++p) {
    if (timing.phase_seconds[p] <= 0) continue;
    const auto bytes = link_bytes(sim, plan.phases[p]);
    for (LinkIndex link = 0; link < bytes.size(); ++link) {
      if (bytes[link] <= 0) continue;
      const double utilisation = bytes[link] / timing.phase_seconds[p] / sim.link_bandwidth_bytes_per_s(link);
      if (utilisation > busiest.utilisation)
        busiest = {utilisation, link, sim.link_kind(link), static_cast<int>(p)};
    }
  }
  return busiest;
}

PortBytes busiest_ports(const Simulator& sim, const parallel::CollectivePlan& plan) {
  std::vector<double> bytes(sim.num_links(), 0.0);
  for (const auto& phase : plan.phases) {
    const auto phase_bytes = link_bytes(sim, phase);
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] += phase_bytes[i];
  }
  const ClusterGraph& g = sim.graph();
  PortBytes ports;
  for (int gpu = 0; gpu < g.num_gpus(); ++gpu) {
    const auto nic = g.nic_link_edge[static_cast<std::size_t>(gpu)];
    const auto nvlink = g.nvlink_edge[static_cast<std::size_t>(gpu)];
    ports.nic_bytes = std::max({ports.nic_bytes, bytes[2 * nic], bytes[2 * nic + 1]});
    ports.nvlink_bytes = std::max({ports.nvlink_bytes, bytes[2 * nvlink], bytes[2 * nvlink + 1]});
  }
  return ports;
}

}  // namespace trainsim::engine
