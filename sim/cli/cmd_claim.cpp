// trainsim claim: Monte Carlo over the uncertain constants ({value, low, high})
// of the cluster and workload files; distribution of a metric, probability that a
// claimed value holds, one-at-a-time sensitivity, optional tornado chart.
#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <cmath>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <unistd.h>

#include "sim/calibrate/step_calibration.hpp"
#include "sim/cli/commands.hpp"
#include "sim/cli/progress.hpp"
#include "sim/config/load.hpp"
#include "sim/parallel/memory.hpp"
#include "sim/report/output_file.hpp"
#include "sim/run/process_pool.hpp"
#include "sim/run/simulate_run.hpp"
#include "sim/studies/claim.hpp"

namespace trainsim::cli {

namespace {

struct ClaimOptions {
  ConfigOptions config;
  RunOptions run;  // no --ramp-points: a sample is one step
  std::string metric;
  double value = 0;
  int samples = 32;
  std::uint64_t seed = 1;
  std::string plot_path;
  std::string csv_path;
  bool no_model_error = false;
};

// One uncertain constant and how to write a value of it in --set form. The unit
// suffix is the loader's business (sim/config/units.cpp): it is found by writing
// the nominal value with each base-unit suffix and keeping the one the loader
// reads back exactly (a plain number is TFLOP/s for peak_tflops, seconds need "s").
struct Knob {
  UncertainConstant constant;
  bool cluster = false;
  std::string suffix;
};

std::string key_of(const Knob& k) {
  return k.constant.path.substr(k.constant.path.find('.') + 1);  // drop "cluster." / "workload."
}

std::string with_unit(double v, const std::string& suffix) { return fmt::format("{:.17g}{}", v, suffix); }

Override knob_override(const Knob& k, double v) {
  const std::string text = fmt::format("{{value: {}, low: {}, high: {}}}", with_unit(v, k.suffix),
                                       with_unit(k.constant.low, k.suffix), with_unit(k.constant.high, k.suffix));
  return {key_of(k), text, "trainsim claim: " + k.constant.path + "=" + text, k.cluster};
}

const std::vector<UncertainConstant>& uncertain_of(const ClusterSpec& c) { return c.uncertain; }
const std::vector<UncertainConstant>& uncertain_of(const WorkloadSpec& w) { return w.uncertain; }

Knob probe(const UncertainConstant& c, bool cluster, const ClaimOptions& o, const std::vector<Override>& user) {
  for (const char* suffix : {"", "s", "B/s", "W", "B", "FLOPS"}) {
    Knob k{c, cluster, suffix};
    auto overrides = user;
    overrides.push_back(knob_override(k, c.value));
    try {
      const auto read_back = [&](const auto& spec) {
        for (const auto& u : uncertain_of(spec))
          if (u.path == c.path) return u.value == c.value && u.low == c.low && u.high == c.high;
        return false;
      };
      const bool same = cluster ? read_back(load_cluster(o.config.cluster_path, overrides))
                                : read_back(load_workload(o.config.workload_path, overrides));
      if (same) return k;
    } catch (const InputError&) {
    }
  }
  throw InputError({c.path, 0, 0}, "trainsim claim cannot write this constant back as a --set value");
}

int run(const ClaimOptions& o) {
  const auto started = std::chrono::steady_clock::now();
  const claim::MetricInfo& metric = claim::find_metric(o.metric);
  if (!std::isfinite(o.value)) throw InputError({"--value", 0, 0}, "expected a finite number");
  refuse_outputs_over_inputs({{"--csv", o.csv_path}, {"--plot", o.plot_path}},
                             {{"--cluster", o.config.cluster_path}, {"--workload", o.config.workload_path}});
  const auto user = parse_overrides(o.config.set_args);
  const Inputs in = load_inputs(o.config.cluster_path, o.config.workload_path, user);
  const ClusterSpec& cluster = in.cluster;
  const WorkloadSpec& workload = in.workload;
  const RunRequest run = run_request(o.run);
  if (metric.with_failures && !cluster.reliability)
    throw InputError({"--metric " + metric.name, 0, 0},
                     "this metric is the run with failures: the cluster needs a reliability section");
  check_full_fidelity_fits(cluster, workload, run);  // once here, not once per sample
  // Open output files first: an unwritable path is an input error, not lost simulations.
  OutputFile csv_out(o.csv_path);
  OutputFile plot_out(o.plot_path);  // checks the path; the chart script writes a file it is then renamed from

  std::vector<Knob> knobs;
  for (const auto& c : cluster.uncertain) knobs.push_back(probe(c, true, o, user));
  for (const auto& c : workload.uncertain) knobs.push_back(probe(c, false, o, user));

  claim::ClaimRequest request;
  // The calibration's model-form error per kernel class: a plain multiplier, set back
  // as --set gpu.calibration.CLASS={value, low, high}.
  request.model_form_left_out = o.no_model_error;
  if (const auto calibration = calibrate::load_step_calibration(cluster, workload); calibration && !o.no_model_error)
    for (const auto& m : calibrate::model_form_constants(*calibration)) {
      knobs.push_back({m.constant, true, ""});
      request.model_form_sources[m.constant.path] = m.source;
    }
  for (const auto& k : knobs) request.constants.push_back(k.constant);
  request.metric = metric;
  request.claimed_value = o.value;
  request.samples = o.samples;
  request.seed = o.seed;
  request.cluster_name = cluster.name;
  request.workload_name = workload.model.name;

  const claim::Evaluate simulate_points = [&](const std::vector<claim::Point>& points) {
    std::vector<NumbersJob> sims;
    for (const auto& point : points)
      sims.push_back([&, point] {
        auto overrides = user;
        for (std::size_t i = 0; i < knobs.size(); ++i) overrides.push_back(knob_override(knobs[i], point[i]));
        const Inputs sample = load_inputs(o.config.cluster_path, o.config.workload_path, overrides);
        StepResult r = simulate_step(sample.cluster, sample.workload, run);
        if (metric.with_failures) add_goodput(r, sample.cluster, sample.workload, {});
        return std::vector<double>{claim::metric_value(r, metric)};
      });
    // A claim is 1 + samples + 2 x constants simulations: minutes on the default case.
    Progress progress;
    progress.unit = "simulations";
    progress.total = sims.size();
    progress.enabled = isatty(2) != 0;
    progress.draw();
    const auto results = run_isolated_all(sims, run.jobs, [&](std::size_t, const JobResult* finished) {
      if (finished != nullptr) {
        ++progress.done;
        if (!finished->ok()) ++progress.failed;
      }
      progress.draw();
    });
    progress.finish();
    std::vector<double> values;
    for (const auto& r : results) values.push_back(r.at(0));
    return values;
  };
  claim::ClaimResult result = claim::run_claim(request, simulate_points);
  // Flagged, not refused: the samples vary the very constants a memory figure rests on.
  if (const GpuMemory memory = plan_gpu_memory(cluster, workload); !memory.fits())
    result.memory_does_not_fit = memory_verdict(memory);

  if (o.config.format == "json")
    std::cout << claim::to_json(result).dump(2) << '\n';
  else
    std::cout << claim::to_text(result);
  std::cout.flush();
  csv_out.commit(claim::samples_csv(result));

  int status = 0;
  if (!o.plot_path.empty()) {
    // The chart is drawn by scripts/plot_claim.py from the JSON result on its stdin.
    auto quoted = [](const std::string& s) {
      std::string q = "'";
      for (char ch : s) q += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
      return q + "'";
    };
    // Debian's python3-matplotlib is installed for /usr/bin/python3, which a python3
    // earlier on PATH (pyenv, venv) may lack.
    const std::string python = std::ifstream("/usr/bin/python3").good() ? "/usr/bin/python3" : "python3";
    // The script draws into a private directory (the file name keeps the format's
    // extension); the chart then goes to --plot like any output.
    std::string scratch_dir = (std::filesystem::temp_directory_path() / "trainsim-plot-XXXXXX").string();
    if (::mkdtemp(scratch_dir.data()) == nullptr)
      throw OutputError(o.plot_path, std::string("no scratch directory: ") + std::strerror(errno));
    const std::string scratch = scratch_dir + "/" + std::filesystem::path(o.plot_path).filename().string();
    const std::string command =
        python + " " + quoted(std::string(TRAINSIM_SOURCE_DIR) + "/scripts/plot_claim.py") + " " + quoted(scratch);
    FILE* pipe = popen(command.c_str(), "w");
    const std::string json = claim::to_json(result).dump();
    const bool written = pipe != nullptr && std::fwrite(json.data(), 1, json.size(), pipe) == json.size();
    const int rc = pipe != nullptr ? pclose(pipe) : -1;
    std::ostringstream chart;
    chart << std::ifstream(scratch, std::ios::binary).rdbuf();
    std::error_code ignored;
    std::filesystem::remove_all(scratch_dir, ignored);
    if (!written || rc != 0) {
      std::cerr << "trainsim claim: the chart was not drawn (" << command << " failed; it needs python3-matplotlib)\n";
      status = 1;
    } else {
      plot_out.commit(chart.str());
    }
  }
  const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  // Wall time goes to stderr: stdout stays byte-identical for the same inputs and seed.
  std::cerr << fmt::format("trainsim claim: {} simulations in {:.1f} s wall ({} side by side)\n", result.simulations,
                           wall_s, run.jobs);
  return status;
}

}  // namespace

void register_claim(CLI::App& app, Action& action) {
  static ClaimOptions opts;
  opts = {};  // the defaults again: a process may register its commands more than once (tests/fuzz)
  auto* cmd = app.add_subcommand(
      "claim",
      "Check a published figure against a Monte Carlo over the uncertain constants ({value, low, high}) "
      "of both files and the calibration's model-form error per kernel class; distribution, P(claim holds), "
      "sensitivity. Cost: 1 + samples + 2 x (constants that can move the metric) step simulations; the default "
      "case takes a few minutes on 2 cores with the default 32 samples");
  add_config_options(*cmd, opts.config, {"text", "json"});
  add_run_options(*cmd, opts.run, fidelity_option | jobs_option | max_memory_option);
  std::string metric_help = "Metric to check:";
  for (const auto& m : claim::known_metrics()) metric_help += " " + m.name;
  cmd->add_option("--metric", opts.metric, metric_help)->required();
  cmd->add_option("--value", opts.value, "The claimed value of the metric")->required();
  cmd->add_option("--samples", opts.samples, "Monte Carlo samples (default 32)")->check(CLI::Range(1, 100000));
  cmd->add_option("--seed", opts.seed, "Seed of the sampler (default 1); same seed, same output")
      ->check(seed_value(std::numeric_limits<std::uint64_t>::max()));
  cmd->add_option("--plot", opts.plot_path, "Draw a tornado chart and a histogram of the samples (PNG)");
  cmd->add_option("--csv", opts.csv_path, "Write every sample (constant values and metric) as CSV");
  cmd->add_flag("--no-model-error", opts.no_model_error,
                "Leave out the calibration's model-form error (a multiplier per kernel class whose range comes from "
                "the calibration's held-out shapes): only the files' constants vary");
  cmd->callback([&action] { action = [] { return run(opts); }; });
}

}  // namespace trainsim::cli
