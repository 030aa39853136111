// Issue 14: the bundled network model (step_executor.hpp, NetworkModel; platform.cpp,
// Bundles). A transfer task's flows with equal bytes and equal route latency, from any
// GPUs, run as one SimGrid flow to a bundle endpoint whose route lists every member's links.
// Here: how endpoints are given out, that a bundle's route is its members' routes one
// after the other, and that the shipped 128-GPU cuts in full fidelity give the per-pair
// step within 1 % (the bar for a coarser mode) with fewer SimGrid flows. Held to
// per-pair max-min under cross traffic in test_engine_cross_traffic.cpp.
// Each SimGrid run is a child process (one SimGrid engine per process).
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "sim/engine/simgrid_access.hpp"
#include "sim/engine/step_executor.hpp"
#include "sim/parallel/step_program.hpp"
#include "sim/run/process_pool.hpp"
#include "tests/support.hpp"

namespace test_engine_bundles {

using namespace trainsim;

namespace {

// The directed links of a route as SimGrid's platform gives it, by link name (l<index>).
std::vector<double> simgrid_route(simgrid::s4u::Host* from, simgrid::s4u::Host* to) {
  std::vector<simgrid::s4u::Link*> links;
  double latency = 0;
  from->route_to(to, links, &latency);
  std::vector<double> out{latency};
  for (const auto* link : links) out.push_back(std::stod(link->get_name().substr(1)));
  return out;
}

const std::vector<std::string> kCut128 = {"nodes=16",          "model.layers=6", "model.moe.first_dense_layers=1",
                                          "parallelism.pp=2",  "parallelism.dp=64", "training.global_batch=256",
                                          "training.batch_ramp.start=256"};

}  // namespace

TEST_CASE("engine bundles: an endpoint holds one list of flows of one route latency, from its members' GPUs",
          "[engine][bundles]") {
  // 2 nodes, multi-plane: GPU g reaches GPU g + 8 over its own plane, the other GPUs of
  // node 1 over NVLink then their planes (a longer route), and GPUs of its node over
  // NVLink alone. Two endpoints per GPU.
  const ClusterSpec cluster = test::h800_like_cluster(2);
  const auto got = run_isolated([&] {
    engine::Simulator::create(cluster, {.bundle_slots_per_gpu = 2});
    auto e = [](std::vector<engine::FlowEnds> members) {
      return static_cast<double>(engine::bundle_endpoint(members));
    };
    return std::vector<double>{
        static_cast<double>(engine::num_endpoints()),
        e({{0, 9}, {0, 10}, {0, 11}}),  // GPU 0's first endpoint (endpoint 16)
        e({{0, 9}, {0, 10}, {0, 11}}),  // the same list, the same endpoint
        e({{0, 9}, {0, 10}}),           // another list, GPU 0's second
        e({{0, 8}, {0, 9}}),            // routes of two latencies: none
        e({{0, 9}}),                    // one member: none
        e({{0, 0}, {1, 1}}),            // self flows: none
        e({{0, 12}, {1, 13}}),          // GPU 0 has none left: GPU 1's first (16 + 2)
        e({{1, 2}, {2, 3}}),            // NVLink only: GPU 1's second
        e({{1, 3}, {1, 4}}),            // GPU 1, the only member GPU, has none left
        e({{1, 5}, {3, 4}}),            // GPU 1 has none left: GPU 3's first (16 + 6)
        e({{0, 9}, {0, 10}, {0, 11}}),  // still the first
    };
  });
  const auto source = run_isolated([&] {
    engine::Simulator::create(cluster, {.bundle_slots_per_gpu = 2});
    const int first = engine::bundle_endpoint(std::vector<engine::FlowEnds>{{0, 12}, {1, 13}});
    const int spilled = engine::bundle_endpoint(std::vector<engine::FlowEnds>{{3, 12}, {2, 13}});
    return std::vector<double>{static_cast<double>(engine::bundle_source(first)),
                               static_cast<double>(engine::bundle_source(spilled))};
  });
  REQUIRE(got[0] == 16 + 16 * 2);
  CHECK(got[1] == 16);
  CHECK(got[2] == 16);
  CHECK(got[3] == 17);
  CHECK(got[4] == -1);
  CHECK(got[5] == -1);
  CHECK(got[6] == -1);
  CHECK(got[7] == 18);
  CHECK(got[8] == 19);
  CHECK(got[9] == -1);
  CHECK(got[10] == 22);
  CHECK(got[11] == 16);
  // A bundle's SimGrid flow leaves from the GPU whose endpoint holds it.
  CHECK(source == std::vector<double>{0, 3});
}

TEST_CASE("engine bundles: a platform without endpoints gives none", "[engine][bundles]") {
  const ClusterSpec cluster = test::h800_like_cluster(2);
  const auto got = run_isolated([&] {
    engine::Simulator::create(cluster);
    return std::vector<double>{
        static_cast<double>(engine::num_endpoints()),
        static_cast<double>(engine::bundle_endpoint(std::vector<engine::FlowEnds>{{0, 9}, {0, 10}}))};
  });
  CHECK(got[0] == 16);
  CHECK(got[1] == -1);
}

TEST_CASE("engine bundles: a bundle's route is its members' routes one after the other, at their latency",
          "[engine][bundles]") {
  const ClusterSpec cluster = test::h800_like_cluster(2);
  const std::vector<engine::FlowEnds> members{{3, 9}, {3, 10}, {4, 13}};  // NVLink, then a plane
  const auto got = run_isolated([&] {
    engine::Simulator::create(cluster, {.bundle_slots_per_gpu = 2});
    const int e = engine::bundle_endpoint(members);
    REQUIRE(engine::bundle_source(e) == 3);
    auto bundle = simgrid_route(engine::gpu_host(3), engine::endpoint_host(e));
    std::vector<double> routes;
    for (const auto& m : members) {
      const auto r = simgrid_route(engine::gpu_host(m.src), engine::gpu_host(m.dst));
      REQUIRE(r[0] == bundle[0]);  // the same latency, to the bit
      routes.insert(routes.end(), r.begin() + 1, r.end());
    }
    REQUIRE(routes.size() + 1 == bundle.size());
    bundle.erase(bundle.begin());
    REQUIRE(bundle == routes);
    return bundle;
  });
  // Two members leave over GPU 3's NVLink: the bundle lists it twice.
  REQUIRE(got.size() > 3);
  CHECK(std::count(got.begin(), got.end(), got.front()) == 2);
}

TEST_CASE("engine bundles: the 128-GPU DeepSeek-V3 cuts give the per-pair step within 1 % with fewer SimGrid flows",
          "[engine][bundles]") {
  // The shipped full-fidelity golden cases' cluster and workload: the multi-plane default,
  // a 4:1 oversubscribed single-plane fat-tree, and Zipf-skewed experts.
  const std::vector<std::vector<std::string>> extra{
      {}, {"network.fabric=fat-tree", "network.planes=1", "network.oversubscription=4"},
      {"model.moe.routing=zipf", "model.moe.zipf_exponent=1.0"}};
  for (const auto& more : extra) {
    auto sets = kCut128;
    sets.insert(sets.end(), more.begin(), more.end());
    const auto c = test::load_default_case(sets);
    const auto program = build_step_program(c.cluster, c.workload, c.workload.training.global_batch, Fidelity::full);
    auto step = [&](engine::NetworkModel network, engine::Executor executor) {
      return run_isolated([&] {
        const auto x = engine::execute_step(c.cluster, program, {.network = network, .executor = executor});
        return std::vector<double>{x.makespan_s, static_cast<double>(x.simgrid_flows)};
      });
    };
    // Unasked, the executor follows the bundles (kReferenceAtMostSimFlowsPerFlow).
    const auto unasked = run_isolated([&] {
      const auto x = engine::execute_step(c.cluster, program, {.network = engine::NetworkModel::bundled});
      return std::vector<double>{x.makespan_s, static_cast<double>(x.simgrid_flows),
                                 x.executor == engine::Executor::reference ? 1.0 : 0.0};
    });
    const auto per_pair = step(engine::NetworkModel::per_pair, engine::Executor::actors);
    const auto bundled = step(engine::NetworkModel::bundled, engine::Executor::actors);
    const auto bundled_ref = step(engine::NetworkModel::bundled, engine::Executor::reference);
    INFO((more.empty() ? "multi-plane" : more.front()) << ": step " << per_pair[0] << " s per pair, " << bundled[0]
                                                       << " s bundled; SimGrid flows " << per_pair[1] << " and "
                                                       << bundled[1]);
    CHECK(bundled[0] == Approx(per_pair[0]).epsilon(0.01));
    CHECK(bundled[1] < per_pair[1]);
    // Both executors run the same bundles.
    CHECK(bundled_ref[0] == bundled[0]);
    CHECK(bundled_ref[1] == bundled[1]);
    const double share = bundled[1] / per_pair[1];
    INFO("SimGrid flows per flow " << share);
    CHECK(unasked[2] == (share <= engine::kReferenceAtMostSimFlowsPerFlow ? 1.0 : 0.0));
    CHECK(unasked[0] == bundled[0]);
  }
}

}  // namespace test_engine_bundles
