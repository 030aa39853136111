#include "sim/cli/options.hpp"

#include <fmt/format.h>

#include <cstdlib>

#include "sim/config/load.hpp"
#include "sim/config/size_limits.hpp"
#include "sim/config/units.hpp"

namespace trainsim::cli {

namespace {

const char* const kConfigGroup = "Configuration";
const char* const kRunGroup = "Run";

// The default case's step takes about 5 s (see studies/sweep.hpp); each ramp point is one more.
constexpr double kSecondsPerRampPoint = 5;
const SizeLimit kMaxRampPoints{100, 1000};

const std::map<std::string, Fidelity>& fidelity_names() {
  static const std::map<std::string, Fidelity> names{{"full", Fidelity::full}, {"symmetric", Fidelity::symmetric}};
  return names;
}

const std::map<std::string, engine::NetworkModel>& network_model_names() {
  static const std::map<std::string, engine::NetworkModel> names{{"bundled", engine::NetworkModel::bundled},
                                                                 {"per-pair", engine::NetworkModel::per_pair}};
  return names;
}

// A size with a unit (16GiB, 512MB, 1024B), checked and turned into bytes by the
// config loader's own unit parser.
CLI::Validator memory_size() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        try {
          text = fmt::format("{:.17g}", units::memory_bytes(text));
          return {};
        } catch (const std::exception& e) {
          return e.what();
        }
      },
      "", "memory size");
}

}  // namespace

void add_cluster_option(CLI::App& cmd, ConfigOptions& opts) {
  opts.cluster_path = default_cluster_path();
  cmd.add_option("--cluster", opts.cluster_path, "Cluster YAML (default: topologies/h800-2048.yaml)")
      ->group(kConfigGroup);
}

void add_workload_option(CLI::App& cmd, ConfigOptions& opts) {
  opts.workload_path = default_workload_path();
  cmd.add_option("--workload", opts.workload_path, "Workload YAML (default: workloads/deepseek-v3.yaml)")
      ->group(kConfigGroup);
}

