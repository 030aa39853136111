#include "sim/parallel/collectives.hpp"

#include <algorithm>
#include <set>
#include <stdexcept>
#include <utility>

namespace trainsim::parallel {
namespace {

std::size_t size_of(const std::vector<int>& group) { return group.size(); }

void check_group(const std::vector<int>& group) {
  if (group.empty()) throw std::invalid_argument("collective: empty group");
}

// `steps` ring phases over `ring`, each rank sending `chunk_bytes` to its successor,
// appended to `phases` starting at phase index `first` (so concurrent rings can share phases).
void add_ring_steps(std::vector<TransferPhase>& phases, std::size_t first, const std::vector<int>& ring, int steps,
                    double chunk_bytes) {
  if (ring.size() < 2) return;
  if (phases.size() < first + static_cast<std::size_t>(steps)) phases.resize(first + static_cast<std::size_t>(steps));
  for (int s = 0; s < steps; ++s) {
    auto& phase = phases[first + static_cast<std::size_t>(s)];
    for (std::size_t i = 0; i < ring.size(); ++i)
      phase.transfers.push_back({ring[i], ring[(i + 1) % ring.size()], chunk_bytes});
  }
}

CollectivePlan ring_plan(const char* name, const std::vector<int>& group, double bytes, int steps_per_n_minus_1,
                         double bus_factor_num) {
  check_group(group);
  const auto n = static_cast<int>(size_of(group));
  CollectivePlan plan;
  plan.name = name;
  plan.ranks = n;
  plan.payload_bytes = bytes;
  plan.bus_factor = bus_factor_num * (n - 1) / n;
  add_ring_steps(plan.phases, 0, group, steps_per_n_minus_1 * (n - 1), bytes / n);
  return plan;
}

// The group's members by the node they are on (node of a GPU = gpu / gpus_per_node):
// nodes[b] holds the members of the b-th node in order of first appearance, each node's
// members in group order. Nodes may hold different numbers of members.
std::vector<std::vector<int>> members_by_node(const std::vector<int>& group, int gpus_per_node) {
  check_group(group);
  if (gpus_per_node <= 0)
    throw std::invalid_argument("hierarchical collective: gpus_per_node " + std::to_string(gpus_per_node));
  std::vector<std::vector<int>> nodes;
  std::map<int, std::size_t> slot_of_node;
  std::set<int> seen;
  for (int gpu : group) {
    if (gpu < 0 || !seen.insert(gpu).second)
      throw std::invalid_argument("hierarchical collective: GPU " + std::to_string(gpu) + " is negative or repeated");
    const auto [it, added] = slot_of_node.try_emplace(gpu / gpus_per_node, nodes.size());
    if (added) nodes.emplace_back();
    nodes[it->second].push_back(gpu);
  }
  return nodes;
}

bool same_size(const std::vector<std::vector<int>>& nodes) {
  return std::all_of(nodes.begin(), nodes.end(), [&](const auto& node) { return node.size() == nodes.front().size(); });
}

std::vector<int> rail(const std::vector<std::vector<int>>& nodes, std::size_t index) {
  std::vector<int> r;
  for (const auto& node : nodes) r.push_back(node[index]);
  return r;
}

enum class Part { intra_rs, inter_rs, inter_ag, intra_ag, inter_ar };

// Appends one stage of the hierarchical algorithm over nodes of equal size as new phases.
void add_stage(CollectivePlan& plan, const std::vector<std::vector<int>>& nodes, Part part, double bytes) {
  const auto m = static_cast<int>(nodes.size());
  const auto k = static_cast<int>(nodes.front().size());
  const std::size_t first = plan.phases.size();
  switch (part) {
    case Part::intra_rs:
    case Part::intra_ag:
      for (const auto& node : nodes) add_ring_steps(plan.phases, first, node, k - 1, bytes / k);
      break;
    case Part::inter_rs:
    case Part::inter_ag:
      for (int i = 0; i < k; ++i) add_ring_steps(plan.phases, first, rail(nodes, static_cast<std::size_t>(i)), m - 1, bytes / k / m);
      break;
    case Part::inter_ar:
      for (int i = 0; i < k; ++i)
        add_ring_steps(plan.phases, first, rail(nodes, static_cast<std::size_t>(i)), 2 * (m - 1), bytes / k / m);
      break;
  }
}

// Nodes of unequal size. After the intra-node reduce-scatter, member j of node b (k_b
// members) holds node b's partial sum of [j/k_b, (j+1)/k_b) of the buffer. A segment is a
// piece of the buffer between two consecutive such cuts (over every node): it has one
// holder per node, and the inter-node stage is a ring over those holders in node order.
// The holder on node b ends with the share k_b/n of each of its segments, so every member
// ends with S/n: (1/k_b)·(k_b/n). A member sends (k_b−1)/k_b·S inside its node and
// S/k_b − S/n across nodes: (n−1)/n·S in all, as the flat ring.
struct Segment {
  double fraction = 0;    // of the buffer
  std::vector<int> holders;  // one per node, in node order
};

std::vector<Segment> segments_of(const std::vector<std::vector<int>>& nodes) {
  struct Cut {
    long long num, den;
  };
  std::vector<Cut> cuts;
  for (const auto& node : nodes)
    for (std::size_t j = 0; j <= node.size(); ++j)
      cuts.push_back({static_cast<long long>(j), static_cast<long long>(node.size())});
  const auto less = [](const Cut& a, const Cut& b) { return a.num * b.den < b.num * a.den; };
  const auto equal = [](const Cut& a, const Cut& b) { return a.num * b.den == b.num * a.den; };
  std::sort(cuts.begin(), cuts.end(), less);
  cuts.erase(std::unique(cuts.begin(), cuts.end(), equal), cuts.end());
  std::vector<Segment> segments;
  for (std::size_t c = 0; c + 1 < cuts.size(); ++c) {
    const Cut lo = cuts[c], hi = cuts[c + 1];
    Segment seg;
    seg.fraction = static_cast<double>(hi.num * lo.den - lo.num * hi.den) / static_cast<double>(hi.den * lo.den);
    for (const auto& node : nodes)
      seg.holders.push_back(node[static_cast<std::size_t>(lo.num * static_cast<long long>(node.size()) / lo.den)]);
    segments.push_back(std::move(seg));
  }
  return segments;
}

// Inter-node ring over each segment's holders, with chunk b (k_b/n of the segment) owned
// by the holder on node b. Reduce-scatter: at step s, position i sends chunk (i−1−s) mod m;
// all-gather: chunk (i−s) mod m (its own first, then the one it last received).
void add_segment_rings(CollectivePlan& plan, const std::vector<std::vector<int>>& nodes, bool gather, double bytes) {
  const auto m = static_cast<int>(nodes.size());
  const auto n = static_cast<double>(plan.ranks);
  const std::size_t first = plan.phases.size();
  plan.phases.resize(first + static_cast<std::size_t>(m - 1));
  for (const Segment& seg : segments_of(nodes))
    for (int s = 0; s < m - 1; ++s)
      for (int i = 0; i < m; ++i) {
        const int chunk = ((gather ? i - s : i - 1 - s) % m + m) % m;
        const double chunk_bytes = bytes * seg.fraction * static_cast<double>(nodes[static_cast<std::size_t>(chunk)].size()) / n;
        plan.phases[first + static_cast<std::size_t>(s)].transfers.push_back(
            {seg.holders[static_cast<std::size_t>(i)], seg.holders[static_cast<std::size_t>((i + 1) % m)], chunk_bytes});
      }
}

void add_uneven_stage(CollectivePlan& plan, const std::vector<std::vector<int>>& nodes, Part part, double bytes) {
  const std::size_t first = plan.phases.size();
  switch (part) {
    case Part::intra_rs:
    case Part::intra_ag:
      for (const auto& node : nodes)
        add_ring_steps(plan.phases, first, node, static_cast<int>(node.size()) - 1, bytes / static_cast<double>(node.size()));
      break;
    case Part::inter_rs:
    case Part::inter_ag:
      add_segment_rings(plan, nodes, part == Part::inter_ag, bytes);
      break;
    case Part::inter_ar:
      add_segment_rings(plan, nodes, false, bytes);
      add_segment_rings(plan, nodes, true, bytes);
      break;
  }
}

// One transfer per (source, destination, phase): segments sharing a pair of holders merge.
void merge_pairs(CollectivePlan& plan) {
  for (auto& phase : plan.phases) {
    std::map<std::pair<int, int>, std::size_t> index;
    std::vector<Transfer> merged;
    for (const Transfer& t : phase.transfers) {
      const auto [it, added] = index.try_emplace({t.src_gpu, t.dst_gpu}, merged.size());
      if (added) merged.push_back(t);
      else merged[it->second].bytes += t.bytes;
    }
    phase.transfers = std::move(merged);
  }
}

CollectivePlan hierarchical(const char* name, const std::vector<int>& group, int gpus_per_node, double bytes,
                            const std::vector<Part>& parts, double bus_factor_num) {
  const auto nodes = members_by_node(group, gpus_per_node);
  const auto n = static_cast<int>(group.size());
  CollectivePlan plan;
  plan.name = name;
  plan.ranks = n;
  plan.payload_bytes = bytes;
  plan.bus_factor = bus_factor_num * (n - 1) / n;
  const bool even = same_size(nodes);
  for (Part part : parts) (even ? add_stage : add_uneven_stage)(plan, nodes, part, bytes);
  if (!even) merge_pairs(plan);
  return plan;
}

void add_pair(std::map<std::pair<int, int>, double>& pairs, int src, int dst, double bytes) {
  if (src == dst || bytes <= 0) return;
  pairs[{src, dst}] += bytes;
}

// Per GPU pair bytes of a DeepEP dispatch, indexed by EP rank.
std::map<std::pair<int, int>, double> dispatch_pairs(const MoeRouting& r, double bytes_per_token) {
  std::map<std::pair<int, int>, double> pairs;
  const int g = r.ranks_per_node;
  for (int s = 0; s < r.ranks; ++s) {
    const int a = r.node_of(s);
    const int i = s % g;
    for (int b = 0; b < r.nodes(); ++b) {
      if (b == a) {
        for (int d = b * g; d < (b + 1) * g; ++d) add_pair(pairs, s, d, r.to_rank(s, d) * bytes_per_token);
        continue;
      }
      const int relay = b * g + i;
      add_pair(pairs, s, relay, r.to_node(s, b) * bytes_per_token);  // InfiniBand leg
      for (int d = b * g; d < (b + 1) * g; ++d)                        // NVLink leg
        add_pair(pairs, relay, d, r.to_rank(s, d) * bytes_per_token);
    }
  }
  return pairs;
}

CollectivePlan moe_plan(const char* name, const std::vector<int>& group, const MoeRouting& r, double bytes_per_token,
                        bool reverse) {
  if (static_cast<int>(group.size()) != r.ranks)
    throw std::invalid_argument("MoE all-to-all: group size differs from the routing's EP size");
  CollectivePlan plan;
  plan.name = name;
  plan.ranks = r.ranks;
  plan.bus_factor = static_cast<double>(r.ranks - 1) / r.ranks;
  double logical_bytes = 0;
  for (int s = 0; s < r.ranks; ++s)
    for (int d = 0; d < r.ranks; ++d)
      if (d != s) logical_bytes += r.to_rank(s, d) * bytes_per_token;
  plan.payload_bytes = logical_bytes / r.ranks;
  TransferPhase phase;
  for (const auto& [pair, bytes] : dispatch_pairs(r, bytes_per_token)) {
    const int src = group[static_cast<std::size_t>(reverse ? pair.second : pair.first)];
    const int dst = group[static_cast<std::size_t>(reverse ? pair.first : pair.second)];
    phase.transfers.push_back({src, dst, bytes});
  }
  plan.phases.push_back(std::move(phase));
  return plan;
}

}  // namespace

double CollectivePlan::total_bytes() const {
  double total = 0;
  for (const auto& phase : phases)
    for (const auto& t : phase.transfers) total += t.bytes;
  return total;
}

std::map<int, double> CollectivePlan::bytes_sent_by_gpu() const {
  std::map<int, double> sent;
  for (const auto& phase : phases)
    for (const auto& t : phase.transfers) sent[t.src_gpu] += t.bytes;
  return sent;
}

std::map<int, double> CollectivePlan::bytes_received_by_gpu() const {
  std::map<int, double> received;
  for (const auto& phase : phases)
    for (const auto& t : phase.transfers) received[t.dst_gpu] += t.bytes;
  return received;
}

std::size_t CollectivePlan::transfer_count() const {
  std::size_t count = 0;
  for (const auto& phase : phases) count += phase.transfers.size();
  return count;
}

CollectivePlan point_to_point(int src_gpu, int dst_gpu, double bytes) {
  CollectivePlan plan;
  plan.name = "p2p";
  plan.ranks = 2;
  plan.payload_bytes = bytes;
  plan.bus_factor = 1;
  plan.phases.push_back({{{src_gpu, dst_gpu, bytes}}});
  return plan;
}

CollectivePlan ring_all_reduce(const std::vector<int>& group, double bytes) {
  return ring_plan("allreduce", group, bytes, 2, 2);
}
CollectivePlan ring_reduce_scatter(const std::vector<int>& group, double bytes) {
  return ring_plan("reducescatter", group, bytes, 1, 1);
}
CollectivePlan ring_all_gather(const std::vector<int>& group, double bytes) {
  return ring_plan("allgather", group, bytes, 1, 1);
}

CollectivePlan hierarchical_all_reduce(const std::vector<int>& group, int gpus_per_node, double bytes) {
  return hierarchical("allreduce", group, gpus_per_node, bytes, {Part::intra_rs, Part::inter_ar, Part::intra_ag}, 2);
}
CollectivePlan hierarchical_reduce_scatter(const std::vector<int>& group, int gpus_per_node, double bytes) {
  return hierarchical("reducescatter", group, gpus_per_node, bytes, {Part::intra_rs, Part::inter_rs}, 1);
}
CollectivePlan hierarchical_all_gather(const std::vector<int>& group, int gpus_per_node, double bytes) {
  return hierarchical("allgather", group, gpus_per_node, bytes, {Part::inter_ag, Part::intra_ag}, 1);
}

CollectivePlan direct_all_to_all(const std::vector<int>& group, double bytes) {
  check_group(group);
  const auto n = static_cast<int>(group.size());
  CollectivePlan plan;
  plan.name = "alltoall";
  plan.ranks = n;
  plan.payload_bytes = bytes;
  plan.bus_factor = static_cast<double>(n - 1) / n;
  TransferPhase phase;
  for (int src : group)
    for (int dst : group)
      if (src != dst) phase.transfers.push_back({src, dst, bytes / n});
  plan.phases.push_back(std::move(phase));
  return plan;
}

CollectivePlan moe_dispatch(const std::vector<int>& group, const MoeRouting& routing, double bytes_per_token) {
  return moe_plan("dispatch", group, routing, bytes_per_token, false);
}
CollectivePlan moe_combine(const std::vector<int>& group, const MoeRouting& routing, double bytes_per_token) {
  return moe_plan("combine", group, routing, bytes_per_token, true);
}

CollectivePlan side_by_side(const std::vector<CollectivePlan>& plans) {
  if (plans.empty()) return {};
  CollectivePlan merged;
  merged.name = plans.front().name;
  merged.ranks = plans.front().ranks;
  merged.payload_bytes = plans.front().payload_bytes;
  merged.bus_factor = plans.front().bus_factor;
  for (const auto& plan : plans) {
    if (merged.phases.size() < plan.phases.size()) merged.phases.resize(plan.phases.size());
    for (std::size_t p = 0; p < plan.phases.size(); ++p) {
      auto& into = merged.phases[p].transfers;
      into.insert(into.end(), plan.phases[p].transfers.begin(), plan.phases[p].transfers.end());
    }
  }
  return merged;
}

}  // namespace trainsim::parallel
