#include "sim/config/percentile.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace trainsim::config {

double linear_percentile(std::vector<double> values, double p) {
  if (values.empty()) throw std::invalid_argument("percentile of no values");
  std::sort(values.begin(), values.end());
  const double position = (static_cast<double>(values.size()) - 1) * std::clamp(p, 0.0, 100.0) / 100;
  const auto below = static_cast<std::size_t>(std::floor(position));
  const std::size_t above = std::min(below + 1, values.size() - 1);
  return values[below] + (position - static_cast<double>(below)) * (values[above] - values[below]);
}

}  // namespace trainsim::config
