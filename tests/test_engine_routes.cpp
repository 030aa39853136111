// The engine's route cache (sim/engine/route_cache.hpp) against the topology's route(),
// pair by pair. The SimGrid test cases run in their own processes (one engine each).
#include <catch2/catch.hpp>

#include "sim/engine/platform.hpp"
#include "sim/engine/route_cache.hpp"
#include "tests/support.hpp"

namespace test_engine_routes {

using namespace trainsim;

std::vector<std::size_t> links_by_route(const ClusterGraph& g, int src, int dst) {
  std::vector<std::size_t> links;
  for (const Hop& hop : route(g, src, dst)) links.push_back(2 * hop.edge + (hop.from == g.edge_source(hop.edge) ? 0 : 1));
  return links;
}

ClusterSpec small_cluster(int nodes, const std::string& fabric, int radix, int oversubscription) {
  ClusterSpec c = test::h800_like_cluster(nodes, fabric);
  if (fabric == "multi-plane-fat-tree") c.network.planes = 2;
  c.network.switch_radix = radix;
  c.network.oversubscription = oversubscription;
  return c;
}

TEST_CASE("engine routes: the cache gives route()'s links for every GPU pair, first and later asks", "[engine][routes]") {
  const std::vector<ClusterSpec> clusters = {
      small_cluster(4, "fat-tree", 8, 1),              // 32 GPUs over 4 leaves
      small_cluster(4, "fat-tree", 8, 2),              // oversubscribed uplinks
      small_cluster(4, "multi-plane-fat-tree", 8, 1),  // PXN hops between planes
      small_cluster(4, "rail-optimized", 8, 1),
      small_cluster(8, "clos3", 8, 1),                 // across pods: 8 network hops
  };
  for (const ClusterSpec& spec : clusters) {
    INFO(spec.network.fabric << " oversubscription " << spec.network.oversubscription);
    const ClusterGraph g = build_cluster_graph(spec);
    engine::RouteCache cache(g);
    const int n = g.num_gpus();
    std::size_t hops = 0;
    // Twice: the first pass fills the cache, the second (in reverse order) reads it.
    for (int pass = 0; pass < 2; ++pass)
      for (int i = 0; i < n * n; ++i) {
        const int pair = pass == 0 ? i : n * n - 1 - i;
        const int src = pair / n, dst = pair % n;
        const auto cached = cache.links(src, dst);
        const std::vector<std::size_t> got(cached.begin(), cached.end());
        const auto want = links_by_route(g, src, dst);
        REQUIRE(got == want);
        if (pass == 0) hops += want.size();
      }
    REQUIRE(cache.pairs() == static_cast<std::size_t>(n) * static_cast<std::size_t>(n));
    REQUIRE(cache.stored_links() == hops);  // every route stored once
    REQUIRE(cache.approx_bytes() >= cache.pairs() * 24 + hops * 4);
  }
}

TEST_CASE("engine routes: an out-of-range GPU throws and caches nothing", "[engine][routes]") {
  const ClusterGraph g = build_cluster_graph(test::h800_like_cluster(1, "fat-tree"));
  engine::RouteCache cache(g);
  REQUIRE_THROWS_AS(cache.links(0, 8), std::out_of_range);
  REQUIRE(cache.pairs() == 0);
  REQUIRE(cache.links(3, 3).empty());
  REQUIRE(cache.pairs() == 1);
}

TEST_CASE("engine routes: SimGrid's routes and route_links() match route() for every pair", "[engine][routes][simgrid]") {
  auto& sim = engine::Simulator::create(small_cluster(4, "multi-plane-fat-tree", 8, 2));
  const ClusterGraph& g = sim.graph();
  const int n = g.num_gpus();
  for (int src = 0; src < n; ++src)
    for (int dst = 0; dst < n; ++dst) {
      if (src == dst) continue;  // SimGrid has no route from a host to itself in a flat zone
      const auto want = links_by_route(g, src, dst);
      REQUIRE(sim.route_links(src, dst) == want);
      REQUIRE(sim.simgrid_route_links(src, dst) == want);
      REQUIRE(sim.simgrid_route_links(src, dst) == want);  // again, from the cache
    }
  REQUIRE(sim.cached_route_pairs() == static_cast<std::size_t>(n) * static_cast<std::size_t>(n - 1));
}

}  // namespace test_engine_routes
