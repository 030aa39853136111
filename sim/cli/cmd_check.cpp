// Placeholder registration; replaced by the real command.
#include "sim/cli/commands.hpp"
#include "sim/config/error.hpp"

namespace trainsim::cli {

void register_check(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("check", "(not implemented yet)");
  cmd->callback([&action] { action = [] () -> int { throw InputError({}, "trainsim check: not implemented yet"); }; });
}

}  // namespace trainsim::cli
