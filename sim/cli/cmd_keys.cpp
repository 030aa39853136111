// trainsim keys: the configuration reference, every key of the cluster and
// workload files with kind and unit, range, default and help, as declared in
// sim/config (cluster_keys.cpp, workload_keys.cpp). README.md's "Configuration
// reference" is `trainsim keys --format markdown`.
#include <iostream>
#include <memory>

#include "sim/cli/commands.hpp"
#include "sim/config/key_reference.hpp"

namespace trainsim::cli {

void register_keys(CLI::App& app, Action& action) {
  auto opts = std::make_shared<ConfigOptions>();
  auto* cmd = app.add_subcommand("keys", "Every key of the cluster and workload files: kind and unit, range, default, help");
  add_format_option(*cmd, *opts, {"text", "markdown", "json"});
  cmd->callback([&action, opts] {
    action = [opts]() -> int {
      if (opts->format == "markdown")
        config::write_key_reference_markdown(std::cout);
      else if (opts->format == "json")
        config::write_key_reference_json(std::cout);
      else
        config::write_key_reference_text(std::cout);
      return 0;
    };
  });
}

}  // namespace trainsim::cli
