#pragma once
// Engine-internal: the bundled network model's grouping (step_executor.hpp, NetworkModel).
// Which SimGrid flows carry a transfer task's flows: a task's flows with equal bytes and
// equal route latency in one region of the fabric (a plane, a node's NVLink; joined where
// the task's flows cross from one to another) become one flow to a bundle endpoint
// (platform.cpp, Bundles), whatever GPUs they leave from; a group of one, a group no
// endpoint is left for, and everything when the platform has no endpoints, stay flows of
// their own.
// Only sim/engine/*.cpp include this header.
#include <cstddef>
#include <cstdint>
#include <map>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "sim/engine/disjoint_sets.hpp"
#include "sim/engine/simgrid_access.hpp"
#include "sim/parallel/step_program.hpp"

namespace trainsim::engine {

// One SimGrid flow: from GPU src to endpoint `to` (a GPU, or a bundle endpoint standing
// for several flows), `bytes` for each of the flows it carries.
struct SimFlow {
  int src = 0;
  int to = 0;
  std::uint64_t bytes = 0;
};

// A transfer's bytes as SimGrid moves them (whole bytes; negative as 0).
[[nodiscard]] std::uint64_t flow_bytes(double bytes);

class Bundler {
 public:
  // Task t's SimGrid flows, self transfers left out: its flows grouped by (bytes, route
  // latency, region: Simulator::link_region, joined by the task's flows that cross
  // regions), groups in order of first appearance, members in order; a group of two or
  // more is one flow to its endpoint. Tasks that share a transfer list (StepGraphDraft
  // interns them) share their flows, worked out once: an endpoint, once given a list of
  // members, keeps it. Valid as long as the Bundler and t's program.
  const std::vector<SimFlow>& flows(const StepTask& t);

 private:
  struct Group {
    std::uint64_t bytes = 0;
    std::vector<FlowEnds> members;
  };
  std::vector<SimFlow> group(const std::vector<parallel::Transfer>& transfers);

  std::unordered_map<const std::vector<parallel::Transfer>*, std::vector<SimFlow>> by_list_;
  std::vector<Group> groups_;  // scratch
  // Scratch: (bytes, latency, region) → group; union-find over the fabric's regions; each
  // flow's first link's region.
  std::map<std::tuple<std::uint64_t, double, std::size_t>, std::size_t> group_of_;
  DisjointSets joined_{0};
  std::vector<std::uint32_t> first_region_;
  const std::vector<SimFlow> none_;
};

}  // namespace trainsim::engine
