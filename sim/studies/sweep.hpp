#pragma once
// Parameter sweeps: the pure part of `trainsim sweep` and `trainsim merge`.
// A sweep is a list of --set arguments; one with several comma-separated values
// is an axis, and the points are the cartesian product of the axes (last axis
// fastest, like nested loops). Each point's result is one row, a JSON object:
//   {"point": K, "<axis key as typed>": "<value>", ..., "status": "ok"|"error",
//    "error": "<first line of the failed run's stderr>", <`trainsim run --format json` keys>...}
// Rows are written as JSON lines or as CSV (objects flattened with dots); the
// same rows give the same bytes whatever produced them (local processes, GNU
// parallel, a Slurm array job followed by `trainsim merge`).
#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sim/config/size_limits.hpp"
#include "sim/report/output_file.hpp"

namespace trainsim::sweep {

using Row = nlohmann::ordered_json;

// One --set argument of a sweep: `key=value` (fixed) or `key=v1,v2,...` (an axis).
struct SetEntry {
  std::string key;                  // as typed, e.g. "parallelism.pp"
  std::vector<std::string> values;  // one for a fixed override, several for an axis
  [[nodiscard]] bool is_axis() const { return values.size() > 1; }
};

struct Plan {
  std::vector<SetEntry> sets;  // in the order given on the command line
};

// Splits a value list on the commas that are outside braces, brackets and quotes,
// so "{value: 1, low: 0.9, high: 1.1}" stays one value. Blanks around each value are
// dropped (YAML ignores them; the axis column shows the value without them). Throws InputError (naming `origin`) on unbalanced
// brackets or an empty value.
[[nodiscard]] std::vector<std::string> split_values(const std::string& text, const std::string& origin);

// Parses `key=v1,v2,...` arguments. Throws InputError on a missing '=' or key,
// a key given twice as an axis, or a bad value list.
[[nodiscard]] Plan parse_plan(const std::vector<std::string>& set_args);

// The most points one sweep runs (each simulates a step; the default case takes about 5 s, so 100,000 points are
// about a CPU-week; assumption); parse_plan refuses more, and merge a row or --expect-points beyond it.
// --allow-large raises it to a million (the emitted jobs file alone is then about 0.5 GB).
inline constexpr double kSecondsPerPoint = 5;
inline const SizeLimit kMaxPoints{1e5, 1e6};

// Refuses (InputError naming --expect-points) a count above kMaxPoints.
void check_expected_points(long long expected);

// Product of the axis sizes (1 when there is no axis).
[[nodiscard]] std::size_t point_count(const Plan& plan);

// The axis value index of each axis at `point` (last axis fastest).
[[nodiscard]] std::vector<std::size_t> point_coordinates(const Plan& plan, std::size_t point);

// The `key=value` --set arguments of one point, in the order given.
[[nodiscard]] std::vector<std::string> point_set_args(const Plan& plan, std::size_t point);

// Every `key=value` any point uses (each fixed override and each axis value once),
// so all of them can be checked before a point runs.
[[nodiscard]] std::vector<std::string> all_set_args(const Plan& plan);

// A point's row. `result` is the run's JSON object (empty when it failed); a
// result key equal to an axis key or to point/status/error is not repeated.
[[nodiscard]] Row make_row(const Plan& plan, std::size_t point, const std::string& error, const Row& result);
[[nodiscard]] bool row_failed(const Row& row);

// Flattening: a cell's path is the keys leading to a value; its CSV header is the
// path joined by dots. An axis typed "parallelism.pp" (the one-key path
// ["parallelism.pp"]) and the run's ["parallelism", "pp"] have the same header and
// share one column, which holds the axis value as typed. Arrays are kept whole
// as compact JSON text in one cell; strings raw; numbers as nlohmann writes them
// (shortest text that reads back to the same double); null as an empty cell.
using ColumnPath = std::vector<std::string>;
struct Cell {
  ColumnPath path;
  std::string text;
};
[[nodiscard]] std::vector<Cell> flatten(const Row& row);

// CSV (RFC 4180 quoting, '\n' line ends): one header line, then a row per element of
// `rows` in the order given. Columns are the union over rows in order of first
// appearance; a row without a column leaves its cell empty.
// Headers are unique; in a row the first cell of a header wins.
[[nodiscard]] std::string to_csv(const std::vector<Row>& rows);
[[nodiscard]] std::string to_jsonl(const std::vector<Row>& rows);
[[nodiscard]] std::string csv_field(const std::string& text);

// Reads JSON-lines rows (blank lines skipped). Throws InputError FILE:LINE:COL on
// text that is not a JSON object with an integer "point".
[[nodiscard]] std::vector<Row> read_rows(const std::string& text, const std::string& file);

// Rows of several per-point outputs in point order. The same point twice with the
// same content is kept once; with different content it is an InputError.
[[nodiscard]] std::vector<Row> merge_rows(std::vector<Row> rows);

// Point indices in [0, expected) missing from sorted `rows` (expected 0: up to the
// largest point seen).
[[nodiscard]] std::vector<long long> missing_points(const std::vector<Row>& rows, long long expected);

// One word for a POSIX shell: single-quoted, a ' written as '\''.
[[nodiscard]] std::string shell_quote(const std::string& word);

// Opens an output of sweep or merge before the work (sim/report/output_file.hpp: a
// temporary beside the file, renamed at write_output, so a reader such as a merge
// running beside an array job never sees half a file). Its missing parent directories
// are created: emitted jobs may run where their output directory was never made.
// Empty path: stdout. Throws InputError when the path cannot be written.
[[nodiscard]] OutputFile open_output(const std::string& path);
// Writes `text` to `out`, or to stdout when it has no path. Throws OutputError.
void write_output(OutputFile& out, const std::string& text);
void write_output(const std::string& path, const std::string& text);

// The rows of --resume FILE (JSON lines, e.g. what an interrupted sweep kept): each
// must be a point of `plan` with the plan's axis values (InputError otherwise).
[[nodiscard]] std::vector<Row> read_resumed_rows(const Plan& plan, const std::string& text, const std::string& file);

// "point-000042.jsonl": fixed width so the files sort in point order.
[[nodiscard]] std::string point_file_name(std::size_t point, std::size_t points);

}  // namespace trainsim::sweep
