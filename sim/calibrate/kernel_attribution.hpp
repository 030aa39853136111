#pragma once
// Attribution of a trace's GPU kernels to phases and classes: each kernel is
// tied to the CPU call that launched it (its correlation id, else the `ac2g`
// flow arrow), and through that call's time to the innermost user_annotation
// range (a range that holds no other range: `attn(F)`, not `ProfilerStep#1`)
// that contains it. A phase name that repeats is one instance per layer, in
// time order. Streams whose kernel time is mostly communication classes are
// communication streams; the others are compute streams. Nothing is dropped:
// kernels without a class, a launch call or a phase are counted as such.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sim/calibrate/kernel_classes.hpp"
#include "sim/calibrate/kineto_trace.hpp"

namespace trainsim::calibrate {

// Kernels of one group (a phase instance on compute streams, a class, a stream).
struct KernelTotals {
  std::int64_t count = 0;
  std::int64_t kernel_ns = 0;      // summed kernel durations
  std::int64_t busy_ns = 0;        // wall time with one of them running (union of intervals)
  std::int64_t gap_count = 0;      // idle gaps between consecutive kernels of the group on one stream
  std::int64_t gap_ns = 0;
  std::int64_t gap_median_ns = 0;  // of every gap counted
};

struct ClassTime {
  std::string name;  // a class of the table, or "unclassified"
  std::int64_t count = 0;
  std::int64_t kernel_ns = 0;
};

// One kernel of a phase instance, as the fit of cost laws reads it (sim/calibrate/calibration_fit).
struct KernelRecord {
  std::string name;
  std::string class_name;  // a class of the table, or "unclassified"
  std::int64_t stream = 0;
  std::int64_t start_ns = 0;
  std::int64_t duration_ns = 0;
  std::optional<std::array<std::int64_t, 3>> grid;  // the launch grid, where the trace records it
};

struct PhaseInstance {
  int layer = 0;  // 0-based: the n-th range of this name in time order
  std::int64_t cpu_start_ns = 0, cpu_end_ns = 0;  // the annotation range
  KernelTotals compute, communication;
  std::vector<KernelRecord> compute_kernels;  // the kernels on compute streams, by start time (then stream)
};

struct PhaseSummary {
  std::string name;
  std::vector<PhaseInstance> layers;
  KernelTotals compute, communication;  // summed over the layers; gap median over all their gaps
  std::vector<ClassTime> compute_classes, communication_classes;  // summed over layers, by time, largest first
};

struct StreamSummary {
  std::int64_t stream = 0;
  bool compute = true;
  KernelTotals totals;  // gaps here: between any two consecutive kernels of the stream
};

struct ClassSummary {
  std::string name;
  std::string kind;  // compute / communication / "" for unclassified
  std::int64_t count = 0;
  std::int64_t kernel_ns = 0;
  std::int64_t compute_stream_ns = 0;  // of it, on compute streams
};

// Kernels grouped by name (unclassified ones, ones outside every phase).
struct NamedKernels {
  std::string name;
  std::int64_t stream = 0;
  std::int64_t count = 0;
  std::int64_t kernel_ns = 0;
};

struct TraceAttribution {
  std::string trace_file, classes_file;
  int layers = 0;  // the most times one phase name repeats
  std::int64_t kernels = 0;
  std::int64_t span_ns = 0;  // first kernel start to last kernel end
  KernelTotals compute;      // every kernel on a compute stream
  std::vector<PhaseSummary> phases;  // in order of first appearance
  std::vector<ClassSummary> classes;  // table order, then unclassified
  std::vector<StreamSummary> streams;
  std::vector<NamedKernels> unclassified;     // by time, largest first
  std::vector<NamedKernels> outside_phases;   // by time, largest first
  std::int64_t without_launch = 0;            // kernels whose launch call is not in the trace
};

[[nodiscard]] TraceAttribution attribute_kernels(const KinetoTrace& trace, const KernelClassTable& table);

}  // namespace trainsim::calibrate
