#pragma once
// The simulator: SimGrid's engine and the platform built from the cluster graph.
// No SimGrid type in this header (engine-internal access: sim/engine/simgrid_access.hpp).
//
// SimGrid's engine can be created once per process, so the Simulator is a
// process-wide object made by Simulator::create() and reached by Simulator::get().
#include <cstddef>
#include <memory>
#include <vector>

#include "sim/config/spec.hpp"
#include "sim/topology/cluster_graph.hpp"

namespace trainsim::engine {

// One direction of one graph edge: link index = 2·edge + (travel from the edge's target
// to its source ? 1 : 0).
using LinkIndex = std::size_t;

class Simulator {
 public:
  // Creates SimGrid's engine (ideal fluid network model, see platform.cpp) and the
  // platform of `spec`. Throws std::logic_error when called a second time in the process,
  // std::invalid_argument when the cluster graph cannot be built.
  static Simulator& create(const ClusterSpec& spec);
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
  [[nodiscard]] LinkIndex link_of(const Hop& hop) const;

  // The route SimGrid uses between two GPUs (the topology's route()), as directed links.
  [[nodiscard]] std::vector<LinkIndex> route_links(int src_gpu, int dst_gpu) const;
  [[nodiscard]] double route_latency_s(int src_gpu, int dst_gpu) const;
  [[nodiscard]] double route_bandwidth_bytes_per_s(int src_gpu, int dst_gpu) const;  // its slowest link

  struct Impl;
  [[nodiscard]] Impl& impl() const { return *impl_; }

 private:
  explicit Simulator(const ClusterSpec& spec);
  std::unique_ptr<Impl> impl_;
};

}  // namespace trainsim::engine
