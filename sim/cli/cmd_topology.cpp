// trainsim topology: build the cluster graph and print its facts (switches,
// links, diameter, bisection) as text or JSON, or the graph as Graphviz DOT;
// --list-fabrics lists the registered fabrics.
#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <stdexcept>

#include "sim/cli/commands.hpp"
#include "sim/config/load.hpp"
#include "sim/topology/cluster_graph.hpp"
#include "sim/topology/fabric_registry.hpp"
#include "sim/topology/topology_output.hpp"

namespace trainsim::cli {

namespace {

int list_fabrics() {
  std::cout << "fabrics (network.fabric):\n";
  for (const FabricKind* k : fabric_kinds()) std::cout << fmt::format("  {:<22}{}\n", k->name, k->description);
  return 0;
}

int run_topology(const ConfigOptions& o) {
  const ClusterSpec cluster = load_checked_cluster(o.cluster_path, overrides_read_by(o, "topology", FilesRead::cluster));
  ClusterGraph graph;
  try {
    graph = build_cluster_graph(cluster);
  } catch (const std::invalid_argument& e) {
    // A fabric too small for the GPUs is an input error: point at the radix.
    throw InputError(cluster_mark(cluster, "network.switch_radix"), e.what());
  }
  if (o.format == "dot") {
    write_topology_dot(std::cout, graph, cluster.name);
    return 0;
  }
  const TopologyFacts facts = topology_facts(graph, cluster);
  if (o.format == "json") {
    nlohmann::ordered_json j;
    j["cluster"] = cluster.name;
    j.update(to_json(facts));
    std::cout << j.dump(2) << '\n';
  } else {
    write_topology_text(std::cout, facts, cluster.name);
  }
  return 0;
}

}  // namespace

void register_topology(CLI::App& app, Action& action) {
  auto opts = std::make_shared<ConfigOptions>();
  auto list = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand(
      "topology", "Cluster graph: switch and link counts, diameter, bisection bandwidth; --format dot draws it");
  add_cluster_option(*cmd, *opts);
  add_set_option(*cmd, *opts);
  add_format_option(*cmd, *opts, {"text", "json", "dot"});
  cmd->add_flag("--list-fabrics", *list, "List the fabrics network.fabric can name, and exit");
  cmd->callback([&action, opts, list] {
    action = [opts, list]() -> int { return *list ? list_fabrics() : run_topology(*opts); };
  });
}

}  // namespace trainsim::cli
