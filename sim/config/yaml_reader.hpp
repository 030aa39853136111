#pragma once
// Strict reading of one YAML map against a schema: duplicate and unknown keys
// are refused on sight (with the nearest valid key), values are parsed with
// their unit, range-checked, and every key's position is recorded so that later
// errors can point at it. Values written `{value: V, low: L, high: H}` yield V
// and an UncertainConstant.
#include <yaml-cpp/yaml.h>

#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/config/error.hpp"
#include "sim/config/spec.hpp"

namespace trainsim::config {

// The key names of a file; a key without children takes a value.
struct SchemaKey {
  std::string name;
  std::vector<SchemaKey> children;
  [[nodiscard]] bool is_section() const { return !children.empty(); }
  [[nodiscard]] const SchemaKey* child(std::string_view key) const;
  [[nodiscard]] std::vector<std::string> child_names() const;
};

[[nodiscard]] const SchemaKey& cluster_schema();
[[nodiscard]] const SchemaKey& workload_schema();

// Allowed interval of a number; checked on value, low and high alike.
struct Range {
  double min = -std::numeric_limits<double>::infinity();
  bool min_inclusive = true;
  double max = std::numeric_limits<double>::infinity();
  bool max_inclusive = true;

  [[nodiscard]] static Range any() { return {}; }
  [[nodiscard]] static Range positive() { return {0, false}; }
  [[nodiscard]] static Range non_negative() { return {0, true}; }
  [[nodiscard]] static Range fraction() { return {0, false, 1, true}; }  // (0, 1]
  [[nodiscard]] static Range at_least(double m) { return {m, true}; }
  [[nodiscard]] static Range between(double lo, double hi) { return {lo, true, hi, true}; }
  [[nodiscard]] bool contains(double v) const;
  [[nodiscard]] std::string describe() const;  // "must be > 0"
};

// Text → base-unit value; throws std::invalid_argument (sim/config/units.hpp).
using Parser = double (*)(std::string_view);

// Shared by every Section of one file.
struct LoadContext {
  std::string file;
  std::string prefix;                                    // "cluster." / "workload."
  std::map<std::string, std::string> override_origin;   // dotted path → "--set path=value"
  std::map<std::string, SourceMark>* marks = nullptr;
  std::vector<UncertainConstant>* uncertain = nullptr;

  // Where `path` was written: its --set argument when overridden, else the file position.
  [[nodiscard]] SourceMark mark(const std::string& path, const YAML::Mark& m) const;
};

[[nodiscard]] std::string join_path(const std::string& a, const std::string& b);
// Non-printable and non-ASCII bytes as \xNN, so an error stays one readable line.
[[nodiscard]] std::string printable(std::string_view s);

class Section {
 public:
  // `node` must be a map (else an error at `where`). Checks duplicates and unknown keys.
  Section(const LoadContext& ctx, const YAML::Node& node, std::string path, const SchemaKey& schema,
          const YAML::Mark& where);

  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] bool has(const std::string& key) const { return entries_.count(key) != 0; }

  [[nodiscard]] Section section(const std::string& key) const;
  [[nodiscard]] std::optional<Section> optional_section(const std::string& key) const;

  [[nodiscard]] std::string text(const std::string& key) const;
  [[nodiscard]] double number(const std::string& key, Parser parse, Range range) const;
  [[nodiscard]] double number_or(const std::string& key, Parser parse, Range range, double fallback) const;
  [[nodiscard]] int integer(const std::string& key, Range range) const;
  [[nodiscard]] int integer_or(const std::string& key, Range range, int fallback) const;
  [[nodiscard]] bool boolean(const std::string& key) const;
  [[nodiscard]] bool boolean_or(const std::string& key, bool fallback) const;

  template <class E>
  [[nodiscard]] E choice(const std::string& key, const std::vector<std::pair<std::string, E>>& options) const {
    std::vector<std::string> names;
    for (const auto& [name, value] : options) names.push_back(name);
    const std::string written = text(key);
    for (const auto& [name, value] : options)
      if (name == written) return value;
    fail_value(key, "expected one of " + list(names) + ", got \"" + written + "\"" + suggest(written, names));
  }
  template <class E>
  [[nodiscard]] E choice_or(const std::string& key, const std::vector<std::pair<std::string, E>>& options,
                            E fallback) const {
    return has(key) ? choice(key, options) : fallback;
  }

  // Positions: of the key (the section itself when the key is absent) and of its value.
  [[nodiscard]] SourceMark key_mark(const std::string& key) const;
  [[nodiscard]] SourceMark value_mark(const std::string& key) const;
  // Errors name the dotted key path: `FILE:L:C: node.gpus: must be at least 1, got 0`.
  [[noreturn]] void fail_key(const std::string& key, const std::string& message) const;
  [[noreturn]] void fail_value(const std::string& key, const std::string& message) const;
  [[noreturn]] void fail_missing(const std::string& key) const;

 private:
  struct Entry {
    YAML::Node key;
    YAML::Node value;
  };
  [[nodiscard]] const Entry& require(const std::string& key) const;
  [[nodiscard]] const YAML::Node& scalar(const std::string& key, std::string_view expected) const;
  [[nodiscard]] double parse_one(const std::string& key, const std::string& sub, const YAML::Node& node,
                                 Parser parse, std::string_view expected_kind) const;
  static std::string list(const std::vector<std::string>& names);
  static std::string suggest(const std::string& word, const std::vector<std::string>& names);

  const LoadContext* ctx_;
  const SchemaKey* schema_;
  std::string path_;
  SourceMark mark_;
  std::map<std::string, Entry> entries_;
};

}  // namespace trainsim::config
