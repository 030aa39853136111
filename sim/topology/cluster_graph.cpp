#include "sim/topology/cluster_graph.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace trainsim {

const char* to_string(VertexKind k) {
  switch (k) {
    case VertexKind::gpu: return "gpu";
    case VertexKind::nvswitch: return "nvswitch";
    case VertexKind::nic: return "nic";
    case VertexKind::leaf: return "leaf";
    case VertexKind::spine: return "spine";
    case VertexKind::core: return "core";
  }
  return "?";
}

const char* to_string(EdgeKind k) {
  switch (k) {
    case EdgeKind::nvlink: return "nvlink";
    case EdgeKind::nic_attach: return "nic_attach";
    case EdgeKind::nic_link: return "nic_link";
    case EdgeKind::leaf_up: return "leaf_up";
    case EdgeKind::spine_up: return "spine_up";
  }
  return "?";
}

namespace {

int ceil_div(long long a, long long b) { return static_cast<int>((a + b - 1) / b); }

// Smallest non-negative residue.
int mod(long long a, long long m) { return static_cast<int>(((a % m) + m) % m); }

FabricShape shape_of(const ClusterSpec& spec) {
  const NetworkSpec& net = spec.network;
  if (spec.nodes < 1) throw std::invalid_argument("topology: nodes must be at least 1");
  if (spec.node.gpus < 1) throw std::invalid_argument("topology: node.gpus must be at least 1");
  if (net.switch_radix < 2 || net.switch_radix % 2 != 0)
    throw std::invalid_argument(fmt::format("topology: switch_radix must be even and >= 2, got {}", net.switch_radix));
  if (!(net.oversubscription >= 1))
    throw std::invalid_argument(fmt::format("topology: oversubscription must be >= 1, got {}", net.oversubscription));

  FabricShape s;
  s.fabric = net.fabric;
  s.radix = net.switch_radix;
  const int gpus = spec.num_gpus();
  const int half = s.radix / 2;
  s.leaf_down_ports = half;
  // Ceil: the achieved down:up ratio is never worse than the one asked for.
  const auto up_ports = [&](int down) {
    const int u = static_cast<int>(std::ceil(down / net.oversubscription - 1e-9));
    return std::max(u, 1);
  };

  if (net.fabric == Fabric::clos3) {
    s.leaf_up_ports = half;  // leaf layer non-blocking; oversubscription at aggregation
    s.endpoints_per_plane = gpus;
    s.leaves_per_plane = ceil_div(gpus, half);
    s.pods = ceil_div(s.leaves_per_plane, half);
    if (s.pods > s.radix)
      throw std::invalid_argument(fmt::format(
          "topology: clos3 of radix {} holds at most {} endpoints (radix^3/4), asked for {}", s.radix,
          static_cast<long long>(s.radix) * half * half, gpus));
    s.spines_per_plane = s.pods * half;
    s.spine_up_ports = up_ports(half);
    s.cores_per_group = ceil_div(static_cast<long long>(s.pods) * s.spine_up_ports, s.radix);
    s.cores = half * s.cores_per_group;
    return s;
  }

  s.leaf_up_ports = up_ports(half);
  if (net.fabric == Fabric::multi_plane_fat_tree) {
    s.planes = net.planes;
    if (s.planes < 1 || spec.node.gpus % s.planes != 0)
      throw std::invalid_argument(fmt::format("topology: planes ({}) must divide node.gpus ({})", net.planes,
                                              spec.node.gpus));
  }
  s.endpoints_per_plane = gpus / s.planes;
  if (net.fabric == Fabric::rail_optimized) {
    s.rails = spec.node.gpus;
    s.leaves_per_rail = ceil_div(spec.nodes, half);
    s.leaves_per_plane = s.rails * s.leaves_per_rail;
  } else {
    s.leaves_per_plane = ceil_div(s.endpoints_per_plane, half);
  }
  // Every leaf must reach every spine: L * u / R spines <= u, i.e. L <= R.
  if (s.leaves_per_plane > s.radix)
    throw std::invalid_argument(fmt::format(
        "topology: {} needs {} leaf switches per plane but a two-layer fat-tree of radix {} holds at most {} "
        "(at most {} endpoints per plane); use more planes or fabric clos3",
        to_string(net.fabric), s.leaves_per_plane, s.radix, s.radix,
        net.fabric == Fabric::rail_optimized ? static_cast<long long>(s.radix / s.rails) * half * s.rails
                                             : static_cast<long long>(s.radix) * half));
  s.spines_per_plane = ceil_div(static_cast<long long>(s.leaves_per_plane) * s.leaf_up_ports, s.radix);
  return s;
}

class Builder {
 public:
  Builder(const ClusterSpec& spec, ClusterGraph& g) : spec_(spec), g_(g) {}

