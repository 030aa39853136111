#include "sim/studies/claim.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "sim/config/error.hpp"
#include "sim/config/percentile.hpp"
#include "sim/config/keys.hpp"

namespace trainsim::claim {

namespace {

const char* direction_sign(Direction d) { return d == Direction::at_most ? "<=" : ">="; }

std::string number(double v) { return fmt::format("{:.6g}", v); }

// The unit a constant's low and high are printed in: its key's base unit ("B/s", "s"),
// "x" for a multiplier or fraction (calibration model-form errors, efficiencies).
std::string constant_unit(const std::string& path) {
  const auto dot = path.find('.');
  const bool cluster = path.compare(0, dot, "cluster") == 0;
  const config::KeyDecl* key = (cluster ? config::cluster_keys() : config::workload_keys()).find(path.substr(dot + 1));
  if (key == nullptr || key->quantity == nullptr || key->quantity->base.empty()) return "x";
  return std::string(key->quantity->base);
}

// "12.3 % below" / "4.0 % above" the reference.
std::string relative(double v, double reference) {
  if (reference == 0) return "n/a";
  const double pct = 100 * (v - reference) / std::abs(reference);
  return fmt::format("{:.1f} % {}", std::abs(pct), pct < 0 ? "below" : "above");
}

}  // namespace

const std::vector<MetricInfo>& known_metrics() {
  static const std::vector<MetricInfo> metrics = {
      {"gpu_hours_per_trillion_tokens", "GPU-hours per 1T tokens", Direction::at_most},
      {"days_per_trillion_tokens", "days per 1T tokens", Direction::at_most},
      {"step_time_s", "s per step", Direction::at_most},
      {"mfu", "fraction of dense BF16 peak (causal)", Direction::at_least},
      {"tokens_per_s", "tokens/s", Direction::at_least},
      {"tflops_per_gpu", "model TFLOP/s per GPU (causal)", Direction::at_least},
      {"goodput", "useful fraction of wall time with failures (mean over seeds)", Direction::at_least, true},
      {"goodput_days_per_trillion_tokens", "days per 1T tokens with failures (mean over seeds)", Direction::at_most,
       true},
  };
  return metrics;
}

const MetricInfo& find_metric(const std::string& name) {
  for (const auto& m : known_metrics())
    if (m.name == name) return m;
  std::string known;
  for (const auto& m : known_metrics()) known += fmt::format("{}{}", known.empty() ? "" : ", ", m.name);
  throw InputError({"--metric " + name, 0, 0}, "unknown metric; known metrics: " + known);
}

double metric_value(const StepResult& r, const MetricInfo& metric) {
  if (metric.name == "gpu_hours_per_trillion_tokens") return r.gpu_hours_per_trillion_tokens;
  if (metric.name == "days_per_trillion_tokens") return r.days_per_trillion_tokens;
  if (metric.name == "step_time_s") return r.step_time_s;
  if (metric.name == "mfu") return r.mfu_causal;
  if (metric.name == "tokens_per_s") return r.tokens_per_s;
  if (metric.name == "tflops_per_gpu") return r.tflops_per_gpu_causal;
  if (metric.with_failures && !r.goodput)
    throw std::logic_error("metric_value: " + metric.name + " needs the goodput block (add_goodput)");
  if (metric.name == "goodput") return r.goodput->goodput.mean;
  if (metric.name == "goodput_days_per_trillion_tokens") return r.goodput->days_per_trillion_tokens.mean;
  throw std::logic_error("metric_value: no accessor for metric " + metric.name);
}

bool affects_performance(const std::string& path) {
  for (const char* prefix : {"cluster.pricing.", "cluster.gpu.power."})
    if (path.rfind(prefix, 0) == 0) return false;
  return true;
}

double unit_uniform(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

double triangular_quantile(double u, double low, double mode, double high) {
  if (high <= low) return mode;
  const double width = high - low;
  const double at_mode = (mode - low) / width;  // CDF at the mode
  if (u <= at_mode) return low + std::sqrt(u * width * (mode - low));
  return high - std::sqrt((1 - u) * width * (high - mode));
}

double percentile(std::vector<double> values, double p) { return config::linear_percentile(std::move(values), p); }

bool claim_holds(const MetricInfo& metric, double simulated, double claimed) {
  return metric.holds_when == Direction::at_most ? simulated <= claimed : simulated >= claimed;
}

namespace {

bool varies(const UncertainConstant& c) { return c.high > c.low; }

// Constants that get low/high runs: they can move the metric and have a range.
std::vector<std::size_t> swept_constants(const ClaimRequest& request) {
  std::vector<std::size_t> out;
  for (std::size_t k = 0; k < request.constants.size(); ++k)
    if (affects_performance(request.constants[k].path) && varies(request.constants[k])) out.push_back(k);
  return out;
}

}  // namespace

std::vector<Point> sample_points(const ClaimRequest& request) {
  const auto& cs = request.constants;
  Point nominal;
  for (const auto& c : cs) nominal.push_back(c.value);
  std::vector<Point> points{nominal};
  std::mt19937_64 rng(request.seed);
  std::mt19937_64 model_form_rng(request.seed + model_form_seed_offset);
  for (int i = 0; i < request.samples; ++i) {
    Point p;
    for (const auto& c : cs) {
      auto& from = request.model_form_sources.count(c.path) != 0 ? model_form_rng : rng;
      p.push_back(triangular_quantile(unit_uniform(from), c.low, c.value, c.high));
    }
    points.push_back(std::move(p));
  }
  for (std::size_t k : swept_constants(request)) {
    Point lo = nominal, hi = nominal;
    lo[k] = cs[k].low;
    hi[k] = cs[k].high;
    points.push_back(std::move(lo));
    points.push_back(std::move(hi));
  }
  return points;
}

ClaimResult run_claim(const ClaimRequest& request, const Evaluate& evaluate) {
  if (request.samples < 1) throw std::invalid_argument("run_claim: at least one sample");
  const std::vector<Point> points = sample_points(request);
  const std::vector<double> values = evaluate(points);
  if (values.size() != points.size()) throw std::logic_error("run_claim: evaluate returned a wrong count");

  ClaimResult r;
  r.request = request;
  r.simulations = points.size();
  r.nominal = values[0];
  const auto n = static_cast<std::size_t>(request.samples);
  r.sample_points.assign(points.begin() + 1, points.begin() + 1 + static_cast<std::ptrdiff_t>(n));
  r.sample_metric.assign(values.begin() + 1, values.begin() + 1 + static_cast<std::ptrdiff_t>(n));
  const auto& s = r.sample_metric;
  r.p5 = percentile(s, 5);
  r.p50 = percentile(s, 50);
  r.p95 = percentile(s, 95);
  r.mean = std::accumulate(s.begin(), s.end(), 0.0) / static_cast<double>(n);
  r.min = *std::min_element(s.begin(), s.end());
  r.max = *std::max_element(s.begin(), s.end());
  const auto holding =
      std::count_if(s.begin(), s.end(), [&](double v) { return claim_holds(request.metric, v, request.claimed_value); });
  r.p_holds = static_cast<double>(holding) / static_cast<double>(n);
  r.p_holds_stderr = std::sqrt(r.p_holds * (1 - r.p_holds) / static_cast<double>(n));

  std::size_t at = 1 + n;
  for (std::size_t k : swept_constants(request)) {
    const auto& c = request.constants[k];
    r.sensitivity.push_back({c.path, c.low, c.high, values[at], values[at + 1]});
    at += 2;
  }
  std::stable_sort(r.sensitivity.begin(), r.sensitivity.end(),
                   [](const Swing& a, const Swing& b) { return std::abs(a.swing()) > std::abs(b.swing()); });
  for (const auto& c : request.constants) {
    if (!affects_performance(c.path))
      r.no_effect.push_back(c.path);
    else if (!varies(c))
      r.fixed.push_back(c.path);
  }
  return r;
}

// ------------------------------------------------------------------ output

namespace {

std::string closing_note(const ClaimResult& r) {
  const auto& q = r.request;
  const auto& m = q.metric;
  std::string s = fmt::format("Result: nominal {} = {} ({} the claimed {}); over {} samples p5 {}, p50 {}, p95 {}. ",
                              m.name, number(r.nominal), relative(r.nominal, q.claimed_value),
                              number(q.claimed_value), q.samples, number(r.p5), number(r.p50),
                              number(r.p95));
  s += fmt::format("The claim holds (simulated {} claimed) in {:.1f} % of samples (± {:.1f} %). ",
                   direction_sign(m.holds_when), 100 * r.p_holds, 100 * r.p_holds_stderr);
  std::size_t varied_classes = 0;
  for (const auto& c : q.constants) varied_classes += q.model_form_sources.count(c.path) != 0 && varies(c) ? 1 : 0;
  if ((q.claimed_value > r.max || q.claimed_value < r.min) && !q.model_form_sources.empty())
    s += fmt::format("The claimed value lies outside every sampled outcome ({} .. {}), the calibration's model-form "
                     "error included ({} of {} kernel classes have a range): within the constants' stated ranges and "
                     "the kernel laws' held-out errors the model disagrees with the claim. ",
                     number(r.min), number(r.max), varied_classes, q.model_form_sources.size());
  else if (q.claimed_value > r.max || q.claimed_value < r.min)
    s += fmt::format("The claimed value lies outside every sampled outcome ({} .. {}): within their stated ranges "
                     "these constants do not explain the difference. ",
                     number(r.min), number(r.max));
  if (!r.sensitivity.empty() && std::abs(r.sensitivity.front().swing()) > 0) {
    double total = 0;
    for (const auto& w : r.sensitivity) total += std::abs(w.swing());
    const auto& top = r.sensitivity.front();
    s += fmt::format("The uncertainty is dominated by {} (swing {}, {:.0f} % of the summed one-at-a-time swings",
                     top.path, number(top.swing()), 100 * std::abs(top.swing()) / total);
    if (r.sensitivity.size() > 1 && std::abs(r.sensitivity[1].swing()) > 0)
      s += fmt::format("), then {} ({:.0f} %", r.sensitivity[1].path,
                       100 * std::abs(r.sensitivity[1].swing()) / total);
    s += ").";
  } else {
    s += "No uncertain constant moves this metric.";
  }
  return s;
}

// The calibration model-form errors with the source of each range.
std::string model_form_text(const ClaimRequest& q) {
  if (q.model_form_left_out) return "  calibration model-form error: left out (--no-model-error)\n";
  if (q.model_form_sources.empty()) return "  calibration model-form error: none (no gpu.calibration with recipes)\n";
  std::string s =
      "  calibration model-form error (a multiplier on one kernel class's law time; the range's source):\n";
  for (const auto& c : q.constants)
    if (const auto it = q.model_form_sources.find(c.path); it != q.model_form_sources.end())
      s += fmt::format("    {:<44} {:>7.4f} .. {:<7.4f} {}\n", c.path, c.low, c.high, it->second);
  return s;
}

}  // namespace

std::string to_text(const ClaimResult& r) {
  const auto& q = r.request;
  const auto& m = q.metric;
  std::string s;
  s += fmt::format("trainsim claim: {} on {}\n", q.workload_name, q.cluster_name);
  s += fmt::format("  claim: {} = {} ({})\n", m.name, number(q.claimed_value), m.unit);
  if (!r.memory_does_not_fit.empty())
    s += fmt::format("  !! DOES NOT FIT IN GPU MEMORY (nominal configuration): {}\n", r.memory_does_not_fit);
  s += fmt::format("  the claim holds for a sample when simulated {} claimed ({})\n", direction_sign(m.holds_when),
                   m.holds_when == Direction::at_most ? "the claimed cost is achievable"
                                                      : "the claimed rate is achievable");
  s += fmt::format("  sampling: {} uncertain constants ({} from the files, {} calibration model-form error), each "
                   "triangular(low, mode = value, high), independent; {} samples, seed {}\n",
                   q.constants.size(), q.constants.size() - q.model_form_sources.size(), q.model_form_sources.size(),
                   q.samples, q.seed);
  s += model_form_text(q) + "\n";
  s += fmt::format("  distribution of {}\n", m.name);
  s += fmt::format("    nominal (all at value) {:>14}   {} the claim\n", number(r.nominal),
                   relative(r.nominal, q.claimed_value));
  s += fmt::format("    p5 / p50 / p95         {:>14} / {} / {}\n", number(r.p5), number(r.p50), number(r.p95));
  s += fmt::format("    mean                   {:>14}\n", number(r.mean));
  s += fmt::format("    min / max              {:>14} / {}\n", number(r.min), number(r.max));
  s += fmt::format("    P(claim holds)         {:>12.1f} % ± {:.1f} % (binomial standard error, n = {})\n",
                   100 * r.p_holds, 100 * r.p_holds_stderr, q.samples);
  // Every sample agreeing gives a zero standard error; the rule of three bounds the other outcome.
  if (r.p_holds == 0 || r.p_holds == 1)
    s += fmt::format("    (all {} samples agree: the other outcome has probability below {:.1f} % at 95 % confidence, "
                     "rule of three)\n",
                     q.samples, 100 * std::min(1.0, 3.0 / q.samples));
  s += "\n";
  s += "  sensitivity (one at a time: the constant at low, then at high, the others at value; ranked by swing)\n";
  s += fmt::format("    low and high in the unit column (x: a multiplier or fraction); {} at low, at high and "
                   "its swing in {}\n",
                   m.name, m.unit);
  s += fmt::format("    {:<44} {:>11} {:>11} {:<6} {:>13} {:>13} {:>12}\n", "constant", "low", "high", "unit",
                   "metric@low", "metric@high", "swing");
  for (const auto& w : r.sensitivity)
    s += fmt::format("    {:<44} {:>11} {:>11} {:<6} {:>13} {:>13} {:>12}\n", w.path, number(w.low), number(w.high),
                     constant_unit(w.path), number(w.metric_at_low), number(w.metric_at_high), number(w.swing()));
  for (const auto& p : r.no_effect) s += fmt::format("    {:<44} no effect on this metric (not simulated)\n", p);
  for (const auto& p : r.fixed) s += fmt::format("    {:<44} low = high: nothing to vary\n", p);
  s += fmt::format("\n  {} simulations (1 nominal, {} samples, {} sensitivity)\n", r.simulations, q.samples,
                   2 * r.sensitivity.size());
  s += fmt::format("\n{}\n", closing_note(r));
  return s;
}

nlohmann::ordered_json to_json(const ClaimResult& r) {
  const auto& q = r.request;
  nlohmann::ordered_json j = {
      {"cluster", q.cluster_name},
      {"workload", q.workload_name},
      {"metric", q.metric.name},
      {"unit", q.metric.unit},
      {"claimed_value", q.claimed_value},
      {"holds_when", fmt::format("simulated {} claimed", direction_sign(q.metric.holds_when))},
      {"distribution", "triangular(low, mode = value, high), independent"},
      {"samples", q.samples},
      {"seed", q.seed},
      {"nominal", r.nominal},
      {"nominal_fits_memory", r.memory_does_not_fit.empty()},
      {"p5", r.p5},
      {"p50", r.p50},
      {"p95", r.p95},
      {"mean", r.mean},
      {"min", r.min},
      {"max", r.max},
      {"p_holds", r.p_holds},
      {"p_holds_stderr", r.p_holds_stderr}};
  auto model_form = nlohmann::ordered_json::array();
  for (const auto& c : q.constants)
    if (const auto it = q.model_form_sources.find(c.path); it != q.model_form_sources.end())
      model_form.push_back({{"path", c.path}, {"value", c.value}, {"low", c.low}, {"high", c.high}, {"source", it->second}});
  j["calibration_model_form_error"] = model_form;
  j["model_form_left_out"] = q.model_form_left_out;
  auto sens = nlohmann::ordered_json::array();
  for (const auto& w : r.sensitivity)
    sens.push_back({{"path", w.path}, {"low", w.low}, {"high", w.high}, {"metric_at_low", w.metric_at_low},
                    {"metric_at_high", w.metric_at_high}, {"swing", w.swing()}});
  j["sensitivity"] = sens;
  j["no_effect"] = r.no_effect;
  j["fixed"] = r.fixed;
  j["sample_metric"] = r.sample_metric;
  j["simulations"] = r.simulations;
  j["note"] = closing_note(r);
  return j;
}

std::string samples_csv(const ClaimResult& r) {
  std::string s = "sample";
  for (const auto& c : r.request.constants) s += fmt::format(",{}", c.path);
  s += fmt::format(",{},holds\n", r.request.metric.name);
  for (std::size_t i = 0; i < r.sample_points.size(); ++i) {
    s += std::to_string(i);
    for (double v : r.sample_points[i]) s += fmt::format(",{:.9g}", v);
    s += fmt::format(",{:.9g},{}\n", r.sample_metric[i],
                     claim_holds(r.request.metric, r.sample_metric[i], r.request.claimed_value) ? 1 : 0);
  }
  return s;
}

}  // namespace trainsim::claim
