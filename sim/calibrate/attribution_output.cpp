#include "sim/calibrate/attribution_output.hpp"

#include <fmt/format.h>
#include <fmt/ostream.h>

#include <string>
#include <vector>

namespace trainsim::calibrate {
namespace {

using nlohmann::ordered_json;

double us(std::int64_t ns) { return static_cast<double>(ns) / 1000.0; }
double us_per(std::int64_t ns, std::size_t n) { return n == 0 ? 0.0 : us(ns) / static_cast<double>(n); }
double per(std::int64_t v, std::size_t n) { return n == 0 ? 0.0 : static_cast<double>(v) / static_cast<double>(n); }

// A group's totals divided by `n` (layers); the median stays the median.
ordered_json totals_json(const KernelTotals& t, std::size_t n = 1) {
  return {{"kernels", per(t.count, n)},   {"kernel_us", us_per(t.kernel_ns, n)}, {"busy_us", us_per(t.busy_ns, n)},
          {"gaps", per(t.gap_count, n)},  {"gap_us", us_per(t.gap_ns, n)},       {"gap_median_us", us(t.gap_median_ns)}};
}

ordered_json class_times_json(const std::vector<ClassTime>& classes, std::size_t n) {
  ordered_json out = ordered_json::array();
  for (const ClassTime& c : classes)
    out.push_back({{"class", c.name}, {"kernels", per(c.count, n)}, {"kernel_us", us_per(c.kernel_ns, n)}});
  return out;
}

ordered_json named_json(const std::vector<NamedKernels>& kernels) {
  ordered_json out = ordered_json::array();
  for (const NamedKernels& k : kernels)
    out.push_back({{"name", k.name}, {"stream", k.stream}, {"kernels", k.count}, {"kernel_us", us(k.kernel_ns)}});
  return out;
}

std::string streams_of_kind(const TraceAttribution& a, bool compute) {
  std::vector<std::string> ids;
  for (const StreamSummary& s : a.streams)
    if (s.compute == compute) ids.push_back(std::to_string(s.stream));
  return ids.empty() ? "none" : fmt::format("{}", fmt::join(ids, ", "));
}

std::int64_t total_ns(const std::vector<NamedKernels>& kernels) {
  std::int64_t sum = 0;
  for (const NamedKernels& k : kernels) sum += k.kernel_ns;
  return sum;
}
std::int64_t total_count(const std::vector<NamedKernels>& kernels) {
  std::int64_t sum = 0;
  for (const NamedKernels& k : kernels) sum += k.count;
  return sum;
}

// A kernel name cut to fit a table row.
std::string short_name(const std::string& name, std::size_t width = 90) {
  return name.size() <= width ? name : name.substr(0, width - 3) + "...";
}

void write_named(std::ostream& out, const std::vector<NamedKernels>& kernels) {
  for (const NamedKernels& k : kernels)
    fmt::print(out, "    {:>5} x {:>10.1f} us  stream {:<3} {}\n", k.count, us(k.kernel_ns), k.stream, short_name(k.name));
}

}  // namespace

void write_attribution_text(std::ostream& out, const TraceAttribution& a) {
  fmt::print(out, "trace    {}: {} GPU kernels over {:.1f} us; compute streams {}; communication streams {}\n",
             a.trace_file, a.kernels, us(a.span_ns), streams_of_kind(a, true), streams_of_kind(a, false));
  fmt::print(out, "classes  {}\n", a.classes_file);
  fmt::print(out, "phases   {} names (innermost user_annotation ranges), up to {} layers each; a phase's figures are "
                  "means over its layers\n\n", a.phases.size(), a.layers);

  fmt::print(out, "Per phase, mean per layer (us); compute streams, then communication streams\n");
  fmt::print(out, "{:<16} {:>6} {:>8} {:>10} {:>10} {:>7} {:>9} {:>10} | {:>8} {:>10}\n", "phase", "layers", "kernels",
             "kernel_us", "busy_us", "gaps", "gap_us", "gap_med_us", "kernels", "kernel_us");
  double compute_sum = 0, busy_sum = 0, comm_sum = 0;
  for (const PhaseSummary& p : a.phases) {
    const std::size_t n = p.layers.size();
    fmt::print(out, "{:<16} {:>6} {:>8.2f} {:>10.1f} {:>10.1f} {:>7.2f} {:>9.1f} {:>10.1f} | {:>8.2f} {:>10.1f}\n",
               p.name, n, per(p.compute.count, n), us_per(p.compute.kernel_ns, n), us_per(p.compute.busy_ns, n),
               per(p.compute.gap_count, n), us_per(p.compute.gap_ns, n), us(p.compute.gap_median_ns),
               per(p.communication.count, n), us_per(p.communication.kernel_ns, n));
    compute_sum += us_per(p.compute.kernel_ns, n);
    busy_sum += us_per(p.compute.busy_ns, n);
    comm_sum += us_per(p.communication.kernel_ns, n);
  }
  fmt::print(out, "{:<16} {:>6} {:>8} {:>10.1f} {:>10.1f} {:>7} {:>9} {:>10} | {:>8} {:>10.1f}\n\n", "all phases", "", "",
             compute_sum, busy_sum, "", "", "", "", comm_sum);

  fmt::print(out, "Per phase and layer, compute streams: kernel_us / busy_us\n");
  for (const PhaseSummary& p : a.phases) {
    fmt::print(out, "{:<16}", p.name);
    for (const PhaseInstance& l : p.layers)
      fmt::print(out, "  [{}] {:.1f} / {:.1f}", l.layer, us(l.compute.kernel_ns), us(l.compute.busy_ns));
    fmt::print(out, "\n");
  }

  fmt::print(out, "\nPer phase and class, mean per layer: class kernel_us (kernels)\n");
  for (const PhaseSummary& p : a.phases) {
    const std::size_t n = p.layers.size();
    for (const auto* side : {&p.compute_classes, &p.communication_classes}) {
      if (side->empty()) continue;
      fmt::print(out, "{:<16} {:<14}", p.name, side == &p.compute_classes ? "compute" : "communication");
      for (const ClassTime& c : *side) fmt::print(out, " {} {:.1f} ({:g})", c.name, us_per(c.kernel_ns, n), per(c.count, n));
      fmt::print(out, "\n");
    }
  }

  const auto layers = static_cast<std::size_t>(a.layers);
  fmt::print(out, "\nPer class, whole trace, and per layer (whole trace / {} layers)\n", a.layers);
  fmt::print(out, "{:<30} {:<14} {:>8} {:>12} {:>14} {:>14}\n", "class", "kind", "kernels", "kernel_us",
             "per_layer_us", "compute_str_us");
  for (const ClassSummary& c : a.classes) {
    if (c.count == 0) continue;
    fmt::print(out, "{:<30} {:<14} {:>8} {:>12.1f} {:>14.1f} {:>14.1f}\n", c.name, c.kind.empty() ? "-" : c.kind, c.count,
               us(c.kernel_ns), us_per(c.kernel_ns, layers), us(c.compute_stream_ns));
  }

  fmt::print(out, "\nPer stream, whole trace (gaps: between consecutive kernels of the stream)\n");
  fmt::print(out, "{:<8} {:<14} {:>8} {:>12} {:>12} {:>7} {:>11} {:>10}\n", "stream", "kind", "kernels", "kernel_us",
             "busy_us", "gaps", "gap_us", "gap_med_us");
  for (const StreamSummary& s : a.streams)
    fmt::print(out, "{:<8} {:<14} {:>8} {:>12.1f} {:>12.1f} {:>7} {:>11.1f} {:>10.1f}\n", s.stream,
               s.compute ? "compute" : "communication", s.totals.count, us(s.totals.kernel_ns), us(s.totals.busy_ns),
               s.totals.gap_count, us(s.totals.gap_ns), us(s.totals.gap_median_ns));
  fmt::print(out, "compute streams together: {:.1f} us busy of {:.1f} us kernel time ({} kernels)\n",
             us(a.compute.busy_ns), us(a.compute.kernel_ns), a.compute.count);

  fmt::print(out, "\nNot matched (kept in every total above)\n");
  fmt::print(out, "  no class (unclassified): {} kernels, {:.1f} us\n", total_count(a.unclassified),
             us(total_ns(a.unclassified)));
  write_named(out, a.unclassified);
  fmt::print(out, "  no phase (launched outside every innermost annotation range): {} kernels, {:.1f} us\n",
             total_count(a.outside_phases), us(total_ns(a.outside_phases)));
  write_named(out, a.outside_phases);
  fmt::print(out, "  no launch call in the trace (so no phase): {} kernels\n", a.without_launch);
  fmt::print(out, "\nNo calibration file is written and nothing is fitted yet (issue 13: recipes and cost laws first).\n");
}

ordered_json attribution_json(const TraceAttribution& a) {
  ordered_json phases = ordered_json::array();
  for (const PhaseSummary& p : a.phases) {
    const std::size_t n = p.layers.size();
    ordered_json per_layer = ordered_json::array();
    for (const PhaseInstance& l : p.layers)
      per_layer.push_back({{"layer", l.layer},
                           {"cpu_start_us", us(l.cpu_start_ns)},
                           {"cpu_end_us", us(l.cpu_end_ns)},
                           {"compute", totals_json(l.compute)},
                           {"communication", totals_json(l.communication)}});
    phases.push_back({{"phase", p.name},
                      {"layers", n},
                      {"mean_per_layer", {{"compute", totals_json(p.compute, n)}, {"communication", totals_json(p.communication, n)}}},
                      {"classes_mean_per_layer",
                       {{"compute", class_times_json(p.compute_classes, n)},
                        {"communication", class_times_json(p.communication_classes, n)}}},
                      {"per_layer", per_layer}});
  }
  ordered_json classes = ordered_json::array();
  for (const ClassSummary& c : a.classes)
    classes.push_back({{"class", c.name}, {"kind", c.kind}, {"kernels", c.count}, {"kernel_us", us(c.kernel_ns)},
                       {"compute_stream_us", us(c.compute_stream_ns)}});
  ordered_json streams = ordered_json::array();
  for (const StreamSummary& s : a.streams)
    streams.push_back({{"stream", s.stream}, {"kind", s.compute ? "compute" : "communication"}, {"totals", totals_json(s.totals)}});
  return {{"trace", a.trace_file},
          {"classes_file", a.classes_file},
          {"kernels", a.kernels},
          {"layers", a.layers},
          {"span_us", us(a.span_ns)},
          {"compute_streams", totals_json(a.compute)},
          {"phases", phases},
          {"classes", classes},
          {"streams", streams},
          {"unclassified", named_json(a.unclassified)},
          {"outside_phases", named_json(a.outside_phases)},
          {"without_launch", a.without_launch},
          {"calibration_written", false}};
}

}  // namespace trainsim::calibrate
