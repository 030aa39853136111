// trainsim validate: run the validation cases (tests/validation/*.yaml) and print
// predicted vs published with the relative error. Exit status 1 when an exact
// case fails; predictions outside their tolerance are reported, never failures.
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>

#include "sim/cli/commands.hpp"
#include "sim/config/suggest.hpp"
#include "sim/studies/validation.hpp"

namespace trainsim::cli {

namespace {

struct ValidateOptions {
  std::vector<std::string> cases;  // case names or files; empty: every shipped case
  std::string format = "text";
  RunOptions run;  // each case sets its own fidelity; no batch ramp
};

// An argument is a file when it exists as one or ends in .yaml; else a case name
// looked up among the shipped cases.
std::vector<ValidationCase> select_cases(const std::vector<std::string>& args) {
  std::vector<ValidationCase> shipped;
  const auto load_shipped = [&] {
    if (!shipped.empty()) return;
    for (const auto& file : case_files(default_case_dir())) shipped.push_back(load_case(file));
  };
  std::vector<ValidationCase> selected;
  if (args.empty()) {
    load_shipped();
    selected = shipped;
  }
  for (const auto& arg : args) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(arg, ec) || arg.ends_with(".yaml")) {
      selected.push_back(load_case(arg));
      continue;
    }
    load_shipped();
    auto it = std::find_if(shipped.begin(), shipped.end(), [&](const ValidationCase& v) { return v.name == arg; });
    if (it == shipped.end()) {
      std::vector<std::string> names;
      for (const auto& v : shipped) names.push_back(v.name);
      throw InputError({arg, 0, 0}, "no validation case of that name in " + default_case_dir() +
                                        config::suggestion(arg, names, "cases"));
    }
    selected.push_back(*it);
  }
  // Sorted by name; one case per name (the same case named twice runs once).
  std::stable_sort(selected.begin(), selected.end(),
                   [](const ValidationCase& a, const ValidationCase& b) { return a.name < b.name; });
  std::vector<ValidationCase> unique;
  for (const auto& v : selected) {
    if (!unique.empty() && unique.back().name == v.name) {
      if (std::filesystem::weakly_canonical(unique.back().file) == std::filesystem::weakly_canonical(v.file))
        continue;
      throw InputError({v.file, 0, 0}, "case name \"" + v.name + "\" is also used by " + unique.back().file);
    }
    unique.push_back(v);
  }
  return unique;
}

int validate(const ValidateOptions& o) {
  const std::vector<CaseResult> results = run_cases(select_cases(o.cases), run_request(o.run));
  if (o.format == "json")
    std::cout << validation_json(results).dump(2) << '\n';
  else
    std::cout << validation_text(results);
  const bool failed = std::any_of(results.begin(), results.end(), [](const CaseResult& r) { return r.failed(); });
  return failed ? 1 : 0;
}

}  // namespace

void register_validate(CLI::App& app, Action& action) {
  auto opts = std::make_shared<ValidateOptions>();
  auto* cmd = app.add_subcommand(
      "validate",
      "Run validation cases: predicted vs published, relative error, verdict.\n"
      "exact cases (bubble formulas, switch counts) fail the command (exit 1) outside their tolerance;\n"
      "prediction cases (published measurements) are reported, never a failure.");
  cmd->add_option("cases", opts->cases, "Case names or case files (default: every tests/validation/*.yaml)");
  cmd->add_option("--format", opts->format, "Output format (default text)")->check(CLI::IsMember({"text", "json"}));
  add_run_options(*cmd, opts->run, jobs_option | max_memory_option);
  cmd->callback([&action, opts] { action = [opts]() -> int { return validate(*opts); }; });
}

}  // namespace trainsim::cli
