// trainsim inspect: the cost model of a workload (parameters, FLOPs, bytes and
// activations per layer and per op), without simulating anything.
#include <iostream>
#include <memory>

#include "sim/cli/commands.hpp"
#include "sim/model/cost_model.hpp"
#include "sim/model/compute_cost_report.hpp"

namespace trainsim::cli {

void register_inspect(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("inspect", "Parameters, FLOPs, bytes and activations of a workload, per layer and op");
  auto opts = std::make_shared<ConfigOptions>();
  add_workload_option(*cmd, *opts);
  add_set_option(*cmd, *opts);
  add_format_option(*cmd, *opts, {"text", "json"});
  cmd->callback([&action, opts] {
    action = [opts]() -> int {
      const WorkloadSpec workload = load_checked_workload(opts->workload_path, overrides_read_by(*opts, "inspect", FilesRead::workload));
      const ModelCost cost = model_cost(workload);
      if (opts->format == "json")
        std::cout << cost_to_json(cost, workload).dump(2) << '\n';
      else
        std::cout << cost_to_text(cost, workload);
      return 0;
    };
  });
}

}  // namespace trainsim::cli
