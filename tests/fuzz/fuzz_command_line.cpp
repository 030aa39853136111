// libFuzzer target for the command line: the input is argv after `trainsim`, one
// argument per line. It is parsed by the sub-commands' real CLI11 declarations
// (sim/cli/, registered afresh for each input) and the parsed command's action
// runs with simulations refused (engine::refuse_simulations): its options, files
// and every check run, and the command stops where a simulation or a child process
// would start. Outputs go nowhere: stdout and stderr are discarded, and the value
// of every option that names a file to write is replaced with an in-memory file's
// /proc/self/fd path, so no input can write a file (a temporary file and a rename
// in /proc fail; scripts/fuzz also runs the fuzzers with the tree read-only).
// Runs from the source tree, so the corpus names shipped files by relative path.
//
// Expected outcomes are main()'s statuses 0, 1 and 2: a CLI11 parse error, help,
// InputError, or a refused simulation. A finding is what main() turns into status
// 3 (any other exception) or worse: a crash, a sanitizer report, a hang (> 10 s)
// or more than 2 GB.
#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "sim/cli/commands.hpp"
#include "sim/config/error.hpp"
#include "sim/engine/platform.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

// Options whose value is a path trainsim writes (or a directory it fills).
bool names_an_output(const std::string& flag) {
  static const char* const outputs[] = {"--output", "--trace", "--plot", "--csv", "--write", "--emit-jobs",
                                        "--jobs-dir"};
  for (const char* o : outputs)
    if (flag == o) return true;
  return false;
}

// The input's lines as arguments, each output path replaced by `sink`.
std::vector<std::string> arguments(const uint8_t* data, size_t size, const std::string& sink) {
  std::vector<std::string> args = trainsim::fuzz::lines_of(data, size);
  for (auto& a : args)  // argv holds C strings: each ends at its first NUL
    if (const std::size_t nul = a.find('\0'); nul != std::string::npos) a.erase(nul);
  for (size_t i = 0; i < args.size(); ++i) {
    const std::size_t equals = args[i].find('=');
    if (args[i].rfind("--", 0) != 0) continue;
    if (equals != std::string::npos && names_an_output(args[i].substr(0, equals)))
      args[i] = args[i].substr(0, equals + 1) + sink;
    else if (equals == std::string::npos && names_an_output(args[i]) && i + 1 < args.size())
      args[++i] = sink;
  }
  return args;
}

// main() of sim/cli/main.cpp, without its output: returns the exit status.
int run_command_line(std::vector<std::string> args) {
  using namespace trainsim;
  CLI::App app{"trainsim"};
  cli::Action action;
  // --allow-large parses as in main(), but the limits stay on: a fuzz input must not
  // buy itself hours of work.
  bool allow_large = false;
  cli::register_all(app, action, allow_large);
  std::reverse(args.begin(), args.end());  // CLI11's parse(vector) takes them last first
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {  // help and bad flags alike
    (void)app.exit(e, std::cout, std::cout);
    return e.get_exit_code() == 0 ? 0 : 2;
  }
  try {
    return action ? action() : 2;
  } catch (const InputError&) {
    return 2;
  } catch (const engine::SimulationRefused&) {
    return 0;
  }
  // Any other exception escapes: main() would print "internal error" and exit 3, a bug.
}

// A stream buffer that takes every byte and keeps none. std::cout must stay writable:
// commands check their standard output and report a failed write (OutputError, exit 4),
// which a null rdbuf (badbit) would make every input end in (fuzz finding 6).
struct DiscardingBuffer : std::streambuf {
  int_type overflow(int_type c) override { return traits_type::not_eof(c); }
  std::streamsize xsputn(const char*, std::streamsize n) override { return n; }
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  trainsim::fuzz::enter_source_dir();
  trainsim::engine::refuse_simulations();
  // Whatever writes to the standard streams writes nowhere (libFuzzer reports on fd 2).
  static DiscardingBuffer nowhere;
  std::cout.rdbuf(&nowhere);
  std::cerr.rdbuf(&nowhere);
  const int null_fd = open("/dev/null", O_RDWR);
  if (null_fd < 0 || dup2(null_fd, STDOUT_FILENO) < 0 || dup2(null_fd, STDIN_FILENO) < 0) {
    std::perror("/dev/null");
    std::abort();
  }
  close(null_fd);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static trainsim::fuzz::MemoryFile sink;
  static const std::string sink_path = sink.write(nullptr, 0);
  (void)sink.write(nullptr, 0);
  (void)run_command_line(arguments(data, size, sink_path));
  return 0;
}
