#include "sim/cli/commands.hpp"
#include "sim/config/load.hpp"

namespace trainsim::cli {

void add_cluster_option(CLI::App& cmd, ConfigOptions& opts) {
  opts.cluster_path = default_cluster_path();
  cmd.add_option("--cluster", opts.cluster_path, "Cluster YAML (default: topologies/h800-2048.yaml)");
}

void add_workload_option(CLI::App& cmd, ConfigOptions& opts) {
  opts.workload_path = default_workload_path();
  cmd.add_option("--workload", opts.workload_path, "Workload YAML (default: workloads/deepseek-v3.yaml)");
}

void add_set_option(CLI::App& cmd, ConfigOptions& opts) {
  cmd.add_option("--set", opts.set_args,
                 "Override a YAML key: key.path=value (repeatable; prefix cluster. or workload. if ambiguous)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

void add_format_option(CLI::App& cmd, ConfigOptions& opts, const std::vector<std::string>& formats) {
  opts.format = formats.front();
  cmd.add_option("--format", opts.format, "Output format")->check(CLI::IsMember(formats));
}

}  // namespace trainsim::cli
