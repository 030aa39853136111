// The one percentile definition (sim/config/percentile.hpp) that calibration bands,
// claim and the goodput of a run's seeds report.
#include <catch2/catch.hpp>

#include <stdexcept>
#include <vector>

#include "sim/config/percentile.hpp"

using trainsim::config::linear_percentile;

TEST_CASE("percentile: linear between order statistics, as numpy's default", "[config][percentile]") {
  const std::vector<double> v{4, 1, 3, 2};  // unsorted on purpose
  // numpy.percentile([1, 2, 3, 4], [0, 5, 50, 95, 100]) = 1, 1.15, 2.5, 3.85, 4
  REQUIRE(linear_percentile(v, 0) == 1);
  REQUIRE(linear_percentile(v, 5) == Approx(1.15).epsilon(1e-15));
  REQUIRE(linear_percentile(v, 50) == 2.5);
  REQUIRE(linear_percentile(v, 95) == Approx(3.85).epsilon(1e-15));
  REQUIRE(linear_percentile(v, 100) == 4);
  REQUIRE(linear_percentile(v, 150) == 4);  // p is clamped to [0, 100]
  REQUIRE(linear_percentile({7.5}, 95) == 7.5);
  REQUIRE(linear_percentile({2, 2, 2}, 5) == 2);  // equal values give that value exactly
  REQUIRE_THROWS_AS(linear_percentile({}, 50), std::invalid_argument);
}
