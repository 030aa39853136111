#pragma once
// The simulator: SimGrid's engine and the platform built from the cluster graph.
// No SimGrid type in this header (engine-internal access: sim/engine/simgrid_access.hpp).
//
// SimGrid's engine can be created once per process, so the Simulator is a
// process-wide object made by Simulator::create() and reached by Simulator::get().
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <vector>

#include "sim/config/spec.hpp"
#include "sim/topology/cluster_graph.hpp"

namespace trainsim::engine {

// For the command-line fuzz target (tests/fuzz/fuzz_command_line.cpp): once
// refuse_simulations() is called, Simulator::create throws SimulationRefused, and so
// do run_in_children before it forks and simulate_run / simulate_step before they
// build the step, so a command's parsing and checks run and its simulation does not
// (one SimGrid engine per process, and none in a fuzzer).
struct SimulationRefused : std::runtime_error {
  SimulationRefused() : std::runtime_error("simulation refused (refuse_simulations)") {}
};
void refuse_simulations();
[[nodiscard]] bool simulations_refused();

// One direction of one graph edge: link index = 2·edge + (travel from the edge's target
// to its source ? 1 : 0).
using LinkIndex = std::size_t;

// What the platform records besides timing; fixed when the simulator is created
// (SimGrid's plugins attach to links as they are made).
struct PlatformOptions {
  bool audit_links = false;  // SimGrid's link-load plugin on every link (bytes carried, peak load)
  // Bundled network model (step_executor.hpp): hosts per GPU that each stand for one list
  // of flows of one route latency (platform.cpp, Bundles); 0: none, every flow is its own.
  int bundle_slots_per_gpu = 0;
};

class Simulator {
 public:
  // Creates SimGrid's engine (ideal fluid network model, see platform.cpp) and the
  // platform of `spec`. Throws std::logic_error when called a second time in the process,
  // std::invalid_argument when the cluster graph cannot be built.
  static Simulator& create(const ClusterSpec& spec, const PlatformOptions& options = {});
  [[nodiscard]] static bool exists();
  [[nodiscard]] static Simulator& get();  // std::logic_error before create()

  Simulator(const Simulator&) = delete;
  Simulator& operator=(const Simulator&) = delete;
  ~Simulator();

  [[nodiscard]] const ClusterSpec& spec() const;
  [[nodiscard]] const ClusterGraph& graph() const;
  [[nodiscard]] int num_gpus() const;
  [[nodiscard]] double now_s() const;  // simulated clock

  // Directed links as the platform has them: bandwidth after the efficiency multiplier
  // (nvlink_efficiency on NVLink, nic_efficiency on every InfiniBand/PCIe hop), latency
  // including the traversal of the switch the link leaves.
  [[nodiscard]] std::size_t num_links() const;
  [[nodiscard]] double link_bandwidth_bytes_per_s(LinkIndex link) const;
  [[nodiscard]] double link_latency_s(LinkIndex link) const;
  [[nodiscard]] EdgeKind link_kind(LinkIndex link) const;
  // The part of the fabric a link belongs to: the connected parts of the cluster graph
  // without its GPUs (one plane's NICs and switches, one node's NVSwitch), numbered from 0
  // to num_regions() - 1.
  [[nodiscard]] std::uint32_t link_region(LinkIndex link) const;
  [[nodiscard]] std::uint32_t num_regions() const;

  // The route SimGrid uses between two GPUs (the topology's route()), as directed links.
  [[nodiscard]] std::vector<LinkIndex> route_links(int src_gpu, int dst_gpu) const;
  [[nodiscard]] double route_latency_s(int src_gpu, int dst_gpu) const;
  [[nodiscard]] double route_bandwidth_bytes_per_s(int src_gpu, int dst_gpu) const;  // its slowest link
  // The route as SimGrid's platform answers it (through the zone; for tests of the route cache).
  [[nodiscard]] std::vector<LinkIndex> simgrid_route_links(int src_gpu, int dst_gpu) const;
  // Routes are cached per GPU pair on first use (route_cache.hpp): pairs cached, bytes held.
  [[nodiscard]] std::size_t cached_route_pairs() const;
  [[nodiscard]] std::size_t cached_route_bytes() const;

  [[nodiscard]] const PlatformOptions& options() const;
  // With audit_links: bytes the link has carried and its highest instantaneous load
  // (bytes/s) since the simulation began, from SimGrid's link-load plugin.
  [[nodiscard]] double link_bytes(LinkIndex link) const;
  [[nodiscard]] double link_peak_load_bytes_per_s(LinkIndex link) const;

  struct Impl;
  [[nodiscard]] Impl& impl() const { return *impl_; }

 private:
  Simulator(const ClusterSpec& spec, const PlatformOptions& options);
  std::unique_ptr<Impl> impl_;
};

}  // namespace trainsim::engine
