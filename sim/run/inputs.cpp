#include "sim/run/inputs.hpp"

#include "sim/calibrate/step_calibration.hpp"
#include "sim/parallel/data_parallel.hpp"
#include "sim/parallel/moe_routing_registry.hpp"
#include "sim/parallel/schedule.hpp"
#include "sim/topology/fabric_registry.hpp"

namespace trainsim {

ClusterSpec load_checked_cluster(const std::string& path, const std::vector<Override>& overrides) {
  ClusterSpec cluster = load_cluster(path, overrides);
  check_fabric(cluster);
  return cluster;
}

WorkloadSpec load_checked_workload(const std::string& path, const std::vector<Override>& overrides) {
  WorkloadSpec workload = load_workload(path, overrides);
  parallel::check_moe_routing(workload);
  check_workload_schedule(workload);
  check_workload_zero(workload);
  return workload;
}

Inputs load_inputs(const std::string& cluster_path, const std::string& workload_path,
                   const std::vector<Override>& overrides) {
  Inputs in{load_checked_cluster(cluster_path, overrides), load_checked_workload(workload_path, overrides)};
  check_workload_fits_cluster(in.workload, in.cluster);
  (void)calibrate::load_step_calibration(in.cluster, in.workload);  // its files' errors at check time
  return in;
}

}  // namespace trainsim
