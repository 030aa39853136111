// The fit across layers and streams (issue 13), on hand-built traces: kernels sharing the
// SMs over two compute streams (mlp(W)) are left out of their class's fit, and the group's
// wall time follows S/s + alpha·(S − S/s), alpha fitted per layer from the union of the
// group's kernel intervals; leave one layer out predicts each layer from the others' fit;
// the leave-one-shape-out median, plain and weighted by measured time.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "sim/calibrate/calibration_fit.hpp"

namespace test_stream_overlap {

using namespace trainsim::calibrate;

constexpr std::int64_t us = 1000;

KernelRecord kernel(std::int64_t stream, std::int64_t start_us, std::int64_t duration_us) {
  return KernelRecord{"copy_kernel", "copy", stream, start_us * us, duration_us * us, std::nullopt};
}

PlannedKernel planned(double bytes) {
  PlannedKernel k;
  k.phase = "P";
  k.op = "op";
  k.class_name = "copy";
  k.shape.bytes = bytes;
  return k;
}

TEST_CASE("stream overlap: shared kernels leave the class fit, alpha and stretch from the group's union", "[calibrate][overlap]") {
  // Solo: 1, 2, 3 MB in 1, 2, 3 µs on stream 7 (1 TB/s, no fixed cost). Then two 4 MB kernels
  // (4 µs solo each) on streams 7 and 23: layer 0 fully overlapped (6 µs each, wall 6 µs),
  // layer 1 offset by 3 µs (6 µs each, wall 9 µs).
  CalibrationInput input;
  input.trace_file = "hand.json";
  PhaseKernels phase{"P", {}};
  phase.layers.push_back({kernel(7, 0, 1), kernel(7, 1, 2), kernel(7, 3, 3), kernel(7, 6, 6), kernel(23, 6, 6)});
  phase.layers.push_back({kernel(7, 0, 1), kernel(7, 1, 2), kernel(7, 3, 3), kernel(7, 6, 6), kernel(23, 9, 6)});
  input.phases.push_back(phase);
  const std::vector<PlannedKernel> plan{planned(1e6), planned(2e6), planned(3e6), planned(4e6), planned(4e6)};
  CostLawTable laws;
  laws.file = "laws.yaml";
  laws.laws.push_back(CostLaw{.class_name = "copy", .form = LawForm::memory});

  const CalibrationFit fit = fit_calibration(input, plan, laws, "recipes.yaml");
  // The class law is fitted to the three solo kernels only: 1 TB/s.
  REQUIRE(fit.classes.size() == 1);
  CHECK(fit.classes[0].points == 3);
  CHECK(fit.classes[0].law.bandwidth == Approx(1e12).epsilon(1e-9));
  CHECK(fit.classes[0].law.fixed_s == Approx(0).margin(1e-12));
  int shared = 0;
  for (const FitPoint& p : fit.points) shared += p.shared_sms ? 1 : 0;
  CHECK(shared == 2);

  REQUIRE(fit.overlaps.size() == 1);
  const StreamOverlap& o = fit.overlaps[0];
  CHECK(o.streams == 2);
  CHECK(o.kernels == 2);
  CHECK(o.solo_sum_s == Approx(8e-6));
  CHECK(o.trace_wall_s == Approx(7.5e-6));  // (6 + 9) / 2
  // alpha = (wall − S/2) / (S − S/2): mean (7.5 − 4) / 4; layers (6 − 4) / 4 and (9 − 4) / 4.
  CHECK(o.alpha.value == Approx(0.875));
  CHECK(o.alpha.low == Approx(0.5));
  CHECK(o.alpha.high == Approx(1.25));
  CHECK(o.wall_s() == Approx(7.5e-6));
  CHECK(o.stretch.value == Approx(12.0 / 8));

  // The phase: kernel sum 6 + 12 = 18 µs predicted 6 + 8 × 1.5; wall (union) 12 and 15 µs, predicted 6 + 7.5.
  REQUIRE(fit.phases.size() == 1);
  CHECK(fit.phases[0].trace_s == Approx(18e-6));
  CHECK(fit.phases[0].predicted_s == Approx(18e-6));
  CHECK(fit.phases[0].trace_wall_s == Approx(13.5e-6));
  CHECK(fit.phases[0].predicted_wall_s == Approx(13.5e-6));
}

TEST_CASE("stream overlap: a phase on one stream has no overlap group and wall = kernel sum", "[calibrate][overlap]") {
  CalibrationInput input;
  PhaseKernels phase{"P", {{kernel(7, 0, 1), kernel(7, 1, 2), kernel(7, 3, 3)}}};
  input.phases.push_back(phase);
  CostLawTable laws;
  laws.laws.push_back(CostLaw{.class_name = "copy", .form = LawForm::memory});
  const CalibrationFit fit = fit_calibration(input, {planned(1e6), planned(2e6), planned(3e6)}, laws, "r.yaml");
  CHECK(fit.overlaps.empty());
  CHECK(fit.phases[0].trace_wall_s == Approx(6e-6));
  CHECK(fit.phases[0].predicted_wall_s == Approx(fit.phases[0].predicted_s));
}

TEST_CASE("leave one layer out: each layer predicted from the other's fit", "[calibrate][layer_out]") {
  // 1, 2, 3 MB: layer 0 at 1 TB/s (1, 2, 3 µs), layer 1 at 0.5 TB/s (2, 4, 6 µs), with idle gaps.
  CalibrationInput input;
  input.phases.push_back(PhaseKernels{"P", {{kernel(7, 0, 1), kernel(7, 2, 2), kernel(7, 5, 3)}, {kernel(7, 0, 2), kernel(7, 3, 4), kernel(7, 8, 6)}}});
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
  single.phases.push_back(PhaseKernels{"P", {{kernel(7, 0, 1), kernel(7, 2, 2), kernel(7, 5, 3)}}});
  CHECK(fit_calibration(single, {planned(1e6), planned(2e6), planned(3e6)}, laws, "r.yaml").leave_one_layer_out.empty());
}

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

}  // namespace test_stream_overlap
