// SimGrid platform: each TEST_CASE runs in its own process (CTest), so each may create
// the engine once.
#include <catch2/catch.hpp>

#include "sim/engine/platform.hpp"
#include "sim/engine/transfers.hpp"
#include "sim/parallel/collectives.hpp"
#include "tests/support.hpp"

namespace test_platform {

using namespace trainsim;

TEST_CASE("platform: point-to-point = size / bandwidth + latency (NVLink and InfiniBand)", "[platform][simgrid]") {
  auto& sim = engine::Simulator::create(trainsim::test::h800_like_cluster(2, "multi-plane-fat-tree"));
  REQUIRE(sim.num_gpus() == 16);
  const double bytes = 1e9;

  // Inside a node: GPU → NVSwitch → GPU at 0.8 × 200 GB/s, two NVLink latencies.
  REQUIRE(sim.route_bandwidth_bytes_per_s(0, 1) == Approx(160e9));
  REQUIRE(sim.route_latency_s(0, 1) == Approx(2e-6));
  const auto intra = engine::run_plan(sim, parallel::point_to_point(0, 1, bytes));
  REQUIRE(intra.seconds == Approx(bytes / 160e9 + 2e-6).epsilon(0.01));

  // Across nodes, same plane: bounded by the NIC at 0.8 × 50 GB/s.
  REQUIRE(sim.route_bandwidth_bytes_per_s(0, 8) == Approx(40e9));
  const double latency = sim.route_latency_s(0, 8);
  REQUIRE(latency > 0);
  const auto inter = engine::run_plan(sim, parallel::point_to_point(0, 8, bytes));
  REQUIRE(inter.seconds == Approx(bytes / 40e9 + latency).epsilon(0.01));

  // Another plane: PXN forwarding adds the NVLink hop to the route, still NIC-bound.
  REQUIRE(sim.route_links(0, 9).size() == sim.route_links(0, 8).size() + 2);
  const auto cross = engine::run_plan(sim, parallel::point_to_point(0, 9, bytes));
  REQUIRE(cross.seconds == Approx(bytes / 40e9 + sim.route_latency_s(0, 9)).epsilon(0.01));
}

TEST_CASE("platform: two flows on one NVLink port share it", "[platform][simgrid]") {
  auto& sim = engine::Simulator::create(trainsim::test::h800_like_cluster(1, "multi-plane-fat-tree"));
  parallel::CollectivePlan plan;
  plan.phases.push_back({{{0, 1, 1e9}, {0, 2, 1e9}}});
  const auto timing = engine::run_plan(sim, plan);
  REQUIRE(timing.seconds == Approx(2e9 / 160e9 + 2e-6).epsilon(0.01));
  const auto load = engine::busiest_link(sim, plan, timing);
  REQUIRE(load.kind == EdgeKind::nvlink);
  REQUIRE(load.utilisation <= 1.0 + 1e-9);
  REQUIRE(load.utilisation > 0.99);
}

TEST_CASE("platform: the engine is created once per process", "[platform][simgrid]") {
  engine::Simulator::create(trainsim::test::h800_like_cluster(1, "fat-tree"));
  REQUIRE(engine::Simulator::exists());
  REQUIRE_THROWS_AS(engine::Simulator::create(trainsim::test::h800_like_cluster(1, "fat-tree")), std::logic_error);
}

}  // namespace test_platform
