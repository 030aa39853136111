#pragma once
// A PyTorch profiler (Kineto) / Chrome-trace JSON file read into plain records:
// the GPU activities (kernels, memcpy, memset), the CPU launch calls that
// enqueued them (cuda_runtime / cuda_driver, with their correlation ids), the
// `ac2g` flow events that link the two, and the `user_annotation` ranges
// (record_function phases such as `attn(F)`). Times are integer nanoseconds from
// the earliest event read, so sums are exact. Everything else in the file is
// skipped. Unreadable or malformed JSON, a malformed event and a trace without
// GPU kernels are InputErrors (`FILE:LINE:COL: message`).
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace trainsim::calibrate {

enum class GpuActivity { kernel, memcpy, memset };

struct GpuKernel {
  std::string name;
  GpuActivity activity = GpuActivity::kernel;
  std::int64_t stream = 0;
  std::int64_t start_ns = 0;
  std::int64_t duration_ns = 0;
  std::optional<std::int64_t> correlation;
  std::optional<std::array<std::int64_t, 3>> grid;
  std::optional<std::array<std::int64_t, 3>> block;
  std::string pid, tid;  // as written (a number or a text), to meet flow events
  [[nodiscard]] std::int64_t end_ns() const { return start_ns + duration_ns; }
};

// A CPU call that launched GPU work (cudaLaunchKernel, cuLaunchKernel, cudaMemcpyAsync...).
struct LaunchCall {
  std::string name;
  std::int64_t correlation = 0;
  std::string pid, tid;
  std::int64_t start_ns = 0;
  std::int64_t duration_ns = 0;
};

// One end of an `ac2g` flow arrow: 's' on the launch call, 'f' on the GPU activity.
struct FlowEnd {
  bool is_start = true;
  std::string id;
  std::string pid, tid;
  std::int64_t ts_ns = 0;
};

struct AnnotationRange {
  std::string name;
  std::string pid, tid;
  std::int64_t start_ns = 0;
  std::int64_t duration_ns = 0;
  [[nodiscard]] std::int64_t end_ns() const { return start_ns + duration_ns; }
};

struct KinetoTrace {
  std::string file;
  std::vector<GpuKernel> kernels;  // in file order
  std::vector<LaunchCall> launches;
  std::vector<FlowEnd> flows;
  std::vector<AnnotationRange> annotations;
};

// `text` is the file's content; `file` names it in errors.
[[nodiscard]] KinetoTrace parse_kineto_trace(const std::string& text, const std::string& file);
[[nodiscard]] KinetoTrace read_kineto_trace(const std::string& file);

}  // namespace trainsim::calibrate
