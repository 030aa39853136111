#include "sim/studies/validation.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <stdexcept>

#include "sim/config/load.hpp"
#include "sim/config/units.hpp"
#include "sim/config/yaml_file.hpp"
#include "sim/config/yaml_reader.hpp"
#include "sim/parallel/schedule.hpp"
#include "sim/parallel/schedule_registry.hpp"
#include "sim/run/inputs.hpp"
#include "sim/run/process_pool.hpp"
#include "sim/run/simulate_run.hpp"
#include "sim/topology/cluster_graph.hpp"

namespace trainsim {

namespace {

namespace fs = std::filesystem;
using config::LoadContext;
using config::Range;
using config::SchemaKey;
using config::Section;

const SchemaKey& case_schema() {
  static const SchemaKey schema{
      "",
      {{"name", {}},
       {"kind", {}},
       {"description", {}},
       {"source", {}},
       {"published", {}},
       {"tolerance", {}},
       {"tolerance_source", {}},
       {"compute",
        {{"metric", {}},
         {"schedule", {}},
         {"pp", {}},
         {"microbatches", {}},
         {"virtual_stages", {}},
         {"f", {}},
         {"b", {}},
         {"w", {}},
         {"fb", {}},
         {"cluster", {}},
         {"workload", {}},
         {"set", {}},
         {"fidelity", {}}}}}};
  return schema;
}

// Keys of `compute` each metric reads; any other key is refused.
std::vector<std::string> compute_keys(CaseMetric m) {
  switch (m) {
    case CaseMetric::bubble: return {"metric", "schedule", "pp", "microbatches", "virtual_stages", "f", "b", "w", "fb"};
    case CaseMetric::switches:
    case CaseMetric::links: return {"metric", "cluster", "set"};
    default: return {"metric", "cluster", "workload", "set", "fidelity"};
  }
}

// A config path of a case: absolute; else under the nearest ancestor of the case
// file's directory that holds it (so cases run from anywhere in or out of the
// tree); else under the working directory; else under the source tree.
std::string resolve_config_path(const std::string& case_file, const std::string& written, const SourceMark& where) {
  std::error_code ec;
  const fs::path p(written);
  if (p.is_absolute()) {
    if (fs::is_regular_file(p, ec)) return written;
  } else {
    for (fs::path dir = fs::absolute(fs::path(case_file), ec).parent_path(); !dir.empty(); dir = dir.parent_path()) {
      if (fs::is_regular_file(dir / p, ec)) return (dir / p).lexically_normal().string();
      if (dir == dir.root_path()) break;
    }
    if (fs::is_regular_file(p, ec)) return written;
    const fs::path in_tree = fs::path(TRAINSIM_SOURCE_DIR) / p;
    if (fs::is_regular_file(in_tree, ec)) return in_tree.lexically_normal().string();
  }
  throw InputError(where, "no such file \"" + config::printable(written) +
                              "\" (looked next to the case file and its parent directories, the working directory "
                              "and the source tree)");
}

double seconds_value(std::string_view text) { return units::plain_number(text); }

void read_bubble(const Section& c, ValidationCase& v) {
  BubbleCompute& b = v.bubble;
  const std::string written = c.text("schedule");
  const ScheduleDescriptor* schedule = find_schedule(written);
  if (schedule == nullptr) c.fail_value("schedule", unknown_schedule_message(written));
  b.schedule = schedule->name;
  b.pp = c.integer("pp", Range::at_least(1));
  b.microbatches = c.integer("microbatches", Range::at_least(1));
  b.virtual_stages = c.integer_or("virtual_stages", Range::at_least(1), schedule->reads_virtual_stages ? 2 : 1);
  if (c.has("virtual_stages") && !schedule->reads_virtual_stages)
    c.fail_key("virtual_stages", "only schedule " + schedules_reading_virtual_stages() + " reads it");
  b.times.f = c.number("f", seconds_value, Range::non_negative());
  b.times.b = c.number("b", seconds_value, Range::non_negative());
  b.times.w = c.number("w", seconds_value, Range::non_negative());
  b.times.fb = c.number_or("fb", seconds_value, Range::non_negative(), b.times.f + b.times.b);
  if (b.times.b < b.times.w) c.fail_value("b", "b is the full backward (input + weight) and must be >= w");
}

void read_config(const Section& c, const YAML::Node& compute_node, const LoadContext& ctx, ValidationCase& v) {
  ConfigCompute& cfg = v.config;
  cfg.cluster_path = resolve_config_path(v.file, c.text("cluster"), c.value_mark("cluster"));
  if (v.metric != CaseMetric::switches && v.metric != CaseMetric::links) {
    cfg.workload_path = resolve_config_path(v.file, c.text("workload"), c.value_mark("workload"));
    cfg.fidelity = c.choice_or<Fidelity>("fidelity", {{"symmetric", Fidelity::symmetric}, {"full", Fidelity::full}},
                                         Fidelity::symmetric);
  }
  if (!c.has("set")) return;
  // A list of `key.path=value` texts, read here: Section reads maps and scalars.
  const YAML::Node list = compute_node["set"];
  if (!list.IsSequence()) c.fail_value("set", "expected a list of key.path=value texts, e.g. [nodes=16]");
  for (std::size_t i = 0; i < list.size(); ++i) {
    const YAML::Node item = list[i];
    const SourceMark where = ctx.mark("compute.set", item.Mark());
    if (!item.IsScalar() || item.Scalar().empty())
      throw InputError(where, fmt::format("compute.set[{}]: expected a key.path=value text", i));
    cfg.set_args.push_back(item.Scalar());
    cfg.set_marks.push_back(where);
  }
}

// The overrides of a case; an error names the list entry in the case file.
std::vector<Override> case_overrides(const ValidationCase& v) {
  std::vector<Override> out;
  for (std::size_t i = 0; i < v.config.set_args.size(); ++i) {
    const SourceMark& at = v.config.set_marks[i];
    std::vector<Override> one;
    try {
      one = parse_overrides({v.config.set_args[i]});
    } catch (const InputError& e) {
      throw InputError(at, "compute.set: " + e.message());
    }
    // Later errors in the loaded configs point here rather than at a command-line flag.
    one[0].origin = fmt::format("{}:{}:{}: compute.set \"{}\"", at.file, at.line, at.column,
                                config::printable(v.config.set_args[i]));
    out.push_back(one[0]);
  }
  return out;
}

// An error of the computation itself (a schedule or fabric the code refuses).
[[noreturn]] void fail_compute(const ValidationCase& v, const std::string& what) {
  throw InputError(v.compute_mark, "compute: " + what);
}

double bubble_of(const ValidationCase& v) {
  const BubbleCompute& b = v.bubble;
  try {
    const PipelineSchedule s = make_schedule(b.schedule, b.pp, b.microbatches, b.virtual_stages);
    return simulate_schedule(s, b.times).bubble_s;
  } catch (const std::invalid_argument& e) {
    fail_compute(v, e.what());
  }
}

double topology_count_of(const ValidationCase& v, const ClusterSpec& cluster) {
  try {
    const ClusterGraph g = build_cluster_graph(cluster);
    const TopologyFacts f = topology_facts(g, cluster);
    return v.metric == CaseMetric::switches ? f.fabric_switches : f.switch_links;
  } catch (const std::invalid_argument& e) {
    fail_compute(v, e.what());
  }
}

// Simulations are shared by the cases whose configuration is the same.
std::string config_key(const ConfigCompute& c) {
  std::string key = c.cluster_path + '\n' + c.workload_path + '\n' + (c.fidelity == Fidelity::full ? "full" : "sym");
  for (const auto& s : c.set_args) key += '\n' + s;
  return key;
}

std::string number_text(double v) { return fmt::format("{:.6g}", v); }
std::string percent_text(double fraction) { return fmt::format("{:+.2f} %", 100 * fraction); }
std::string tolerance_text(double fraction) { return fmt::format("{:g} %", 100 * fraction); }

}  // namespace

const char* to_string(CaseKind k) { return k == CaseKind::exact ? "exact" : "prediction"; }

const char* to_string(CaseMetric m) {
  switch (m) {
    case CaseMetric::bubble: return "bubble";
    case CaseMetric::switches: return "switches";
    case CaseMetric::links: return "links";
    case CaseMetric::gpu_hours_per_trillion_tokens: return "gpu_hours_per_trillion_tokens";
    case CaseMetric::days_per_trillion_tokens: return "days_per_trillion_tokens";
  }
  return "?";
}

std::string CaseResult::verdict() const {
  if (validation_case.kind == CaseKind::exact) return within ? "pass" : "FAIL";
  return within ? "within" : "OUTSIDE";
}

ValidationCase load_case(const std::string& path) {
  ValidationCase v;
  v.file = path;
  const YAML::Node root = config::read_yaml_file(path, "a validation case");
  std::map<std::string, SourceMark> marks;
  const LoadContext ctx{path, "", {}, &marks, nullptr};
  const Section top(ctx, root, "", case_schema(), root.Mark());
  v.name = top.text("name");
  v.kind = top.choice<CaseKind>("kind", {{"exact", CaseKind::exact}, {"prediction", CaseKind::prediction}});
  v.description = top.text("description");
  v.source = top.text("source");
  v.published = top.number("published", units::plain_number, Range::positive());
  v.tolerance = top.number("tolerance", units::plain_number, Range::non_negative());
  v.tolerance_source = top.text("tolerance_source");

  const Section c = top.section("compute");
  v.compute_mark = top.key_mark("compute");
  v.metric = c.choice<CaseMetric>("metric", {{"bubble", CaseMetric::bubble},
                                             {"switches", CaseMetric::switches},
                                             {"links", CaseMetric::links},
                                             {"gpu_hours_per_trillion_tokens", CaseMetric::gpu_hours_per_trillion_tokens},
                                             {"days_per_trillion_tokens", CaseMetric::days_per_trillion_tokens}});
  const auto allowed = compute_keys(v.metric);
  for (const SchemaKey& key : case_schema().child("compute")->children)
    if (c.has(key.name) && std::find(allowed.begin(), allowed.end(), key.name) == allowed.end())
      c.fail_key(key.name, fmt::format("not read by metric {}; it reads {}", to_string(v.metric),
                                       fmt::join(allowed.begin() + 1, allowed.end(), ", ")));
  const bool simulated = v.metric == CaseMetric::gpu_hours_per_trillion_tokens ||
                         v.metric == CaseMetric::days_per_trillion_tokens;
  if (v.kind == CaseKind::exact && simulated)
    top.fail_value("kind", "a simulated metric is a prediction of a published measurement, never exact");
  if (v.metric == CaseMetric::bubble)
    read_bubble(c, v);
  else
    read_config(c, root["compute"], ctx, v);
  return v;
}

std::string default_case_dir() {
  const std::string rel = "tests/validation";
  std::error_code ec;
  if (fs::is_directory(rel, ec)) return rel;
  return std::string(TRAINSIM_SOURCE_DIR) + "/" + rel;
}

std::vector<std::string> case_files(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw InputError({dir, 0, 0}, "no such directory of validation cases");
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.is_regular_file() && entry.path().extension() == ".yaml") files.push_back(entry.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<CaseResult> run_cases(const std::vector<ValidationCase>& cases, const RunRequest& request) {
  std::vector<CaseResult> results(cases.size());
  // Phase 1: every config loaded and checked, so a bad case stops the run before
  // any simulation.
  struct Simulation {
    ClusterSpec cluster;
    WorkloadSpec workload;
    RunRequest request;
  };
  std::vector<Simulation> simulations;
  std::map<std::string, std::size_t> simulation_of_key;
  std::vector<std::size_t> simulation_of_case(cases.size(), 0);
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const ValidationCase& v = cases[i];
    results[i].validation_case = v;
    if (v.metric == CaseMetric::bubble) {
      results[i].predicted = bubble_of(v);
      continue;
    }
    const auto overrides = case_overrides(v);
    const ClusterSpec cluster = load_checked_cluster(v.config.cluster_path, overrides);
    if (v.metric == CaseMetric::switches || v.metric == CaseMetric::links) {
      results[i].predicted = topology_count_of(v, cluster);
      continue;
    }
    const std::string key = config_key(v.config);
    auto [it, added] = simulation_of_key.emplace(key, simulations.size());
    if (added) {
      WorkloadSpec workload = load_checked_workload(v.config.workload_path, overrides);
      check_workload_fits_cluster(workload, cluster);
      RunRequest case_request = request;
      case_request.fidelity = v.config.fidelity;
      check_full_fidelity_fits(cluster, workload, case_request);
      simulations.push_back({cluster, std::move(workload), case_request});
    }
    simulation_of_case[i] = it->second;
    results[i].simulation = static_cast<int>(it->second);
  }
  // Phase 2: one child process per distinct configuration.
  std::vector<NumbersJob> sims;
  for (const Simulation& s : simulations)
    sims.push_back([&s] {
      const StepResult r = simulate_step(s.cluster, s.workload, s.request);
      return std::vector<double>{r.gpu_hours_per_trillion_tokens, r.days_per_trillion_tokens};
    });
  const auto values = sims.empty() ? std::vector<std::vector<double>>{} : run_isolated_all(sims, request.jobs);
  for (std::size_t i = 0; i < cases.size(); ++i) {
    CaseResult& r = results[i];
    const CaseMetric m = cases[i].metric;
    if (m == CaseMetric::gpu_hours_per_trillion_tokens) r.predicted = values.at(simulation_of_case[i]).at(0);
    if (m == CaseMetric::days_per_trillion_tokens) r.predicted = values.at(simulation_of_case[i]).at(1);
    r.relative_error = r.predicted / cases[i].published - 1;
    r.within = std::abs(r.relative_error) <= cases[i].tolerance;
  }
  return results;
}

std::string validation_text(const std::vector<CaseResult>& results) {
  // Citations and tolerance bases are long and shared by many cases: numbered
  // once below the table, referred to by number in it.
  std::vector<std::string> sources, bases;
  const auto number_of = [](std::vector<std::string>& list, const std::string& text) {
    auto it = std::find(list.begin(), list.end(), text);
    if (it == list.end()) it = list.insert(list.end(), text);
    return static_cast<int>(it - list.begin()) + 1;
  };
  const std::vector<std::string> header = {"case",       "kind",      "metric",  "predicted", "published",
                                           "rel. error", "tolerance", "verdict", "source"};
  std::vector<std::vector<std::string>> rows;
  for (const CaseResult& r : results) {
    const ValidationCase& v = r.validation_case;
    rows.push_back({v.name, to_string(v.kind), to_string(v.metric), number_text(r.predicted),
                    number_text(v.published), percent_text(r.relative_error),
                    fmt::format("{} ({})", tolerance_text(v.tolerance), number_of(bases, v.tolerance_source)),
                    r.verdict(), fmt::format("[{}]", number_of(sources, v.source))});
  }
  std::vector<std::size_t> width(header.size());
  for (std::size_t c = 0; c < header.size(); ++c) {
    width[c] = header[c].size();
    for (const auto& row : rows) width[c] = std::max(width[c], row[c].size());
  }
  // Text columns left-aligned, numbers right-aligned.
  const auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (std::size_t c = 0; c < cells.size(); ++c) {
      const bool numeric = c >= 3 && c <= 6;
      if (c > 0) out += "  ";
      out += numeric ? fmt::format("{:>{}}", cells[c], width[c]) : fmt::format("{:<{}}", cells[c], width[c]);
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + '\n';
  };
  std::string out = line(header);
  for (const auto& row : rows) out += line(row);

  int exact = 0, failed = 0, predictions = 0, outside = 0;
  for (const CaseResult& r : results) {
    if (r.validation_case.kind == CaseKind::exact) {
      ++exact;
      failed += r.failed() ? 1 : 0;
    } else {
      ++predictions;
      outside += r.within ? 0 : 1;
    }
  }
  out += "\nsources:\n";
  for (std::size_t i = 0; i < sources.size(); ++i) out += fmt::format("  [{}] {}\n", i + 1, sources[i]);
  out += "tolerances:\n";
  for (std::size_t i = 0; i < bases.size(); ++i) out += fmt::format("  ({}) {}\n", i + 1, bases[i]);
  out += fmt::format(
      "\n{} exact cases: {} pass, {} FAIL; {} predictions: {} within tolerance, {} OUTSIDE (a finding to explain, "
      "never a failure)\n",
      exact, exact - failed, failed, predictions, predictions - outside, outside);
  return out;
}

nlohmann::ordered_json validation_json(const std::vector<CaseResult>& results) {
  nlohmann::ordered_json j;
  auto cases = nlohmann::ordered_json::array();
  int exact = 0, failed = 0, predictions = 0, outside = 0;
  for (const CaseResult& r : results) {
    const ValidationCase& v = r.validation_case;
    nlohmann::ordered_json c;
    c["name"] = v.name;
    c["kind"] = to_string(v.kind);
    c["metric"] = to_string(v.metric);
    c["predicted"] = r.predicted;
    c["published"] = v.published;
    c["relative_error"] = r.relative_error;
    c["tolerance"] = v.tolerance;
    c["verdict"] = r.verdict();
    if (r.simulation >= 0) c["simulation"] = r.simulation;
    c["description"] = v.description;
    c["source"] = v.source;
    c["tolerance_source"] = v.tolerance_source;
    cases.push_back(std::move(c));
    if (v.kind == CaseKind::exact) {
      ++exact;
      failed += r.failed() ? 1 : 0;
    } else {
      ++predictions;
      outside += r.within ? 0 : 1;
    }
  }
  j["cases"] = std::move(cases);
  j["exact"] = exact;
  j["exact_failed"] = failed;
  j["predictions"] = predictions;
  j["predictions_outside"] = outside;
  int simulations = 0;
  for (const CaseResult& r : results) simulations = std::max(simulations, r.simulation + 1);
  j["simulations"] = simulations;  // distinct simulated configurations, one child process each
  return j;
}

}  // namespace trainsim
