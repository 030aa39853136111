#pragma once
// Cost laws per kernel class (issue 13): the time of one kernel from its shape.
// - gemm: t = 2·M·N·K / (peak · e_max · K/(K + k_half) · wave(M, N)), where
//   wave = tiles / (waves · sms), tiles = ⌈M/tile_m⌉·⌈N/tile_n⌉, waves = ⌈tiles/sms⌉
//   (the last wave's idle SMs); K is the reduction dimension of the kernel.
// - memory: t = fixed + bytes / bandwidth (memory-bound kernels: casts, norms, copies).
// - attention: t = flops / (peak · efficiency) (flash attention, its exact FLOPs per pass).
// A launch gap per kernel sits between consecutive kernels of a stream; it is not
// part of kernel_seconds. Laws and GPU constants are data (topologies/calibration/
// laws-*.yaml); the parameters a law lacks there are what `calibrate --write` fits.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sim/calibrate/kernel_classes.hpp"
#include "sim/config/error.hpp"

namespace trainsim::calibrate {

enum class LawForm { gemm, memory, attention };

// The shape of one kernel: a GEMM's M, N, K (flops = 2·M·N·K), or the bytes it
// moves, or the FLOPs it does.
struct KernelShape {
  double m = 0, n = 0, k = 0;
  double bytes = 0;
  double flops = 0;
};

struct CostLaw {
  std::string class_name;
  LawForm form = LawForm::memory;
  // Constants (datasheet): peak FLOP/s of the kernel's precision on the SMs it gets.
  double peak_flops = 0;
  int sms = 1;
  double tile_m = 128, tile_n = 128;
  // Parameters (fitted): gemm e_max, k_half; memory fixed_s, bandwidth; attention efficiency.
  double e_max = 1, k_half = 0;
  double fixed_s = 0, bandwidth = 1;
  double efficiency = 1;
  // Non-empty: the laws file holds these parameters (its `held: "source ..."`, e.g. a
  // benchmark law); the fit keeps them and only reports the trace kernels' residuals.
  std::string held = {};
};

[[nodiscard]] const char* to_string(LawForm f);
// The fraction of the SMs the last wave leaves idle, as a factor in (0, 1].
[[nodiscard]] double wave_factor(const CostLaw& law, double m, double n);
[[nodiscard]] double kernel_seconds(const CostLaw& law, const KernelShape& shape);

// The model-form error the laws file assumes for classes without held-out shapes:
// a range of multipliers on their law time, and why (the calibrated file's
// fit.model_error_default, which claim samples).
struct ModelErrorDefault {
  double low = 1, high = 1;
  std::string about;
};

// A laws file: the GPU, a law per class (constants, parameters where known).
struct CostLawTable {
  std::string file;
  std::string name, gpu, source;
  int sms_total = 0;                  // the GPU's SMs (a law's peak is for the SMs it gets)
  double launch_gap_s = 0;            // fitted; 0 until then
  std::vector<CostLaw> laws;          // in file order
  std::optional<ModelErrorDefault> model_error_default = {};
  std::map<std::string, SourceMark> marks;  // class → where its law is written
  [[nodiscard]] const CostLaw* find(const std::string& class_name) const;
};

// Every class must be a compute class of `classes` (else FILE:LINE:COL, exit 2).
[[nodiscard]] CostLawTable load_cost_laws(const std::string& file, const KernelClassTable& classes);

}  // namespace trainsim::calibrate
