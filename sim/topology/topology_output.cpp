#include "sim/topology/topology_output.hpp"

#include <fmt/format.h>

#include <boost/graph/graphviz.hpp>
#include <map>
#include <string>
#include <tuple>
#include <utility>

#include "sim/topology/fabric_registry.hpp"

namespace trainsim {

namespace {

std::string gb_per_s(double bytes_per_s) { return fmt::format("{:g} GB/s", bytes_per_s / 1e9); }

// DOT attribute values are quoted; names and labels here hold no quotes.
std::string quoted(const std::string& s) { return "\"" + s + "\""; }

const char* shape_of(VertexKind k) {
  switch (k) {
    case VertexKind::gpu: return "box";
    case VertexKind::nvswitch: return "diamond";
    case VertexKind::nic: return "ellipse";
    case VertexKind::leaf:
    case VertexKind::spine:
    case VertexKind::core: return "hexagon";
  }
  return "box";
}

const char* color_of(EdgeKind k) {
  switch (k) {
    case EdgeKind::nvlink: return "darkgreen";
    case EdgeKind::nic_attach: return "gray50";
    case EdgeKind::nic_link: return "blue";
    case EdgeKind::leaf_up: return "red";
    case EdgeKind::spine_up: return "purple";
  }
  return "black";
}

// Node-level view: one vertex per node or switch, parallel cables merged.
struct AggVertex {
  std::string name;
  std::string shape;
};
struct AggEdge {
  EdgeKind kind = EdgeKind::nic_link;
  int cables = 0;
  double bandwidth_bytes_per_s = 0;  // sum over the merged cables, per direction
};
using AggGraph = boost::adjacency_list<boost::vecS, boost::vecS, boost::undirectedS, AggVertex, AggEdge>;

}  // namespace

void write_topology_text(std::ostream& os, const TopologyFacts& f, const std::string& cluster_name) {
  os << fmt::format("topology {}: {} ({})\n", cluster_name, f.fabric, f.shape.fabric->summary(f.shape));
  os << fmt::format("  GPUs                {} ({} nodes x {})\n", f.gpus, f.nodes, f.nodes > 0 ? f.gpus / f.nodes : 0);
  os << fmt::format("  NICs                {} (one per GPU, {})\n", f.nics, gb_per_s(f.nic_bytes_per_s));
  os << fmt::format("  NVSwitches          {} (one logical per node, NVLink {} per GPU)\n", f.nvswitches,
                    gb_per_s(f.nvlink_bytes_per_s));
  os << fmt::format("  fabric switches     {} = {} leaf + {} spine + {} core\n", f.fabric_switches, f.leaf_switches,
                    f.spine_switches, f.core_switches);
  os << fmt::format("  per leaf            {} ports down, {} up\n", f.shape.leaf_down_ports, f.shape.leaf_up_ports);
  os << fmt::format("  links               {} = {} nvlink + {} nic_attach + {} nic_link + {} leaf_up + {} spine_up\n",
                    f.total_links, f.nvlink_links, f.nic_attach_links, f.nic_links, f.leaf_up_links,
                    f.spine_up_links);
  os << fmt::format("  switch-switch links {} (ISCA'25 Table 3 \"Links\")\n", f.switch_links);
  // Which endpoints and what a hop is: a newcomer reads "hops" as switches.
  os << fmt::format("  diameter            {} hops between the two farthest GPUs (shortest path; a hop is one link:\n"
                    "                      GPU-NVSwitch, GPU-NIC, NIC-leaf or switch-switch)\n",
                    f.diameter_hops);
  os << fmt::format("  bisection           {:g} TB/s per direction ({:g} GB/s per GPU of the smaller half)\n",
                    f.bisection_bytes_per_s / 1e12,
                    f.gpus > 1 ? f.bisection_bytes_per_s / 1e9 / ((f.nodes / 2) * (f.gpus / f.nodes)) : 0.0);
}

nlohmann::ordered_json to_json(const TopologyFacts& f) {
  const FabricShape& s = f.shape;
  nlohmann::ordered_json j;
  j["fabric"] = f.fabric;
  j["gpus"] = f.gpus;
  j["nodes"] = f.nodes;
  j["planes"] = f.planes;
  j["nics"] = f.nics;
  j["nvswitches"] = f.nvswitches;
  j["switches"] = {{"leaf", f.leaf_switches}, {"spine", f.spine_switches}, {"core", f.core_switches},
                   {"fabric_total", f.fabric_switches}};
  j["links"] = {{"nvlink", f.nvlink_links},     {"nic_attach", f.nic_attach_links},
                {"nic_link", f.nic_links},       {"leaf_up", f.leaf_up_links},
                {"spine_up", f.spine_up_links},  {"switch_to_switch", f.switch_links},
                {"total", f.total_links}};
  j["diameter_hops"] = f.diameter_hops;
  j["bisection_bytes_per_s"] = f.bisection_bytes_per_s;
  j["nic_bytes_per_s"] = f.nic_bytes_per_s;
  j["nvlink_bytes_per_s"] = f.nvlink_bytes_per_s;
  j["shape"] = {{"radix", s.radix},
                {"planes", s.planes},
                {"rails", s.rails},
                {"endpoints_per_plane", s.endpoints_per_plane},
                {"leaf_down_ports", s.leaf_down_ports},
                {"leaf_up_ports", s.leaf_up_ports},
                {"leaves_per_plane", s.leaves_per_plane},
                {"spines_per_plane", s.spines_per_plane},
                {"pods", s.pods},
                {"spine_up_ports", s.spine_up_ports},
                {"cores", s.cores}};
  return j;
}

bool write_topology_dot(std::ostream& os, const ClusterGraph& g, const std::string& cluster_name,
                        int max_gpus_full_detail) {
  if (g.num_gpus() <= max_gpus_full_detail) {
    const std::string label = fmt::format("{}: full detail ({} GPUs)", cluster_name, g.num_gpus());
    boost::write_graphviz(
        os, g.graph,
        [&](std::ostream& out, VertexId v) {
          const VertexProps& p = g.graph[v];
          out << "[label=" << quoted(p.name) << ", shape=" << shape_of(p.kind) << ", kind=" << to_string(p.kind)
              << "]";
        },
        [&](std::ostream& out, Graph::edge_descriptor e) {
          const EdgeProps& p = g.graph[e];
          out << "[kind=" << to_string(p.kind) << ", color=" << color_of(p.kind)
              << ", label=" << quoted(gb_per_s(p.bandwidth_bytes_per_s)) << "]";
        },
        [&](std::ostream& out) { out << "label=" << quoted(label) << ";\n"; });
    return false;
  }

  // Aggregate: node vertices first (in node order), then switches (in build order).
  AggGraph agg;
  std::vector<std::size_t> to_agg(boost::num_vertices(g.graph));
  for (int node = 0; node < g.nodes; ++node)
    boost::add_vertex(AggVertex{fmt::format("node-{}", node), "box3d"}, agg);
  for (VertexId v = 0; v < boost::num_vertices(g.graph); ++v) {
    const VertexProps& p = g.graph[v];
    if (p.node >= 0) {
      to_agg[v] = static_cast<std::size_t>(p.node);
    } else {
      to_agg[v] = boost::add_vertex(AggVertex{p.name, shape_of(p.kind)}, agg);
    }
  }
  // Ordered map: deterministic edge order.
  std::map<std::tuple<std::size_t, std::size_t, int>, AggEdge> merged;
  for (EdgeId e = 0; e < g.edges.size(); ++e) {
    const EdgeProps& p = g.edge(e);
    std::size_t a = to_agg[g.edge_source(e)];
    std::size_t b = to_agg[g.edge_target(e)];
    if (a == b) continue;  // inside a node
    if (a > b) std::swap(a, b);
    AggEdge& m = merged[{a, b, static_cast<int>(p.kind)}];
    m.kind = p.kind;
    ++m.cables;
    m.bandwidth_bytes_per_s += p.bandwidth_bytes_per_s;
  }
  for (const auto& [key, edge] : merged) boost::add_edge(std::get<0>(key), std::get<1>(key), edge, agg);
  const std::string label = fmt::format(
      "{}: aggregated to node level ({} GPUs > {}): one vertex per node and per switch, parallel cables merged",
      cluster_name, g.num_gpus(), max_gpus_full_detail);
  boost::write_graphviz(
      os, agg,
      [&](std::ostream& out, AggGraph::vertex_descriptor v) {
        out << "[label=" << quoted(agg[v].name) << ", shape=" << agg[v].shape << "]";
      },
      [&](std::ostream& out, AggGraph::edge_descriptor e) {
        const AggEdge& p = agg[e];
        out << "[kind=" << to_string(p.kind) << ", color=" << color_of(p.kind) << ", cables=" << p.cables
            << ", label=" << quoted(fmt::format("{} x {}", p.cables, gb_per_s(p.bandwidth_bytes_per_s / p.cables)))
            << "]";
      },
      [&](std::ostream& out) { out << "label=" << quoted(label) << ";\n"; });
  return true;
}

}  // namespace trainsim
