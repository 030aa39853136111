#include "sim/topology/cluster_graph.hpp"

#include <fmt/format.h>

#include <stdexcept>
#include <string>

#include "sim/topology/fabric_registry.hpp"
#include "sim/topology/fabrics/fabric_parts.hpp"

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
  const FabricKind& fabric = fabric_named(spec.network.fabric);
  fabric_parts::check_sizes(spec);
  ClusterGraph g;
  g.shape = fabric.shape(spec);
  g.shape.fabric = &fabric;
  const FabricShape& s = g.shape;
  g.nodes = spec.nodes;
  g.gpus_per_node = spec.node.gpus;
  const int gpus = spec.num_gpus();
  const int gpn = spec.node.gpus;
  const int u = s.leaf_up_ports;
  const double nic_bw = spec.network.nic_bytes_per_s;  // every fabric cable runs at the NIC port rate
  const double cable_latency = spec.network.link_latency_s;

  Builder b(spec, g);
  g.gpu_vertex.resize(gpus);
  g.nic_vertex.resize(gpus);
  g.nvswitch_vertex.resize(spec.nodes);
  g.nvlink_edge.resize(gpus);
  g.nic_attach_edge.resize(gpus);
  g.nic_link_edge.resize(gpus);
  g.gpu_leaf.resize(gpus);
  g.gpu_endpoint.resize(gpus);

  // Endpoint order, leaf and plane of every GPU.
  std::vector<int> gpu_plane(gpus);
  for (int rank = 0; rank < gpus; ++rank) {
    const GpuAttachment a = fabric.attach(s, rank / gpn, rank % gpn, gpn);
    g.gpu_endpoint[rank] = a.endpoint;
    g.gpu_leaf[rank] = a.leaf;
    gpu_plane[rank] = a.plane;
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
      const int plane = gpu_plane[rank];
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
      SwitchLabel label = fabric.leaf(s, plane, l);
      g.leaf_vertex[index] = b.add_switch(VertexKind::leaf, std::move(label.name), plane, index, label.pod);
    }
    for (int sp = 0; sp < s.spines_per_plane; ++sp) {
      const int index = plane * s.spines_per_plane + sp;
      SwitchLabel label = fabric.spine(s, plane, sp);
      g.spine_vertex[index] = b.add_switch(VertexKind::spine, std::move(label.name), plane, index, label.pod);
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
      const int spine = fabric.leaf_uplink(s, plane, l, j);
      g.leaf_up_edge[static_cast<std::size_t>(leaf) * u + j] =
          b.add_edge(g.leaf_vertex[leaf], g.spine_vertex[spine], EdgeKind::leaf_up, nic_bw, cable_latency);
    }
  }
  if (fabric.spine_uplink != nullptr) {
    const int ua = s.spine_up_ports;
    g.spine_up_edge.resize(static_cast<std::size_t>(s.spines_per_plane) * ua);
    for (int agg = 0; agg < s.spines_per_plane; ++agg) {
      for (int t = 0; t < ua; ++t) {
        const int core = fabric.spine_uplink(s, agg, t);
        g.spine_up_edge[static_cast<std::size_t>(agg) * ua + t] =
            b.add_edge(g.spine_vertex[agg], g.core_vertex[core], EdgeKind::spine_up, nic_bw, cable_latency);
      }
    }
  }
  return g;
}

namespace {

using fabric_parts::push;

// Network part: GPU a → NIC → leaf → ... → leaf → NIC → GPU b (a, b on one plane).
void network_route(const ClusterGraph& g, int a, int b, std::vector<Hop>& hops) {
  push(g, hops, g.nic_attach_edge[a], g.gpu_vertex[a]);
  push(g, hops, g.nic_link_edge[a], g.nic_vertex[a]);
  const int lb = g.gpu_leaf[b];
  if (g.gpu_leaf[a] != lb) g.shape.fabric->route_between_leaves(g, a, b, hops);
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
