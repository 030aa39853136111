#pragma once
// Options that several commands share, each declared once here: its spelling,
// default, help, check and help group, so every command reads and documents it
// the same way.
#include <CLI/CLI.hpp>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sim/config/spec.hpp"
#include "sim/parallel/memory.hpp"
#include "sim/run/inputs.hpp"
#include "sim/run/simulate_run.hpp"

namespace trainsim::cli {

// Options of the commands that read config files.
struct ConfigOptions {
  std::string cluster_path;
  std::string workload_path;
  std::vector<std::string> set_args;  // raw `key.path=value`
  std::string format = "text";
};
void add_cluster_option(CLI::App& cmd, ConfigOptions& opts);
void add_workload_option(CLI::App& cmd, ConfigOptions& opts);
void add_set_option(CLI::App& cmd, ConfigOptions& opts);
void add_format_option(CLI::App& cmd, ConfigOptions& opts, const std::vector<std::string>& formats);
// --cluster, --workload, --set and --format (the first of `formats` is the default).
void add_config_options(CLI::App& cmd, ConfigOptions& opts, const std::vector<std::string>& formats);

// The --set overrides of a command that reads one of the two files: an override of
// the other file would have no effect, so it is refused, naming the key and the command
// ("--set parallelism.pp=4: trainsim topology reads no workload file; ...").
enum class FilesRead { cluster, workload };
[[nodiscard]] std::vector<Override> overrides_read_by(const ConfigOptions& opts, const std::string& command,
                                                      FilesRead reads);

// --seed: a whole number from 0 to `max` (CLI11 turns "-1" into 2^64-1 for an unsigned
// option; refused here before the conversion).
[[nodiscard]] CLI::Validator seed_value(unsigned long long max);

// Both files loaded with the --set overrides and every check (sim/run/inputs.hpp).
[[nodiscard]] Inputs load_configs(const ConfigOptions& opts);

// How a command runs its simulations: the flags behind a RunRequest.
struct RunOptions {
  Fidelity fidelity = Fidelity::symmetric;
  engine::NetworkModel network_model = engine::NetworkModel::bundled;  // with --fidelity
  int ramp_points = 5;
  int jobs = 2;
  std::optional<double> max_memory_bytes;  // empty: 80% of RAM
};
// Which of the run options a command takes (a command that simulates no batch
// ramp takes no --ramp-points).
enum RunOptionSet : unsigned {
  fidelity_option = 1,
  ramp_points_option = 2,
  jobs_option = 4,
  max_memory_option = 8,
  all_run_options = 15,
};
void add_run_options(CLI::App& cmd, RunOptions& opts, unsigned which = all_run_options);
[[nodiscard]] RunRequest run_request(const RunOptions& opts);
// The flags that give another trainsim command line the same options (but --jobs):
// flag, value, flag, value...
[[nodiscard]] std::vector<std::string> run_option_args(const RunOptions& opts);

// --allow-large: lifts the size limits (sim/config/size_limits.hpp); main sets the
// process's switch from it after parsing.
void add_allow_large_option(CLI::App& cmd, bool& allow);

// --allow-oversubscribed-memory: simulate a configuration whose largest rank
// needs more than the GPU's HBM (check and run refuse it otherwise).
void add_allow_oversubscribed_memory_option(CLI::App& cmd, bool& allow);
// Refuses (InputError, exit 2) a configuration that does not fit unless `allow`;
// returns its memory either way.
[[nodiscard]] GpuMemory checked_gpu_memory(const Inputs& in, bool allow);

// An option whose words stand for values (--fidelity full): CLI::IsMember checks the
// word (its message and its help "{full,symmetric}"), then a CLI::Transformer, with
// no help of its own, stores the value. transform() puts a validator first, so the
// check is added last.
template <class T>
CLI::Option* with_names(CLI::Option* option, const std::map<std::string, T>& names) {
  std::vector<std::string> words;
  for (const auto& entry : names) words.push_back(entry.first);
  return option->transform(CLI::Validator(CLI::Transformer(names)).description(""))
      ->transform(CLI::IsMember(words));
}
// fp8 / bf16, for an option that takes a precision.
[[nodiscard]] const std::map<std::string, Precision>& precision_names();

}  // namespace trainsim::cli
