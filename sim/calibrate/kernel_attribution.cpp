#include "sim/calibrate/kernel_attribution.hpp"

#include <algorithm>
#include <map>
#include <tuple>

namespace trainsim::calibrate {
namespace {

using TimedKey = std::tuple<std::string, std::string, std::int64_t>;  // pid, tid, ts

// The launch call of each kernel: by correlation id, else along its ac2g flow arrow.
std::vector<std::optional<std::size_t>> launch_of_kernels(const KinetoTrace& trace) {
  std::map<std::int64_t, std::size_t> by_correlation;
  std::map<TimedKey, std::size_t> by_position;
  for (std::size_t i = 0; i < trace.launches.size(); ++i) {
    const LaunchCall& l = trace.launches[i];
    by_correlation.emplace(l.correlation, i);
    by_position.emplace(TimedKey{l.pid, l.tid, l.start_ns}, i);
  }
  std::map<TimedKey, std::string> flow_into;     // 'f' end (on the GPU event) → flow id
  std::map<std::string, TimedKey> flow_from;     // flow id → 's' end (on the launch call)
  for (const FlowEnd& f : trace.flows) {
    if (f.is_start)
      flow_from.emplace(f.id, TimedKey{f.pid, f.tid, f.ts_ns});
    else
      flow_into.emplace(TimedKey{f.pid, f.tid, f.ts_ns}, f.id);
  }
  std::vector<std::optional<std::size_t>> launch(trace.kernels.size());
  for (std::size_t k = 0; k < trace.kernels.size(); ++k) {
    const GpuKernel& kernel = trace.kernels[k];
    if (kernel.correlation) {
      if (const auto it = by_correlation.find(*kernel.correlation); it != by_correlation.end()) {
        launch[k] = it->second;
        continue;
      }
    }
    const auto into = flow_into.find(TimedKey{kernel.pid, kernel.tid, kernel.start_ns});
    if (into == flow_into.end()) continue;
    const auto from = flow_from.find(into->second);
    if (from == flow_from.end()) continue;
    if (const auto it = by_position.find(from->second); it != by_position.end()) launch[k] = it->second;
  }
  return launch;
}

// Annotation ranges that hold no other range of the same process, by start time.
std::vector<std::size_t> innermost_ranges(const std::vector<AnnotationRange>& ranges) {
  std::vector<std::size_t> by_start(ranges.size());
  for (std::size_t i = 0; i < ranges.size(); ++i) by_start[i] = i;
  std::stable_sort(by_start.begin(), by_start.end(), [&](std::size_t x, std::size_t y) {
    return std::tuple(ranges[x].start_ns, -ranges[x].end_ns()) < std::tuple(ranges[y].start_ns, -ranges[y].end_ns());
  });
  std::vector<std::size_t> leaves;
  for (std::size_t i = 0; i < by_start.size(); ++i) {
    const AnnotationRange& a = ranges[by_start[i]];
    bool holds_another = false;
    // Only ranges starting inside `a` can lie inside it; of two identical ranges the later is the leaf.
    for (std::size_t j = i + 1; j < by_start.size() && ranges[by_start[j]].start_ns <= a.end_ns() && !holds_another;
         ++j) {
      const AnnotationRange& b = ranges[by_start[j]];
      holds_another = b.pid == a.pid && b.end_ns() <= a.end_ns();
    }
    if (!holds_another) leaves.push_back(by_start[i]);
  }
  return leaves;
}

// The leaf range (an index into `leaves`) holding a launch call: one of its process,
// on its thread if any, else the shortest.
std::optional<std::size_t> range_of_launch(const LaunchCall& call, const std::vector<AnnotationRange>& ranges,
                                           const std::vector<std::size_t>& leaves, std::int64_t longest_ns) {
  std::optional<std::size_t> best;
  auto better = [&](std::size_t candidate) {
    if (!best) return true;
    const AnnotationRange& c = ranges[leaves[candidate]];
    const AnnotationRange& b = ranges[leaves[*best]];
    if ((c.tid == call.tid) != (b.tid == call.tid)) return c.tid == call.tid;
    return c.duration_ns < b.duration_ns;
  };
  // Leaves are sorted by start: walk back from the last one starting at or before the call.
  auto it = std::upper_bound(leaves.begin(), leaves.end(), call.start_ns,
                             [&](std::int64_t t, std::size_t leaf) { return t < ranges[leaf].start_ns; });
  while (it != leaves.begin()) {
    --it;
    const AnnotationRange& r = ranges[*it];
    if (r.start_ns < call.start_ns - longest_ns) break;
    if (r.pid == call.pid && call.start_ns <= r.end_ns()) {
      const auto index = static_cast<std::size_t>(it - leaves.begin());
      if (better(index)) best = index;
    }
  }
  return best;
}

std::int64_t median_of(std::vector<std::int64_t> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

// Count, summed time, union of intervals and per-stream gaps of `kernels`;
// the gaps are appended to `gaps` (for a median over several groups).
KernelTotals totals_of(std::vector<const GpuKernel*> kernels, std::vector<std::int64_t>& gaps) {
  KernelTotals t;
  std::sort(kernels.begin(), kernels.end(), [](const GpuKernel* a, const GpuKernel* b) {
    return std::tie(a->start_ns, a->stream) < std::tie(b->start_ns, b->stream);
  });
  std::int64_t covered_until = 0;
  std::map<std::int64_t, std::int64_t> stream_end;  // stream → end of its last kernel so far
  for (const GpuKernel* k : kernels) {
    ++t.count;
    t.kernel_ns += k->duration_ns;
    const std::int64_t from = t.count == 1 ? k->start_ns : std::max(k->start_ns, covered_until);
    if (k->end_ns() > from) t.busy_ns += k->end_ns() - from;
    covered_until = t.count == 1 ? k->end_ns() : std::max(covered_until, k->end_ns());
    const auto last = stream_end.find(k->stream);
    if (last != stream_end.end()) {
      if (k->start_ns > last->second) {
        ++t.gap_count;
        t.gap_ns += k->start_ns - last->second;
        gaps.push_back(k->start_ns - last->second);
      }
      last->second = std::max(last->second, k->end_ns());
    } else {
      stream_end.emplace(k->stream, k->end_ns());
    }
  }
  return t;
}

KernelTotals totals_of(const std::vector<const GpuKernel*>& kernels) {
  std::vector<std::int64_t> gaps;
  KernelTotals t = totals_of(kernels, gaps);
  t.gap_median_ns = median_of(std::move(gaps));
  return t;
}

void add_to(KernelTotals& sum, const KernelTotals& part) {
  sum.count += part.count;
  sum.kernel_ns += part.kernel_ns;
  sum.busy_ns += part.busy_ns;
  sum.gap_count += part.gap_count;
  sum.gap_ns += part.gap_ns;
}

std::vector<ClassTime> largest_first(const std::map<std::string, ClassTime>& by_name) {
  std::vector<ClassTime> out;
  for (const auto& entry : by_name) out.push_back(entry.second);
  std::stable_sort(out.begin(), out.end(), [](const ClassTime& a, const ClassTime& b) { return a.kernel_ns > b.kernel_ns; });
  return out;
}

std::vector<NamedKernels> named_largest_first(const std::vector<const GpuKernel*>& kernels) {
  std::map<std::pair<std::string, std::int64_t>, NamedKernels> by_name;
  for (const GpuKernel* k : kernels) {
    NamedKernels& n = by_name[{k->name, k->stream}];
    n.name = k->name;
    n.stream = k->stream;
    ++n.count;
    n.kernel_ns += k->duration_ns;
  }
  std::vector<NamedKernels> out;
  for (const auto& entry : by_name) out.push_back(entry.second);
  std::stable_sort(out.begin(), out.end(),
                   [](const NamedKernels& a, const NamedKernels& b) { return a.kernel_ns > b.kernel_ns; });
  return out;
}

}  // namespace

TraceAttribution attribute_kernels(const KinetoTrace& trace, const KernelClassTable& table) {
  TraceAttribution out;
  out.trace_file = trace.file;
  out.classes_file = table.file;
  out.kernels = static_cast<std::int64_t>(trace.kernels.size());

  // Classes, and which streams are communication streams.
  KernelClassifier classifier(table);
  std::vector<std::optional<std::size_t>> klass(trace.kernels.size());
  std::map<std::int64_t, std::pair<std::int64_t, std::int64_t>> stream_time;  // stream → (all, communication)
  for (std::size_t k = 0; k < trace.kernels.size(); ++k) {
    const GpuKernel& kernel = trace.kernels[k];
    klass[k] = classifier.classify(kernel.name);
    auto& [all, communication] = stream_time[kernel.stream];
    all += kernel.duration_ns;
    if (klass[k] && table.classes[*klass[k]].kind == ClassKind::communication) communication += kernel.duration_ns;
  }
  auto on_compute_stream = [&](const GpuKernel& k) {
    const auto& [all, communication] = stream_time.at(k.stream);
    return 2 * communication <= all;
  };
  auto class_name = [&](std::size_t k) { return klass[k] ? table.classes[*klass[k]].name : std::string(unclassified_class); };

  // Phases: leaf annotation ranges; a name's n-th range is its layer n.
  const std::vector<std::size_t> leaves = innermost_ranges(trace.annotations);
  std::int64_t longest_ns = 0;
  std::vector<std::pair<std::size_t, int>> phase_and_layer(leaves.size());  // per leaf
  std::map<std::string, std::size_t> phase_index;
  for (std::size_t l = 0; l < leaves.size(); ++l) {
    const AnnotationRange& r = trace.annotations[leaves[l]];
    longest_ns = std::max(longest_ns, r.duration_ns);
    auto [it, added] = phase_index.emplace(r.name, out.phases.size());
    if (added) out.phases.push_back({r.name, {}, {}, {}, {}, {}});
    PhaseSummary& phase = out.phases[it->second];
    phase.layers.push_back({static_cast<int>(phase.layers.size()), r.start_ns, r.end_ns(), {}, {}, {}});
    phase_and_layer[l] = {it->second, static_cast<int>(phase.layers.size()) - 1};
    out.layers = std::max(out.layers, static_cast<int>(phase.layers.size()));
  }

  // Each kernel into its phase instance (compute or communication side) or outside.
  const auto launch = launch_of_kernels(trace);
  std::vector<std::vector<std::vector<const GpuKernel*>>> compute_of(out.phases.size()), comm_of(out.phases.size());
  for (std::size_t p = 0; p < out.phases.size(); ++p) {
    compute_of[p].resize(out.phases[p].layers.size());
    comm_of[p].resize(out.phases[p].layers.size());
  }
  std::vector<std::map<std::string, ClassTime>> compute_classes(out.phases.size()), comm_classes(out.phases.size());
  std::vector<const GpuKernel*> outside, unclassified, compute_kernels;
  std::map<std::int64_t, std::vector<const GpuKernel*>> by_stream;
  std::vector<ClassSummary> classes(table.classes.size() + 1);
  for (std::size_t c = 0; c < table.classes.size(); ++c)
    classes[c] = {table.classes[c].name,
                  table.classes[c].kind == ClassKind::compute ? "compute" : "communication", 0, 0, 0};
  classes.back() = {unclassified_class, "", 0, 0, 0};
  for (std::size_t k = 0; k < trace.kernels.size(); ++k) {
    const GpuKernel& kernel = trace.kernels[k];
    const bool compute = on_compute_stream(kernel);
    by_stream[kernel.stream].push_back(&kernel);
    if (compute) compute_kernels.push_back(&kernel);
    ClassSummary& cs = klass[k] ? classes[*klass[k]] : classes.back();
    ++cs.count;
    cs.kernel_ns += kernel.duration_ns;
    if (compute) cs.compute_stream_ns += kernel.duration_ns;
    if (!klass[k]) unclassified.push_back(&kernel);
    if (!launch[k]) ++out.without_launch;
    const std::optional<std::size_t> leaf =
        launch[k] ? range_of_launch(trace.launches[*launch[k]], trace.annotations, leaves, longest_ns) : std::nullopt;
    if (!leaf) {
      outside.push_back(&kernel);
      continue;
    }
    const auto [p, layer] = phase_and_layer[*leaf];
    (compute ? compute_of : comm_of)[p][static_cast<std::size_t>(layer)].push_back(&kernel);
    if (compute)
      out.phases[p].layers[static_cast<std::size_t>(layer)].compute_kernels.push_back(
          {kernel.name, class_name(k), kernel.stream, kernel.start_ns, kernel.duration_ns, kernel.grid});
    ClassTime& ct = (compute ? compute_classes : comm_classes)[p][class_name(k)];
    ct.name = class_name(k);
    ++ct.count;
    ct.kernel_ns += kernel.duration_ns;
  }

  for (std::size_t p = 0; p < out.phases.size(); ++p) {
    PhaseSummary& phase = out.phases[p];
    std::vector<std::int64_t> compute_gaps, comm_gaps;
    for (std::size_t l = 0; l < phase.layers.size(); ++l) {
      phase.layers[l].compute = totals_of(compute_of[p][l], compute_gaps);
      phase.layers[l].communication = totals_of(comm_of[p][l], comm_gaps);
      add_to(phase.compute, phase.layers[l].compute);
      add_to(phase.communication, phase.layers[l].communication);
    }
    // Each layer's own median too.
    for (std::size_t l = 0; l < phase.layers.size(); ++l) {
      phase.layers[l].compute.gap_median_ns = totals_of(compute_of[p][l]).gap_median_ns;
      phase.layers[l].communication.gap_median_ns = totals_of(comm_of[p][l]).gap_median_ns;
    }
    for (PhaseInstance& instance : phase.layers)
      std::stable_sort(instance.compute_kernels.begin(), instance.compute_kernels.end(),
                       [](const KernelRecord& a, const KernelRecord& b) {
                         return std::tie(a.start_ns, a.stream) < std::tie(b.start_ns, b.stream);
                       });
    phase.compute.gap_median_ns = median_of(std::move(compute_gaps));
    phase.communication.gap_median_ns = median_of(std::move(comm_gaps));
    phase.compute_classes = largest_first(compute_classes[p]);
    phase.communication_classes = largest_first(comm_classes[p]);
  }

  out.classes = std::move(classes);
  for (const auto& [stream, kernels] : by_stream)
    out.streams.push_back({stream, on_compute_stream(*kernels.front()), totals_of(kernels)});
  out.compute = totals_of(compute_kernels);
  std::int64_t first = trace.kernels.front().start_ns, last = trace.kernels.front().end_ns();
  for (const GpuKernel& k : trace.kernels) {
    first = std::min(first, k.start_ns);
    last = std::max(last, k.end_ns());
  }
  out.span_ns = last - first;
  out.unclassified = named_largest_first(unclassified);
  out.outside_phases = named_largest_first(outside);
  return out;
}

}  // namespace trainsim::calibrate
