#include "sim/engine/route_cache.hpp"

#include <limits>
#include <stdexcept>

namespace trainsim::engine {

std::span<const std::uint32_t> RouteCache::links(int src_gpu, int dst_gpu) {
  const std::uint64_t key = (static_cast<std::uint64_t>(static_cast<std::uint32_t>(src_gpu)) << 32U) |
                            static_cast<std::uint32_t>(dst_gpu);
  auto [it, inserted] = slots_.try_emplace(key);
  if (inserted) {
    // route() checks the ranks (std::out_of_range); a failed lookup leaves no slot.
    std::vector<Hop> hops;
    try {
      hops = route(graph_, src_gpu, dst_gpu);
    } catch (...) {
      slots_.erase(it);
      throw;
    }
    if (links_.size() + hops.size() > std::numeric_limits<std::uint32_t>::max())
      throw std::length_error("engine::RouteCache: more than 2^32 cached links");
    it->second.offset = static_cast<std::uint32_t>(links_.size());
    it->second.count = static_cast<std::uint32_t>(hops.size());
    for (const Hop& hop : hops) links_.push_back(directed_link(graph_, hop));
  }
  return {links_.data() + it->second.offset, it->second.count};
}

std::size_t RouteCache::approx_bytes() const {
  // A node of std::unordered_map holds the pair and a next pointer (and, in libstdc++,
  // no cached hash for integer keys); the bucket array holds one pointer per bucket.
  const std::size_t node = sizeof(void*) + sizeof(std::uint64_t) + sizeof(Slot);
  return slots_.size() * node + slots_.bucket_count() * sizeof(void*) + links_.capacity() * sizeof(std::uint32_t);
}

}  // namespace trainsim::engine
