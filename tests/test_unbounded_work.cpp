// Issue 15, category 1: sizes that would make a command allocate or run without bound are refused up front.
#include <string>
#include <vector>

#include "sim/config/error.hpp"
#include "sim/studies/sweep.hpp"
#include "tests/support.hpp"

namespace test_unbounded_work {

using namespace trainsim;

namespace {
// `axes` --set arguments of `values` values each.
std::vector<std::string> sweep_axes(int axes, int values) {
  std::vector<std::string> args;
  for (int a = 0; a < axes; ++a) {
    std::string arg = "k" + std::to_string(a) + "=";
    for (int v = 0; v < values; ++v) arg += (v ? "," : "") + std::to_string(v);
    args.push_back(arg);
  }
  return args;
}
}  // namespace

TEST_CASE("a sweep's point count cannot wrap around: 8 axes of 256 values are refused, not 0 points",
          "[sweep][robustness]") {
  // 256^8 = 2^64 wrapped to 0 in size_t: the old code returned a plan of 0 points (an empty CSV, exit 0).
  try {
    (void)sweep::parse_plan(sweep_axes(8, 256));
    FAIL("a sweep of 2^64 points was accepted");
  } catch (const InputError& e) {
    const std::string what = e.what();
    CHECK(what.find("256 x 256 x 256 x 256 x 256 x 256 x 256 x 256 values = 1.84467e+19 points") != std::string::npos);
    CHECK(what.find("at most 100000") != std::string::npos);
  }
}

TEST_CASE("a sweep is refused above 100,000 points and accepted at it", "[sweep][robustness]") {
  CHECK_THROWS_AS(sweep::parse_plan(sweep_axes(8, 5)), InputError);  // 390,625 points
  CHECK_THROWS_AS(sweep::parse_plan(sweep_axes(6, 7)), InputError);  // 117,649 points
  CHECK(sweep::point_count(sweep::parse_plan(sweep_axes(5, 10))) == 100000);
}

}  // namespace test_unbounded_work
