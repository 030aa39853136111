#pragma once
// Engine-internal: Boost's union-find over the numbers 0..n-1, for the platform's fabric
// regions (platform.cpp) and the regions a task's flows join (bundles.cpp).
//
// Boost's disjoint_sets_with_storage reads its raw-pointer property maps through a get()
// that must be declared before its header is first parsed, which the Boost.Graph headers
// the engine includes earlier do not guarantee; iterator property maps are found by ADL.
#include <cstddef>
#include <vector>

#include <boost/pending/disjoint_sets.hpp>
#include <boost/property_map/property_map.hpp>

namespace trainsim::engine {

class DisjointSets {
 public:
  explicit DisjointSets(std::size_t n) { reset(n); }

  // Every number 0..n-1 alone again (storage reused).
  void reset(std::size_t n) {
    rank_.assign(n, 0);
    parent_.resize(n);
    for (std::size_t i = 0; i < n; ++i) sets().make_set(i);
  }
  void join(std::size_t a, std::size_t b) { sets().union_set(a, b); }
  [[nodiscard]] std::size_t find(std::size_t a) { return sets().find_set(a); }

 private:
  using Map = boost::iterator_property_map<std::vector<std::size_t>::iterator, boost::identity_property_map>;
  boost::disjoint_sets<Map, Map> sets() {
    return {Map(rank_.begin(), boost::identity_property_map()), Map(parent_.begin(), boost::identity_property_map())};
  }
  std::vector<std::size_t> rank_, parent_;
};

}  // namespace trainsim::engine
