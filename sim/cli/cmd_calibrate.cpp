// trainsim calibrate: read a PyTorch profiler (Kineto) trace, classify its GPU
// kernels by the kernel-class table and attribute them to the trace's phases
// (sim/calibrate). Fitting cost laws and writing a calibration file come later
// (issue 13); this prints what the trace holds, per phase, class and stream.
#include <iostream>
#include <memory>

#include "sim/calibrate/attribution_output.hpp"
#include "sim/calibrate/kernel_attribution.hpp"
#include "sim/calibrate/kernel_classes.hpp"
#include "sim/calibrate/kineto_trace.hpp"
#include "sim/cli/commands.hpp"

namespace trainsim::cli {

namespace {

struct CalibrateOptions {
  std::string trace_path;
  std::string classes_path = std::string(TRAINSIM_SOURCE_DIR) + "/topologies/calibration/kernel-classes.yaml";
  ConfigOptions output;  // --format only
};

}  // namespace

void register_calibrate(CLI::App& app, Action& action) {
  auto opts = std::make_shared<CalibrateOptions>();
  auto* cmd = app.add_subcommand(
      "calibrate", "Read a Kineto trace: classify its GPU kernels and attribute them to phases (no fit yet)");
  cmd->add_option("trace", opts->trace_path, "PyTorch profiler / Chrome trace JSON (Kineto)")->required();
  cmd->add_option("--classes", opts->classes_path, "Kernel-class table (default topologies/calibration/kernel-classes.yaml)");
  add_format_option(*cmd, opts->output, {"text", "json"});
  cmd->callback([&action, opts] {
    action = [opts]() -> int {
      const calibrate::KernelClassTable table = calibrate::load_kernel_classes(opts->classes_path);
      const calibrate::KinetoTrace trace = calibrate::read_kineto_trace(opts->trace_path);
      const calibrate::TraceAttribution attribution = calibrate::attribute_kernels(trace, table);
      if (opts->output.format == "json")
        std::cout << calibrate::attribution_json(attribution).dump(2) << '\n';
      else
        calibrate::write_attribution_text(std::cout, attribution);
      return 0;
    };
  });
}

}  // namespace trainsim::cli
