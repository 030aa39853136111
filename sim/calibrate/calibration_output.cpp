// calibrate --write: the fit as text, JSON and the calibration file (YAML).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <tuple>

#include "sim/calibrate/calibration_fit.hpp"

namespace trainsim::calibrate {
namespace {

double us(double s) { return s * 1e6; }

std::string percent(double relative) { return fmt::format("{:+.1f} %", 100 * relative); }

// The layer pair: every phase of the recipe.
PhaseComparison pair_total(const CalibrationFit& fit) {
  PhaseComparison total;
  total.phase = "layer pair (all phases)";
  for (const PhaseComparison& p : fit.phases) {
    total.trace_kernels += p.trace_kernels;
    total.recipe_kernels += p.recipe_kernels;
    total.matched += p.matched;
    total.trace_s += p.trace_s;
    total.predicted_s += p.predicted_s;
    total.unmodelled_s += p.unmodelled_s;
    total.trace_gap_s += p.trace_gap_s;
    total.predicted_gap_s += p.predicted_gap_s;
  }
  return total;
}

// A phase's measured and predicted wall time (union of its kernel intervals).
std::pair<double, double> fit_phase_wall(const CalibrationFit& fit, const std::string& phase) {
  for (const PhaseComparison& p : fit.phases)
    if (p.phase == phase) return {p.trace_wall_s, p.predicted_wall_s};
  return {0, 0};
}

// Per phase (first-seen order): the largest |error| over the held-out layers, kernel sum and wall.
std::vector<std::tuple<std::string, double, double>> layer_out_summary(const CalibrationFit& fit) {
  std::vector<std::tuple<std::string, double, double>> rows;
  for (const HeldOutLayer& h : fit.leave_one_layer_out) {
    auto row = std::find_if(rows.begin(), rows.end(), [&](const auto& r) { return std::get<0>(r) == h.phase; });
    if (row == rows.end()) row = rows.insert(rows.end(), {h.phase, 0.0, 0.0});
    std::get<1>(*row) = std::max(std::get<1>(*row), std::abs(h.error()));
    std::get<2>(*row) = std::max(std::get<2>(*row), std::abs(h.wall_error()));
  }
  return rows;
}

std::string parameter_text(const FittedParameter& p) {
  return fmt::format("{} {:.4g} [{:.4g}, {:.4g}]", p.name, p.value, p.low, p.high);
}

// A YAML scalar in double quotes.
std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

void write_calibration_text(std::ostream& out, const CalibrationFit& fit) {
  out << fmt::format("calibration fit: {} ({} bytes, sha256 {})\n  recipes {}\n  laws {}\n", fit.input.trace_file,
                     fit.input.trace_bytes, fit.input.trace_sha256, fit.recipes_file, fit.laws_file);
  out << fmt::format("  {} recipe kernels matched a trace kernel; {} recipe kernels matched none; launch gap {:.2f} us "
                     "(median of {} gaps)\n\n",
                     fit.points.size(), fit.recipe_unmatched.size(), us(fit.fitted.launch_gap_s), fit.gaps);
  out << "Per phase, mean per layer (kernel time on compute streams; predicted = the recipe's kernels under the "
         "fitted laws):\n";
  out << fmt::format("  {:<24} {:>8} {:>8} {:>11} {:>11} {:>8} {:>11} {:>10} {:>10}\n", "phase", "kernels", "recipe",
                     "trace us", "predicted", "error", "unmodelled", "gaps us", "pred gaps");
  auto row = [&](const PhaseComparison& p) {
    out << fmt::format("  {:<24} {:>8.1f} {:>8} {:>11.1f} {:>11.1f} {:>8} {:>11.1f} {:>10.1f} {:>10.1f}\n", p.phase,
                       p.trace_kernels, p.recipe_kernels, us(p.trace_s), us(p.predicted_s),
                       p.trace_s > 0 ? percent(p.predicted_s / p.trace_s - 1) : "-", us(p.unmodelled_s),
                       us(p.trace_gap_s), us(p.predicted_gap_s));
  };
  for (const PhaseComparison& p : fit.phases) row(p);
  row(pair_total(fit));
  for (const StreamOverlap& o : fit.overlaps)
    out << fmt::format("  {:<24} {:>8} {:>8} {:>11.1f} {:>11.1f} {:>8}   (union of the phase's kernel intervals)\n",
                       o.phase + " wall", "", "", us(fit_phase_wall(fit, o.phase).first),
                       us(fit_phase_wall(fit, o.phase).second),
                       percent(fit_phase_wall(fit, o.phase).second / fit_phase_wall(fit, o.phase).first - 1));
  for (const StreamOverlap& o : fit.overlaps)
    out << fmt::format("  {:<24} {:>8} {:>8} {:>11.1f} {:>11.1f} {:>8}   ({} kernels on {} streams sharing the SMs: "
                       "wall = S/s + alpha(S - S/s), S = {:.1f} us solo, alpha {:.3f} [{:.3f}, {:.3f}], kernel stretch "
                       "{:.3f} [{:.3f}, {:.3f}] over the layers)\n",
                       o.phase + " overlap", o.kernels, "", us(o.trace_wall_s), us(o.wall_s()),
                       percent(o.wall_s() / o.trace_wall_s - 1), o.kernels, o.streams, us(o.solo_sum_s), o.alpha.value,
                       o.alpha.low, o.alpha.high, o.stretch.value, o.stretch.low, o.stretch.high);
  out << "\nPer class (fitted law; parameters as value [low, high] over the leave-one-shape-out refits):\n";
  for (const ClassFit& c : fit.classes) {
    std::string params;
    for (const FittedParameter& p : c.parameters) params += (params.empty() ? "" : ", ") + parameter_text(p);
    out << fmt::format("  {:<28} {:<9} {:>3} kernels {:>3} shapes  rms residual {:>6.1f} %  {}\n", c.law.class_name,
                       to_string(c.law.form), c.points, c.shapes, 100 * c.rms_residual, params);
    if (!c.note.empty()) out << "      note: " << c.note << '\n';
  }
  if (!fit.classes_without_points.empty())
    out << fmt::format("  no trace kernel for: {} (their laws keep the file's values)\n",
                       fmt::join(fit.classes_without_points, ", "));
  out << "\nPer recipe kernel (matched; measured = mean over the layers it matched in):\n";
  for (const FitPoint& p : fit.points) {
    const CostLaw* law = fit.fitted.find(p.class_name);
    const double predicted = law != nullptr ? kernel_seconds(*law, p.shape) : 0;
    const std::string shape = p.shape.flops > 0 && p.shape.m <= 0 ? fmt::format("{:.4g} flop", p.shape.flops)
                              : p.shape.m > 0 ? fmt::format("{:g}x{:g}x{:g}", p.shape.m, p.shape.n, p.shape.k)
                                              : fmt::format("{:.4g} B", p.shape.bytes);
    out << fmt::format("  {:<8} {:<22} {} {:<28} {:>20} measured {:>8.1f} us  model {:>8.1f} us  {:>8}  {}\n", p.phase,
                       p.op, to_string(p.pass), p.class_name, shape, us(p.measured_s), us(predicted),
                       p.measured_s > 0 ? percent(predicted / p.measured_s - 1) : "-",
                       (p.shared_sms ? "[shared SMs] " : "") + p.kernel_name.substr(0, 60));
  }
  out << "\nLeave one shape out (refit without it, predict it):\n";
  for (const ClassFit& c : fit.classes) {
    if (c.leave_one_out.empty()) {
      out << fmt::format("  {:<28} too few shapes ({}) to leave one out\n", c.law.class_name, c.shapes);
      continue;
    }
    out << fmt::format("  {:<28} median |error| {:.1f} %\n", c.law.class_name, 100 * *c.loo_median_abs);
    for (const LeaveOneOut& l : c.leave_one_out)
      out << fmt::format("      {:<40} measured {:>9.1f} us  predicted {:>9.1f} us  {}\n", l.label, us(l.measured_s),
                         us(l.predicted_s), percent(l.error()));
  }
  if (const auto m = fit.loo_median_abs()) out << fmt::format("  all classes: median |error| {:.1f} %\n", 100 * *m);
  if (const auto m = fit.loo_median_abs_time_weighted())
    out << fmt::format("  all classes, weighted by measured time: median |error| {:.1f} %\n", 100 * *m);
  out << "\nLeave one layer out (refit without that layer of every phase, predict its phase times):\n";
  for (const HeldOutLayer& h : fit.leave_one_layer_out)
    out << fmt::format("  layer {}  {:<24} kernels {:>9.1f} us  predicted {:>9.1f} us  {:>8}   wall {:>9.1f} us  predicted {:>9.1f} us  {:>8}\n",
                       h.layer, h.phase, us(h.measured_s), us(h.predicted_s), percent(h.error()), us(h.measured_wall_s),
                       us(h.predicted_wall_s), percent(h.wall_error()));
  for (const auto& [phase, worst, worst_wall] : layer_out_summary(fit))
    out << fmt::format("  {:<32} max |error| kernels {:.1f} %, wall {:.1f} %\n", phase, 100 * worst, 100 * worst_wall);
  if (fit.leave_one_layer_out.empty()) out << "  one layer only\n";
  out << "\nUnmodelled trace kernels (no recipe kernel matched them), mean per layer:\n";
  for (const UnmodelledKernel& u : fit.unmodelled)
    out << fmt::format("  {:<10} {:<28} {:>5.2f} x {:>9.1f} us  {}\n", u.phase, u.class_name, u.count_per_layer,
                       us(u.seconds_per_layer), u.name.substr(0, 70));
  if (fit.unmodelled.empty()) out << "  none\n";
  if (!fit.recipe_unmatched.empty()) {
    out << "\nRecipe kernels that matched no trace kernel:\n";
    for (const PlannedKernel& p : fit.recipe_unmatched)
      out << fmt::format("  {:<10} {} {} {}\n", p.phase, p.op, to_string(p.pass), p.class_name);
  }
}

nlohmann::ordered_json calibration_json(const CalibrationFit& fit) {
  using nlohmann::ordered_json;
  ordered_json j;
  j["trace"] = fit.input.trace_file;
  j["trace_bytes"] = fit.input.trace_bytes;
  j["trace_sha256"] = fit.input.trace_sha256;
  j["recipes"] = fit.recipes_file;
  j["laws"] = fit.laws_file;
  j["workload"] = fit.workload_file;
  j["routed_rows"] = {{"forward", fit.routed_rows.forward}, {"backward", fit.routed_rows.backward}};
  j["launch_gap_s"] = fit.fitted.launch_gap_s;
  j["gaps"] = fit.gaps;
  ordered_json phases = ordered_json::array();
  auto phase_json = [](const PhaseComparison& p) {
    return ordered_json{{"phase", p.phase},          {"trace_kernels_per_layer", p.trace_kernels},
                        {"recipe_kernels", p.recipe_kernels}, {"matched_per_layer", p.matched},
                        {"trace_s", p.trace_s},        {"predicted_s", p.predicted_s},
                        {"unmodelled_s", p.unmodelled_s}, {"trace_gap_s", p.trace_gap_s},
                        {"predicted_gap_s", p.predicted_gap_s}, {"trace_wall_s", p.trace_wall_s},
                        {"predicted_wall_s", p.predicted_wall_s}};
  };
  for (const PhaseComparison& p : fit.phases) phases.push_back(phase_json(p));
  phases.push_back(phase_json(pair_total(fit)));
  j["phases"] = phases;
  ordered_json overlaps = ordered_json::array();
  const auto range_json = [](const FittedParameter& p) {
    return ordered_json{{"value", p.value}, {"low", p.low}, {"high", p.high}};
  };
  for (const StreamOverlap& o : fit.overlaps) {
    ordered_json oj{{"phase", o.phase}, {"streams", o.streams}, {"kernels", o.kernels}, {"solo_sum_s", o.solo_sum_s}};
    oj["trace_wall_s"] = o.trace_wall_s, oj["predicted_wall_s"] = o.wall_s(), oj["trace_kernel_s"] = o.trace_kernel_s;
    oj["alpha"] = range_json(o.alpha), oj["stretch"] = range_json(o.stretch);
    overlaps.push_back(oj);
  }
  j["stream_overlaps"] = overlaps;
  ordered_json layer_out = ordered_json::array();
  for (const HeldOutLayer& h : fit.leave_one_layer_out)
    layer_out.push_back({{"phase", h.phase}, {"layer", h.layer}, {"measured_s", h.measured_s}, {"predicted_s", h.predicted_s},
                         {"error", h.error()}, {"measured_wall_s", h.measured_wall_s},
                         {"predicted_wall_s", h.predicted_wall_s}, {"wall_error", h.wall_error()}});
  j["leave_one_layer_out"] = layer_out;
  ordered_json classes = ordered_json::array();
  for (const ClassFit& c : fit.classes) {
    ordered_json cj{{"class", c.law.class_name}, {"law", to_string(c.law.form)}, {"kernels", c.points},
                    {"shapes", c.shapes},        {"rms_residual", c.rms_residual}};
    for (const FittedParameter& p : c.parameters) cj[p.name] = {{"value", p.value}, {"low", p.low}, {"high", p.high}};
    ordered_json loo = ordered_json::array();
    for (const LeaveOneOut& l : c.leave_one_out)
      loo.push_back({{"shape", l.label}, {"measured_s", l.measured_s}, {"predicted_s", l.predicted_s}, {"error", l.error()}});
    cj["leave_one_out"] = loo;
    cj["leave_one_out_median_abs"] = c.loo_median_abs ? ordered_json(*c.loo_median_abs) : ordered_json(nullptr);
    if (!c.note.empty()) cj["note"] = c.note;
    if (!c.law.held.empty()) cj["held"] = c.law.held;
    classes.push_back(cj);
  }
  j["classes"] = classes;
  j["classes_without_points"] = fit.classes_without_points;
  const auto median = fit.loo_median_abs();
  j["leave_one_out_median_abs"] = median ? ordered_json(*median) : ordered_json(nullptr);
  const auto weighted = fit.loo_median_abs_time_weighted();
  j["leave_one_out_median_abs_time_weighted"] = weighted ? ordered_json(*weighted) : ordered_json(nullptr);
  ordered_json unmodelled = ordered_json::array();
  for (const UnmodelledKernel& u : fit.unmodelled)
    unmodelled.push_back({{"phase", u.phase}, {"class", u.class_name}, {"name", u.name},
                          {"count_per_layer", u.count_per_layer}, {"seconds_per_layer", u.seconds_per_layer}});
  j["unmodelled"] = unmodelled;
  ordered_json unmatched = ordered_json::array();
  for (const PlannedKernel& p : fit.recipe_unmatched)
    unmatched.push_back({{"phase", p.phase}, {"op", p.op}, {"pass", to_string(p.pass)}, {"class", p.class_name}});
  j["recipe_kernels_unmatched"] = unmatched;
  return j;
}

void write_calibration_yaml(std::ostream& out, const CalibrationFit& fit) {
  const CostLawTable& t = fit.fitted;
  out << "# Written by `trainsim calibrate TRACE --write FILE` (issue 13): the cost laws of " << t.file
      << "\n# with parameters fitted to the kernels of one profiler trace. Only kernel records entered the fit.\n"
      << "# Parameter ranges {low, high} are the extremes over the leave-one-shape-out refits.\n";
  out << "name: " << quoted(t.name + " calibrated") << '\n';
  out << "gpu: " << quoted(t.gpu) << '\n';
  out << "source: " << quoted("fit of " + t.file + " to " + fit.input.trace_file) << '\n';
  out << "sms_total: " << t.sms_total << '\n';
  out << fmt::format("launch_gap: {:.4g}us   # median of {} idle gaps between kernels of a stream\n",
                     us(t.launch_gap_s), fit.gaps);
  out << "laws:\n";
  for (const CostLaw& law : t.laws) {
    const ClassFit* cf = nullptr;
    for (const ClassFit& c : fit.classes)
      if (c.law.class_name == law.class_name) cf = &c;
    out << "  - {class: " << law.class_name << ", law: " << to_string(law.form);
    switch (law.form) {
      case LawForm::gemm:
        out << fmt::format(", peak: {:.6g}TFLOPS, sms: {}, tile_m: {:g}, tile_n: {:g}, e_max: {:.6g}, k_half: {:.6g}",
                           law.peak_flops * t.sms_total / law.sms / 1e12, law.sms, law.tile_m, law.tile_n, law.e_max,
                           law.k_half);
        break;
      case LawForm::memory:
        out << fmt::format(", fixed: {:.6g}us, bandwidth: {:.6g}GB/s", us(law.fixed_s), law.bandwidth / 1e9);
        break;
      case LawForm::attention:
        out << fmt::format(", peak: {:.6g}TFLOPS, sms: {}, efficiency: {:.6g}", law.peak_flops * t.sms_total / law.sms / 1e12,
                           law.sms, law.efficiency);
        break;
    }
    if (!law.held.empty()) out << ", held: " << quoted(law.held);
    out << "}";
    if (cf != nullptr && !law.held.empty())
      out << fmt::format("   # held, not fitted: {} trace kernels, rms residual {:.1f} %", cf->points, 100 * cf->rms_residual);
    else if (cf == nullptr)
      out << "   # no kernel of this class in the trace: the laws file's values";
    else
      out << fmt::format("   # {} kernels, {} shapes, rms residual {:.1f} %", cf->points, cf->shapes, 100 * cf->rms_residual);
    out << '\n';
  }
  out << "provenance:\n";
  out << "  trace: " << quoted(fit.input.trace_file) << '\n';
  out << "  trace_bytes: " << fit.input.trace_bytes << '\n';
  out << "  trace_sha256: " << quoted(fit.input.trace_sha256) << '\n';
  out << "  recipes: " << quoted(fit.recipes_file) << '\n';
  out << "  laws: " << quoted(fit.laws_file) << '\n';
  out << "  workload: " << quoted(fit.workload_file) << '\n';
  out << fmt::format("  routed_rows: {{forward: {:g}, backward: {:g}}}   # 0: the cost model's tokens x top_k\n",
                     fit.routed_rows.forward, fit.routed_rows.backward);
  out << "  inputs: \"kernel records only (name, class, stream, start, duration per phase and layer)\"\n";
  out << "fit:\n";
  if (const auto& d = t.model_error_default)  // from the laws file: classes without held-out shapes
    out << fmt::format("  model_error_default: {{low: {:.6g}, high: {:.6g}}}   # {}\n", d->low, d->high, d->about);
  out << "  classes:\n";
  for (const ClassFit& c : fit.classes) {
    out << "    - class: " << c.law.class_name << '\n';
    out << fmt::format("      kernels: {}\n      shapes: {}\n      rms_residual: {:.4g}\n", c.points, c.shapes,
                       c.rms_residual);
    for (const FittedParameter& p : c.parameters)
      out << fmt::format("      {}: {{value: {:.6g}, low: {:.6g}, high: {:.6g}}}\n", p.name, p.value, p.low, p.high);
    if (c.loo_median_abs) {
      out << fmt::format("      leave_one_out_median_abs: {:.4g}\n      leave_one_out:\n", *c.loo_median_abs);
      for (const LeaveOneOut& l : c.leave_one_out)
        out << fmt::format("        - {{shape: {}, measured_us: {:.2f}, predicted_us: {:.2f}, error: {:.4f}}}\n",
                           quoted(l.label), us(l.measured_s), us(l.predicted_s), l.error());
    }
    if (!c.law.held.empty()) {
      out << "      held: " << quoted(c.law.held) << '\n';
      out << "      residuals:   # the held law on the trace's kernels of this class (not fitted to them)\n";
      for (const FitPoint& p : fit.points) {
        if (p.class_name != c.law.class_name || p.shared_sms || p.measured_s <= 0) continue;
        const double predicted = kernel_seconds(c.law, p.shape);
        out << fmt::format("        - {{kernel: {}, measured_us: {:.2f}, predicted_us: {:.2f}, residual: {:.4f}}}\n",
                           quoted(fmt::format("{} {} {}", p.phase, p.op, to_string(p.pass))), us(p.measured_s),
                           us(predicted), predicted / p.measured_s - 1);
      }
    }
    if (!c.note.empty()) out << "      note: " << quoted(c.note) << '\n';
  }
  if (const auto m = fit.loo_median_abs()) out << fmt::format("  leave_one_out_median_abs: {:.4g}   # all classes\n", *m);
  if (const auto m = fit.loo_median_abs_time_weighted())
    out << fmt::format("  leave_one_out_median_abs_time_weighted: {:.4g}\n", *m);
  out << "  phases:   # mean per layer, us\n";
  auto phase_line = [&](const PhaseComparison& p) {
    out << fmt::format("    - {{phase: {}, trace: {:.1f}, predicted: {:.1f}, unmodelled: {:.1f}}}\n", quoted(p.phase),
                       us(p.trace_s), us(p.predicted_s), us(p.unmodelled_s));
  };
  for (const PhaseComparison& p : fit.phases) phase_line(p);
  phase_line(pair_total(fit));
  out << "  stream_overlaps:   # kernels sharing the SMs over compute streams: wall = S/s + alpha (S - S/s), us per layer\n";
  for (const StreamOverlap& o : fit.overlaps) {
    const auto [phase_trace, phase_predicted] = fit_phase_wall(fit, o.phase);
    out << fmt::format("    - {{phase: {}, streams: {}, kernels: {}, solo_sum: {:.1f}, trace_wall: {:.1f}, predicted_wall: {:.1f}, "
                       "phase_trace_wall: {:.1f}, phase_predicted_wall: {:.1f}, alpha: {{value: {:.4g}, low: {:.4g}, high: {:.4g}}}, "
                       "stretch: {{value: {:.4g}, low: {:.4g}, high: {:.4g}}}}}\n",
                       quoted(o.phase), o.streams, o.kernels, us(o.solo_sum_s), us(o.trace_wall_s), us(o.wall_s()),
                       us(phase_trace), us(phase_predicted), o.alpha.value, o.alpha.low, o.alpha.high, o.stretch.value,
                       o.stretch.low, o.stretch.high);
  }
  out << "  leave_one_layer_out:   # refit without one layer of every phase, predict its phase times (us)\n";
  for (const HeldOutLayer& h : fit.leave_one_layer_out)
    out << fmt::format("    - {{phase: {}, layer: {}, measured: {:.1f}, predicted: {:.1f}, error: {:.4f}, measured_wall: {:.1f}, "
                       "predicted_wall: {:.1f}, wall_error: {:.4f}}}\n",
                       quoted(h.phase), h.layer, us(h.measured_s), us(h.predicted_s), h.error(), us(h.measured_wall_s),
                       us(h.predicted_wall_s), h.wall_error());
  out << "  leave_one_layer_out_max_abs:   # per phase, over the held-out layers\n";
  for (const auto& [phase, worst, worst_wall] : layer_out_summary(fit))
    out << fmt::format("    - {{phase: {}, error: {:.4f}, wall_error: {:.4f}}}\n", quoted(phase), worst, worst_wall);
  out << "  unmodelled:   # trace kernels no recipe kernel matched, mean per layer\n";
  for (const UnmodelledKernel& u : fit.unmodelled)
    out << fmt::format("    - {{phase: {}, class: {}, count: {:.2f}, us: {:.2f}, name: {}}}\n", quoted(u.phase),
                       u.class_name, u.count_per_layer, us(u.seconds_per_layer), quoted(u.name.substr(0, 80)));
}

}  // namespace trainsim::calibrate
