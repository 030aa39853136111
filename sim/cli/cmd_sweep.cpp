// trainsim sweep: `trainsim run` over the cartesian product of --set axes, one
// child process per point (a SimGrid engine lives once per process), rows in point
// order whatever --jobs; or, with --emit-jobs, one self-contained command per point
// for GNU parallel or a Slurm array job, merged afterwards by `trainsim merge`.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <iostream>
#include <sstream>

#include "sim/cli/commands.hpp"
#include "sim/cli/progress.hpp"
#include "sim/config/load.hpp"
#include "sim/config/size_limits.hpp"
#include "sim/config/yaml_file.hpp"
#include "sim/run/process_pool.hpp"
#include "sim/run/simulate_run.hpp"
#include "sim/studies/sweep.hpp"

namespace trainsim::cli {

namespace {

namespace fs = std::filesystem;

struct SweepOptions {
  ConfigOptions config;
  RunOptions run;  // --jobs: points side by side; each point's ramp runs in its own process
  std::string output_path;
  std::string emit_jobs_path;
  std::string jobs_dir;
  std::string resume_path;
  long long only_point = -1;
};

// ------------------------------------------------------------------ the points

std::string first_line(const std::string& text) {
  std::size_t b = 0;
  while (b < text.size()) {
    const std::size_t e = std::min(text.find('\n', b), text.size());
    if (e > b) return text.substr(b, e - b);
    b = e + 1;
  }
  return {};
}

// One point: `trainsim run --format json` with the point's --set values, in a child.
Job point_job(const SweepOptions& o, std::vector<std::string> set_args) {
  return [&o, set_args = std::move(set_args)] {
    ConfigOptions config = o.config;
    config.set_args = set_args;
    const Inputs configs = load_configs(config);
    RunRequest request = run_request(o.run);
    request.jobs = 1;  // the points are what runs side by side
    StepResult result = simulate_run(configs.cluster, configs.workload, request);
    add_goodput(result, configs.cluster, configs.workload, {});  // a reliability section: the goodput columns
    return to_json(result).dump();
  };
}

// The row of a finished point: its JSON result, or the first line of its error.
sweep::Row point_row(const sweep::Plan& plan, std::size_t point, const JobResult& r) {
  if (!r.ok()) return sweep::make_row(plan, point, first_line(r.error), sweep::Row());
  const sweep::Row result = sweep::Row::parse(r.bytes, nullptr, false);
  if (result.is_discarded() || !result.is_object())
    return sweep::make_row(plan, point, "the run printed no JSON result", sweep::Row());
  return sweep::make_row(plan, point, "", result);
}

// Runs `points` with up to --jobs children at once; rows come back in the order of `points`.
// SIGINT / SIGTERM: the rows of the points that finished, and the signal.
struct PointRows {
  std::vector<sweep::Row> rows;
  int interrupted_by = 0;
};
PointRows run_points(const SweepOptions& o, const sweep::Plan& plan, const std::vector<std::size_t>& points) {
  std::vector<Job> jobs;
  for (const std::size_t p : points) jobs.push_back(point_job(o, sweep::point_set_args(plan, p)));
  std::vector<sweep::Row> rows(points.size());
  Progress progress;
  progress.total = points.size();
  progress.enabled = isatty(2) != 0;
  progress.draw();
  const auto done = [&](std::size_t index, const JobResult* result) {
    if (result && result->interrupted_by == 0) {
      rows[index] = point_row(plan, points[index], *result);
      ++progress.done;
      if (sweep::row_failed(rows[index])) ++progress.failed;
    }
    progress.draw();
  };
  const auto results = run_in_children(jobs, o.run.jobs, done, OnInterrupt::return_finished);
  progress.finish();
  PointRows out;
  for (std::size_t i = 0; i < results.size(); ++i) {
    if (results[i].interrupted_by != 0)
      out.interrupted_by = results[i].interrupted_by;
    else
      out.rows.push_back(std::move(rows[i]));
  }
  return out;
}

// An interrupted sweep keeps its finished rows as JSON lines beside --output (or in the
// current directory), the form --resume and merge read.
int keep_finished_rows(const SweepOptions& o, std::size_t points, const std::vector<sweep::Row>& rows,
                       int signal_number) {
  struct stat st {};
  const bool beside_output = !o.output_path.empty() && (::stat(o.output_path.c_str(), &st) != 0 || S_ISREG(st.st_mode));
  const std::string kept = (beside_output ? o.output_path : std::string("sweep")) + ".partial.jsonl";
  sweep::write_output(kept, sweep::to_jsonl(rows));
  std::cerr << fmt::format(
      "trainsim sweep: interrupted by {}; {} of {} points finished, kept in {}.\n"
      "Finish the sweep with the same command and --resume {} (or run the missing points with --only-point "
      "and join the rows with trainsim merge)\n",
      signal_number == SIGINT ? "SIGINT" : "SIGTERM", rows.size(), points, kept, kept);
  return 128 + signal_number;
}

// ------------------------------------------------------------------ --emit-jobs

std::string plan_arg(const sweep::SetEntry& entry) {
  std::string text = entry.key + "=";
  for (std::size_t i = 0; i < entry.values.size(); ++i) {
    if (i > 0) text += ',';
    text += entry.values[i];
  }
  return text;
}

int emit_jobs(const SweepOptions& o, const sweep::Plan& plan) {
  const std::size_t points = sweep::point_count(plan);
  const fs::path dir = fs::absolute(o.jobs_dir.empty() ? o.emit_jobs_path + ".points" : o.jobs_dir);
  // The scripts read the output path back from the quoted last word of each line.
  if (dir.string().find('\'') != std::string::npos)
    throw InputError({dir.string(), 0, 0}, "the jobs directory must not contain a single quote");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) throw InputError({dir.string(), 0, 0}, "cannot create the jobs directory");
  const std::string exe = fs::read_symlink("/proc/self/exe").string();
  std::string common = sweep::shell_quote(exe) + " sweep --cluster " + sweep::shell_quote(o.config.cluster_path) +
                       " --workload " + sweep::shell_quote(o.config.workload_path);
  const auto run_args = run_option_args(o.run);  // flag, value, flag, value...
  for (std::size_t i = 0; i + 1 < run_args.size(); i += 2)
    common += " " + run_args[i] + " " + sweep::shell_quote(run_args[i + 1]);
  if (large_inputs_allowed()) common += std::string(" ") + kAllowLargeFlag;  // the plan's sizes need it too
  for (const auto& entry : plan.sets) common += " --set " + sweep::shell_quote(plan_arg(entry));
  std::string text;
  for (std::size_t p = 0; p < points; ++p)
    text += common + " --only-point " + std::to_string(p) + " --format jsonl --output " +
            sweep::shell_quote((dir / sweep::point_file_name(p, points)).string()) + "\n";
  OutputFile out = sweep::open_output(o.emit_jobs_path);
  sweep::write_output(out, text);
  std::cerr << fmt::format(
      "trainsim sweep: wrote {} jobs to {}; each writes its row to {}/point-*.jsonl.\n"
      "Run them with scripts/sweep-parallel {} (GNU parallel), scripts/sweep-slurm {} (Slurm) or bash {},\n"
      "then: trainsim merge --expect-points {} {}\n",
      points, o.emit_jobs_path, dir.string(), o.emit_jobs_path, o.emit_jobs_path, o.emit_jobs_path, points,
      dir.string());
  return 0;
}

// ------------------------------------------------------------------ the command

int sweep_command(SweepOptions o) {
  const sweep::Plan plan = sweep::parse_plan(o.config.set_args);
  (void)run_request(o.run);  // its limits once here, not once per point
  // Every key and value list is checked before any point runs: a typo fails fast.
  // An axis lists several values of one key: each is checked alone, then one point's
  // arguments together, so that two spellings of one key (nodes, cluster.nodes) are refused.
  for (const std::string& arg : sweep::all_set_args(plan)) (void)parse_overrides({arg});
  (void)parse_overrides(sweep::point_set_args(plan, 0));
  for (auto* path : {&o.config.cluster_path, &o.config.workload_path}) {
    if (!std::ifstream(*path)) throw InputError({*path, 0, 0}, "cannot read the file");
    *path = fs::absolute(*path).string();  // children and emitted jobs may run elsewhere
  }
  refuse_outputs_over_inputs({{"--output", o.output_path}, {"--emit-jobs", o.emit_jobs_path}},
                             {{"--cluster", o.config.cluster_path},
                              {"--workload", o.config.workload_path},
                              {"--resume", o.resume_path}});
  const std::size_t points = sweep::point_count(plan);
  if (!o.emit_jobs_path.empty()) {
    if (o.only_point >= 0 || !o.output_path.empty() || !o.resume_path.empty())
      throw InputError({"--emit-jobs", 0, 0}, "cannot be combined with --only-point, --output or --resume");
    return emit_jobs(o, plan);
  }
  if (!o.resume_path.empty() && o.only_point >= 0)
    throw InputError({"--resume", 0, 0}, "cannot be combined with --only-point");
  std::vector<sweep::Row> resumed;
  if (!o.resume_path.empty()) {
    // A regular file only (a directory read as no rows would rerun every point; a FIFO would block).
    resumed = sweep::merge_rows(sweep::read_resumed_rows(plan, config::read_text_file(o.resume_path), o.resume_path));
  }
  if (!o.jobs_dir.empty()) throw InputError({"--jobs-dir", 0, 0}, "only applies with --emit-jobs");
  std::vector<std::size_t> selected;
  if (o.only_point >= 0) {
    if (static_cast<std::size_t>(o.only_point) >= points)
      throw InputError({"--only-point", 0, 0}, fmt::format("point {} does not exist; the sweep has {} points (0 to {})",
                                                           o.only_point, points, points - 1));
    selected.push_back(static_cast<std::size_t>(o.only_point));
  } else {
    std::size_t k = 0;  // the resumed rows are sorted by point
    for (std::size_t p = 0; p < points; ++p) {
      while (k < resumed.size() && resumed[k]["point"].get<std::size_t>() < p) ++k;
      if (k == resumed.size() || resumed[k]["point"].get<std::size_t>() != p) selected.push_back(p);
    }
  }
  OutputFile out = sweep::open_output(o.output_path);  // before the points: a bad path loses no work
  PointRows ran = run_points(o, plan, selected);
  for (auto& row : resumed) ran.rows.push_back(std::move(row));
  const auto rows = sweep::merge_rows(std::move(ran.rows));
  if (ran.interrupted_by != 0) return keep_finished_rows(o, points, rows, ran.interrupted_by);
  sweep::write_output(out, o.config.format == "jsonl" ? sweep::to_jsonl(rows) : sweep::to_csv(rows));
  std::size_t failed = 0;
  for (const auto& row : rows) failed += sweep::row_failed(row) ? 1 : 0;
  if (failed > 0) {
    std::cerr << fmt::format("trainsim sweep: {} of {} points failed (rows with status=error)\n", failed, rows.size());
    return 1;
  }
  return 0;
}

}  // namespace

