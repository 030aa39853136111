#pragma once
// Each sub-command lives in its own file (cmd_<name>.cpp) and registers itself
// on the CLI11 app; main() only wires them and maps errors to exit statuses.
#include <CLI/CLI.hpp>
#include <functional>

#include "sim/cli/options.hpp"

namespace trainsim::cli {

// A command's action; returns the process exit status. InputError thrown from
// it becomes `FILE:LINE:COL: message` and status 2.
using Action = std::function<int()>;

// Registration functions, one per cmd_<name>.cpp. Each adds a subcommand to `app`
// and sets `action` when that subcommand is the one parsed.
void register_inspect(CLI::App& app, Action& action);
void register_topology(CLI::App& app, Action& action);
void register_net(CLI::App& app, Action& action);
void register_schedule(CLI::App& app, Action& action);
void register_run(CLI::App& app, Action& action);
void register_check(CLI::App& app, Action& action);
void register_claim(CLI::App& app, Action& action);
void register_sweep(CLI::App& app, Action& action);
void register_merge(CLI::App& app, Action& action);
void register_cost(CLI::App& app, Action& action);
void register_validate(CLI::App& app, Action& action);
void register_keys(CLI::App& app, Action& action);
void register_calibrate(CLI::App& app, Action& action);

// The app's rules (one sub-command, --help-all) and every sub-command, in `trainsim
// --help` order, with --allow-large on each command the size limits bound (set in
// `allow_large`; the caller lifts the limits with allow_large_inputs after parsing):
// main() and tests/fuzz/fuzz_command_line.cpp.
void register_all(CLI::App& app, Action& action, bool& allow_large);

}  // namespace trainsim::cli
