// Collectives on the SimGrid platform: closed forms, saturated links, capacity.
// Each TEST_CASE runs in its own process (CTest), so each may create the engine once.
#include <catch2/catch.hpp>

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <string>

#include "sim/config/load.hpp"
#include "sim/engine/platform.hpp"
#include "sim/engine/transfers.hpp"
#include "sim/model/cost_model.hpp"
#include "sim/parallel/collective_registry.hpp"
#include "sim/parallel/collectives.hpp"
#include "sim/parallel/moe_routing.hpp"
#include "sim/parallel/moe_routing_registry.hpp"
#include "tests/support.hpp"

namespace test_net {

using namespace trainsim;

namespace {

std::vector<int> first_gpus(int n) {
  std::vector<int> g(static_cast<std::size_t>(n));
  std::iota(g.begin(), g.end(), 0);
  return g;
}

parallel::MoeRouting ep_routing(int ranks) {
  parallel::MoeRoutingParams p;
  p.ranks = ranks;
  p.ranks_per_node = 8;
  p.tokens = 4096;
  p.top_k = 8;
  p.experts = 256;
  p.max_nodes = 4;
  return parallel::route_tokens(p);
}

bool is_nic(EdgeKind k) { return k == EdgeKind::nic_attach || k == EdgeKind::nic_link; }

nlohmann::json run_cli(const std::string& args) {
  const auto r = trainsim::test::run_trainsim(args + " --format json", false);
  INFO(args << "\n" << r.output);
  return nlohmann::json::parse(r.output);
}

}  // namespace

TEST_CASE("ring all-reduce on one node = 2(n-1)/n S/B + 2(n-1) latencies", "[net][simgrid]") {
  auto& sim = engine::Simulator::create(trainsim::test::h800_like_cluster(1));
  const double s = 1e9;
  const auto plan = parallel::ring_all_reduce(first_gpus(8), s);
  const auto timing = engine::run_plan(sim, plan);
  const double expected = 2.0 * 7 / 8 * s / 160e9 + 14 * sim.route_latency_s(0, 1);
  REQUIRE(timing.seconds == Approx(expected).epsilon(0.01));
  const auto load = engine::busiest_link(sim, plan, timing);
  REQUIRE(load.kind == EdgeKind::nvlink);
  REQUIRE(load.utilisation <= 1.0 + 1e-9);
}

TEST_CASE("ring all-reduce across 2 nodes is bounded by the NIC", "[net][simgrid]") {
  auto& sim = engine::Simulator::create(trainsim::test::h800_like_cluster(2));
  const double s = 1e9;
  const auto plan = parallel::ring_all_reduce(first_gpus(16), s);
  const auto timing = engine::run_plan(sim, plan);
  // Each phase ends with its cross-node transfers (7 → 8 and 15 → 0, PXN-forwarded).
  const double latency = std::max(sim.route_latency_s(7, 8), sim.route_latency_s(15, 0));
  const double expected = 2.0 * 15 / 16 * s / 40e9 + 30 * latency;
  REQUIRE(timing.seconds == Approx(expected).epsilon(0.01));
  const auto load = engine::busiest_link(sim, plan, timing);
  REQUIRE(is_nic(load.kind));
  REQUIRE(load.utilisation <= 1.0 + 1e-9);
}

TEST_CASE("hierarchical all-reduce across 2 nodes beats the flat ring", "[net][simgrid]") {
  auto& sim = engine::Simulator::create(trainsim::test::h800_like_cluster(2));
  const double s = 1e9;
  const auto hier = engine::run_plan(sim, parallel::hierarchical_all_reduce(first_gpus(16), 8, s));
  // NVLink RS + AG: 2·7/8·S at 160 GB/s; rails: 2·1/2·S/8 at 40 GB/s (plus latencies).
  const double bandwidth_time = 2.0 * 7 / 8 * s / 160e9 + 2.0 * 1 / 2 * s / 8 / 40e9;
  const double latency_time = 14 * sim.route_latency_s(0, 1) + 2 * sim.route_latency_s(0, 8);
  REQUIRE(hier.seconds == Approx(bandwidth_time + latency_time).epsilon(0.01));
}

TEST_CASE("EP8 dispatch inside one node is bounded by NVLink", "[net][simgrid]") {
  auto& sim = engine::Simulator::create(trainsim::test::h800_like_cluster(1));
  const double p = all_to_all_bytes_per_token(7168, Precision::fp8, AllToAllLeg::dispatch, 128);
  const auto plan = parallel::moe_dispatch(first_gpus(8), ep_routing(8), p);
  const auto timing = engine::run_plan(sim, plan);
  // Every GPU sends each of its 4096 tokens to the 7 other GPUs.
  REQUIRE(timing.seconds == Approx(7 * 4096 * p / 160e9 + sim.route_latency_s(0, 1)).epsilon(0.01));
  const auto load = engine::busiest_link(sim, plan, timing);
  REQUIRE(load.kind == EdgeKind::nvlink);
  REQUIRE(load.utilisation > 0.99);
  REQUIRE(load.utilisation <= 1.0 + 1e-9);
  const auto ports = engine::busiest_ports(sim, plan);
  REQUIRE(ports.nic_bytes == 0);
  REQUIRE(ports.nvlink_bytes == Approx(7 * 4096 * p));
}

TEST_CASE("EP64 dispatch across 8 nodes is bounded by the NICs", "[net][simgrid]") {
  auto& sim = engine::Simulator::create(trainsim::test::h800_like_cluster(8));
  const double p = all_to_all_bytes_per_token(7168, Precision::fp8, AllToAllLeg::dispatch, 128);
  const auto plan = parallel::moe_dispatch(first_gpus(64), ep_routing(64), p);
  const auto timing = engine::run_plan(sim, plan);
  // A GPU's NIC carries its tokens once to each of the 7 other nodes with probability 4/8.
  const double nic_bytes = 7 * 4096 * 0.5 * p;
  REQUIRE(timing.seconds == Approx(nic_bytes / 40e9 + sim.route_latency_s(0, 8)).epsilon(0.01));
  const auto load = engine::busiest_link(sim, plan, timing);
  REQUIRE(is_nic(load.kind));
  REQUIRE(load.utilisation > 0.99);
  REQUIRE(load.utilisation <= 1.0 + 1e-9);
  const auto ports = engine::busiest_ports(sim, plan);
  REQUIRE(ports.nic_bytes == Approx(nic_bytes));
  // NVLink: 7 own-node copies + 49 relayed, each T/8 tokens: 7T·p, at 4× the NIC rate.
  REQUIRE(ports.nvlink_bytes == Approx(7 * 4096 * p));
}

TEST_CASE("combine after dispatch: NIC-bound with the BF16 payload", "[net][simgrid]") {
  auto& sim = engine::Simulator::create(trainsim::test::h800_like_cluster(8));
  const double p = all_to_all_bytes_per_token(7168, Precision::bf16, AllToAllLeg::combine, 128);
  const auto plan = parallel::moe_combine(first_gpus(64), ep_routing(64), p);
  const auto timing = engine::run_plan(sim, plan);
  REQUIRE(timing.seconds == Approx(7 * 4096 * 0.5 * p / 40e9 + sim.route_latency_s(8, 0)).epsilon(0.01));
  REQUIRE(engine::busiest_link(sim, plan, timing).utilisation <= 1.0 + 1e-9);
}

TEST_CASE("trainsim net: EP64 all-to-all on multi-plane and single-plane fat-trees", "[net][cli]") {
  const std::string common = "net alltoall --ranks 64 --size 1GiB --set nodes=8";
  const auto multi = run_cli(common);
  const auto single = run_cli(common + " --set network.fabric=fat-tree --set network.planes=1");
  REQUIRE(multi["fabric"] == "multi-plane-fat-tree");
  REQUIRE(single["fabric"] == "fat-tree");
  // Both NIC-bound: every NIC carries 56 of the 64 shares of S per direction
  // (multi-plane: a node's 8 GPUs' traffic to one plane, forwarded over NVLink).
  const double s = 1024.0 * 1024 * 1024;
  const double nic_time = 56.0 / 64 * s / 40e9;
  const double tm = multi["time_s"].get<double>();
  const double ts = single["time_s"].get<double>();
  WARN("EP64 all-to-all, 1 GiB per rank: multi-plane " << tm * 1e3 << " ms, single-plane " << ts * 1e3 << " ms");
  REQUIRE(tm == Approx(nic_time).epsilon(0.01));
  REQUIRE(ts == Approx(nic_time).epsilon(0.01));
  REQUIRE(multi["bytes_sent"].get<double>() == multi["bytes_received"].get<double>());
  REQUIRE(multi["busiest_link"]["utilisation"].get<double>() <= 1.0 + 1e-9);
  REQUIRE(single["busiest_link"]["utilisation"].get<double>() <= 1.0 + 1e-9);
}

TEST_CASE("trainsim net dispatch reports DeepEP-style bandwidths", "[net][cli]") {
  const auto j = run_cli("net dispatch --ranks 16 --tokens 4096 --hidden 7168 --top-k 8 --max-nodes 4 --set nodes=2");
  const double p = 7168 + 56 * 4;
  REQUIRE(j["bytes_per_token"].get<double>() == p);
  // EP16 on 2 nodes, M = min(4, 2) = 2: every token reaches both nodes, so each NIC sends T·p.
  const double t = j["time_s"].get<double>();
  REQUIRE(j["rdma_GBps"].get<double>() == Approx(4096 * p / t / 1e9));
  REQUIRE(j["rdma_GBps"].get<double>() <= 40.0 * (1 + 1e-9));
  REQUIRE(j["bytes_sent"].get<double>() == j["bytes_received"].get<double>());
}

// One payload formula: `trainsim net` and the step program (cost model) send the
// same bytes per token copy for each leg and precision.
TEST_CASE("trainsim net dispatch and combine use the step program's bytes per token", "[net][cli]") {
  const std::string root = TRAINSIM_SOURCE_DIR;
  for (const std::string precision : {"bf16", "fp8"}) {
    const auto sets = parse_overrides({"training.precision.dispatch=" + precision,
                                       "training.precision.combine=" + precision});
    const WorkloadSpec w = load_workload(root + "/workloads/deepseek-v3.yaml", sets);
    const std::string common = " --ranks 16 --tokens 256 --set nodes=2";
    for (const std::string leg : {"dispatch", "combine"}) {
      INFO(leg << " " << precision);
      const double program = leg == "dispatch" ? dispatch_bytes_per_token_per_copy(w) : combine_bytes_per_token_per_copy(w);
      // From the flag, and from the workload's precision key.
      const auto flag = run_cli("net " + leg + common + " --" + leg + "-precision " + precision);
      const auto key = run_cli("net " + leg + common + " --set training.precision." + leg + "=" + precision);
      CHECK(flag["bytes_per_token"].get<double>() == program);
      CHECK(key["bytes_per_token"].get<double>() == program);
    }
  }
  // FP8 combine: hidden bytes, no scales (7,168 B for DeepSeek-V3, not the BF16 14,336 B).
  CHECK(run_cli("net combine --ranks 16 --tokens 256 --set nodes=2 --combine-precision fp8")["bytes_per_token"]
            .get<double>() == 7168);
}

TEST_CASE("trainsim net: an unknown collective, algorithm or routing kind is an input error", "[net][cli]") {
  const auto error = [](const std::string& args) {
    const auto r = trainsim::test::run_trainsim(args);
    INFO(args);
    CHECK(r.status == 2);
    return r.output;
  };
  CHECK(error("net allreduc") ==
        "collective: expected one of p2p, allreduce, reducescatter, allgather, alltoall, dispatch, combine, got "
        "\"allreduc\"; did you mean \"allreduce\"?\n");
  CHECK(error("net dispatch --routing zipff") ==
        "--routing: expected one of balanced, zipf, got \"zipff\"; did you mean \"zipf\"?\n");
  CHECK(error("net allgather --algorithm rign") ==
        "--algorithm: expected one of direct, ring, hierarchical, deepep-two-hop, got \"rign\"; did you mean "
        "\"ring\"?\n");
  CHECK(error("net alltoall --algorithm hierarchical") ==
        "--algorithm: hierarchical applies to allreduce, reducescatter and allgather\n");
  CHECK(error("check --set model.moe.routing=zip") ==
        "--set model.moe.routing=zip: model.moe.routing: expected one of balanced, zipf, got \"zip\"; did you mean "
        "\"zipf\"?\n");
}

TEST_CASE("trainsim net --list names every registered collective and routing kind", "[net][cli]") {
  const auto r = trainsim::test::run_trainsim("net --list");
  REQUIRE(r.status == 0);
  for (const auto& kind : parallel::collective_kinds()) {
    CHECK(r.output.find(kind.name) != std::string::npos);
    CHECK(r.output.find(kind.description) != std::string::npos);
  }
  for (const auto* kind : parallel::moe_routing_kinds()) CHECK(r.output.find(kind->description) != std::string::npos);
}

}  // namespace test_net
