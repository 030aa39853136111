// libFuzzer target for `trainsim merge`'s input: the input is one JSON-lines file
// of sweep rows. It is read, merged and written as CSV and as JSON lines by the
// functions merge_command (sim/cli/cmd_merge.cpp) runs, and the missing points are
// listed. InputError is the expected answer to bad input; see
// fuzz_cluster_yaml.cpp for what is a finding. One invariant more: merging the
// JSON lines merge wrote gives the same bytes again (they are its lossless form).
#include <cstdint>
#include <string>
#include <vector>

#include "sim/studies/sweep.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace trainsim;
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const std::vector<sweep::Row> rows = sweep::merge_rows(sweep::read_rows(text, "rows.jsonl"));
    const std::string csv = sweep::to_csv(rows);
    const std::string jsonl = sweep::to_jsonl(rows);
    (void)sweep::missing_points(rows, 0);
    for (const auto& row : rows) (void)sweep::row_failed(row);
    if (csv.empty() || csv.back() != '\n') fuzz::violated("merge's CSV does not end a line");
    try {
      if (sweep::to_jsonl(sweep::merge_rows(sweep::read_rows(jsonl, "merged.jsonl"))) != jsonl)
        fuzz::violated("merge's JSON lines, merged again, give other bytes");
    } catch (const InputError&) {
      fuzz::violated("merge's JSON lines, merged again, are refused");
    }
  } catch (const InputError&) {
    // bad input, refused with a message: the expected outcome
  }
  return 0;
}
