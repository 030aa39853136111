// libFuzzer target: the input is a cluster file. It is loaded, validated and
// checked against the default workload. InputError is the expected outcome of
// bad input; any other exception, a crash, a sanitizer report, a hang or an
// accepted cluster that breaks an invariant (fuzz_support.hpp) is a finding.
#include <cstdint>
#include <cstdio>
#include <exception>

#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace trainsim;
  static fuzz::MemoryFile file;
  static const WorkloadSpec workload = load_workload(default_workload_path(), {});
  try {
    const ClusterSpec cluster = load_cluster(file.write(data, size), {});
    fuzz::check_cluster(cluster);
    check_workload_fits_cluster(workload, cluster);
  } catch (const InputError&) {
    // bad input, refused with a message: the expected outcome
  }
  return 0;
}
