// Placeholder registration; replaced by the real command.
#include "sim/cli/commands.hpp"
#include "sim/config/error.hpp"

namespace trainsim::cli {

void register_schedule(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("schedule", "(not implemented yet)");
  cmd->callback([&action] { action = [] () -> int { throw InputError({}, "trainsim schedule: not implemented yet"); }; });
}

}  // namespace trainsim::cli
