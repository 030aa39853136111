#include "sim/cli/commands.hpp"

namespace trainsim::cli {

void register_all(CLI::App& app, Action& action, bool& allow_large) {
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Help for every sub-command");
  register_inspect(app, action);
  register_topology(app, action);
  register_net(app, action);
  register_schedule(app, action);
  register_run(app, action);
  register_check(app, action);
  register_claim(app, action);
  register_sweep(app, action);
  register_merge(app, action);
  register_cost(app, action);
  register_validate(app, action);
  register_keys(app, action);
  register_calibrate(app, action);
  // Every command that reads a size the limits bound (sim/config/size_limits.hpp) takes --allow-large.
  for (const char* name : {"inspect", "topology", "net", "schedule", "run", "check", "claim", "sweep", "merge", "cost",
                           "validate"})
    add_allow_large_option(*app.get_subcommand(name), allow_large);
}

}  // namespace trainsim::cli