  VertexId add_vertex(VertexProps p) { return boost::add_vertex(std::move(p), g_.graph); }

  EdgeId add_edge(VertexId a, VertexId b, EdgeKind kind, double bandwidth_bytes_per_s, double latency_s) {
    const EdgeId id = g_.edges.size();
    const EdgeProps props{kind, bandwidth_bytes_per_s, latency_s, id};
    boost::add_edge(a, b, props, g_.graph);  // parallel edges are allowed
    g_.edges.push_back(EdgeRecord{a, b, props});
    return id;
  }

  VertexId add_switch(VertexKind kind, std::string name, int plane, int index, int pod) {
    VertexProps p;
    p.kind = kind;
    p.name = std::move(name);
    p.plane = plane;
    p.index = index;
    p.pod = pod;
    p.latency_s = spec_.network.switch_latency_s;
    return add_vertex(std::move(p));
  }

 private:
  const ClusterSpec& spec_;
  ClusterGraph& g_;
};

}  // namespace

ClusterGraph build_cluster_graph(const ClusterSpec& spec) {
  ClusterGraph g;
  g.shape = shape_of(spec);
  const FabricShape& s = g.shape;
  g.nodes = spec.nodes;
  g.gpus_per_node = spec.node.gpus;
  const int gpus = spec.num_gpus();
  const int gpn = spec.node.gpus;
  const int d = s.leaf_down_ports;
  const int u = s.leaf_up_ports;
  const double nic_bw = spec.network.nic_bytes_per_s;  // every fabric cable runs at the NIC port rate
  const double cable_latency = spec.network.link_latency_s;
  const bool multi_plane = s.fabric == Fabric::multi_plane_fat_tree;
  const bool rail = s.fabric == Fabric::rail_optimized;
  const bool clos3 = s.fabric == Fabric::clos3;
  const auto plane_prefix = [&](int plane) { return multi_plane ? fmt::format("p{}-", plane) : std::string(); };

  Builder b(spec, g);
  g.gpu_vertex.resize(gpus);
  g.nic_vertex.resize(gpus);
  g.nvswitch_vertex.resize(spec.nodes);
  g.nvlink_edge.resize(gpus);
  g.nic_attach_edge.resize(gpus);
  g.nic_link_edge.resize(gpus);
  g.gpu_leaf.resize(gpus);
  g.gpu_endpoint.resize(gpus);

  // Endpoint order and leaf of every GPU.
  for (int rank = 0; rank < gpus; ++rank) {
    const int node = rank / gpn;
    const int local = rank % gpn;
    int endpoint = rank;
    int leaf = 0;
    if (multi_plane) {
      endpoint = node * (gpn / s.planes) + local / s.planes;
      leaf = (local % s.planes) * s.leaves_per_plane + endpoint / d;
    } else if (rail) {
      const int leaf_local = local * s.leaves_per_rail + node / d;
      endpoint = leaf_local * d + node % d;
      leaf = leaf_local;
    } else {
      leaf = endpoint / d;
    }
    g.gpu_endpoint[rank] = endpoint;
    g.gpu_leaf[rank] = leaf;
  }

  // Nodes: NVSwitch, GPUs, NICs.
  for (int node = 0; node < spec.nodes; ++node) {
    VertexProps sw;
    sw.kind = VertexKind::nvswitch;
    sw.name = fmt::format("nvswitch-n{}", node);
    sw.node = node;
    sw.index = node;
    g.nvswitch_vertex[node] = b.add_vertex(std::move(sw));
    for (int local = 0; local < gpn; ++local) {
      const int rank = node * gpn + local;
      const int plane = multi_plane ? local % s.planes : 0;
      VertexProps p;
      p.kind = VertexKind::gpu;
      p.name = fmt::format("gpu-n{}-g{}", node, local);
      p.node = node;
      p.gpu_in_node = local;
      p.gpu = rank;
      p.plane = plane;
      p.index = rank;
      g.gpu_vertex[rank] = b.add_vertex(p);
      p.kind = VertexKind::nic;
      p.name = fmt::format("nic-n{}-g{}", node, local);
      g.nic_vertex[rank] = b.add_vertex(std::move(p));
    }
  }

  // Switches.
  const int planes = s.planes;
  g.leaf_vertex.resize(static_cast<std::size_t>(planes) * s.leaves_per_plane);
  g.spine_vertex.resize(static_cast<std::size_t>(planes) * s.spines_per_plane);
  for (int plane = 0; plane < planes; ++plane) {
    for (int l = 0; l < s.leaves_per_plane; ++l) {
      const int index = plane * s.leaves_per_plane + l;
      std::string name = rail ? fmt::format("rail{}-leaf-{}", l / s.leaves_per_rail, l % s.leaves_per_rail)
                              : clos3 ? fmt::format("pod{}-leaf-{}", l / d, l % d)
                                      : fmt::format("{}leaf-{}", plane_prefix(plane), l);
      g.leaf_vertex[index] = b.add_switch(VertexKind::leaf, std::move(name), plane, index, clos3 ? l / d : -1);
    }
    for (int sp = 0; sp < s.spines_per_plane; ++sp) {
      const int index = plane * s.spines_per_plane + sp;
      std::string name = clos3 ? fmt::format("pod{}-agg-{}", sp / d, sp % d)
                               : fmt::format("{}spine-{}", plane_prefix(plane), sp);
      g.spine_vertex[index] = b.add_switch(VertexKind::spine, std::move(name), plane, index, clos3 ? sp / d : -1);
    }
  }
  g.core_vertex.resize(s.cores);
  for (int c = 0; c < s.cores; ++c)
    g.core_vertex[c] = b.add_switch(VertexKind::core,
                                    fmt::format("core-{}-{}", c / s.cores_per_group, c % s.cores_per_group), 0, c, -1);

  // Edges: in-node, then endpoint cables, then switch-to-switch cables.
  for (int rank = 0; rank < gpus; ++rank)
    g.nvlink_edge[rank] = b.add_edge(g.gpu_vertex[rank], g.nvswitch_vertex[rank / gpn], EdgeKind::nvlink,
                                     spec.node.nvlink_bytes_per_s, spec.node.nvlink_latency_s);
  // The PCIe hop to the NIC is not the bottleneck: it carries the NIC rate, and
  // its latency is part of the cable's (network.link_latency_s).
  for (int rank = 0; rank < gpus; ++rank)
    g.nic_attach_edge[rank] = b.add_edge(g.gpu_vertex[rank], g.nic_vertex[rank], EdgeKind::nic_attach, nic_bw, 0.0);
  for (int rank = 0; rank < gpus; ++rank)
    g.nic_link_edge[rank] = b.add_edge(g.nic_vertex[rank], g.leaf_vertex[g.gpu_leaf[rank]], EdgeKind::nic_link,
                                       nic_bw, cable_latency);

  const int leaves = planes * s.leaves_per_plane;
  g.leaf_up_edge.resize(static_cast<std::size_t>(leaves) * u);
  for (int leaf = 0; leaf < leaves; ++leaf) {
    const int plane = leaf / s.leaves_per_plane;
    const int l = leaf % s.leaves_per_plane;
    for (int j = 0; j < u; ++j) {
      // clos3: one cable to each aggregation switch of the pod; two layers:
      // spread over the plane's spines by global cable index.
      const int spine = clos3 ? (l / d) * d + j : plane * s.spines_per_plane + mod(static_cast<long long>(l) * u + j, s.spines_per_plane);
      g.leaf_up_edge[static_cast<std::size_t>(leaf) * u + j] =
          b.add_edge(g.leaf_vertex[leaf], g.spine_vertex[spine], EdgeKind::leaf_up, nic_bw, cable_latency);
    }
  }
  if (clos3) {
    const int ua = s.spine_up_ports;
    g.spine_up_edge.resize(static_cast<std::size_t>(s.spines_per_plane) * ua);
    for (int agg = 0; agg < s.spines_per_plane; ++agg) {
      const int pod = agg / d;
      const int position = agg % d;
      for (int t = 0; t < ua; ++t) {
        const int core = position * s.cores_per_group + mod(static_cast<long long>(pod) * ua + t, s.cores_per_group);
        g.spine_up_edge[static_cast<std::size_t>(agg) * ua + t] =
            b.add_edge(g.spine_vertex[agg], g.core_vertex[core], EdgeKind::spine_up, nic_bw, cable_latency);
      }
    }
  }
  return g;
}