void register_sweep(CLI::App& app, Action& action) {
  static SweepOptions opts;
  opts = {};  // the defaults again: a process may register its commands more than once (tests/fuzz)
  auto* cmd = app.add_subcommand(
      "sweep", "Run `trainsim run` over the cartesian product of --set key=v1,v2,... axes; one row per point");
  add_cluster_option(*cmd, opts.config);
  add_workload_option(*cmd, opts.config);
  cmd->add_option("--set", opts.config.set_args,
                  "key.path=value (fixed) or key.path=v1,v2,... (an axis; last axis varies fastest); repeatable. "
                  "Commas inside {...} or [...] do not split; `trainsim keys` lists every key with its unit, range "
                  "and default")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  add_format_option(*cmd, opts.config, {"csv", "jsonl"});
  add_run_options(*cmd, opts.run);
  cmd->add_option("--output", opts.output_path, "Write the rows to FILE instead of stdout");
  cmd->add_option("--emit-jobs", opts.emit_jobs_path,
                  "Run nothing; write one self-contained shell command per point to FILE (line K+1 = point K)");
  cmd->add_option("--jobs-dir", opts.jobs_dir,
                  "With --emit-jobs: where each command writes its point-K.jsonl row (default FILE.points)");
  cmd->add_option("--resume", opts.resume_path,
                  "Run only the points missing from FILE (JSON lines rows, e.g. the .partial.jsonl an interrupted "
                  "sweep kept) and write the whole sweep");
  cmd->add_option("--only-point", opts.only_point, "Run only point K of the sweep (what emitted jobs do)")
      ->check(CLI::NonNegativeNumber);
  cmd->callback([&action] { action = [] { return sweep_command(opts); }; });
}

}  // namespace trainsim::cli
