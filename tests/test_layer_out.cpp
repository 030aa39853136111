// Leave one layer out (issue 13): the fit without one layer instance of every phase
// predicts that layer's phase times. Hand-built two-layer trace with closed forms.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "sim/calibrate/calibration_fit.hpp"

namespace test_layer_out {

using namespace trainsim::calibrate;

constexpr std::int64_t us = 1000;

KernelRecord timed(std::int64_t start_us, std::int64_t duration_us) {
  return KernelRecord{"copy_kernel", "copy", 7, start_us * us, duration_us * us};
}

PlannedKernel planned(double bytes) {
  PlannedKernel k;
  k.phase = "P";
  k.op = "op";
  k.class_name = "copy";
  k.shape.bytes = bytes;
  return k;
}

TEST_CASE("leave one layer out: each layer predicted from the other's fit", "[calibrate][layer_out]") {
  // 1, 2, 3 MB: layer 0 at 1 TB/s (1, 2, 3 µs), layer 1 at 0.5 TB/s (2, 4, 6 µs), with idle gaps.
  CalibrationInput input;
  input.phases.push_back(PhaseKernels{"P", {{timed(0, 1), timed(2, 2), timed(5, 3)}, {timed(0, 2), timed(3, 4), timed(8, 6)}}});
  CostLawTable laws;
  laws.laws.push_back(CostLaw{.class_name = "copy", .form = LawForm::memory});
  const CalibrationFit fit = fit_calibration(input, {planned(1e6), planned(2e6), planned(3e6)}, laws, "r.yaml");

  // Per held-out layer: the phase, then the layer pair (the sum over phases; one phase here).
  REQUIRE(fit.leave_one_layer_out.size() == 4);
  const HeldOutLayer& out0 = fit.leave_one_layer_out[0];
  CHECK(out0.phase == "P");
  CHECK(out0.layer == 0);
  CHECK(out0.measured_s == Approx(6e-6));
  CHECK(out0.predicted_s == Approx(12e-6));  // layer 1's 0.5 TB/s
  CHECK(out0.error() == Approx(1.0));
  CHECK(out0.measured_wall_s == Approx(6e-6));  // the union of the kernels, not first-to-last (8 µs)
  const HeldOutLayer& out1 = fit.leave_one_layer_out[2];
  CHECK(out1.layer == 1);
  CHECK(out1.measured_s == Approx(12e-6));
  CHECK(out1.predicted_s == Approx(6e-6));
  CHECK(out1.error() == Approx(-0.5));
  CHECK(fit.leave_one_layer_out[1].phase == "layer pair (all phases)");
  CHECK(fit.leave_one_layer_out[3].predicted_s == Approx(out1.predicted_s));

  // One layer: nothing to leave out.
  CalibrationInput single;
  single.phases.push_back(PhaseKernels{"P", {{timed(0, 1), timed(2, 2), timed(5, 3)}}});
  CHECK(fit_calibration(single, {planned(1e6), planned(2e6), planned(3e6)}, laws, "r.yaml").leave_one_layer_out.empty());
}

}  // namespace test_layer_out

namespace test_layer_out {

TEST_CASE("leave one shape out: the time-weighted median |error|", "[calibrate][layer_out]") {
  // Errors 0.1 (1 µs), 0.2 (1 µs), 0.5 (10 µs): plain median 0.2; by time, 0.5 holds 10 of 12 µs.
  CalibrationFit fit;
  ClassFit c;
  c.leave_one_out = {{"a", 1e-6, 1.1e-6}, {"b", 1e-6, 1.2e-6}, {"c", 10e-6, 15e-6}};
  fit.classes.push_back(c);
  CHECK(*fit.loo_median_abs() == Approx(0.2));
  CHECK(*fit.loo_median_abs_time_weighted() == Approx(0.5));
  CHECK_FALSE(CalibrationFit{}.loo_median_abs_time_weighted().has_value());
}

}  // namespace test_layer_out
