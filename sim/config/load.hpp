#pragma once
// YAML → validated ClusterSpec / WorkloadSpec. Strict: unknown keys (with the
// nearest valid key suggested), missing keys, wrong types, bad units, values out
// of range and inconsistent combinations are InputErrors with FILE:LINE:COL.
#include <string>
#include <vector>

#include "sim/config/error.hpp"
#include "sim/config/spec.hpp"

namespace trainsim {

// One `--set key.path=value`. The path may start with `cluster.` or `workload.`;
// without that prefix it is resolved by its first key (gpu/nodes/node/network/
// pricing → cluster; model/training/parallelism → workload).
struct Override {
  std::string path;    // dotted, without the cluster./workload. prefix
  std::string value;   // YAML scalar or flow text, e.g. "450GB/s", "{value: 1, low: 0.9, high: 1.1}"
  std::string origin;  // the argument as typed, for error messages: "--set a.b=c"
  bool cluster = false;
};

// Splits and classifies `key.path=value` arguments. Throws InputError naming the argument.
[[nodiscard]] std::vector<Override> parse_overrides(const std::vector<std::string>& set_args);

[[nodiscard]] ClusterSpec load_cluster(const std::string& path, const std::vector<Override>& overrides);
[[nodiscard]] WorkloadSpec load_workload(const std::string& path, const std::vector<Override>& overrides);

// Cross-file checks (tp × pp × dp = GPUs, EP groups vs nodes, ...). Errors point
// at the workload's parallelism keys.
void check_workload_fits_cluster(const WorkloadSpec& workload, const ClusterSpec& cluster);

// Defaults used by the CLI, relative to the source tree.
[[nodiscard]] std::string default_cluster_path();
[[nodiscard]] std::string default_workload_path();

}  // namespace trainsim