void add_set_option(CLI::App& cmd, ConfigOptions& opts) {
  cmd.add_option("--set", opts.set_args,
                 "Override a YAML key: key.path=value (repeatable; prefix cluster. or workload. if ambiguous; "
                 "`trainsim keys` lists every key with its unit, range and default)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->group(kConfigGroup);
}

void add_format_option(CLI::App& cmd, ConfigOptions& opts, const std::vector<std::string>& formats) {
  opts.format = formats.front();
  cmd.add_option("--format", opts.format, "Output format (default " + formats.front() + ")")
      ->check(CLI::IsMember(formats));
}

void add_config_options(CLI::App& cmd, ConfigOptions& opts, const std::vector<std::string>& formats) {
  add_cluster_option(cmd, opts);
  add_workload_option(cmd, opts);
  add_set_option(cmd, opts);
  add_format_option(cmd, opts, formats);
}

std::vector<Override> overrides_read_by(const ConfigOptions& opts, const std::string& command, FilesRead reads) {
  std::vector<Override> overrides = parse_overrides(opts.set_args);
  const bool cluster = reads == FilesRead::cluster;
  for (const Override& ov : overrides)
    if (ov.cluster != cluster)
      throw InputError({ov.origin, 0, 0}, fmt::format("trainsim {} reads no {} file; {} would have no effect", command,
                                                      cluster ? "workload" : "cluster", ov.path));
  return overrides;
}

CLI::Validator seed_value(unsigned long long max) {
  return CLI::Validator(
      [max](std::string& text) -> std::string {
        const bool digits = !text.empty() && text.size() <= 20 &&
                            text.find_first_not_of("0123456789") == std::string::npos;
        if (!digits || std::strtoull(text.c_str(), nullptr, 10) > max || (text.size() == 20 && text > "18446744073709551615"))
          return fmt::format("must be a whole number from 0 to {}, got {}", max, text);
        return {};
      },
      "", "seed");
}

Inputs load_configs(const ConfigOptions& opts) {
  return load_inputs(opts.cluster_path, opts.workload_path, parse_overrides(opts.set_args));
}

void add_run_options(CLI::App& cmd, RunOptions& opts, unsigned which) {
  if (which & fidelity_option)
    with_names(cmd.add_option("--fidelity", opts.fidelity,
                              "full: every GPU and flow; symmetric (default): one pipeline of representatives"),
               fidelity_names())
        ->group(kRunGroup);
  if (which & fidelity_option)
    with_names(cmd.add_option("--network-model", opts.network_model,
                              "per-pair: a SimGrid flow per GPU pair and transfer (the reference); bundled (default): "
                              "a transfer's flows with equal bytes and route latency as one SimGrid flow over all their "
                              "links, the same max-min shares while they would move at one rate "
                              "(README, Network models)"),
               network_model_names())
        ->group(kRunGroup);
  if (which & ramp_points_option)
    cmd.add_option("--ramp-points", opts.ramp_points,
                   "Batch sizes simulated over the batch ramp, full batch included (default 5; <2: none; at most "
                   "100, 1000 with --allow-large)")
        // Each point is one more step simulated in its own process; 100 (assumption) resolves a linear ramp's
        // integral far below the model's error, and bounds a run to 100 steps' time. The parse allows the bound
        // of --allow-large (the flag may come later on the line); run_request checks the limit in force.
        ->check(CLI::Range(0, static_cast<int>(kMaxRampPoints.lifted)))
        ->group(kRunGroup);
  if (which & jobs_option)
    cmd.add_option("--jobs", opts.jobs, "Simulations run side by side, one process each (default 2)")
        ->check(CLI::Range(1, 256))
        ->group(kRunGroup);
  if (which & max_memory_option)
    cmd.add_option("--max-memory", opts.max_memory_bytes,
                   "Refuse a full-fidelity run whose estimated memory is above this (e.g. 16GiB; default: 80% of RAM)")
        ->transform(memory_size())
        ->type_name("SIZE")
        ->group(kRunGroup);
}

RunRequest run_request(const RunOptions& opts) {
  if (opts.ramp_points > kMaxRampPoints.active())
    throw InputError({"--ramp-points", 0, 0},
                     fmt::format("{} ramp points, each one more step simulated (about {:.0f} s each on the default "
                                 "case, {:.3g} CPU-hours); at most {:.0f}{}",
                                 opts.ramp_points, kSecondsPerRampPoint,
                                 opts.ramp_points * kSecondsPerRampPoint / 3600, kMaxRampPoints.active(),
                                 size_limit_hint(kMaxRampPoints)));
  RunRequest r;
  r.fidelity = opts.fidelity;
  r.network_model = opts.network_model;
  r.ramp_points = opts.ramp_points;
  r.jobs = opts.jobs;
  r.max_memory_bytes = opts.max_memory_bytes;
  return r;
}

std::vector<std::string> run_option_args(const RunOptions& opts) {
  std::string fidelity;
  for (const auto& [name, value] : fidelity_names())
    if (value == opts.fidelity) fidelity = name;
  std::string network_model;
  for (const auto& [name, value] : network_model_names())
    if (value == opts.network_model) network_model = name;
  std::vector<std::string> args{"--fidelity", fidelity, "--network-model", network_model,
                                "--ramp-points", std::to_string(opts.ramp_points)};
  if (opts.max_memory_bytes) {
    args.emplace_back("--max-memory");
    args.push_back(fmt::format("{:.17g}B", *opts.max_memory_bytes));
  }
  return args;
}

void add_allow_large_option(CLI::App& cmd, bool& allow) {
  cmd.add_flag(kAllowLargeFlag, allow,
               "Lift the size limits meant for a workstation (2^20 GPUs, 1e6 layer passes per pipeline, 100000 sweep "
               "points, 100 ramp points, 1e7 schedule ops) to 2^22, 1e8, 1000000, 1000 and 1e8, for a big machine");
}

void add_allow_oversubscribed_memory_option(CLI::App& cmd, bool& allow) {
  cmd.add_flag("--allow-oversubscribed-memory", allow,
               "Simulate even when the largest pipeline rank needs more than the GPU's HBM (refused otherwise)");
}

GpuMemory checked_gpu_memory(const Inputs& in, bool allow) {
  GpuMemory m = plan_gpu_memory(in.cluster, in.workload);
  if (!allow) check_memory_fits(m, in.workload);
  return m;
}

const std::map<std::string, Precision>& precision_names() {
  static const std::map<std::string, Precision> names{{"fp8", Precision::fp8}, {"bf16", Precision::bf16}};
  return names;
}

}  // namespace trainsim::cli
