#pragma once
// Routes between GPU pairs as directed platform links, computed once per pair by the
// topology's route() and kept for the rest of the process.
//
// Why: every transfer SimGrid starts asks the platform zone for its route, and a step
// repeats the same GPU pairs thousands of times (every micro-batch's all-to-all, every
// pipeline send); route() rebuilds a vector of hops each time (about 10 % of a
// symmetric step). A step touches few of the N^2 pairs (EP groups, pipeline and ring
// neighbours), so the cache is filled on demand, never as an N x N table.
//
// Memory: one hash entry per pair used (an 8-byte key and an 8-byte slot, plus the
// hash node, about 40 bytes in all) and 4 bytes per link of its route (at most 10).
#include <cstddef>
#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "sim/topology/cluster_graph.hpp"

namespace trainsim::engine {

// A hop's directed platform link: 2·edge, +1 when it runs against the edge's direction.
[[nodiscard]] inline std::uint32_t directed_link(const ClusterGraph& graph, const Hop& hop) {
  return static_cast<std::uint32_t>(2 * hop.edge + (hop.from == graph.edge_source(hop.edge) ? 0 : 1));
}

class RouteCache {
 public:
  explicit RouteCache(const ClusterGraph& graph) : graph_(graph) {}

  // The links (2·edge + direction, as engine::LinkIndex) of route(graph, src, dst), in
  // order of travel; empty when src == dst. The span stays valid until the next call.
  [[nodiscard]] std::span<const std::uint32_t> links(int src_gpu, int dst_gpu);

  [[nodiscard]] std::size_t pairs() const { return slots_.size(); }
  [[nodiscard]] std::size_t stored_links() const { return links_.size(); }
  [[nodiscard]] std::size_t approx_bytes() const;

 private:
  struct Slot {
    std::uint32_t offset = 0;  // into links_
    std::uint32_t count = 0;
  };
  const ClusterGraph& graph_;
  std::unordered_map<std::uint64_t, Slot> slots_;  // key: src · 2^32 + dst
  std::vector<std::uint32_t> links_;                // every cached route, back to back
};

}  // namespace trainsim::engine
