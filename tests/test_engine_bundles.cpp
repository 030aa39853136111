// Issue 14: the bundled network model (step_executor.hpp, NetworkModel; platform.cpp,
// Bundles). A transfer task's flows from one GPU with equal bytes and equal route latency
// run as one SimGrid flow to a bundle endpoint whose route lists every member's links.
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

TEST_CASE("engine bundles: a GPU's endpoints each hold one set of destinations of one route latency",
          "[engine][bundles]") {
  // 2 nodes, multi-plane: GPU 0 reaches GPU 8 over its own plane, GPUs 9-15 over NVLink
  // then their planes (a longer route), and GPUs 1-7 over NVLink alone.
  const ClusterSpec cluster = test::h800_like_cluster(2);
  const auto got = run_isolated([&] {
    engine::Simulator::create(cluster, {.bundle_slots_per_gpu = 4});
    auto e = [](int src, std::vector<int> dsts) { return static_cast<double>(engine::bundle_endpoint(src, dsts)); };
    return std::vector<double>{
        static_cast<double>(engine::num_endpoints()),
        e(0, {9, 10, 11}),  // the first endpoint of GPU 0 (endpoint 16)
        e(0, {9, 10, 11}),  // the same set, the same endpoint
        e(0, {9, 10}),  // another set, the next endpoint
        e(0, {8, 9}),  // routes of two latencies: none
        e(0, {9}),  // one member: none
        e(0, {1, 2, 3}),  // NVLink only: the third endpoint
        e(0, {12, 13}),  // the fourth
        e(0, {14, 15}),  // GPU 0 has no endpoint left
        e(1, {14, 15}),  // GPU 1's first (endpoint 16 + 4)
        e(0, {9, 10, 11}),  // still the first
    };
  });
  REQUIRE(got[0] == 16 + 16 * 4);
  CHECK(got[1] == 16);
  CHECK(got[2] == 16);
  CHECK(got[3] == 17);
  CHECK(got[4] == -1);
  CHECK(got[5] == -1);
  CHECK(got[6] == 18);
  CHECK(got[7] == 19);
  CHECK(got[8] == -1);
  CHECK(got[9] == 20);
  CHECK(got[10] == 16);
}

TEST_CASE("engine bundles: a platform without endpoints gives none", "[engine][bundles]") {
  const ClusterSpec cluster = test::h800_like_cluster(2);
  const auto got = run_isolated([&] {
    engine::Simulator::create(cluster);
    return std::vector<double>{static_cast<double>(engine::num_endpoints()),
                               static_cast<double>(engine::bundle_endpoint(0, std::vector<int>{9, 10}))};
  });
  CHECK(got[0] == 16);
  CHECK(got[1] == -1);
}

TEST_CASE("engine bundles: a bundle's route is its members' routes one after the other, at one member's latency",
          "[engine][bundles]") {
  const ClusterSpec cluster = test::h800_like_cluster(2);
  const auto got = run_isolated([&] {
    engine::Simulator::create(cluster, {.bundle_slots_per_gpu = 2});
    const int e = engine::bundle_endpoint(3, std::vector<int>{9, 10, 12});
    auto bundle = simgrid_route(engine::gpu_host(3), engine::endpoint_host(e));
    std::vector<double> members;
    for (int d : {9, 10, 12}) {
      const auto r = simgrid_route(engine::gpu_host(3), engine::gpu_host(d));
      REQUIRE(r[0] == bundle[0]);  // the same latency, to the bit
      members.insert(members.end(), r.begin() + 1, r.end());
    }
    REQUIRE(members.size() + 1 == bundle.size());
    bundle.erase(bundle.begin());
    // Every member crosses GPU 3's NVLink out: the bundle lists it three times.
    REQUIRE(bundle == members);
    return bundle;
  });
  REQUIRE(got.size() > 3);
  CHECK(std::count(got.begin(), got.end(), got.front()) == 3);
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
