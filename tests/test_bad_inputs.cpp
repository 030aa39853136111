// The bad-input corpus (tests/bad-inputs/README.md): every case runs the real
// executable and must exit with its status and print exactly its one error line.
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>
#include "tests/support.hpp"

namespace test_bad_inputs {

namespace {

namespace fs = std::filesystem;

struct Case {
  std::string name;
  std::string args;
  std::string expect;        // exact line, or
  std::string expect_regex;  // a regex the whole line must match
  int status = 2;
};

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size()))
    s.replace(pos, from.size(), to);
  return s;
}

// Reads the `# key: value` header of a case file (the leading comment lines).
Case read_case(const fs::path& file) {
  Case c;
  c.name = file.filename().string();
  std::ifstream in(file, std::ios::binary);
  std::string line;
  while (std::getline(in, line) && line.rfind("#", 0) == 0) {
    const auto field = [&line](const std::string& key, std::string& out) {
      const std::string prefix = "# " + key + ": ";
      if (line.rfind(prefix, 0) == 0) out = line.substr(prefix.size());
    };
    std::string status;
    field("args", c.args);
    field("expect", c.expect);
    field("expect-regex", c.expect_regex);
    field("status", status);
    if (!status.empty()) c.status = std::stoi(status);
  }
  const auto subst = [&c](std::string s) {
    return replace_all(replace_all(s, "{this}", c.name), "{src}", TRAINSIM_SOURCE_DIR);
  };
  c.args = subst(c.args);
  c.expect = subst(c.expect);
  return c;
}

// The acceptance's budget per case: no case may take more than 1 GiB or run past a minute (it would end
// in a signal or timeout's 124, never its expected status). The address-space limit is left off in a
// sanitizer build, whose shadow memory reserves terabytes of addresses (the test files themselves
// compile uninstrumented there, so the build says so: TRAINSIM_EXE_SANITIZED).
#if defined(TRAINSIM_EXE_SANITIZED) || defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr const char* kCaseMemoryLimit = "";
#else
constexpr const char* kCaseMemoryLimit = "ulimit -v 1048576 && ";
#endif
constexpr int kCaseSeconds = 60;

// Runs one case in `dir`: stdout and stderr together (a case's own redirection of stdout, `>/dev/full`,
// applies to the command alone), within the budget above.
trainsim::test::CommandResult run_in(const fs::path& dir, const std::string& args) {
  return trainsim::test::run_command("cd '" + dir.string() + "' && " + kCaseMemoryLimit + "(timeout -k 5 " +
                                     std::to_string(kCaseSeconds) + " '" + trainsim::test::trainsim_exe() + "' " +
                                     args + ") 2>&1");
}

// What no case may end in: a bug (3), timeout's 124, a signal (128 + N), or no exit at all.
bool forbidden_status(int status) { return status == 3 || status == 124 || status >= 128 || status < 0; }

}  // namespace

TEST_CASE("Every bad input exits 2 with its exact one-line error", "[config][cli][bad-inputs]") {
  const fs::path dir = fs::path(TRAINSIM_SOURCE_DIR) / "tests" / "bad-inputs";
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.is_regular_file() && entry.path().extension() == ".yaml") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  REQUIRE(files.size() >= 35);

  std::vector<std::string> failures;
  for (const auto& file : files) {
    const Case c = read_case(file);
    if (c.args.empty() || (c.expect.empty() == c.expect_regex.empty())) {
      failures.push_back(c.name + ": needs '# args:' and exactly one of '# expect:' / '# expect-regex:'");
      continue;
    }
    const auto r = run_in(dir, c.args);
    const bool one_line = !r.output.empty() && r.output.back() == '\n' &&
                          std::count(r.output.begin(), r.output.end(), '\n') == 1;
    const std::string line = one_line ? r.output.substr(0, r.output.size() - 1) : r.output;
    const bool matches = c.expect.empty() ? std::regex_match(line, std::regex(c.expect_regex)) : line == c.expect;
    if (forbidden_status(c.status)) failures.push_back(c.name + ": expects status " + std::to_string(c.status) +
                                                       ", which no case may end in (a bug, a timeout or a signal)");
    if (r.status != c.status || !one_line || !matches)
      failures.push_back(c.name + ": status " + std::to_string(r.status) + " (want " + std::to_string(c.status) +
                         "), output:\n    " + r.output + "  want:\n    " +
                         (c.expect.empty() ? "regex " + c.expect_regex : c.expect));
  }
  for (const auto& f : failures) UNSCOPED_INFO(f);
  INFO(failures.size() << " of " << files.size() << " cases failed");
  CHECK(failures.empty());
}

}  // namespace test_bad_inputs
