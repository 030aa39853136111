#pragma once
// A progress line redrawn in place on stderr while a command runs many simulations in
// child processes (sweep's points, claim's samples); silent when stderr is not a
// terminal (logs, CI, tests), so outputs stay byte-identical.
#include <chrono>
#include <cstddef>
#include <string>

namespace trainsim::cli {

struct Progress {
  std::string unit = "points";  // what is counted: "points", "simulations"
  std::size_t total = 0, done = 0, failed = 0;
  bool enabled = false;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  std::size_t drawn_done = 0;
  double drawn_s = -1;

  // Redraws when one finished or a second passed (the clock), not on every poll.
  void draw();
  // The last line, complete, and a line end.
  void finish();
};

}  // namespace trainsim::cli
