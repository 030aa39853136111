#pragma once
// The size limits that keep one command within a workstation's memory and time: GPUs per
// cluster (config/load.cpp), layer passes per pipeline (run/inputs.cpp), sweep points
// (studies/sweep.cpp) and ramp points (cli/options.cpp). Each error names --allow-large,
// which lifts the limit, for a big machine, up to a hard bound that keeps the counts far
// from integer overflow. One switch per process, set from the command line before any
// input is read (forked sweep children inherit it; emitted jobs carry the flag).
#include <string>

namespace trainsim {

inline constexpr const char* kAllowLargeFlag = "--allow-large";

void allow_large_inputs(bool allow);
[[nodiscard]] bool large_inputs_allowed();

// A limit: the workstation bound, and the hard bound that --allow-large raises it to.
struct SizeLimit {
  double normal = 0;
  double lifted = 0;
  [[nodiscard]] double active() const { return large_inputs_allowed() ? lifted : normal; }
};

// What follows a refusal: "; --allow-large lifts this limit (up to N)" while the limit
// is in force, "(the bound even with --allow-large)" once it is lifted.
[[nodiscard]] std::string size_limit_hint(const SizeLimit& limit);

}  // namespace trainsim
