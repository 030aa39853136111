#pragma once
// Percentiles of a sample, one definition for every stage that reports them (the
// calibration's leave-one-out bands, claim's Monte Carlo, the goodput of a run's seeds).
#include <vector>

namespace trainsim::config {

// Percentile p in [0, 100] with linear interpolation between order statistics
// (position (n - 1) p / 100; numpy's default). std::invalid_argument when `values`
// is empty.
[[nodiscard]] double linear_percentile(std::vector<double> values, double p);

}  // namespace trainsim::config
