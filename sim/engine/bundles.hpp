#pragma once
// Engine-internal: the bundled network model's grouping (step_executor.hpp, NetworkModel).
// Which SimGrid flows carry a transfer task's flows: a task's flows from one GPU with
// equal bytes and equal route latency become one flow to a bundle endpoint of that GPU
// (platform.cpp, Bundles); the rest, and everything when the platform has no endpoints
// left, stay flows of their own. Only sim/engine/*.cpp include this header.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "sim/parallel/step_program.hpp"

namespace trainsim::engine {

// One SimGrid flow: from GPU src to endpoint `to` (a GPU, or a bundle endpoint standing
// for several destinations), `bytes` for each of the flows it carries.
struct SimFlow {
  int src = 0;
  int to = 0;
  std::uint64_t bytes = 0;
};

// A transfer's bytes as SimGrid moves them (whole bytes; negative as 0).
[[nodiscard]] std::uint64_t flow_bytes(double bytes);

class Bundler {
 public:
  explicit Bundler(int num_gpus);

  // Task t's SimGrid flows, self transfers left out: its flows grouped by (source, bytes)
  // in order of first appearance; a group's members in order, a bundle where they came
  // first. The same task gives the same flows every time (an endpoint, once given a set
  // of destinations, keeps it). Valid until the next call.
  const std::vector<SimFlow>& flows(const StepTask& t);

 private:
  struct Group {
    int src = 0;
    std::uint64_t bytes = 0;
    std::vector<int> dsts;
    int next = -1;  // the source's next group in groups_
  };
  // A (source, destination list) seen before, and where each member goes: a bundle
  // endpoint, or -1 (a flow of its own).
  struct Family {
    std::vector<int> dsts;
    std::vector<int> endpoint;
  };
  // Families remembered per GPU; beyond, a list is worked out each time it comes (the
  // endpoints keep their sets, so the answer is the same).
  static constexpr std::size_t kFamiliesPerGpu = 16;

  void group(const StepTask& t);
  const Family& family(int src, const std::vector<int>& dsts);

  std::vector<std::vector<Family>> families_;  // by source GPU
  Family scratch_;
  std::vector<Group> groups_;
  std::vector<int> group_head_;  // by source GPU: its first group in groups_, or -1
  std::vector<SimFlow> flows_;
  std::vector<char> placed_;
  std::vector<int> members_;
  std::vector<std::size_t> at_;
};

}  // namespace trainsim::engine
