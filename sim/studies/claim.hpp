#pragma once
// `trainsim claim`: a Monte Carlo over the uncertain constants of the YAML files
// (`{value, low, high}`), the distribution of one metric, the probability that a
// published figure holds, and a one-at-a-time sensitivity ranking.
//
// The core is independent of SimGrid: the metric is an injected function from
// points (one value per constant) to metric values, so tests use a closed form
// and the CLI runs each point as a simulation in a child process.
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "sim/config/spec.hpp"
#include "sim/report/step_result.hpp"

namespace trainsim::claim {

// When the claim holds: the simulated metric is at most the claimed value (times,
// GPU-hours: the claimed cost is achievable) or at least it (MFU, throughput).
enum class Direction { at_most, at_least };

struct MetricInfo {
  std::string name;  // as in `trainsim run --format json`
  std::string unit;  // for labels
  Direction holds_when = Direction::at_most;
  bool with_failures = false;  // read from the goodput block: the cluster needs a reliability section
};

[[nodiscard]] const std::vector<MetricInfo>& known_metrics();
// Throws InputError naming `--metric NAME` and listing the known metrics.
[[nodiscard]] const MetricInfo& find_metric(const std::string& name);
[[nodiscard]] double metric_value(const StepResult& result, const MetricInfo& metric);
// Whether a constant can move a performance metric (step time and what follows
// from it). Pricing and power constants cannot: they only change cost and energy.
[[nodiscard]] bool affects_performance(const std::string& path);

// ------------------------------------------------------------------ sampling
// A uniform number in [0, 1) from the top 53 bits of one draw: the same on every
// standard library (std::uniform_real_distribution is not specified exactly).
[[nodiscard]] double unit_uniform(std::mt19937_64& rng);
// Inverse CDF of the triangular distribution (low, mode, high) at u in [0, 1]:
// low at 0, mode at (mode - low) / (high - low), high at 1.
[[nodiscard]] double triangular_quantile(double u, double low, double mode, double high);
// Percentile p in [0, 100] with linear interpolation between order statistics
// (position (n - 1) p / 100; numpy's default).
[[nodiscard]] double percentile(std::vector<double> values, double p);

// ------------------------------------------------------------------ the study
struct ClaimRequest {
  // The cluster's then the workload's, in file order, then the calibration model-form errors.
  std::vector<UncertainConstant> constants;
  // Of `constants`, the calibration model-form errors (a multiplier on one kernel class's
  // law time, sim/calibrate/step_calibration.hpp): path → how its range was found.
  std::map<std::string, std::string> model_form_sources;
  bool model_form_left_out = false;  // --no-model-error
  MetricInfo metric;
  double claimed_value = 0;
  int samples = 32;
  std::uint64_t seed = 1;
  std::string cluster_name, workload_name;
};

using Point = std::vector<double>;  // one value per constant, in ClaimRequest::constants order
// Metric value of each point, in order. Called once with every point of the study.
using Evaluate = std::function<std::vector<double>(const std::vector<Point>&)>;

struct Swing {
  std::string path;
  double low = 0, high = 0;                      // the constant's range (base unit)
  double metric_at_low = 0, metric_at_high = 0;  // others at their value
  [[nodiscard]] double swing() const { return metric_at_high - metric_at_low; }
};

struct ClaimResult {
  ClaimRequest request;
  double nominal = 0;  // every constant at its value
  std::vector<Point> sample_points;
  std::vector<double> sample_metric;
  double p5 = 0, p50 = 0, p95 = 0, mean = 0, min = 0, max = 0;
  double p_holds = 0, p_holds_stderr = 0;  // binomial standard error sqrt(p (1 - p) / n)
  std::vector<Swing> sensitivity;          // ranked by |swing|, largest first (ties: constant order)
  std::vector<std::string> no_effect;      // constants that cannot change the metric (not simulated)
  std::vector<std::string> fixed;          // constants with low == high (nothing to vary)
  std::size_t simulations = 0;
  // Set by the caller: the nominal configuration's memory verdict when it does not
  // fit in the GPU's HBM ("rank 0 needs 86.8 GB of 80 GB HBM"); empty when it fits.
  std::string memory_does_not_fit;
};

// The points, in evaluation order: nominal, samples, then low and high of each
// constant that affects the metric. Samples draw one number per constant, in
// constant order, sample after sample: the same seed gives the same points. The
// file constants draw from a generator seeded with `seed`, the model-form errors from
// a second one (seed + model_form_seed_offset), so that leaving the model-form errors
// out keeps every file constant's draws.
inline constexpr std::uint64_t model_form_seed_offset = 0x9E3779B97F4A7C15ULL;
[[nodiscard]] std::vector<Point> sample_points(const ClaimRequest& request);
[[nodiscard]] bool claim_holds(const MetricInfo& metric, double simulated, double claimed);
[[nodiscard]] ClaimResult run_claim(const ClaimRequest& request, const Evaluate& evaluate);

[[nodiscard]] std::string to_text(const ClaimResult& r);
[[nodiscard]] nlohmann::ordered_json to_json(const ClaimResult& r);
[[nodiscard]] std::string samples_csv(const ClaimResult& r);  // header + one row per sample

}  // namespace trainsim::claim
