#pragma once
// Running collective plans on the platform, and accounting of what their transfers put on
// each link. No SimGrid type here.
#include <vector>

#include "sim/engine/platform.hpp"
#include "sim/parallel/collectives.hpp"

namespace trainsim::engine {

struct PlanTiming {
  double start_s = 0;                // simulated clock when the first phase started
  double seconds = 0;                // end of the last phase − start of the first
  std::vector<double> phase_seconds; // each phase's duration (phases run back to back)
};

// Runs the phases one after the other, each phase's transfers as concurrent SimGrid Comms
// sharing the links (max-min); a phase ends when its last transfer ends.
[[nodiscard]] PlanTiming run_plan(Simulator& sim, const parallel::CollectivePlan& plan);

// Bytes a phase puts on each directed link (by LinkIndex), from the routes.
[[nodiscard]] std::vector<double> link_bytes(const Simulator& sim, const parallel::TransferPhase& phase);

// The most loaded link of a run: over phases and links, max of
// (bytes through the link in the phase / phase duration) / link bandwidth. ≤ 1 when no link
// carries more than its capacity; = 1 on the link that bounds a bandwidth-bound phase.
struct LinkLoad {
  double utilisation = 0;
  LinkIndex link = 0;
  EdgeKind kind = EdgeKind::nvlink;
  int phase = 0;
};
[[nodiscard]] LinkLoad busiest_link(const Simulator& sim, const parallel::CollectivePlan& plan,
                                    const PlanTiming& timing);

// DeepEP-style per-GPU port bytes over the whole plan: the busiest NIC (its cable to the
// leaf, busier direction) and the busiest NVLink port (GPU–NVSwitch, busier direction) of
// any GPU. Divide by the time for DeepEP's rdma / nvl GB/s.
struct PortBytes {
  double nic_bytes = 0;
  double nvlink_bytes = 0;
};
[[nodiscard]] PortBytes busiest_ports(const Simulator& sim, const parallel::CollectivePlan& plan);

}  // namespace trainsim::engine
