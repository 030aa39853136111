// Cluster graph: ISCA'25 Table 3 counts, closed forms against graph search
// (BFS diameter, max-flow bisection), deterministic routes.
#include <boost/graph/breadth_first_search.hpp>
#include <boost/graph/push_relabel_max_flow.hpp>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "sim/topology/cluster_graph.hpp"
#include "sim/topology/fabric_registry.hpp"
#include "sim/topology/topology_output.hpp"
#include "tests/support.hpp"

namespace test_topology {

using namespace trainsim;

namespace {

// Test clusters. Bandwidths are round test values (50 and 200 GB/s), not data.
ClusterSpec make_spec(const std::string& fabric, int nodes, int gpus_per_node, int radix, int planes = 1,
                      double oversubscription = 1) {
  ClusterSpec s;
  s.name = "test";
  s.nodes = nodes;
  s.node.gpus = gpus_per_node;
  s.node.nvlink_bytes_per_s = 200e9;
  s.node.nvlink_latency_s = 1e-6;
  s.network.fabric = fabric;
  s.network.planes = planes;
  s.network.nic_bytes_per_s = 50e9;
  s.network.switch_radix = radix;
  s.network.oversubscription = oversubscription;
  s.network.link_latency_s = 5e-7;
  s.network.switch_latency_s = 3e-7;
  return s;
}

std::map<EdgeKind, int> count_edges(const ClusterGraph& g) {
  std::map<EdgeKind, int> n;
  for (EdgeId e = 0; e < g.edges.size(); ++e) ++n[g.edge(e).kind];
  return n;
}

std::map<VertexKind, int> count_vertices(const ClusterGraph& g) {
  std::map<VertexKind, int> n;
  for (VertexId v = 0; v < boost::num_vertices(g.graph); ++v) ++n[g.vertex(v).kind];
  return n;
}

// Max over GPU pairs of the BFS distance; also returns all GPU-to-GPU distances.
int bfs_diameter(const ClusterGraph& g, std::vector<std::vector<int>>* distances = nullptr) {
  int diameter = 0;
  const std::size_t n = boost::num_vertices(g.graph);
  for (int src = 0; src < g.num_gpus(); ++src) {
    std::vector<int> dist(n, 0);
    boost::breadth_first_search(
        g.graph, g.gpu_vertex[src],
        boost::visitor(boost::make_bfs_visitor(boost::record_distances(dist.data(), boost::on_tree_edge()))));
    std::vector<int> row;
    for (int dst = 0; dst < g.num_gpus(); ++dst) {
      diameter = std::max(diameter, dist[g.gpu_vertex[dst]]);
      row.push_back(dist[g.gpu_vertex[dst]]);
    }
    if (distances) distances->push_back(std::move(row));
  }
  return diameter;
}

// Max flow per direction from the GPUs of the first half of the nodes to the
// rest, every undirected edge a pair of opposite arcs of its bandwidth.
double max_flow_bisection(const ClusterGraph& g) {
  using Traits = boost::adjacency_list_traits<boost::vecS, boost::vecS, boost::directedS>;
  using FlowGraph = boost::adjacency_list<
      boost::vecS, boost::vecS, boost::directedS, boost::no_property,
      boost::property<boost::edge_capacity_t, long long,
                      boost::property<boost::edge_residual_capacity_t, long long,
                                      boost::property<boost::edge_reverse_t, Traits::edge_descriptor>>>>;
  const std::size_t n = boost::num_vertices(g.graph);
  FlowGraph f(n + 2);
  const auto source = static_cast<Traits::vertex_descriptor>(n);
  const auto sink = static_cast<Traits::vertex_descriptor>(n + 1);
  auto capacity = boost::get(boost::edge_capacity, f);
  auto reverse = boost::get(boost::edge_reverse, f);
  const auto arc = [&](std::size_t a, std::size_t b, long long cap) {
    auto e1 = boost::add_edge(a, b, f).first;
    auto e2 = boost::add_edge(b, a, f).first;
    capacity[e1] = cap;
    capacity[e2] = 0;
    reverse[e1] = e2;
    reverse[e2] = e1;
  };
  const long long unit = 1'000'000'000;  // capacities in GB/s, integral for the test values
  for (EdgeId e = 0; e < g.edges.size(); ++e) {
    const long long cap = std::llround(g.edge(e).bandwidth_bytes_per_s / static_cast<double>(unit));
    arc(g.edge_source(e), g.edge_target(e), cap);
    arc(g.edge_target(e), g.edge_source(e), cap);
  }
  const long long infinite = 1'000'000'000'000LL;
  for (int rank = 0; rank < g.num_gpus(); ++rank) {
    if (rank / g.gpus_per_node < g.nodes / 2)
      arc(source, g.gpu_vertex[rank], infinite);
    else
      arc(g.gpu_vertex[rank], sink, infinite);
  }
  return static_cast<double>(boost::push_relabel_max_flow(f, source, sink)) * static_cast<double>(unit);
}

// A route must be a walk over real edges from src's GPU to dst's GPU.
void check_walk(const ClusterGraph& g, int src, int dst, const std::vector<Hop>& hops) {
  REQUIRE(!hops.empty());
  CHECK(hops.front().from == g.gpu_vertex[src]);
  CHECK(hops.back().to == g.gpu_vertex[dst]);
  for (std::size_t i = 0; i < hops.size(); ++i) {
    const VertexId a = g.edge_source(hops[i].edge);
    const VertexId b = g.edge_target(hops[i].edge);
    CHECK(((a == hops[i].from && b == hops[i].to) || (b == hops[i].from && a == hops[i].to)));
    if (i + 1 < hops.size()) CHECK(hops[i].to == hops[i + 1].from);
  }
}

std::vector<std::string> route_names(const ClusterGraph& g, int src, int dst) {
  const auto hops = route(g, src, dst);
  check_walk(g, src, dst, hops);
  std::vector<std::string> names{g.vertex(hops.front().from).name};
  for (const Hop& h : hops) names.push_back(g.vertex(h.to).name);
  return names;
}

using trainsim::test::run_trainsim;

std::vector<ClusterSpec> small_instances() {
  return {
      make_spec("fat-tree", 8, 4, 8),                        // L=8, S=4
      make_spec("fat-tree", 8, 4, 8, 1, 2),                  // u=2: 2:1 oversubscribed
      make_spec("fat-tree", 2, 4, 8),                        // one leaf
      make_spec("fat-tree", 6, 2, 8),                        // 12 endpoints, L=3 (odd), S=2
      make_spec("fat-tree", 5, 4, 8),                        // L=5, S=3 does not divide u=4
      make_spec("fat-tree", 6, 4, 10),                       // d=5: nodes straddle leaves; S=3, u=5
      make_spec("fat-tree", 7, 4, 10, 1, 2),                 // d=5, u=3, oversubscribed, odd nodes
      make_spec("multi-plane-fat-tree", 8, 4, 8, 2),         // 2 planes, L=4, S=2
      make_spec("multi-plane-fat-tree", 16, 4, 8, 4),        // 4 planes, L=4, S=2
      make_spec("multi-plane-fat-tree", 4, 4, 8, 4),         // 4 planes, one leaf each
      make_spec("multi-plane-fat-tree", 8, 4, 8, 2, 2),      // planes and oversubscription
      make_spec("rail-optimized", 8, 4, 8),                  // 4 rails x 2 leaves, S=4
      make_spec("rail-optimized", 4, 2, 8, 1, 2),            // 2 rails x 1 leaf, u=2
      make_spec("clos3", 8, 2, 4),                           // full k=4 fat-tree: 4 pods, 4 cores
      make_spec("clos3", 8, 2, 4, 1, 2),                     // aggregation 2:1
      make_spec("clos3", 16, 4, 8),                          // radix 8: 16 leaves, 4 pods
      make_spec("clos3", 10, 4, 8),                          // partial third pod, 2 cores per group
      make_spec("clos3", 10, 4, 8, 1, 3),                    // aggregation up ceil(4/3)=2
  };
}

}  // namespace

TEST_CASE("topology: ISCA'25 Table 3 counts (Links = switch-to-switch cables)", "[topology]") {
  // Table 3: FT2 2,048 endpoints / 96 switches / 2,048 links; MPFT 16,384 / 768 /
  // 16,384; FT3 65,536 / 5,120 / 131,072. Endpoint cables equal the switch-to-switch
  // cables in FT2 and MPFT, but FT3 (65,536 endpoints, 131,072 links) settles it:
  // "Links" counts switch-to-switch cables only.
  SECTION("FT2: one two-layer fat-tree of 64-port switches") {
    const ClusterSpec spec = make_spec("fat-tree", 256, 8, 64);
    const ClusterGraph g = build_cluster_graph(spec);
    const TopologyFacts f = topology_facts(g, spec);
    CHECK(f.gpus == 2048);
    CHECK(f.leaf_switches == 64);
    CHECK(f.spine_switches == 32);
    CHECK(f.fabric_switches == 96);
    CHECK(f.switch_links == 2048);
    CHECK(f.nic_links == 2048);
    auto edges = count_edges(g);
    CHECK(edges[EdgeKind::leaf_up] + edges[EdgeKind::spine_up] == 2048);
    auto vertices = count_vertices(g);
    CHECK(vertices[VertexKind::leaf] + vertices[VertexKind::spine] + vertices[VertexKind::core] == 96);
  }
  SECTION("MPFT: 8 planes of FT2 at 16,384 GPUs") {
    const ClusterSpec spec = make_spec("multi-plane-fat-tree", 2048, 8, 64, 8);
    const ClusterGraph g = build_cluster_graph(spec);
    const TopologyFacts f = topology_facts(g, spec);
    CHECK(f.gpus == 16384);
    CHECK(f.fabric_switches == 768);
    CHECK(f.switch_links == 16384);
    auto edges = count_edges(g);
    CHECK(edges[EdgeKind::leaf_up] == 16384);
    CHECK(edges[EdgeKind::spine_up] == 0);
    auto vertices = count_vertices(g);
    CHECK(vertices[VertexKind::leaf] == 8 * 64);
    CHECK(vertices[VertexKind::spine] == 8 * 32);
  }
  SECTION("FT3: three-layer fat-tree of 64-port switches, 65,536 endpoints") {
    const ClusterSpec spec = make_spec("clos3", 8192, 8, 64);
    const ClusterGraph g = build_cluster_graph(spec);
    const TopologyFacts f = topology_facts(g, spec);
    CHECK(f.gpus == 65536);
    CHECK(f.leaf_switches == 2048);
    CHECK(f.spine_switches == 2048);
    CHECK(f.core_switches == 1024);
    CHECK(f.fabric_switches == 5120);
    CHECK(f.switch_links == 131072);
    auto edges = count_edges(g);
    CHECK(edges[EdgeKind::leaf_up] == 65536);
    CHECK(edges[EdgeKind::spine_up] == 65536);
  }
}

TEST_CASE("topology: h800-2048 multi-plane fat-tree has 96 switches", "[topology]") {
  const ClusterSpec spec = make_spec("multi-plane-fat-tree", 256, 8, 64, 8);
  const ClusterGraph g = build_cluster_graph(spec);
  const TopologyFacts f = topology_facts(g, spec);
  CHECK(f.leaf_switches == 64);   // 8 planes x 256 endpoints / 32
  CHECK(f.spine_switches == 32);  // 8 planes x 8 leaves / 2
  CHECK(f.fabric_switches == 96);
  CHECK(f.switch_links == 2048);
  CHECK(f.diameter_hops == 8);    // cross-plane, cross-leaf: NVLink hop + 6
  CHECK(f.bisection_bytes_per_s == 1024 * 50e9);
  CHECK(boost::num_vertices(g.graph) == 2048 * 2 + 256 + 96);
  CHECK(boost::num_edges(g.graph) == 2048 * 3 + 2048);
}

TEST_CASE("topology: capacity limits throw invalid_argument", "[topology]") {
  // Two layers of radix 64 hold 64 * 32 = 2048 endpoints per plane.
  CHECK_NOTHROW(build_cluster_graph(make_spec("fat-tree", 256, 8, 64)));
  CHECK_THROWS_AS(build_cluster_graph(make_spec("fat-tree", 257, 8, 64)), std::invalid_argument);
  CHECK_NOTHROW(build_cluster_graph(make_spec("multi-plane-fat-tree", 2048, 8, 64, 8)));
  CHECK_THROWS_AS(build_cluster_graph(make_spec("multi-plane-fat-tree", 2049, 8, 64, 8)),
                  std::invalid_argument);
  CHECK_THROWS_AS(build_cluster_graph(make_spec("multi-plane-fat-tree", 16, 8, 64, 3)),
                  std::invalid_argument);  // 3 planes do not divide 8 GPUs
  // clos3 of radix 4 holds 4^3/4 = 16 endpoints.
  CHECK_NOTHROW(build_cluster_graph(make_spec("clos3", 8, 2, 4)));
  CHECK_THROWS_AS(build_cluster_graph(make_spec("clos3", 9, 2, 4)), std::invalid_argument);
  CHECK_THROWS_AS(build_cluster_graph(make_spec("fat-tree", 4, 8, 7)), std::invalid_argument);
}

TEST_CASE("topology: oversubscription shrinks the spine layer", "[topology]") {
  // radix 64, 2:1: 32 down, 16 up per leaf; 2048 endpoints → 64 leaves, 16 spines.
  const ClusterSpec spec = make_spec("fat-tree", 256, 8, 64, 1, 2);
  const ClusterGraph g = build_cluster_graph(spec);
  const TopologyFacts f = topology_facts(g, spec);
  CHECK(f.leaf_switches == 64);
  CHECK(f.spine_switches == 16);
  CHECK(f.switch_links == 1024);
  CHECK(f.bisection_bytes_per_s == 512 * 50e9);
}

TEST_CASE("topology: diameter closed form equals BFS, routes are shortest paths", "[topology]") {
  for (const ClusterSpec& spec : small_instances()) {
    INFO(spec.network.fabric << " nodes=" << spec.nodes << " gpus=" << spec.node.gpus
                                        << " radix=" << spec.network.switch_radix << " planes=" << spec.network.planes
                                        << " oversub=" << spec.network.oversubscription);
    const ClusterGraph g = build_cluster_graph(spec);
    std::vector<std::vector<int>> dist;
    const int bfs = bfs_diameter(g, &dist);
    CHECK(topology_facts(g, spec).diameter_hops == bfs);
    for (int src = 0; src < g.num_gpus(); ++src) {
      for (int dst = 0; dst < g.num_gpus(); ++dst) {
        const auto hops = route(g, src, dst);
        if (src == dst) {
          CHECK(hops.empty());
          continue;
        }
        check_walk(g, src, dst, hops);
        CHECK(static_cast<int>(hops.size()) == dist[src][dst]);
      }
    }
  }
}

TEST_CASE("topology: bisection closed form equals max-flow", "[topology]") {
  for (const ClusterSpec& spec : small_instances()) {
    INFO(spec.network.fabric << " nodes=" << spec.nodes << " gpus=" << spec.node.gpus
                                        << " radix=" << spec.network.switch_radix << " planes=" << spec.network.planes
                                        << " oversub=" << spec.network.oversubscription);
    const ClusterGraph g = build_cluster_graph(spec);
    CHECK(topology_facts(g, spec).bisection_bytes_per_s == max_flow_bisection(g));
  }
  // Pinned values (cables of 50 GB/s crossing between the halves).
  const auto bisection = [](const ClusterSpec& spec) {
    return topology_facts(build_cluster_graph(spec), spec).bisection_bytes_per_s / 50e9;
  };
  CHECK(bisection(make_spec("fat-tree", 8, 4, 8)) == 16);        // full: 32 / 2
  CHECK(bisection(make_spec("fat-tree", 8, 4, 8, 1, 2)) == 8);   // 4 leaves x 2 uplinks
  CHECK(bisection(make_spec("clos3", 8, 2, 4)) == 8);            // full: 16 / 2
  CHECK(bisection(make_spec("clos3", 8, 2, 4, 1, 2)) == 4);      // 2 pods x 2 aggs x 1 uplink
}

TEST_CASE("topology: route hop sequences on h800-2048", "[topology]") {
  const ClusterSpec spec = make_spec("multi-plane-fat-tree", 256, 8, 64, 8);
  const ClusterGraph g = build_cluster_graph(spec);
  using V = std::vector<std::string>;
  // Same node: NVLink through the NVSwitch.
  CHECK(route_names(g, 0, 5) == V{"gpu-n0-g0", "nvswitch-n0", "gpu-n0-g5"});
  // Same plane, same leaf (nodes 0..31 share plane-0 leaf 0).
  CHECK(route_names(g, 0, 8) == V{"gpu-n0-g0", "nic-n0-g0", "p0-leaf-0", "nic-n1-g0", "gpu-n1-g0"});
  // Same plane, across leaves: D-mod-k uplink = destination endpoint mod 32;
  // cable j of leaf l goes to spine (32 l + j) mod 4.
  CHECK(route_names(g, 0, 32 * 8) ==
        V{"gpu-n0-g0", "nic-n0-g0", "p0-leaf-0", "p0-spine-0", "p0-leaf-1", "nic-n32-g0", "gpu-n32-g0"});
  CHECK(route_names(g, 0, 33 * 8) ==
        V{"gpu-n0-g0", "nic-n0-g0", "p0-leaf-0", "p0-spine-1", "p0-leaf-1", "nic-n33-g0", "gpu-n33-g0"});
  CHECK(route_names(g, 0, 255 * 8) ==
        V{"gpu-n0-g0", "nic-n0-g0", "p0-leaf-0", "p0-spine-3", "p0-leaf-7", "nic-n255-g0", "gpu-n255-g0"});
  // Cross-plane: PXN over NVLink to the source node's GPU 3, then plane 3.
  CHECK(route_names(g, 0, 32 * 8 + 3) == V{"gpu-n0-g0", "nvswitch-n0", "gpu-n0-g3", "nic-n0-g3", "p3-leaf-0",
                                           "p3-spine-0", "p3-leaf-1", "nic-n32-g3", "gpu-n32-g3"});
  CHECK(route_names(g, 0, 1 * 8 + 3) ==
        V{"gpu-n0-g0", "nvswitch-n0", "gpu-n0-g3", "nic-n0-g3", "p3-leaf-0", "nic-n1-g3", "gpu-n1-g3"});
  // Link kinds along a cross-leaf route, and it is deterministic.
  std::vector<EdgeKind> kinds;
  for (EdgeId e : route_edges(g, 0, 32 * 8)) kinds.push_back(g.edge(e).kind);
  CHECK(kinds == std::vector<EdgeKind>{EdgeKind::nic_attach, EdgeKind::nic_link, EdgeKind::leaf_up, EdgeKind::leaf_up,
                                       EdgeKind::nic_link, EdgeKind::nic_attach});
  CHECK(route_edges(g, 17, 1234) == route_edges(g, 17, 1234));
}

TEST_CASE("topology: clos3 and rail-optimized routes", "[topology]") {
  using V = std::vector<std::string>;
  {
    const ClusterSpec spec = make_spec("clos3", 8, 2, 4);  // k=4 fat-tree, 2 endpoints per leaf
    const ClusterGraph g = build_cluster_graph(spec);
    // Ranks 0,1 on leaf 0 and 2,3 on leaf 1 (pod 0); 4.. in pod 1.
    CHECK(route_names(g, 0, 2) == V{"gpu-n0-g0", "nic-n0-g0", "pod0-leaf-0", "pod0-agg-0", "pod0-leaf-1",
                                    "nic-n1-g0", "gpu-n1-g0"});
    // Across pods: agg = dst mod 2 = 1; core group 1, port (5/2) mod 2 = 0 → core (0*2+0) mod 2 = 0.
    CHECK(route_names(g, 0, 5) == V{"gpu-n0-g0", "nic-n0-g0", "pod0-leaf-0", "pod0-agg-1", "core-1-0",
                                    "pod1-agg-1", "pod1-leaf-0", "nic-n2-g1", "gpu-n2-g1"});
  }
  {
    const ClusterSpec spec = make_spec("rail-optimized", 8, 4, 8);  // 4 rails x 2 leaves
    const ClusterGraph g = build_cluster_graph(spec);
    // Same rail, same leaf: node 0 and node 3 (4 nodes per rail leaf).
    CHECK(route_names(g, 0, 3 * 4) == V{"gpu-n0-g0", "nic-n0-g0", "rail0-leaf-0", "nic-n3-g0", "gpu-n3-g0"});
    // Across rails on different nodes: through the shared spine, no NVLink.
    const auto names = route_names(g, 0, 5 * 4 + 2);
    REQUIRE(names.size() == 7);
    CHECK(names[2] == "rail0-leaf-0");
    CHECK(names[3].rfind("spine-", 0) == 0);
    CHECK(names[4] == "rail2-leaf-1");
  }
}

TEST_CASE("topology: D-mod-k spreads a shift permutation over all uplinks", "[topology]") {
  // FT2: each of leaf 0's 32 endpoints sends to the endpoint 32 ranks further
  // (leaf 1): every uplink of leaf 0 and every downlink into leaf 1 carries one flow.
  const ClusterSpec spec = make_spec("fat-tree", 256, 8, 64);
  const ClusterGraph g = build_cluster_graph(spec);
  std::multiset<EdgeId> up;
  std::multiset<EdgeId> down;
  for (int src = 0; src < 32; ++src) {
    const auto hops = route(g, src, src + 32);
    REQUIRE(hops.size() == 6);
    up.insert(hops[2].edge);
    down.insert(hops[3].edge);
  }
  CHECK(std::set<EdgeId>(up.begin(), up.end()).size() == 32);
  CHECK(std::set<EdgeId>(down.begin(), down.end()).size() == 32);
}

TEST_CASE("topology: the 16,384-GPU multi-plane graph builds and routes", "[topology]") {
  const ClusterSpec spec = make_spec("multi-plane-fat-tree", 2048, 8, 64, 8);
  const ClusterGraph g = build_cluster_graph(spec);
  CHECK(boost::num_vertices(g.graph) == 16384 * 2 + 2048 + 768);
  CHECK(boost::num_edges(g.graph) == 16384 * 4);
  const auto hops = route(g, 0, 16383);  // plane 0 → plane 7, leaf 0 → leaf 63
  check_walk(g, 0, 16383, hops);
  CHECK(hops.size() == 8);
  CHECK(topology_facts(g, spec).diameter_hops == 8);
}

TEST_CASE("topology: ClusterGraph copies and assigns safely and its records match the Boost edges", "[topology]") {
  const ClusterSpec spec = make_spec("multi-plane-fat-tree", 64, 8, 64, 8);
  ClusterGraph assigned;
  assigned = build_cluster_graph(spec);  // move-assignment (the CLI does this)
  ClusterGraph copy = assigned;           // deep copy
  for (const ClusterGraph* g : {&assigned, &copy}) {
    REQUIRE(boost::num_edges(g->graph) == g->edges.size());
    auto [it, end] = boost::edges(g->graph);
    for (; it != end; ++it) {
      const EdgeProps& p = g->graph[*it];
      REQUIRE(p.id < g->edges.size());
      const EdgeRecord& r = g->edges[p.id];
      CHECK(r.props.kind == p.kind);
      CHECK(r.props.bandwidth_bytes_per_s == p.bandwidth_bytes_per_s);
      CHECK(r.props.id == p.id);
      const std::set<VertexId> ends{boost::source(*it, g->graph), boost::target(*it, g->graph)};
      CHECK(ends == std::set<VertexId>{r.source, r.target});
    }
    CHECK(route_names(*g, 0, 40 * 8 + 3) == std::vector<std::string>{
                                                "gpu-n0-g0", "nvswitch-n0", "gpu-n0-g3", "nic-n0-g3", "p3-leaf-0",
                                                "p3-spine-0", "p3-leaf-1", "nic-n40-g3", "gpu-n40-g3"});
  }
}

TEST_CASE("topology: DOT export in full detail and aggregated", "[topology]") {
  {
    const ClusterGraph g = build_cluster_graph(make_spec("fat-tree", 2, 4, 8));
    std::ostringstream os;
    CHECK_FALSE(write_topology_dot(os, g, "small"));
    const std::string dot = os.str();
    CHECK(dot.find("full detail (8 GPUs)") != std::string::npos);
    CHECK(dot.find("\"gpu-n1-g3\"") != std::string::npos);
    // 8 nvlink + 8 nic_attach + 8 nic_link + 2 leaves (4 ports down) x 4 uplinks to 1 spine = 32 edges.
    std::size_t edges = 0;
    for (std::size_t at = dot.find("--"); at != std::string::npos; at = dot.find("--", at + 2)) ++edges;
    CHECK(edges == 32);
  }
  {
    // 64 nodes x 8 = 512 GPUs > 256: one vertex per node, cables merged.
    const ClusterGraph g = build_cluster_graph(make_spec("multi-plane-fat-tree", 64, 8, 64, 8));
    std::ostringstream os;
    CHECK(write_topology_dot(os, g, "mid"));
    const std::string dot = os.str();
    CHECK(dot.find("aggregated to node level") != std::string::npos);
    CHECK(dot.find("gpu-n") == std::string::npos);
    // 64 nodes x 8 planes node-leaf edges + 8 planes x 2 leaves x 1 spine bundles of 32.
    std::size_t edges = 0;
    for (std::size_t at = dot.find("--"); at != std::string::npos; at = dot.find("--", at + 2)) ++edges;
    CHECK(edges == 64 * 8 + 16);
    CHECK(dot.find("cables=32, label=\"32 x 50 GB/s\"") != std::string::npos);
  }
}

TEST_CASE("topology: trainsim topology command", "[topology][cli]") {
  const std::string cluster = std::string("--cluster ") + TRAINSIM_SOURCE_DIR + "/topologies/h800-2048.yaml";
  {
    const auto c = run_trainsim("topology " + cluster + " --format json");
    REQUIRE(c.status == 0);
    const auto j = nlohmann::json::parse(c.output);
    CHECK(j["gpus"] == 2048);
    CHECK(j["switches"]["fabric_total"] == 96);
    CHECK(j["links"]["switch_to_switch"] == 2048);
    CHECK(j["diameter_hops"] == 8);
    CHECK(j["bisection_bytes_per_s"].get<double>() == 1024 * 50e9);
  }
  {
    const auto c = run_trainsim("topology " + cluster + " --set nodes=512 --set network.fabric=clos3");
    REQUIRE(c.status == 0);
    CHECK(c.output.find("clos3") != std::string::npos);
    CHECK(c.output.find("diameter            8 hops") != std::string::npos);
  }
  {
    const auto c = run_trainsim("topology " + cluster + " --set nodes=16 --format dot");
    REQUIRE(c.status == 0);
    CHECK(c.output.find("full detail (128 GPUs)") != std::string::npos);
  }
  {
    // 2049 nodes x 8 GPUs on 8 planes: 2049 endpoints per plane > 64 x 32.
    const auto c = run_trainsim("topology " + cluster + " --set nodes=2049");
    CHECK(c.status == 2);
    CHECK(c.output.find("h800-2048.yaml:") != std::string::npos);
    CHECK(c.output.find("at most 2048 endpoints per plane") != std::string::npos);
  }
}

// DeepEP's inter-node leg sends from GPU k of a node to GPU k of other nodes (rail
// traffic). On a non-blocking fat-tree with several parallel cables between a spine
// and a leaf, D-mod-k routing must spread that traffic over the cables: no
// switch-to-switch link may carry more flows than the busiest NIC.
TEST_CASE("topology: rail traffic on a non-blocking fat-tree loads no cable above a NIC", "[topology]") {
  for (const ClusterSpec& spec : {make_spec("fat-tree", 64, 8, 64),   // 16 leaves, 8 spines: 4 cables each
                                  make_spec("fat-tree", 32, 8, 32),
                                  make_spec("clos3", 8, 2, 4)}) {
    const ClusterGraph g = build_cluster_graph(spec);
    const int per_node = spec.node.gpus;
    std::map<std::pair<EdgeId, VertexId>, int> flows;  // directed link → flows crossing it
    for (int a = 0; a < g.num_gpus(); ++a)
      for (int b = 0; b < g.num_gpus(); ++b)
        if (a / per_node != b / per_node && a % per_node == b % per_node)
          for (const Hop& h : route(g, a, b)) ++flows[{h.edge, h.from}];
    int nic = 0, fabric = 0;
    for (const auto& [link, n] : flows) {
      const EdgeKind k = g.edge(link.first).kind;
      if (k == EdgeKind::nic_link) nic = std::max(nic, n);
      if (k == EdgeKind::leaf_up || k == EdgeKind::spine_up) fabric = std::max(fabric, n);
    }
    INFO(spec.network.fabric << " " << spec.nodes << " nodes");
    CHECK(nic > 0);
    CHECK(fabric <= nic);
  }
}

TEST_CASE("topology: every registered fabric builds a graph whose facts match its counts", "[topology]") {
  // The closed-form tests above run over small_instances(): it must hold every fabric.
  std::set<std::string> covered;
  for (const ClusterSpec& spec : small_instances()) covered.insert(spec.network.fabric);
  for (const FabricKind* kind : fabric_kinds()) {
    INFO(kind->name);
    CHECK(covered.count(kind->name) == 1);
    CHECK(find_fabric(kind->name) == kind);
    CHECK(std::string(kind->description).size() > 0);
    const ClusterSpec spec = make_spec(kind->name, 8, 4, 8, 2);  // planes: multi-plane only
    CHECK_NOTHROW(check_fabric(spec));
    const ClusterGraph g = build_cluster_graph(spec);
    const TopologyFacts f = topology_facts(g, spec);
    CHECK(f.fabric == kind->name);
    // Kinds counted zero are absent from the counts.
    const auto nonzero = [](auto counts) {
      std::erase_if(counts, [](const auto& kv) { return kv.second == 0; });
      return counts;
    };
    CHECK(count_vertices(g) == nonzero(std::map<VertexKind, int>{
                                   {VertexKind::gpu, f.gpus}, {VertexKind::nic, f.nics},
                                   {VertexKind::nvswitch, f.nvswitches}, {VertexKind::leaf, f.leaf_switches},
                                   {VertexKind::spine, f.spine_switches}, {VertexKind::core, f.core_switches}}));
    CHECK(count_edges(g) == nonzero(std::map<EdgeKind, int>{
                                {EdgeKind::nvlink, f.nvlink_links}, {EdgeKind::nic_attach, f.nic_attach_links},
                                {EdgeKind::nic_link, f.nic_links}, {EdgeKind::leaf_up, f.leaf_up_links},
                                {EdgeKind::spine_up, f.spine_up_links}}));
    CHECK(static_cast<int>(boost::num_edges(g.graph)) == f.total_links);
    CHECK(f.diameter_hops == bfs_diameter(g));
    CHECK(f.bisection_bytes_per_s == max_flow_bisection(g));
    CHECK(!kind->summary(f.shape).empty());
  }
}

TEST_CASE("topology: an unknown fabric or a broken fabric rule is a located input error", "[topology][config]") {
  const auto error_of = [](ClusterSpec spec, const std::string& key, SourceMark mark) {
    spec.source_file = mark.file;
    spec.marks[key] = mark;
    try {
      check_fabric(spec);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(error_of(make_spec("clos", 8, 4, 8), "network.fabric", {"c.yaml", 26, 11}) ==
        "c.yaml:26:11: network.fabric: expected one of fat-tree, multi-plane-fat-tree, rail-optimized, clos3, "
        "got \"clos\"; did you mean \"clos3\"?");
  CHECK_THROWS_AS(build_cluster_graph(make_spec("clos", 8, 4, 8)), std::invalid_argument);
  // multi-plane-fat-tree's own rule: one plane per in-node GPU index.
  CHECK(error_of(make_spec("multi-plane-fat-tree", 16, 8, 64, 3), "network.planes", {"c.yaml", 27, 11}) ==
        "c.yaml:27:11: network.planes: 3 planes do not divide the 8 GPUs of a node (one plane per in-node GPU index)");

  // From the command line: the --set that wrote it; --list-fabrics names every fabric.
  const auto bad = run_trainsim("topology --set network.fabric=rail-optimised");
  CHECK(bad.status == 2);
  CHECK(bad.output ==
        "--set network.fabric=rail-optimised: network.fabric: expected one of fat-tree, multi-plane-fat-tree, "
        "rail-optimized, clos3, got \"rail-optimised\"; did you mean \"rail-optimized\"?\n");
  const auto list = run_trainsim("topology --list-fabrics");
  CHECK(list.status == 0);
  for (const FabricKind* kind : fabric_kinds()) {
    CHECK(list.output.find(kind->name) != std::string::npos);
    CHECK(list.output.find(kind->description) != std::string::npos);
  }
}

}  // namespace test_topology
