#pragma once
// `trainsim validate`: validation cases, each a YAML file under tests/validation/
// naming a published figure, its source, a relative tolerance and what to compute.
//   exact       closed forms the code must reproduce (pipeline bubbles from the
//               DualPipe table, fat-tree switch and link counts of ISCA'25 Table 3):
//               outside the tolerance is a failure (exit status 1).
//   prediction  published measurements (DeepSeek-V3 GPU-hours and days per trillion
//               tokens): reported with their error, never a failure. A prediction
//               outside its tolerance is a finding to explain, not a number to tune.
// Simulated cases that share a configuration share one simulation, run in a child
// process (one SimGrid engine per process).
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sim/config/error.hpp"
#include "sim/config/spec.hpp"
#include "sim/parallel/schedule_timing.hpp"
#include "sim/parallel/step_program.hpp"
#include "sim/run/simulate_run.hpp"

namespace trainsim {

enum class CaseKind { exact, prediction };
enum class CaseMetric { bubble, switches, links, gpu_hours_per_trillion_tokens, days_per_trillion_tokens };

// metric: bubble — a generated schedule timed without a network (schedule_timing.hpp).
struct BubbleCompute {
  std::string schedule = "1f1b";  // canonical name (sim/parallel/schedule_registry.hpp)
  int pp = 0;
  int microbatches = 0;
  int virtual_stages = 1;
  ChunkTimes times;  // f, b (full backward), w, fb; seconds
};

// metric: switches / links (cluster only) and the simulated metrics (both files).
struct ConfigCompute {
  std::string cluster_path;             // resolved: absolute or relative to the working directory
  std::string workload_path;            // empty for switches / links
  std::vector<std::string> set_args;    // `key.path=value`, as for --set
  std::vector<SourceMark> set_marks;    // where each was written in the case file
  Fidelity fidelity = Fidelity::symmetric;
};

struct ValidationCase {
  std::string file;
  std::string name;
  CaseKind kind = CaseKind::exact;
  std::string description;
  std::string source;            // citation of the published figure
  double published = 0;          // > 0
  double tolerance = 0;          // relative, |predicted / published - 1| <= tolerance
  std::string tolerance_source;  // why this tolerance
  CaseMetric metric = CaseMetric::bubble;
  BubbleCompute bubble;
  ConfigCompute config;
  SourceMark compute_mark;       // of the `compute` key, for errors while computing
};

struct CaseResult {
  ValidationCase validation_case;
  double predicted = 0;
  double relative_error = 0;     // predicted / published - 1
  bool within = false;           // |relative_error| <= tolerance
  int simulation = -1;           // simulated metrics: index of the shared simulation (child process); else -1
  [[nodiscard]] bool failed() const { return validation_case.kind == CaseKind::exact && !within; }
  [[nodiscard]] std::string verdict() const;  // pass / FAIL (exact), within / OUTSIDE (prediction)
};

[[nodiscard]] const char* to_string(CaseKind k);
[[nodiscard]] const char* to_string(CaseMetric m);

// Strict load of one case file: unknown, duplicate, missing or misplaced keys are
// InputErrors with FILE:LINE:COL. Config paths are resolved against the nearest
// ancestor of the case file's directory that holds them, then the working
// directory, then the source tree.
[[nodiscard]] ValidationCase load_case(const std::string& path);

// The shipped cases' directory: tests/validation under the working directory when
// it exists, else under the source tree.
[[nodiscard]] std::string default_case_dir();
// Every *.yaml file of `dir`, sorted by file name.
[[nodiscard]] std::vector<std::string> case_files(const std::string& dir);

// Loads and validates every config first (InputError before any simulation),
// then computes each case; simulated cases run in child processes, one per
// distinct configuration, up to request.jobs at once, each at its case's fidelity
// under request's memory guard. Results in the order of `cases`.
[[nodiscard]] std::vector<CaseResult> run_cases(const std::vector<ValidationCase>& cases, const RunRequest& request);

// Table: case, kind, metric, predicted, published, relative error, tolerance,
// verdict; then the sources; then a one-line summary.
[[nodiscard]] std::string validation_text(const std::vector<CaseResult>& results);
[[nodiscard]] nlohmann::ordered_json validation_json(const std::vector<CaseResult>& results);

}  // namespace trainsim
