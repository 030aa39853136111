// libFuzzer target: the input is a workload file, loaded, validated and checked
// against the default cluster. Only InputError may escape the loader; see
// fuzz_cluster_yaml.cpp for what counts as a finding.
#include <cstdint>

#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace trainsim;
  static fuzz::MemoryFile file;
  static const ClusterSpec cluster = load_cluster(default_cluster_path(), {});
  try {
    const WorkloadSpec workload = load_workload(file.write(data, size), {});
    fuzz::check_workload(workload);
    check_workload_fits_cluster(workload, cluster);
  } catch (const InputError&) {
  }
  return 0;
}
