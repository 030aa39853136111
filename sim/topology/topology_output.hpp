#pragma once
// Exports of the cluster graph for `trainsim topology`: facts as text or JSON,
// the graph as Graphviz DOT (boost::write_graphviz).
#include <nlohmann/json.hpp>
#include <ostream>

#include "sim/topology/cluster_graph.hpp"

namespace trainsim {

void write_topology_text(std::ostream& os, const TopologyFacts& facts, const std::string& cluster_name);
[[nodiscard]] nlohmann::ordered_json to_json(const TopologyFacts& facts);

// Up to `max_gpus_full_detail` GPUs: every vertex and cable. Above it, one
// vertex per node (GPUs, NICs and NVSwitch folded in) and per fabric switch,
// parallel cables merged into one edge labelled with their count. The graph's
// `label` says which. Returns true when aggregated.
bool write_topology_dot(std::ostream& os, const ClusterGraph& g, const std::string& cluster_name,
                        int max_gpus_full_detail = 256);

}  // namespace trainsim
