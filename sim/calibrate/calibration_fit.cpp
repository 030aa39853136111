#include "sim/calibrate/calibration_fit.hpp"

#include "sim/calibrate/file_digest.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <system_error>

namespace trainsim::calibrate {
namespace {

double median_of(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

// Least squares y = a + b·x; nullopt when the xs do not differ.
std::optional<std::pair<double, double>> line_fit(const std::vector<double>& x, const std::vector<double>& y) {
  const double n = static_cast<double>(x.size());
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sx += x[i], sy += y[i], sxx += x[i] * x[i], sxy += x[i] * y[i];
  }
  const double det = n * sxx - sx * sx;
  if (x.size() < 2 || std::abs(det) <= 1e-12 * std::max(1.0, n * sxx)) return std::nullopt;
  const double b = (n * sxy - sx * sy) / det;
  return std::pair{(sy - b * sx) / n, b};
}

double mean_of(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0 : s / static_cast<double>(v.size());
}

// The union length of [start, end) intervals.
double union_seconds(std::vector<std::pair<std::int64_t, std::int64_t>> spans) {
  std::sort(spans.begin(), spans.end());
  std::int64_t total = 0, from = 0, to = 0;
  bool open = false;
  for (const auto& [a, b] : spans) {
    if (!open || a > to) {
      if (open) total += to - from;
      from = a, to = b, open = true;
    } else {
      to = std::max(to, b);
    }
  }
  if (open) total += to - from;
  return static_cast<double>(total) * 1e-9;
}

// Per kernel of a layer: whether more than a fifth of its time overlapped a kernel of another stream.
std::vector<bool> shares_sms(const std::vector<KernelRecord>& layer) {
  std::vector<bool> shared(layer.size(), false);
  for (std::size_t i = 0; i < layer.size(); ++i) {
    std::int64_t overlap = 0;
    for (std::size_t j = 0; j < layer.size(); ++j) {
      if (layer[j].stream == layer[i].stream) continue;
      const std::int64_t a = std::max(layer[i].start_ns, layer[j].start_ns);
      const std::int64_t b = std::min(layer[i].start_ns + layer[i].duration_ns, layer[j].start_ns + layer[j].duration_ns);
      if (b > a) overlap += b - a;
    }
    shared[i] = 5 * overlap > layer[i].duration_ns;
  }
  return shared;
}

// alpha of S/s + alpha·(S − S/s) = wall.
double overlap_alpha(double solo_sum, int streams, double wall) {
  const double perfect = solo_sum / streams;
  return solo_sum > perfect ? (wall - perfect) / (solo_sum - perfect) : 1;
}

// A shape's identity within a class, for leaving it out.
std::string key_of(const KernelShape& s) {
  return fmt::format("{:.6g}|{:.6g}|{:.6g}|{:.6g}|{:.6g}", s.m, s.n, s.k, s.bytes, s.flops);
}
std::string shape_key(const FitPoint& p) { return p.held_out_key.empty() ? key_of(p.shape) : p.held_out_key; }

// The plan of layer instance l: its own, or the nominal one.
const std::vector<PlannedKernel>& plan_of(const std::vector<PlannedKernel>& planned,
                                          const std::vector<std::vector<PlannedKernel>>& per_layer, std::size_t l) {
  return per_layer.empty() ? planned : per_layer[std::min(l, per_layer.size() - 1)];
}

struct PhasePrediction {
  double kernels_s = 0, wall_s = 0;
};

// One phase's kernel sum and wall under the fitted laws for one plan: a stream-overlap
// group's kernels last their solo time × its stretch, and the group's wall is
// S/s + alpha·(S − S/s) over their solo sum S under this plan.
PhasePrediction predict_phase(const CalibrationFit& fit, const std::vector<PlannedKernel>& plan, const std::string& phase) {
  const StreamOverlap* group = nullptr;
  for (const StreamOverlap& o : fit.overlaps)
    if (o.phase == phase) group = &o;
  PhasePrediction out;
  double group_solo = 0;
  for (std::size_t i = 0; i < plan.size(); ++i) {
    if (plan[i].phase != phase) continue;
    const double solo = kernel_seconds(*fit.fitted.find(plan[i].class_name), plan[i].shape);
    const bool in_group = group != nullptr && i < fit.overlap_member.size() && fit.overlap_member[i];
    out.kernels_s += in_group ? solo * group->stretch.value : solo;
    (in_group ? group_solo : out.wall_s) += solo;
  }
  if (group != nullptr) {
    StreamOverlap at = *group;
    at.solo_sum_s = group_solo;
    out.wall_s += at.wall_s();
  }
  return out;
}

std::vector<FittedParameter> parameters_of(const CostLaw& law) {
  switch (law.form) {
    case LawForm::gemm: return {{"e_max", law.e_max, law.e_max, law.e_max}, {"k_half", law.k_half, law.k_half, law.k_half}};
    case LawForm::memory:
      return {{"fixed_s", law.fixed_s, law.fixed_s, law.fixed_s},
              {"bandwidth_Bps", law.bandwidth, law.bandwidth, law.bandwidth}};
    case LawForm::attention: return {{"efficiency", law.efficiency, law.efficiency, law.efficiency}};
  }
  return {};
}

// Longest common subsequence of two class-name sequences: the matched index pairs.
std::vector<std::pair<std::size_t, std::size_t>> match_in_order(const std::vector<std::string>& recipe,
                                                                const std::vector<std::string>& trace) {
  const std::size_t R = recipe.size(), T = trace.size();
  std::vector<std::vector<int>> best(R + 1, std::vector<int>(T + 1, 0));  // best[i][j]: of recipe[i..], trace[j..]
  for (std::size_t i = R; i-- > 0;)
    for (std::size_t j = T; j-- > 0;)
      best[i][j] = recipe[i] == trace[j] ? best[i + 1][j + 1] + 1 : std::max(best[i + 1][j], best[i][j + 1]);
  std::vector<std::pair<std::size_t, std::size_t>> pairs;
  for (std::size_t i = 0, j = 0; i < R && j < T;) {
    if (recipe[i] == trace[j]) {
      pairs.emplace_back(i, j);
      ++i, ++j;
    } else if (best[i + 1][j] >= best[i][j + 1]) {
      ++i;
    } else {
      ++j;
    }
  }
  return pairs;
}

// Refit without layer l of every phase (the phases with more than one layer), predict layer l.
std::vector<HeldOutLayer> leave_one_layer_out(const CalibrationInput& input, const std::vector<PlannedKernel>& planned,
                                              const CostLawTable& laws, const std::string& recipes_file,
                                              const std::vector<std::vector<PlannedKernel>>& per_layer) {
  std::size_t layers = 0;
  for (const PhaseKernels& p : input.phases) layers = std::max(layers, p.layers.size());
  std::vector<HeldOutLayer> out;
  for (std::size_t held = 0; held < layers; ++held) {
    CalibrationInput rest = input;
    for (PhaseKernels& p : rest.phases)
      if (p.layers.size() > 1 && held < p.layers.size()) p.layers.erase(p.layers.begin() + static_cast<std::ptrdiff_t>(held));
    std::vector<std::vector<PlannedKernel>> rest_plans = per_layer;
    if (rest_plans.size() > 1 && held < rest_plans.size()) rest_plans.erase(rest_plans.begin() + static_cast<std::ptrdiff_t>(held));
    const CalibrationFit refit = fit_calibration(rest, planned, laws, recipes_file, false, rest_plans);
    const std::vector<PlannedKernel>& held_plan = plan_of(planned, per_layer, held);
    HeldOutLayer pair{"layer pair (all phases)", static_cast<int>(held), 0, 0, 0, 0};
    for (const PhaseComparison& predicted : refit.phases) {
      const auto phase = std::find_if(input.phases.begin(), input.phases.end(),
                                      [&](const PhaseKernels& p) { return p.phase == predicted.phase; });
      if (phase == input.phases.end() || phase->layers.size() < 2 || held >= phase->layers.size()) continue;
      const PhasePrediction own = predict_phase(refit, held_plan, predicted.phase);
      HeldOutLayer h{predicted.phase, static_cast<int>(held), 0, own.kernels_s, 0, own.wall_s};
      std::vector<std::pair<std::int64_t, std::int64_t>> spans;
      for (const KernelRecord& k : phase->layers[held]) {
        h.measured_s += static_cast<double>(k.duration_ns) * 1e-9;
        spans.emplace_back(k.start_ns, k.start_ns + k.duration_ns);
      }
      h.measured_wall_s = union_seconds(spans);
      if (h.measured_s <= 0) continue;
      pair.measured_s += h.measured_s, pair.predicted_s += h.predicted_s;
      pair.measured_wall_s += h.measured_wall_s, pair.predicted_wall_s += h.predicted_wall_s;
      out.push_back(h);
    }
    if (pair.measured_s > 0) out.push_back(pair);
  }
  return out;
}

}  // namespace

std::vector<std::vector<PlannedKernel>> expand_recipes_per_layer(const RecipeSet& recipes, const LayerCost& layer,
                                                                 const WorkloadSpec& workload, const CalibrationInput& input,
                                                                 const RoutedRows& fallback,
                                                                 std::vector<PhaseRoutedRows>* rows) {
  std::size_t layers = 0;
  for (const PhaseKernels& p : input.phases) layers = std::max(layers, p.layers.size());
  std::vector<std::vector<PlannedKernel>> out(layers);
  for (std::size_t l = 0; l < layers; ++l) {
    for (const RecipePhase& phase : recipes.phases) {
      std::optional<double> found;
      for (const PhaseKernels& p : input.phases)
        if (p.phase == phase.name && l < p.layers.size()) found = routed_rows_in(recipes, phase.name, p.layers[l]);
      if (rows != nullptr && l == 0) rows->push_back({phase.name, std::vector<double>(layers, 0)});
      if (rows != nullptr && found) (*rows)[static_cast<std::size_t>(&phase - recipes.phases.data())].rows[l] = *found;
      const RoutedRows own = found ? RoutedRows{*found, *found} : fallback;
      for (PlannedKernel& k : expand_recipes(recipes, layer, workload, own))
        if (k.phase == phase.name) out[l].push_back(std::move(k));
    }
  }
  if (rows != nullptr)
    rows->erase(std::remove_if(rows->begin(), rows->end(),
                               [](const PhaseRoutedRows& r) {
                                 return std::all_of(r.rows.begin(), r.rows.end(), [](double v) { return v == 0; });
                               }),
                rows->end());
  return out;
}

RoutedRows mean_routed_rows(const std::vector<PhaseRoutedRows>& rows, const std::vector<PlannedKernel>& plan) {
  std::vector<double> forward, backward;
  for (const PhaseRoutedRows& r : rows) {
    bool forward_side = false;  // the pass of the phase's kernels whose m is the rows (the routed GEMMs)
    for (const PlannedKernel& k : plan)
      if (k.phase == r.phase && k.shape.m == r.rows.front() && r.rows.front() > 0)
        forward_side = forward_side || k.pass == OpPass::forward || k.pass == OpPass::recompute;
    for (double v : r.rows)
      if (v > 0) (forward_side ? forward : backward).push_back(v);
  }
  return {mean_of(forward), mean_of(backward)};
}

CalibrationInput calibration_input(const TraceAttribution& attribution) {
  CalibrationInput input;
  input.trace_file = attribution.trace_file;
  std::error_code ec;
  const auto size = std::filesystem::file_size(attribution.trace_file, ec);
  input.trace_bytes = ec ? 0 : size;
  input.trace_sha256 = file_sha256(attribution.trace_file).value_or("");
  for (const PhaseSummary& phase : attribution.phases) {
    PhaseKernels p{phase.name, {}};
    for (const PhaseInstance& instance : phase.layers) p.layers.push_back(instance.compute_kernels);
    input.phases.push_back(std::move(p));
  }
  return input;
}

CostLaw fit_law(const CostLaw& prior, const std::vector<FitPoint>& points, std::string* note) {
  CostLaw law = prior;
  auto say = [&](const std::string& text) {
    if (note != nullptr) *note = text;
  };
  if (points.empty()) return law;
  switch (law.form) {
    case LawForm::gemm: {
      std::vector<double> x, y;
      for (const FitPoint& p : points) {
        const double achieved = p.shape.flops / (law.peak_flops * wave_factor(law, p.shape.m, p.shape.n) * p.measured_s);
        x.push_back(1 / p.shape.k);
        y.push_back(1 / achieved);
      }
      const auto line = line_fit(x, y);
      if (line && line->first > 0 && line->second >= 0) {
        law.e_max = 1 / line->first;
        law.k_half = line->second / line->first;
      } else {
        law.e_max = 1 / mean_of(y);
        law.k_half = 0;
        say(line ? "the line through 1/K has a negative slope or intercept: k_half held at 0" : "one K only: k_half held at 0");
      }
      break;
    }
    case LawForm::memory: {
      std::vector<double> x, y;
      for (const FitPoint& p : points) x.push_back(p.shape.bytes), y.push_back(p.measured_s);
      const auto line = line_fit(x, y);
      double sxy = 0, sxx = 0;
      for (std::size_t i = 0; i < x.size(); ++i) sxy += x[i] * y[i], sxx += x[i] * x[i];
      if (line && line->first >= 0 && line->second > 0) {
        law.fixed_s = line->first;
        law.bandwidth = 1 / line->second;
      } else if (sxy > 0) {
        law.fixed_s = 0;
        law.bandwidth = sxx / sxy;
        say(line ? "a negative fixed cost or bandwidth: fitted through the origin" : "one size only: fixed cost held at 0");
      } else {
        law.fixed_s = mean_of(y);
        law.bandwidth = 1e18;
        say("no bytes: a fixed cost only");
      }
      break;
    }
    case LawForm::attention: {
      double sft = 0, sff = 0;
      for (const FitPoint& p : points) sft += p.shape.flops * p.measured_s, sff += p.shape.flops * p.shape.flops;
      if (sft > 0) law.efficiency = sff / (sft * law.peak_flops);
      break;
    }
  }
  return law;
}

std::optional<double> CalibrationFit::loo_median_abs_time_weighted() const {
  std::vector<std::pair<double, double>> errors;  // |error|, measured time
  double total = 0;
  for (const ClassFit& c : classes)
    for (const LeaveOneOut& l : c.leave_one_out) {
      errors.emplace_back(std::abs(l.error()), l.measured_s);
      total += l.measured_s;
    }
  if (errors.empty()) return std::nullopt;
  std::sort(errors.begin(), errors.end());
  double below = 0;
  for (const auto& [error, seconds] : errors) {
    below += seconds;
    if (2 * below >= total) return error;
  }
  return errors.back().first;
}

double StreamOverlap::wall_s() const {
  const double perfect = solo_sum_s / std::max(1, streams);
  return perfect + alpha.value * (solo_sum_s - perfect);
}

std::optional<double> CalibrationFit::loo_median_abs() const {
  std::vector<double> errors;
  for (const ClassFit& c : classes)
    for (const LeaveOneOut& l : c.leave_one_out) errors.push_back(std::abs(l.error()));
  if (errors.empty()) return std::nullopt;
  return median_of(errors);
}

CalibrationFit fit_calibration(const CalibrationInput& input, const std::vector<PlannedKernel>& planned,
                               const CostLawTable& laws, const std::string& recipes_file, bool leave_layers_out,
                               const std::vector<std::vector<PlannedKernel>>& per_layer) {
  CalibrationFit fit;
  fit.input = input;
  fit.recipes_file = recipes_file;
  fit.laws_file = laws.file;
  fit.fitted = laws;

  std::map<std::string, const PhaseKernels*> trace_phase;
  for (const PhaseKernels& p : input.phases) trace_phase[p.phase] = &p;

  // Match each phase's recipe kernels to each layer's trace kernels.
  std::vector<std::string> phase_order;
  std::map<std::string, std::vector<std::size_t>> planned_of;  // phase → indices into planned
  for (std::size_t i = 0; i < planned.size(); ++i) {
    if (planned_of.find(planned[i].phase) == planned_of.end()) phase_order.push_back(planned[i].phase);
    planned_of[planned[i].phase].push_back(i);
  }
  std::vector<std::vector<double>> measured(planned.size());  // per planned kernel, per layer matched
  std::vector<std::vector<KernelShape>> measured_shape(planned.size());  // the shape in that layer's plan
  std::vector<std::string> matched_name(planned.size());
  std::vector<int> shared_count(planned.size(), 0);
  // Per planned kernel, per layer it matched in: the layer's index and the trace kernel.
  std::vector<std::vector<std::pair<std::size_t, KernelRecord>>> matched_kernel(planned.size());
  std::vector<double> gaps;
  std::map<std::tuple<std::string, std::string, std::string>, std::pair<double, double>> unmodelled;  // count, s
  for (const std::string& phase : phase_order) {
    const std::vector<std::size_t>& indices = planned_of[phase];
    PhaseComparison cmp;
    cmp.phase = phase;
    cmp.recipe_kernels = static_cast<int>(indices.size());
    const auto it = trace_phase.find(phase);
    if (it != trace_phase.end()) {
      const PhaseKernels& trace = *it->second;
      cmp.trace_layers = static_cast<int>(trace.layers.size());
      std::vector<std::string> recipe_classes;
      for (std::size_t i : indices) recipe_classes.push_back(planned[i].class_name);
      for (const std::vector<KernelRecord>& layer : trace.layers) {
        std::vector<std::string> trace_classes;
        std::map<std::int64_t, std::int64_t> stream_end;
        for (const KernelRecord& k : layer) {
          trace_classes.push_back(k.class_name);
          cmp.trace_s += static_cast<double>(k.duration_ns) * 1e-9;
          const auto end = stream_end.find(k.stream);
          if (end != stream_end.end() && k.start_ns > end->second) {
            gaps.push_back(static_cast<double>(k.start_ns - end->second) * 1e-9);
            cmp.trace_gap_s += static_cast<double>(k.start_ns - end->second) * 1e-9;
          }
          stream_end[k.stream] = std::max(end != stream_end.end() ? end->second : 0, k.start_ns + k.duration_ns);
        }
        std::vector<bool> used(layer.size(), false);
        const std::vector<bool> shared = shares_sms(layer);
        std::vector<std::pair<std::int64_t, std::int64_t>> all_spans;
        for (const KernelRecord& k : layer) all_spans.emplace_back(k.start_ns, k.start_ns + k.duration_ns);
        cmp.trace_wall_s += union_seconds(all_spans);
        const std::size_t layer_index = static_cast<std::size_t>(&layer - trace.layers.data());
        const std::vector<PlannedKernel>& plan = plan_of(planned, per_layer, layer_index);
        for (const auto& [r, t] : match_in_order(recipe_classes, trace_classes)) {
          measured[indices[r]].push_back(static_cast<double>(layer[t].duration_ns) * 1e-9);
          measured_shape[indices[r]].push_back(plan[indices[r]].shape);
          matched_kernel[indices[r]].emplace_back(layer_index, layer[t]);
          if (shared[t]) ++shared_count[indices[r]];
          if (matched_name[indices[r]].empty()) matched_name[indices[r]] = layer[t].name;
          used[t] = true;
          cmp.matched += 1;
        }
        for (std::size_t t = 0; t < layer.size(); ++t) {
          if (used[t]) continue;
          auto& [count, seconds] = unmodelled[{phase, layer[t].name, layer[t].class_name}];
          count += 1;
          seconds += static_cast<double>(layer[t].duration_ns) * 1e-9;
          cmp.unmodelled_s += static_cast<double>(layer[t].duration_ns) * 1e-9;
        }
        cmp.trace_kernels += static_cast<double>(layer.size());
      }
      const double layers = std::max(1, cmp.trace_layers);
      cmp.trace_kernels /= layers, cmp.matched /= layers, cmp.trace_s /= layers, cmp.unmodelled_s /= layers;
      cmp.trace_gap_s /= layers, cmp.trace_wall_s /= layers;
    }
    fit.phases.push_back(cmp);
  }
  for (const auto& [key, value] : unmodelled) {
    const auto it = trace_phase.find(std::get<0>(key));
    const double layers = std::max<double>(1, static_cast<double>(it->second->layers.size()));
    fit.unmodelled.push_back({std::get<0>(key), std::get<1>(key), std::get<2>(key), value.first / layers, value.second / layers});
  }
  std::stable_sort(fit.unmodelled.begin(), fit.unmodelled.end(),
                   [](const UnmodelledKernel& a, const UnmodelledKernel& b) { return a.seconds_per_layer > b.seconds_per_layer; });

  for (std::size_t i = 0; i < planned.size(); ++i) {
    if (measured[i].empty()) {
      fit.recipe_unmatched.push_back(planned[i]);
      continue;
    }
    // One point per distinct shape over the layers it matched in (one, unless the plan is per layer).
    const PlannedKernel& p = planned[i];
    std::vector<std::string> keys;
    for (const KernelShape& shape : measured_shape[i])
      if (std::find(keys.begin(), keys.end(), key_of(shape)) == keys.end()) keys.push_back(key_of(shape));
    for (const std::string& key : keys) {
      std::vector<double> times;
      KernelShape shape;
      for (std::size_t m = 0; m < measured[i].size(); ++m)
        if (key_of(measured_shape[i][m]) == key) times.push_back(measured[i][m]), shape = measured_shape[i][m];
      fit.points.push_back({p.phase, p.op, p.pass, p.class_name, shape, mean_of(times), static_cast<int>(times.size()),
                            matched_name[i], shared_count[i] > 0, per_layer.empty() ? "" : key_of(p.shape),
                            static_cast<double>(times.size()) / static_cast<double>(measured[i].size())});
    }
  }

  // Per class: fit, residuals, leave one shape out.
  for (CostLaw& law : fit.fitted.laws) {
    std::vector<FitPoint> points;
    for (const FitPoint& p : fit.points)
      if (p.class_name == law.class_name && !p.shared_sms) points.push_back(p);
    if (points.empty()) {
      fit.classes_without_points.push_back(law.class_name);
      continue;
    }
    ClassFit cf;
    if (law.held.empty())
      law = fit_law(law, points, &cf.note);
    else
      cf.note = "parameters held by the laws file (held): residuals only, no refit";
    cf.law = law;
    cf.points = static_cast<int>(points.size());
    cf.parameters = parameters_of(law);
    double sq = 0;
    int timed = 0;  // points with a measured time above 0 (a 0 µs memset has no relative residual)
    for (const FitPoint& p : points) {
      if (p.measured_s <= 0) continue;
      const double r = (kernel_seconds(law, p.shape) - p.measured_s) / p.measured_s;
      sq += r * r;
      ++timed;
    }
    cf.rms_residual = timed > 0 ? std::sqrt(sq / timed) : 0;
    std::vector<std::string> keys;
    for (const FitPoint& p : points)
      if (std::find(keys.begin(), keys.end(), shape_key(p)) == keys.end()) keys.push_back(shape_key(p));
    cf.shapes = static_cast<int>(keys.size());
    const std::size_t needed = law.form == LawForm::attention ? 2 : 3;  // parameters + 1
    if (keys.size() >= needed && law.held.empty()) {
      for (const std::string& key : keys) {
        std::vector<FitPoint> rest, left;
        for (const FitPoint& p : points) (shape_key(p) == key ? left : rest).push_back(p);
        const CostLaw refit = fit_law(cf.law, rest);
        LeaveOneOut loo;
        loo.label = fmt::format("{} {} {}", left.front().phase, left.front().op, to_string(left.front().pass));
        for (const FitPoint& p : left)
          loo.measured_s += p.layer_share * p.measured_s, loo.predicted_s += p.layer_share * kernel_seconds(refit, p.shape);
        if (loo.measured_s > 0) cf.leave_one_out.push_back(loo);
        const std::vector<FittedParameter> values = parameters_of(refit);
        for (std::size_t v = 0; v < values.size(); ++v) {
          cf.parameters[v].low = std::min(cf.parameters[v].low, values[v].value);
          cf.parameters[v].high = std::max(cf.parameters[v].high, values[v].value);
        }
      }
      std::vector<double> errors;
      for (const LeaveOneOut& l : cf.leave_one_out) errors.push_back(std::abs(l.error()));
      if (!errors.empty()) cf.loo_median_abs = median_of(errors);
    }
    fit.classes.push_back(cf);
  }
  fit.gaps = static_cast<int>(gaps.size());
  fit.fitted.launch_gap_s = median_of(gaps);

  // The stream-overlap law per phase whose kernels shared the SMs: solo times from the fitted laws.
  // The group: the phase's recipe kernels that shared the SMs in any layer (which ones
  // overlap varies from layer to layer); per layer, the union of their trace intervals and
  // their solo sum under that layer's plan.
  fit.overlap_member.assign(planned.size(), false);
  for (const std::string& phase : phase_order) {
    StreamOverlap o;
    o.phase = phase;
    std::map<std::size_t, std::vector<std::pair<std::int64_t, std::int64_t>>> spans;  // per layer
    std::map<std::size_t, double> kernel_sum;
    std::set<std::int64_t> streams;
    for (std::size_t i : planned_of[phase]) {
      if (shared_count[i] == 0) continue;
      ++o.kernels;
      for (const auto& [layer, k] : matched_kernel[i]) {
        spans[layer].emplace_back(k.start_ns, k.start_ns + k.duration_ns);
        kernel_sum[layer] += static_cast<double>(k.duration_ns) * 1e-9;
        streams.insert(k.stream);
      }
    }
    o.streams = static_cast<int>(streams.size());
    if (o.kernels == 0 || o.streams < 2) continue;
    std::map<std::size_t, double> solo;  // per layer: S under its plan
    for (const auto& [layer, layer_spans] : spans)
      for (std::size_t i : planned_of[phase])
        if (shared_count[i] > 0) {
          const PlannedKernel& k = plan_of(planned, per_layer, layer)[i];
          solo[layer] += kernel_seconds(*fit.fitted.find(k.class_name), k.shape);
        }
    std::vector<double> walls, sums, solos;
    for (const auto& [layer, layer_spans] : spans) {
      walls.push_back(union_seconds(layer_spans));
      sums.push_back(kernel_sum[layer]);
      solos.push_back(solo[layer]);
    }
    o.solo_sum_s = mean_of(solos);
    o.trace_kernel_s = mean_of(sums);
    o.trace_wall_s = mean_of(walls);
    o.alpha.value = overlap_alpha(o.solo_sum_s, o.streams, o.trace_wall_s);
    o.stretch.value = o.trace_kernel_s / o.solo_sum_s;
    o.alpha.low = o.alpha.high = o.alpha.value;
    o.stretch.low = o.stretch.high = o.stretch.value;
    for (std::size_t l = 0; l < walls.size(); ++l) {
      o.stretch.low = std::min(o.stretch.low, sums[l] / solos[l]);
      o.stretch.high = std::max(o.stretch.high, sums[l] / solos[l]);
      o.alpha.low = std::min(o.alpha.low, overlap_alpha(solos[l], o.streams, walls[l]));
      o.alpha.high = std::max(o.alpha.high, overlap_alpha(solos[l], o.streams, walls[l]));
    }
    for (std::size_t i : planned_of[phase]) fit.overlap_member[i] = shared_count[i] > 0;
    fit.overlaps.push_back(o);
  }

  // Predicted phase times with the fitted laws: the mean over the phase's layers of each
  // layer's plan (the nominal plan when there is one plan, or no trace layer).
  for (PhaseComparison& cmp : fit.phases) {
    const std::size_t layers = std::max<std::size_t>(1, static_cast<std::size_t>(cmp.trace_layers));
    for (std::size_t l = 0; l < layers; ++l) {
      const PhasePrediction p = predict_phase(fit, plan_of(planned, per_layer, l), cmp.phase);
      cmp.predicted_s += p.kernels_s / static_cast<double>(layers);
      cmp.predicted_wall_s += p.wall_s / static_cast<double>(layers);
    }
    cmp.predicted_gap_s = fit.fitted.launch_gap_s * std::max(0, cmp.recipe_kernels - 1);
  }
  if (leave_layers_out) fit.leave_one_layer_out = leave_one_layer_out(input, planned, laws, recipes_file, per_layer);
  return fit;
}

}  // namespace trainsim::calibrate
