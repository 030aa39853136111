#pragma once
// Shared by the libFuzzer targets. The loader reads files by path, so each
// input is written to an in-memory file (memfd) and loaded through
// /proc/self/fd/N: no disk traffic, nothing left behind.
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "sim/config/error.hpp"
#include "sim/config/load.hpp"
#include "sim/config/spec.hpp"

namespace trainsim::fuzz {

class MemoryFile {
 public:
  MemoryFile() : fd_(memfd_create("trainsim-fuzz", 0)) {
    if (fd_ < 0) {
      std::perror("memfd_create");
      std::abort();
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;
  ~MemoryFile() { close(fd_); }

  // Replaces the file's content; returns its path.
  const std::string& write(const uint8_t* data, size_t size) {
    if (ftruncate(fd_, 0) != 0 || (size > 0 && pwrite(fd_, data, size, 0) != static_cast<ssize_t>(size))) {
      std::perror("memfd write");
      std::abort();
    }
    return path_;
  }

 private:
  int fd_;
  std::string path_;
};

// The targets that name shipped files by relative path (topologies/..., the
// corpus's command lines) run from the source tree, as the tests do.
inline void enter_source_dir() {
  if (chdir(TRAINSIM_SOURCE_DIR) != 0) {
    std::perror("chdir " TRAINSIM_SOURCE_DIR);
    std::abort();
  }
}

// The input's lines ('\n' ends one), a last line without its '\n' too; at least one.
inline std::vector<std::string> lines_of(const uint8_t* data, size_t size) {
  std::vector<std::string> lines;
  std::string line;
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == '\n') {
      lines.push_back(line);
      line.clear();
    } else {
      line += static_cast<char>(data[i]);
    }
  }
  if (!line.empty() || lines.empty()) lines.push_back(line);
  return lines;
}

// A finding that is not a crash: the loader accepted something it must refuse.
[[noreturn]] inline void violated(const char* what) {
  std::fprintf(stderr, "trainsim fuzz: invariant violated: %s\n", what);
  std::abort();
}

// What every accepted input must satisfy whatever its values: the uncertain
// constants are finite and ordered.
inline void check_uncertain(const std::vector<UncertainConstant>& constants) {
  for (const auto& u : constants) {
    if (!(u.low <= u.value && u.value <= u.high)) violated("uncertain constant not ordered low <= value <= high");
    if (!std::isfinite(u.low) || !std::isfinite(u.high)) violated("uncertain constant not finite");
  }
}

// Every number of an accepted cluster is finite and every rate and size positive.
inline void check_cluster(const ClusterSpec& c) {
  const double positive[] = {c.gpu.peak_flops_bf16, c.gpu.peak_flops_fp8, c.gpu.hbm_bytes, c.gpu.hbm_bytes_per_s,
                             c.gpu.power_busy_w, c.node.nvlink_bytes_per_s, c.network.nic_bytes_per_s,
                             c.network.bandwidth_factor, c.network.latency_factor};
  for (const double v : positive)
    if (!std::isfinite(v) || !(v > 0)) violated("cluster rate or size not finite and positive");
  const double non_negative[] = {c.gpu.power_idle_w,       c.gpu.launch_overhead_s,     c.node.nvlink_latency_s,
                                 c.network.link_latency_s, c.network.switch_latency_s,  c.pricing.gpu_hour_usd,
                                 c.pricing.electricity_usd_per_kwh, c.pricing.capex_per_gpu_usd,
                                 c.pricing.capex_per_endpoint_usd,  c.pricing.amortization_years};
  for (const double v : non_negative)
    if (!std::isfinite(v) || !(v >= 0)) violated("cluster time or price not finite and non-negative");
  if (c.nodes < 1 || c.node.gpus < 1 || c.gpu.sms < 1) violated("cluster count below 1");
  check_uncertain(c.uncertain);
}

inline void check_workload(const WorkloadSpec& w) {
  if (!std::isfinite(w.training.tokens) || !(w.training.tokens > 0)) violated("training.tokens not finite and positive");
  const auto& p = w.parallelism;
  if (p.tp < 1 || p.pp < 1 || p.dp < 1 || p.ep < 1) violated("parallel degree below 1");
  if (w.training.global_batch % (static_cast<long long>(p.dp) * w.training.micro_batch) != 0)
    violated("global_batch not divisible by dp x micro_batch");
  check_uncertain(w.uncertain);
}

}  // namespace trainsim::fuzz
