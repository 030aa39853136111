#pragma once
// Engine-internal: SimGrid handles for the step executor and the transfer runner.
// Only sim/engine/*.cpp include this header.
#include <simgrid/s4u.hpp>
#include <span>
#include <vector>

#include "sim/engine/platform.hpp"
#include "sim/parallel/collectives.hpp"

namespace trainsim::engine {

// The host of a GPU: where its flows start and end and its actor runs. Its CPU
// computes nothing of the step (the engine times compute tasks, dag_runner.hpp) but the
// actor executor's doorbells (endless Execs, cancelled to wake an actor).
[[nodiscard]] simgrid::s4u::Host* gpu_host(int gpu);
[[nodiscard]] simgrid::s4u::Engine& simgrid_engine();

// Endpoints: GPU g is endpoint g; the bundled network model's endpoints (platform.cpp,
// Bundles) follow, from num_gpus. The host a flow to or from the endpoint uses.
[[nodiscard]] simgrid::s4u::Host* endpoint_host(int endpoint);
[[nodiscard]] int num_endpoints();
// A flow's source and destination GPUs.
struct FlowEnds {
  int src = 0;
  int dst = 0;
  bool operator==(const FlowEnds&) const = default;
};
// The endpoint that carries `members` (in this order) as one bundle: the one that holds
// that list, else a free one of a member's source GPU (the first in member order that has
// one left), given it; -1 when no member's GPU has one left, the platform has none
// (PlatformOptions::bundle_slots_per_gpu), fewer than two members, a self flow, or
// members whose routes differ in latency.
[[nodiscard]] int bundle_endpoint(std::span<const FlowEnds> members);
// The GPU whose host a bundle endpoint's SimGrid flow leaves from.
[[nodiscard]] int bundle_source(int endpoint);

// One actor-less Comm per transfer (source host → destination host, payload = bytes), not
// started yet. Self transfers (src = dst) move no data and are skipped.
[[nodiscard]] std::vector<simgrid::s4u::CommPtr> make_transfers(const std::vector<parallel::Transfer>& transfers);

// `after` starts only once `before` has finished. In SimGrid 3.32 Activity::add_successor
// is protected (public only on the typed ExecPtr/CommPtr/IoPtr); this works on ActivityPtr.
void add_dependency(const simgrid::s4u::ActivityPtr& before, const simgrid::s4u::ActivityPtr& after);

// make_transfers, each Comm made a successor of every activity in `after` (ExecPtr or
// CommPtr), then vetoable-started: a Comm starts when its dependencies have finished.
// Run them with simgrid_engine().run().
template <class ActivityPtrT = simgrid::s4u::CommPtr>
std::vector<simgrid::s4u::CommPtr> start_transfers(const std::vector<parallel::Transfer>& transfers,
                                                   const std::vector<ActivityPtrT>& after = {}) {
  auto comms = make_transfers(transfers);
  for (auto& comm : comms)
    for (const auto& before : after) add_dependency(before, comm);
  for (auto& comm : comms) comm->vetoable_start();
  return comms;
}

}  // namespace trainsim::engine
