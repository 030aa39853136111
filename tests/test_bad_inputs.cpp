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

trainsim::test::CommandResult run_in(const fs::path& dir, const std::string& args) {
  return trainsim::test::run_trainsim(args, true, dir.string());
}

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