namespace {

void push(const ClusterGraph& g, std::vector<Hop>& hops, EdgeId e, VertexId from) {
  const VertexId a = g.edge_source(e);
  const VertexId to = a == from ? g.edge_target(e) : a;
  hops.push_back(Hop{e, from, to});
}

// Among the parallel cables of `lower` (local index within its group) going to
// upper switch `upper` (local index), with cable i of `lower` going to upper
// (lower * ports + i) mod uppers: the cable index chosen by `selector`.
int down_cable(int lower, int upper, int ports, int uppers, int selector) {
  const int first = mod(upper - static_cast<long long>(lower) * ports, uppers);
  const int count = (ports - first + uppers - 1) / uppers;
  return first + (selector % count) * uppers;
}

// Network part: GPU a → NIC → leaf → ... → leaf → NIC → GPU b (a, b on one plane).
void network_route(const ClusterGraph& g, int a, int b, std::vector<Hop>& hops) {
  const FabricShape& s = g.shape;
  push(g, hops, g.nic_attach_edge[a], g.gpu_vertex[a]);
  push(g, hops, g.nic_link_edge[a], g.nic_vertex[a]);
  const int la = g.gpu_leaf[a];
  const int lb = g.gpu_leaf[b];
  const int eb = g.gpu_endpoint[b];
  if (la != lb) {
    const int u = s.leaf_up_ports;
    if (s.fabric == Fabric::clos3) {
      const int h = s.leaf_down_ports;
      const int pod_a = la / h;
      const int pod_b = lb / h;
      const int j = eb % h;  // D-mod-k over the pod's aggregation switches
      push(g, hops, g.leaf_up_edge[static_cast<std::size_t>(la) * u + j], g.leaf_vertex[la]);
      if (pod_a != pod_b) {
        const int ua = s.spine_up_ports;
        const int cg = s.cores_per_group;
        const int agg_a = pod_a * h + j;
        const int agg_b = pod_b * h + j;
        const int t = (eb / h) % ua;
        const int core_local = mod(static_cast<long long>(pod_a) * ua + t, cg);
        push(g, hops, g.spine_up_edge[static_cast<std::size_t>(agg_a) * ua + t], g.spine_vertex[agg_a]);
        // Among the core's parallel cables into pod b's aggregation switch, the one
        // matching the destination's uplink class (t = c·cg + core): distinct
        // destinations spread over distinct cables, as D-mod-k spreads them upward.
        const int t_down = down_cable(pod_b, core_local, ua, cg, t / cg);
        push(g, hops, g.spine_up_edge[static_cast<std::size_t>(agg_b) * ua + t_down],
             g.core_vertex[static_cast<std::size_t>(j) * cg + core_local]);
        push(g, hops, g.leaf_up_edge[static_cast<std::size_t>(lb) * u + j], g.spine_vertex[agg_b]);
      } else {
        push(g, hops, g.leaf_up_edge[static_cast<std::size_t>(lb) * u + j], g.spine_vertex[pod_a * h + j]);
      }
    } else {
      const int lp = s.leaves_per_plane;
      const int sp = s.spines_per_plane;
      const int plane = la / lp;
      const int la_local = la % lp;
      const int lb_local = lb % lp;
      const int j = eb % u;  // D-mod-k: uplink chosen by the destination
      const int spine_local = mod(static_cast<long long>(la_local) * u + j, sp);
      push(g, hops, g.leaf_up_edge[static_cast<std::size_t>(la) * u + j], g.leaf_vertex[la]);
      // The spine's parallel cables into leaf b: the destination's uplink class picks
      // one (j = c·sp + spine offset), so distinct destinations use distinct cables.
      // (Choosing by source collapsed rail traffic, whose sources share an index
      // modulo the cable count, onto one cable.)
      const int j_down = down_cable(lb_local, spine_local, u, sp, j / sp);
      push(g, hops, g.leaf_up_edge[static_cast<std::size_t>(lb) * u + j_down],
           g.spine_vertex[static_cast<std::size_t>(plane) * sp + spine_local]);
    }
  }
  push(g, hops, g.nic_link_edge[b], g.leaf_vertex[lb]);
  push(g, hops, g.nic_attach_edge[b], g.nic_vertex[b]);
}

}  // namespace

