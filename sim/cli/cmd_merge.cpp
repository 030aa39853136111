// trainsim merge: joins the per-point JSON-lines outputs of an emitted sweep
// (`trainsim sweep --emit-jobs`, run by GNU parallel, Slurm or bash) into the same
// CSV or JSON lines a local `trainsim sweep` prints. Missing and failed points are
// reported, never dropped silently.
#include <algorithm>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <iostream>
#include <sstream>

#include "sim/cli/commands.hpp"
#include "sim/config/error.hpp"
#include "sim/config/yaml_file.hpp"
#include "sim/studies/sweep.hpp"

namespace trainsim::cli {

namespace {

namespace fs = std::filesystem;

struct MergeOptions {
  std::string format = "csv";
  std::string output_path;
  long long expect_points = 0;
  std::vector<std::string> inputs;
};

// A directory stands for the *.jsonl files in it, in name order.
std::vector<std::string> expand_inputs(const std::vector<std::string>& inputs) {
  std::vector<std::string> files;
  for (const auto& input : inputs) {
    std::error_code ec;
    if (!fs::is_directory(input, ec)) {
      files.push_back(input);
      continue;
    }
    std::vector<std::string> in_dir;
    for (const auto& entry : fs::directory_iterator(input, ec))
      if (entry.is_regular_file() && entry.path().extension() == ".jsonl") in_dir.push_back(entry.path().string());
    std::sort(in_dir.begin(), in_dir.end());
    files.insert(files.end(), in_dir.begin(), in_dir.end());
  }
  return files;
}

int merge_command(const MergeOptions& o) {
  sweep::check_expected_points(o.expect_points);
  const std::vector<std::string> files = expand_inputs(o.inputs);
  std::vector<NamedPath> inputs;
  for (const auto& file : files) inputs.push_back({"FILES", file});
  refuse_outputs_over_inputs({{"--output", o.output_path}}, inputs);
  OutputFile out = sweep::open_output(o.output_path);
  std::vector<sweep::Row> rows;
  for (const auto& file : files) {
    // A regular file only: a FIFO without a writer would block, a device never end.
    for (auto& row : sweep::read_rows(config::read_text_file(file), file)) rows.push_back(std::move(row));
  }
  rows = sweep::merge_rows(std::move(rows));
  sweep::write_output(out, o.format == "jsonl" ? sweep::to_jsonl(rows) : sweep::to_csv(rows));
  int status = 0;
  const auto missing = sweep::missing_points(rows, o.expect_points);
  if (!missing.empty()) {
    std::string list;
    for (std::size_t i = 0; i < std::min<std::size_t>(missing.size(), 20); ++i)
      list += fmt::format("{}{}", i ? ", " : "", missing[i]);
    if (missing.size() > 20) list += ", ...";
    std::cerr << fmt::format("trainsim merge: {} points have no output: {}\n", missing.size(), list);
    status = 1;
  }
  const auto failed = std::count_if(rows.begin(), rows.end(), [](const auto& r) { return sweep::row_failed(r); });
  if (failed > 0) {
    std::cerr << fmt::format("trainsim merge: {} of {} points failed (rows with status=error)\n", failed,
                             rows.size());
    status = 1;
  }
  return status;
}

}  // namespace

void register_merge(CLI::App& app, Action& action) {
  static MergeOptions opts;
  opts = {};  // the defaults again: a process may register its commands more than once (tests/fuzz)
  auto* cmd = app.add_subcommand(
      "merge", "Join the point-K.jsonl rows of an emitted sweep into the CSV (or JSON lines) of a local sweep");
  cmd->add_option("--format", opts.format, "Output format (default csv)")->check(CLI::IsMember({"csv", "jsonl"}));
  cmd->add_option("--output", opts.output_path, "Write to FILE instead of stdout");
  cmd->add_option("--expect-points", opts.expect_points,
                  "Number of points of the sweep, so that missing last points are reported too (at most 100000; "
                  "1000000 with --allow-large)")
      ->check(CLI::Range(0LL, static_cast<long long>(sweep::kMaxPoints.lifted)));
  cmd->add_option("FILES", opts.inputs, "JSON-lines row files (a directory: its *.jsonl files)")->required();
  cmd->callback([&action] { action = [] { return merge_command(opts); }; });
}

}  // namespace trainsim::cli
