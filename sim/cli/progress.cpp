#include "sim/cli/progress.hpp"

#include <fmt/format.h>

#include <iostream>

namespace trainsim::cli {
namespace {

std::string elapsed_clock(double seconds) {
  const auto s = static_cast<long long>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

}  // namespace

void Progress::draw() {
  if (!enabled) return;
  const double elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (done == drawn_done && elapsed_s - drawn_s < 1) return;
  drawn_done = done;
  drawn_s = elapsed_s;
  constexpr std::size_t width = 30;
  const std::size_t filled = total ? done * width / total : width;
  const std::string eta =
      done == 0 ? "--:--" : elapsed_clock(elapsed_s / static_cast<double>(done) * static_cast<double>(total - done));
  std::cerr << fmt::format("\r[{}{}] {}/{} {}, {} failed, {} elapsed, ETA {} ", std::string(filled, '#'),
                           std::string(width - filled, '.'), done, total, unit, failed, elapsed_clock(elapsed_s), eta)
            << std::flush;
}

void Progress::finish() {
  if (!enabled) return;
  drawn_s = -1;
  draw();
  std::cerr << '\n';
}

}  // namespace trainsim::cli
