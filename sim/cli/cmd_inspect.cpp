// Placeholder registration; replaced by the real command.
#include "sim/cli/commands.hpp"
#include "sim/config/error.hpp"

namespace trainsim::cli {

void register_inspect(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("inspect", "(not implemented yet)");
  cmd->callback([&action] { action = [] () -> int { throw InputError({}, "trainsim inspect: not implemented yet"); }; });
}

}  // namespace trainsim::cli
