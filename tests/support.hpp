#pragma once
// Shared helpers for tests that run the trainsim executable as a user would.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

#include <catch2/catch.hpp>

namespace trainsim::test {

struct CommandResult {
  int status = -1;     // exit status; -1 when the command did not exit normally
  std::string output;  // what it printed (stdout, plus stderr when asked)
};

// Runs a shell command and captures its standard output.
inline CommandResult run_command(const std::string& command) {
  CommandResult r;
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) r.output.append(buf.data(), n);
  const int raw = pclose(pipe);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return r;
}

// Runs `trainsim ARGS` in `dir` (the source tree by default, so the default
// config files resolve); stderr is captured too unless `with_stderr` is false.
inline CommandResult run_trainsim(const std::string& args, bool with_stderr = true,
                                  const std::string& dir = TRAINSIM_SOURCE_DIR) {
  return run_command("cd '" + dir + "' && '" TRAINSIM_EXE "' " + args + (with_stderr ? " 2>&1" : " 2>/dev/null"));
}

}  // namespace trainsim::test
