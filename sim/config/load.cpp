// Placeholder until the strict loader lands.
#include "sim/config/load.hpp"

namespace trainsim {
std::string default_cluster_path() { return "topologies/h800-2048.yaml"; }
std::string default_workload_path() { return "workloads/deepseek-v3.yaml"; }
}  // namespace trainsim