std::vector<Hop> route(const ClusterGraph& g, int src_gpu, int dst_gpu) {
  const int gpus = g.num_gpus();
  if (src_gpu < 0 || src_gpu >= gpus || dst_gpu < 0 || dst_gpu >= gpus)
    throw std::out_of_range(fmt::format("route: GPU {} -> {} outside 0..{}", src_gpu, dst_gpu, gpus - 1));
  std::vector<Hop> hops;
  if (src_gpu == dst_gpu) return hops;
  const int gpn = g.gpus_per_node;
  const int node_src = src_gpu / gpn;
  const VertexId nvswitch = g.nvswitch_vertex[node_src];
  if (node_src == dst_gpu / gpn) {
    push(g, hops, g.nvlink_edge[src_gpu], g.gpu_vertex[src_gpu]);
    push(g, hops, g.nvlink_edge[dst_gpu], nvswitch);
    return hops;
  }
  int via = src_gpu;
  if (g.plane_of_gpu(src_gpu) != g.plane_of_gpu(dst_gpu)) {
    // PXN: hop over NVLink to the source node's GPU with the destination's
    // in-node index, which sits on the destination's plane.
    via = node_src * gpn + dst_gpu % gpn;
    push(g, hops, g.nvlink_edge[src_gpu], g.gpu_vertex[src_gpu]);
    push(g, hops, g.nvlink_edge[via], nvswitch);
  }
  network_route(g, via, dst_gpu, hops);
  return hops;
}

std::vector<EdgeId> route_edges(const ClusterGraph& g, int src_gpu, int dst_gpu) {
  std::vector<EdgeId> out;
  for (const Hop& h : route(g, src_gpu, dst_gpu)) out.push_back(h.edge);
  return out;
}

}  // namespace trainsim
