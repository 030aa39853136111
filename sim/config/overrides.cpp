// --set key.path=value: the path is checked against the key tables when the
// argument is parsed, the value against its key's declaration when it is put
// into the file's YAML tree (before the file is read).
#include "sim/config/overrides.hpp"

#include <cstring>
#include <sstream>
#include <stdexcept>

#include "sim/config/suggest.hpp"
#include "sim/config/units.hpp"
#include "sim/config/yaml_file.hpp"

namespace trainsim {

namespace config {
namespace {

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(path);
  while (std::getline(in, part, '.')) parts.push_back(part);
  if (!path.empty() && path.back() == '.') parts.emplace_back();
  return parts;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

constexpr const char* kMultiplierPrefix = "gpu.calibration.";

bool is_calibration_multiplier(const Override& ov) {
  return ov.cluster && ov.path.rfind(kMultiplierPrefix, 0) == 0;
}

}  // namespace

std::vector<CalibrationMultiplier> take_calibration_multipliers(std::vector<Override>& overrides) {
  std::vector<CalibrationMultiplier> out;
  for (const Override& ov : overrides) {
    if (!is_calibration_multiplier(ov)) continue;
    CalibrationMultiplier m;
    m.class_name = ov.path.substr(std::strlen(kMultiplierPrefix));
    m.origin = ov.origin;
    YAML::Node root(YAML::NodeType::Map);
    root[m.class_name] = load_yaml_value(ov.value, ov.origin);
    // Read as any number of a file is, {value, low, high} included; errors name the argument.
    std::vector<UncertainConstant> ranged;
    LoadContext ctx{ov.origin, "cluster.", {{"gpu.calibration", ov.origin}}, nullptr, &ranged, nullptr};
    SchemaKey schema;
    schema.children.push_back({m.class_name, {}});
    const Section section(ctx, root, "gpu.calibration", schema, YAML::Mark());
    m.value = m.low = m.high = section.number(m.class_name, units::plain_number, Range{0, false});
    if (!ranged.empty()) {
      m.ranged = true;
      m.low = ranged.front().low;
      m.high = ranged.front().high;
    }
    out.push_back(m);
  }
  std::erase_if(overrides, is_calibration_multiplier);
  return out;
}

// Inserts each override of this file into the tree. Paths were checked
// against the schema by parse_overrides; sections missing in the file are created.
void apply_overrides(YAML::Node& root, const std::vector<Override>& overrides, bool cluster, LoadContext& ctx) {
  for (const auto& ov : overrides) {
    if (ov.cluster != cluster) continue;
    const SourceMark where{ov.origin, 0, 0};
    const YAML::Node value = load_yaml_value(ov.value, ov.origin);
    if (value.IsNull()) throw InputError(where, "missing value after '='");
    // A value of the wrong kind is refused here, before the file is read, so
    // that it is refused even where the loader would not read the key.
    const KeyDecl* key = ctx.keys == nullptr ? nullptr : ctx.keys->find(ov.path);
    if (key != nullptr && value.IsScalar()) {
      try {
        check_scalar(*key, value.Scalar());
      } catch (const std::invalid_argument& e) {
        throw InputError(where, ov.path + ": " + printable(e.what()));
      }
    }
    const auto parts = split_path(ov.path);
    YAML::Node cur = root;
    std::string walked;
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      walked = join_path(walked, parts[i]);
      YAML::Node next = cur[parts[i]];
      if (!next.IsDefined() || next.IsNull()) {
        cur[parts[i]] = YAML::Node(YAML::NodeType::Map);
        next.reset(cur[parts[i]]);
      } else if (!next.IsMap()) {
        throw InputError(where, walked + " is not a map in " + ctx.file);
      }
      cur.reset(next);
    }
    cur[parts.back()] = value;
    ctx.override_origin[ov.path] = ov.origin;
  }
}

}  // namespace config

using config::join_path;
using config::printable;
using config::SchemaKey;

std::vector<Override> parse_overrides(const std::vector<std::string>& set_args) {
  std::vector<Override> out;
  // One rule for every command (sweep's axes too): a key given twice is an error, not last-wins.
  const auto add = [&out](const Override& ov) {
    for (const Override& seen : out)
      if (seen.cluster == ov.cluster && seen.path == ov.path)
        throw InputError({ov.origin, 0, 0}, "key \"" + printable(ov.path) + "\" given twice (first in " + seen.origin + ")");
    out.push_back(ov);
  };
  for (const auto& arg : set_args) {
    Override ov;
    ov.origin = "--set " + printable(arg);
    const SourceMark where{ov.origin, 0, 0};
    const auto eq = arg.find('=');
    if (eq == std::string::npos) throw InputError(where, "expected key.path=value");
    std::string path = config::trim(arg.substr(0, eq));
    ov.value = arg.substr(eq + 1);
    if (path.empty()) throw InputError(where, "missing key path before '='");
    if (config::trim(ov.value).empty()) throw InputError(where, "missing value after '='");
    auto parts = config::split_path(path);
    for (const auto& p : parts)
      if (p.empty()) throw InputError(where, "malformed key path \"" + printable(path) + "\"");
    const SchemaKey& cluster = config::cluster_schema();
    const SchemaKey& workload = config::workload_schema();
    if (parts[0] == "cluster" || parts[0] == "workload") {
      ov.cluster = parts[0] == "cluster";
      parts.erase(parts.begin());
      if (parts.empty()) throw InputError(where, "missing key path after \"" + path + "\"");
    } else if (parts[0] == "name") {
      throw InputError(where, "ambiguous key \"name\"; write cluster.name or workload.model.name");
    } else if (cluster.child(parts[0]) != nullptr) {
      ov.cluster = true;
    } else if (workload.child(parts[0]) != nullptr) {
      ov.cluster = false;
    } else {
      auto names = cluster.child_names();
      for (const auto& n : workload.child_names()) names.push_back(n);
      names.insert(names.begin(), {"cluster", "workload"});
      throw InputError(where, "unknown key \"" + printable(parts[0]) + "\"" +
                                  config::suggestion(parts[0], names));
    }
    // gpu.calibration.CLASS: a class of the calibration file (take_calibration_multipliers).
    if (ov.cluster && parts.size() == 3 && parts[0] == "gpu" && parts[1] == "calibration") {
      ov.path = parts[0] + "." + parts[1] + "." + parts[2];
      add(ov);
      continue;
    }
    // The path must exist in the schema: a value can be set, a section replaced.
    const SchemaKey* node = ov.cluster ? &cluster : &workload;
    std::string walked;
    for (const auto& p : parts) {
      if (!node->is_section() && !walked.empty())
        throw InputError(where, walked + " takes a value; it has no key \"" + printable(p) + "\"");
      const SchemaKey* next = node->child(p);
      if (next == nullptr)
        throw InputError(where, "unknown key \"" + printable(p) + "\" " +
                                    (walked.empty() ? std::string(ov.cluster ? "in the cluster file" : "in the workload file")
                                                    : "in " + walked) +
                                    config::suggestion(p, node->child_names()));
      walked = join_path(walked, p);
      node = next;
    }
    ov.path = walked;
    add(ov);
  }
  return out;
}

}  // namespace trainsim
