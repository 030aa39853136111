// libFuzzer target for `--set`: the input is a list of `key.path=value`
// arguments, one per line. They are parsed, then applied while loading the
// default cluster and workload, which are validated and checked together.
// Only InputError may escape; see fuzz_cluster_yaml.cpp for what is a finding.
#include <cstdint>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace trainsim;
  static const std::string cluster_path = default_cluster_path();
  static const std::string workload_path = default_workload_path();
  const std::vector<std::string> args = fuzz::lines_of(data, size);
  try {
    const std::vector<Override> overrides = parse_overrides(args);
    const ClusterSpec cluster = load_cluster(cluster_path, overrides);
    fuzz::check_cluster(cluster);
    const WorkloadSpec workload = load_workload(workload_path, overrides);
    fuzz::check_workload(workload);
    check_workload_fits_cluster(workload, cluster);
  } catch (const InputError&) {
  }
  return 0;
}
