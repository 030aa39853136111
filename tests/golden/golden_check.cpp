// golden_check TRAINSIM CASE.cmd: runs `TRAINSIM ARGS` (ARGS from CASE.cmd) in the
// current directory and compares its JSON output with CASE.json, leaf by leaf.
// Numbers agree within a relative tolerance (results are deterministic, so it is
// tight: it only forgives the last bits a different optimisation level may move);
// strings, booleans, keys and array lengths must agree exactly. Every difference
// is printed as `key: expected E, got G (relative change R)`; exit 0 only when
// there is none. `--print-args` prints the command's arguments, one per line.
#include <sys/wait.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace {

using nlohmann::json;

constexpr double relative_tolerance = 1e-9;
constexpr double absolute_tolerance = 1e-12;  // for values that should be 0

// CASE.cmd: comment lines start with '#'; the other lines hold the arguments,
// separated by blanks (no quoting: golden arguments never contain blanks).
std::vector<std::string> read_args(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::vector<std::string> args;
  std::string line;
  while (std::getline(in, line)) {
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    std::istringstream words(line);
    std::string word;
    while (words >> word) args.push_back(word);
  }
  if (args.empty()) throw std::runtime_error(path + ": no arguments");
  return args;
}

std::string run(const std::string& exe, const std::vector<std::string>& args, int& status) {
  std::string command = "'" + exe + "'";
  for (const auto& a : args) command += " '" + a + "'";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("cannot run " + command);
  std::string out;
  std::array<char, 1 << 14> buf{};
  std::size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  const int raw = pclose(pipe);
  status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return out;
}

struct Diff {
  std::string key, expected, got, change;
};

void compare(const json& want, const json& got, const std::string& key, std::vector<Diff>& diffs) {
  if (want.is_number() && got.is_number()) {
    const double e = want.get<double>();
    const double g = got.get<double>();
    const double scale = std::max(std::fabs(e), std::fabs(g));
    if (std::fabs(e - g) > std::max(absolute_tolerance, relative_tolerance * scale))
      diffs.push_back({key, want.dump(), got.dump(), e != 0 ? fmt::format("{:+.3g} %", 100 * (g - e) / std::fabs(e)) : "from 0"});
    return;
  }
  if (want.type() != got.type()) {
    diffs.push_back({key, want.dump(), got.dump(), "type changed"});
    return;
  }
  if (want.is_object()) {
    for (const auto& [k, v] : want.items()) {
      const std::string sub = key.empty() ? k : key + "." + k;
      if (!got.contains(k))
        diffs.push_back({sub, v.dump(), "(missing)", "key removed"});
      else
        compare(v, got.at(k), sub, diffs);
    }
    for (const auto& [k, v] : got.items())
      if (!want.contains(k)) diffs.push_back({key.empty() ? k : key + "." + k, "(absent)", v.dump(), "key added"});
    return;
  }
  if (want.is_array()) {
    if (want.size() != got.size())
      diffs.push_back({key + ".length", std::to_string(want.size()), std::to_string(got.size()), "length changed"});
    for (std::size_t i = 0; i < std::min(want.size(), got.size()); ++i)
      compare(want[i], got[i], fmt::format("{}[{}]", key, i), diffs);
    return;
  }
  if (want != got) diffs.push_back({key, want.dump(), got.dump(), "changed"});
}

std::string shorten(const std::string& s) { return s.size() <= 60 ? s : s.substr(0, 57) + "..."; }

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc == 3 && std::string(argv[1]) == "--print-args") {
      for (const auto& a : read_args(argv[2])) std::cout << a << '\n';
      return 0;
    }
    if (argc != 3) {
      std::cerr << "usage: golden_check TRAINSIM CASE.cmd | golden_check --print-args CASE.cmd\n";
      return 2;
    }
    const std::string exe = argv[1];
    const std::string case_path = argv[2];
    const std::string expected_path = case_path.substr(0, case_path.rfind('.')) + ".json";
    const auto args = read_args(case_path);
    std::ifstream in(expected_path);
    if (!in) throw std::runtime_error("cannot read " + expected_path + " (scripts/update-golden writes it)");
    const std::string expected_text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());

    int status = 0;
    const std::string got_text = run(exe, args, status);
    std::string shown;
    for (const auto& a : args) shown += " " + a;
    std::cout << "golden case " << case_path << ":\n  trainsim" << shown << '\n';
    if (status != 0) {
      std::cout << "FAIL: trainsim exited with status " << status << "\n" << got_text;
      return 1;
    }
    const json expected = json::parse(expected_text);
    json got;
    try {
      got = json::parse(got_text);
    } catch (const json::parse_error& e) {
      std::cout << "FAIL: the output is not JSON (" << e.what() << ")\n" << got_text;
      return 1;
    }
    std::vector<Diff> diffs;
    compare(expected, got, "", diffs);
    if (diffs.empty()) {
      std::cout << "  pass: every value within " << relative_tolerance << " relative; output "
                << (got_text == expected_text ? "byte-identical" : "differs only in the last bits") << '\n';
      return 0;
    }
    std::cout << fmt::format("FAIL: {} value(s) differ (tolerance {} relative, {} absolute)\n", diffs.size(),
                             relative_tolerance, absolute_tolerance);
    std::cout << fmt::format("  {:<48} {:>22} {:>22}  {}\n", "key", "expected", "got", "relative change");
    for (const auto& d : diffs)
      std::cout << fmt::format("  {:<48} {:>22} {:>22}  {}\n", d.key, shorten(d.expected), shorten(d.got), d.change);
    std::cout << "If the change is intended: scripts/update-golden, and say in the commit message why the numbers moved.\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "golden_check: " << e.what() << '\n';
    return 2;
  }
}
