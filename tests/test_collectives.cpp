// Pure tests of the collective plans and the MoE routing byte matrices (no SimGrid).
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <numeric>
#include <set>

#include "sim/config/error.hpp"
#include "sim/model/cost_model.hpp"
#include "sim/parallel/collective_registry.hpp"
#include "sim/parallel/collectives.hpp"
#include "sim/parallel/moe_routing.hpp"
#include "sim/parallel/moe_routing_registry.hpp"

namespace test_collectives {

using namespace trainsim;
using namespace trainsim::parallel;

namespace {

std::vector<int> first_gpus(int n) {
  std::vector<int> g(static_cast<std::size_t>(n));
  std::iota(g.begin(), g.end(), 0);
  return g;
}

double sum_values(const std::map<int, double>& m) {
  double s = 0;
  for (const auto& [k, v] : m) s += v;
  return s;
}

void require_sent_equals_received(const CollectivePlan& plan) {
  REQUIRE(sum_values(plan.bytes_sent_by_gpu()) == Approx(plan.total_bytes()));
  REQUIRE(sum_values(plan.bytes_received_by_gpu()) == Approx(plan.total_bytes()));
  for (const auto& phase : plan.phases)
    for (const auto& t : phase.transfers) REQUIRE(t.src_gpu != t.dst_gpu);
}

MoeRoutingParams ep_params(int ranks) {
  MoeRoutingParams p;
  p.ranks = ranks;
  p.ranks_per_node = 8;
  p.tokens = 4096;
  p.top_k = 8;
  p.experts = 256;
  p.max_nodes = 4;
  return p;
}

}  // namespace

TEST_CASE("ring all-reduce: 2(n-1) phases of n transfers of S/n", "[collectives]") {
  const auto plan = ring_all_reduce(first_gpus(8), 8e6);
  REQUIRE(plan.phases.size() == 14);
  for (const auto& phase : plan.phases) {
    REQUIRE(phase.transfers.size() == 8);
    for (const auto& t : phase.transfers) {
      REQUIRE(t.bytes == 1e6);
      REQUIRE(t.dst_gpu == (t.src_gpu + 1) % 8);
    }
  }
  REQUIRE(plan.bus_factor == Approx(2.0 * 7 / 8));
  REQUIRE(plan.total_bytes() == Approx(14 * 8 * 1e6));
  require_sent_equals_received(plan);
}

TEST_CASE("ring reduce-scatter and all-gather: n-1 phases, busbw factor (n-1)/n", "[collectives]") {
  for (const auto& plan : {ring_reduce_scatter(first_gpus(4), 4e6), ring_all_gather(first_gpus(4), 4e6)}) {
    REQUIRE(plan.phases.size() == 3);
    REQUIRE(plan.total_bytes() == Approx(3 * 4 * 1e6));
    REQUIRE(plan.bus_factor == Approx(0.75));
    require_sent_equals_received(plan);
  }
}

TEST_CASE("hierarchical all-reduce: NVLink RS, per-rail ring, NVLink AG", "[collectives]") {
  // 2 nodes x 4 GPUs, S = 8 MB: k = 4, m = 2.
  const double s = 8e6;
  const auto plan = hierarchical_all_reduce(first_gpus(8), 4, s);
  REQUIRE(plan.phases.size() == 3 + 2 + 3);
  // Intra-node phases stay inside a node; inter-node phases stay on one rail.
  for (std::size_t p = 0; p < plan.phases.size(); ++p) {
    const bool inter = p == 3 || p == 4;
    for (const auto& t : plan.phases[p].transfers) {
      if (inter) {
        REQUIRE(t.src_gpu % 4 == t.dst_gpu % 4);
        REQUIRE(t.src_gpu / 4 != t.dst_gpu / 4);
        REQUIRE(t.bytes == Approx(s / 4 / 2));
      } else {
        REQUIRE(t.src_gpu / 4 == t.dst_gpu / 4);
        REQUIRE(t.bytes == Approx(s / 4));
      }
    }
  }
  // Per GPU: 2(k-1)/k S over NVLink + 2(m-1)/m S/k over the rail.
  for (const auto& [gpu, sent] : plan.bytes_sent_by_gpu()) REQUIRE(sent == Approx(2.0 * 3 / 4 * s + 2.0 * 1 / 2 * s / 4));
  require_sent_equals_received(plan);
  REQUIRE_THROWS_AS(hierarchical_all_reduce({0, 1, 1}, 4, s), std::invalid_argument);
  REQUIRE_THROWS_AS(hierarchical_all_reduce(first_gpus(4), 0, s), std::invalid_argument);
}

namespace {

// Per member: bytes sent in phases [from, to) of a plan.
std::map<int, double> sent_in_phases(const CollectivePlan& plan, std::size_t from, std::size_t to) {
  std::map<int, double> sent;
  for (std::size_t p = from; p < to; ++p)
    for (const auto& t : plan.phases[p].transfers) sent[t.src_gpu] += t.bytes;
  return sent;
}

// The first `intra` phases stay inside a node, the rest cross nodes (node = gpu / 8), and
// there is one transfer per (source, destination) pair in a phase.
void require_intra_then_inter(const CollectivePlan& plan, std::size_t intra, std::size_t inter) {
  REQUIRE(plan.phases.size() == intra + inter);
  for (std::size_t p = 0; p < plan.phases.size(); ++p) {
    std::set<std::pair<int, int>> pairs;
    for (const auto& t : plan.phases[p].transfers) {
      INFO("phase " << p << ": " << t.src_gpu << " -> " << t.dst_gpu);
      CHECK((t.src_gpu / 8 == t.dst_gpu / 8) == (p < intra));
      CHECK(pairs.insert({t.src_gpu, t.dst_gpu}).second);
    }
  }
}

// The reduce-scatter's phases in reverse order: the all-gather's.
CollectivePlan reversed(CollectivePlan plan) {
  std::reverse(plan.phases.begin(), plan.phases.end());
  return plan;
}

}  // namespace

TEST_CASE("hierarchical reduce-scatter / all-gather: members grouped by the node they are on, 1, 3 and 4 per node",
          "[collectives]") {
  // Node 2 holds 16..19 (k=4), node 0 holds 3 (k=1), node 1 holds 9, 10, 12 (k=3); the group
  // lists them interleaved. n = 8, m = 3 nodes, S = 24 MB.
  const std::vector<int> group = {16, 3, 9, 17, 10, 18, 12, 19};
  const double s = 24e6;
  const auto rs = hierarchical_reduce_scatter(group, 8, s);
  // Hand count. NVLink reduce-scatter: k−1 phases of S/k per member: node 2 sends 3/4 S each,
  // node 1 2/3 S each, node 0 nothing; 3 phases (the largest node). Across nodes: 2 phases;
  // a member sends S/k − S/n: node 0 S − S/8 = 21 MB, node 1 S/3 − S/8 = 5 MB, node 2
  // S/4 − S/8 = 3 MB. Every member: (n−1)/n S = 21 MB in all; the plan: 8 × 21 = 168 MB.
  require_intra_then_inter(rs, 3, 2);
  const auto intra = sent_in_phases(rs, 0, 3);
  const auto inter = sent_in_phases(rs, 3, 5);
  for (int g : {16, 17, 18, 19}) {
    CHECK(intra.at(g) == Approx(18e6));
    CHECK(inter.at(g) == Approx(3e6));
  }
  for (int g : {9, 10, 12}) {
    CHECK(intra.at(g) == Approx(16e6));
    CHECK(inter.at(g) == Approx(5e6));
  }
  CHECK(intra.count(3) == 0);
  CHECK(inter.at(3) == Approx(21e6));
  CHECK(rs.total_bytes() == Approx(168e6));
  require_sent_equals_received(rs);
  // All-gather: inter-node first, then NVLink; every member receives all but its own S/n,
  // 21 MB (the chunks are uneven, so what a member sends depends on its ring neighbours).
  const auto ag = hierarchical_all_gather(group, 8, s);
  require_intra_then_inter(reversed(ag), 3, 2);
  for (const auto& [gpu, received] : ag.bytes_received_by_gpu()) CHECK(received == Approx(21e6));
  CHECK(ag.bytes_received_by_gpu().size() == 8);
  CHECK(ag.total_bytes() == Approx(168e6));
  // All-reduce: reduce-scatter then all-gather, 2 × 168 MB.
  const auto ar = hierarchical_all_reduce(group, 8, s);
  REQUIRE(ar.phases.size() == 3 + 4 + 3);
  CHECK(ar.total_bytes() == Approx(336e6));
  require_sent_equals_received(ar);
  // A group smaller than a node: the NVLink ring alone.
  const auto small = hierarchical_reduce_scatter({9, 10, 12}, 8, s);
  CHECK(small.phases.size() == 2);
  CHECK(small.total_bytes() == Approx(3 * 2 * s / 3));
}

TEST_CASE("hierarchical reduce-scatter / all-gather over a tp-2 DP group: every second GPU, 4 per node",
          "[collectives]") {
  // tp 2, dp 16: the DP group of tp index 0 is GPUs 0, 2, …, 30: 4 nodes (8 GPUs each) of k = 4
  // members, m = 4. Hand count per member: NVLink 3 phases of S/4 = 3/4 S = 12 MB; rails
  // 3 phases of S/16 = 3/16 S = 3 MB; in all 15/16 S = 15 MB, the plan 16 × 15 = 240 MB.
  std::vector<int> group;
  for (int gpu = 0; gpu < 32; gpu += 2) group.push_back(gpu);
  const double s = 16e6;
  for (const auto& plan : {hierarchical_reduce_scatter(group, 8, s), reversed(hierarchical_all_gather(group, 8, s))}) {
    INFO(plan.name);
    require_intra_then_inter(plan, 3, 3);
    const auto intra = sent_in_phases(plan, 0, 3);
    const auto inter = sent_in_phases(plan, 3, 6);
    REQUIRE(intra.size() == 16);
    for (int g : group) {
      CHECK(intra.at(g) == Approx(12e6));
      CHECK(inter.at(g) == Approx(3e6));
    }
    CHECK(plan.total_bytes() == Approx(240e6));
    // Rails: a member talks across nodes only to the member with its own in-node index.
    for (std::size_t p = 3; p < 6; ++p)
      for (const auto& t : plan.phases[p].transfers) CHECK(t.src_gpu % 8 == t.dst_gpu % 8);
  }
}

TEST_CASE("hierarchical collectives over whole nodes: the plan of before, transfer for transfer", "[collectives]") {
  // 16 consecutive GPUs, 2 nodes of 8: 7 NVLink ring phases of S/8 in each node, then the
  // 8 rails (i, 8 + i) with 1 phase of S/16 (reduce-scatter) or 2 (all-reduce).
  const double s = 16e6;
  const auto nvlink = [&](std::vector<TransferPhase>& phases) {
    for (int step = 0; step < 7; ++step) {
      TransferPhase phase;
      for (int node = 0; node < 2; ++node)
        for (int i = 0; i < 8; ++i) phase.transfers.push_back({node * 8 + i, node * 8 + (i + 1) % 8, s / 8});
      phases.push_back(phase);
    }
  };
  const auto rails = [&](std::vector<TransferPhase>& phases, int steps) {
    for (int step = 0; step < steps; ++step) {
      TransferPhase phase;
      for (int i = 0; i < 8; ++i) {
        phase.transfers.push_back({i, 8 + i, s / 8 / 2});
        phase.transfers.push_back({8 + i, i, s / 8 / 2});
      }
      phases.push_back(phase);
    }
  };
  const auto same = [](const CollectivePlan& plan, const std::vector<TransferPhase>& expected) {
    INFO(plan.name);
    REQUIRE(plan.phases.size() == expected.size());
    for (std::size_t p = 0; p < expected.size(); ++p) {
      REQUIRE(plan.phases[p].transfers.size() == expected[p].transfers.size());
      for (std::size_t t = 0; t < expected[p].transfers.size(); ++t) {
        CHECK(plan.phases[p].transfers[t].src_gpu == expected[p].transfers[t].src_gpu);
        CHECK(plan.phases[p].transfers[t].dst_gpu == expected[p].transfers[t].dst_gpu);
        CHECK(plan.phases[p].transfers[t].bytes == expected[p].transfers[t].bytes);  // exact, as before
      }
    }
  };
  std::vector<TransferPhase> rs, ag, ar;
  nvlink(rs);
  rails(rs, 1);
  rails(ag, 1);
  nvlink(ag);
  nvlink(ar);
  rails(ar, 2);
  nvlink(ar);
  same(hierarchical_reduce_scatter(first_gpus(16), 8, s), rs);
  same(hierarchical_all_gather(first_gpus(16), 8, s), ag);
  same(hierarchical_all_reduce(first_gpus(16), 8, s), ar);
}

TEST_CASE("direct all-to-all: one phase, n(n-1) transfers of S/n", "[collectives]") {
  const auto plan = direct_all_to_all(first_gpus(4), 4e6);
  REQUIRE(plan.phases.size() == 1);
  REQUIRE(plan.phases[0].transfers.size() == 12);
  REQUIRE(plan.total_bytes() == Approx(12e6));
  require_sent_equals_received(plan);
}

TEST_CASE("side by side groups share phases", "[collectives]") {
  const auto a = ring_all_reduce({0, 1, 2, 3}, 4e6);
  const auto b = ring_all_reduce({4, 5, 6, 7}, 4e6);
  const auto both = side_by_side({a, b});
  REQUIRE(both.phases.size() == a.phases.size());
  REQUIRE(both.phases[0].transfers.size() == 8);
  REQUIRE(both.payload_bytes == a.payload_bytes);
}

TEST_CASE("payload bytes per token: FP8 with one FP32 scale per 128 channels, BF16 combine", "[moe]") {
  REQUIRE(all_to_all_bytes_per_token(7168, Precision::fp8, AllToAllLeg::dispatch, 128) == 7168 + 56 * 4);
  REQUIRE(all_to_all_bytes_per_token(7168, Precision::bf16, AllToAllLeg::dispatch, 128) == 7168 * 2);
  REQUIRE(all_to_all_bytes_per_token(7168, Precision::bf16, AllToAllLeg::combine, 128) == 7168 * 2);
  REQUIRE(all_to_all_bytes_per_token(7168, Precision::fp8, AllToAllLeg::combine, 128) == 7168);
}

TEST_CASE("balanced routing: closed-form expected token counts", "[moe]") {
  // EP64 = 8 nodes of 8, M = 4, top-8: a node is chosen with probability 4/8; a chosen
  // node gets 2 experts on 2 of its 8 GPUs, so a rank is hit with probability 1/2 · 2/8.
  const auto r = route_tokens(ep_params(64));
  for (int s = 0; s < 64; ++s) {
    for (int b = 0; b < 8; ++b) REQUIRE(r.to_node(s, b) == Approx(4096 * 0.5));
    for (int d = 0; d < 64; ++d) REQUIRE(r.to_rank(s, d) == Approx(4096 * 0.5 * 0.25));
  }
  // Expert work: every rank computes T·k (token, expert) pairs (its share k/64 of each source's T·k).
  for (double pairs : r.expert_tokens) REQUIRE(pairs == Approx(4096.0 * 8));
  // EP8 (one node): every token reaches every GPU of the node once (8 experts on 8 GPUs).
  const auto one = route_tokens(ep_params(8));
  REQUIRE(one.to_rank(0, 5) == Approx(4096));
  REQUIRE(one.to_node(0, 0) == Approx(4096));
}

TEST_CASE("balanced dispatch: every rank sends and receives the same, two-hop sizes", "[moe]") {
  const auto r = route_tokens(ep_params(64));
  const double p = all_to_all_bytes_per_token(7168, Precision::fp8, AllToAllLeg::dispatch, 128);
  const auto plan = moe_dispatch(first_gpus(64), r, p);
  REQUIRE(plan.phases.size() == 1);
  const auto sent = plan.bytes_sent_by_gpu();
  const auto received = plan.bytes_received_by_gpu();
  REQUIRE(sent.size() == 64);
  REQUIRE(received.size() == 64);
  // Per GPU: IB 7 nodes × T/2; NVLink own node 7 × T/8 + relay 7 sources × 7 GPUs × T/8.
  const double t = 4096;
  const double expected = (7 * t / 2 + 7 * t / 8 + 49 * t / 8) * p;
  for (const auto& [gpu, b] : sent) REQUIRE(b == Approx(expected));
  for (const auto& [gpu, b] : received) REQUIRE(b == Approx(expected));
  // IB legs go to the same in-node index; one transfer per GPU pair.
  std::set<std::pair<int, int>> pairs;
  for (const auto& tr : plan.phases[0].transfers) {
    if (tr.src_gpu / 8 != tr.dst_gpu / 8) REQUIRE(tr.src_gpu % 8 == tr.dst_gpu % 8);
    REQUIRE(pairs.insert({tr.src_gpu, tr.dst_gpu}).second);
  }
  require_sent_equals_received(plan);
}

TEST_CASE("combine is the exact reverse of dispatch", "[moe]") {
  const auto r = route_tokens(ep_params(16));
  const auto d = moe_dispatch(first_gpus(16), r, 100);
  const auto c = moe_combine(first_gpus(16), r, 100);
  REQUIRE(c.phases[0].transfers.size() == d.phases[0].transfers.size());
  REQUIRE(c.bytes_sent_by_gpu() == d.bytes_received_by_gpu());
  REQUIRE(c.bytes_received_by_gpu() == d.bytes_sent_by_gpu());
}

TEST_CASE("zipf routing: node-limited, seeded, imbalanced", "[moe]") {
  auto p = ep_params(64);
  p.tokens = 256;
  p.max_nodes = 2;
  p.routing = "zipf";
  p.zipf_exponent = 1.2;
  p.seed = 7;
  const auto r = route_tokens(p);
  for (int s = 0; s < 64; ++s) {
    REQUIRE(r.max_nodes_reached[static_cast<std::size_t>(s)] <= 2);
    REQUIRE(r.max_nodes_reached[static_cast<std::size_t>(s)] >= 1);
    double nodes_reached = 0;
    double ranks_reached = 0;
    for (int b = 0; b < 8; ++b) nodes_reached += r.to_node(s, b);
    for (int d = 0; d < 64; ++d) ranks_reached += r.to_rank(s, d);
    REQUIRE(nodes_reached <= 2 * 256);
    REQUIRE(ranks_reached <= 8 * 256);
    REQUIRE(ranks_reached >= nodes_reached);  // every reached node has at least one reached rank
  }
  // Same seed, same routing; the hottest rank receives more than the coldest.
  const auto again = route_tokens(p);
  REQUIRE(again.tokens_to_rank == r.tokens_to_rank);
  const auto plan = moe_dispatch(first_gpus(64), r, 1);
  const auto received = plan.bytes_received_by_gpu();
  double lo = 1e300, hi = 0;
  for (int d = 0; d < 64; ++d) {
    double in = 0;
    for (int s = 0; s < 64; ++s)
      if (s != d) in += r.to_rank(s, d);
    lo = std::min(lo, in);
    hi = std::max(hi, in);
  }
  REQUIRE(hi > 1.5 * lo);
  require_sent_equals_received(plan);
  // Every token's top-8 experts are computed somewhere: 64 sources × 256 tokens × 8 pairs in all.
  double pairs = 0;
  for (double x : r.expert_tokens) pairs += x;
  REQUIRE(pairs == 64.0 * 256 * 8);
}

TEST_CASE("routing rejects experts not divisible by the EP size", "[moe]") {
  auto p = ep_params(64);
  p.experts = 100;
  REQUIRE_THROWS_AS(route_tokens(p), std::invalid_argument);
}

TEST_CASE("every registered collective builds a plan in each of its algorithms", "[collectives]") {
  const auto group = first_gpus(16);
  const MoeRouting routing = route_tokens(ep_params(16));
  for (const CollectiveKind& kind : collective_kinds()) {
    CHECK(collective_algorithm(kind, "", {}) == kind.algorithms.front());
    for (const auto& algorithm : kind.algorithms) {
      INFO(kind.name << " " << algorithm);
      const CollectiveRequest request{algorithm, 8, 1e9, kind.routed ? &routing : nullptr, 7168};
      const CollectivePlan plan = kind.plan(group, request);
      CHECK(plan.total_bytes() > 0);
      require_sent_equals_received(plan);
    }
  }
  // The registry runs the plan functions as they are.
  const CollectivePlan hier = collective_named("allreduce", {}).plan(group, {"hierarchical", 8, 1e9, nullptr, 0});
  CHECK(hier.total_bytes() == hierarchical_all_reduce(group, 8, 1e9).total_bytes());
  CHECK(hier.phases.size() == hierarchical_all_reduce(group, 8, 1e9).phases.size());
  CHECK_THROWS_AS(collective_named("allreduc", {"collective", 0, 0}), InputError);
}

TEST_CASE("every registered routing kind routes every token to top_k experts", "[moe]") {
  for (const MoeRoutingKind* kind : moe_routing_kinds()) {
    INFO(kind->name);
    auto p = ep_params(16);
    p.tokens = 64;
    p.routing = kind->name;
    p.zipf_exponent = 1.0;
    const auto r = route_tokens(p);
    const double pairs = std::accumulate(r.expert_tokens.begin(), r.expert_tokens.end(), 0.0);
    CHECK(pairs == Approx(16.0 * 64 * 8));
  }
  auto p = ep_params(16);
  p.routing = "zip";
  CHECK_THROWS_AS(route_tokens(p), std::invalid_argument);
}

TEST_CASE("model.moe.routing: unknown kinds and a misplaced zipf_exponent are located errors", "[moe][config]") {
  WorkloadSpec w;
  w.source_file = "w.yaml";
  w.model.moe = MoeSpec{};
  w.marks["model.moe"] = SourceMark{"w.yaml", 11, 3};
  w.marks["model.moe.routing"] = SourceMark{"w.yaml", 18, 14};
  w.marks["model.moe.zipf_exponent"] = SourceMark{"w.yaml", 19, 5};
  const auto message = [&w] {
    try {
      check_moe_routing(w);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(message() == "no error");  // balanced, no exponent
  w.model.moe->routing = "zip";
  CHECK(message() == "w.yaml:18:14: model.moe.routing: expected one of balanced, zipf, got \"zip\"; did you mean "
                     "\"zipf\"?");
  w.model.moe->routing = "zipf";
  CHECK(message() == "w.yaml:11:3: missing key \"zipf_exponent\" in model.moe");
  w.model.moe->zipf_exponent = 1.0;
  CHECK(message() == "no error");
  w.model.moe->routing = "balanced";
  CHECK(message() == "w.yaml:19:5: model.moe.zipf_exponent: applies only to routing: zipf");
  w.model.moe.reset();  // dense model: nothing to check
  CHECK(message() == "no error");
}

}  // namespace test_collectives
