#pragma once
// The one way a command gets its inputs: load the cluster and workload files
// (with --set overrides) and run every check a simulation relies on, in one
// order, so that `check` accepts exactly what `run` accepts. The config stage
// reads the files; the names it cannot know (fabrics, schedules, routing kinds)
// are checked here by the stages that register them.
#include <string>
#include <vector>

#include "sim/config/load.hpp"
#include "sim/config/spec.hpp"

namespace trainsim {

struct Inputs {
  ClusterSpec cluster;
  WorkloadSpec workload;
};

// Cluster alone (topology, net): the file, then its fabric and the fabric's rules.
[[nodiscard]] ClusterSpec load_checked_cluster(const std::string& path, const std::vector<Override>& overrides);
// Workload alone (inspect): the file, then its MoE routing kind and its schedule's rules.
[[nodiscard]] WorkloadSpec load_checked_workload(const std::string& path, const std::vector<Override>& overrides);
// Both, then whether the workload's layout fits the cluster.
[[nodiscard]] Inputs load_inputs(const std::string& cluster_path, const std::string& workload_path,
                                 const std::vector<Override>& overrides);

}  // namespace trainsim
