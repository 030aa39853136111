#pragma once
// Strict reading of one YAML map against a schema: duplicate and unknown keys
// are refused on sight (with the nearest valid key), values are parsed with
// their unit, range-checked, and every key's position is recorded so that later
// errors can point at it. Values written `{value: V, low: L, high: H}` yield V
// and an UncertainConstant.
#include <yaml-cpp/yaml.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/config/error.hpp"
#include "sim/config/keys.hpp"
#include "sim/config/spec.hpp"

namespace trainsim::config {

// Shared by every Section of one file.
struct LoadContext {
  std::string file;
  std::string prefix;                                    // "cluster." / "workload."
  std::map<std::string, std::string> override_origin;   // dotted path → "--set path=value"
  std::map<std::string, SourceMark>* marks = nullptr;
  std::vector<UncertainConstant>* uncertain = nullptr;
  const KeyTable* keys = nullptr;  // the file's declarations; none for validation cases

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

  // Read through the key's declaration (LoadContext::keys): its unit, range and,
  // when the key is absent, its default.
  [[nodiscard]] double number(const std::string& key) const;
  [[nodiscard]] int integer(const std::string& key) const;
  [[nodiscard]] bool boolean(const std::string& key) const;
  template <class E>
  [[nodiscard]] E choice(const std::string& key, const std::vector<std::pair<std::string, E>>& options) const {
    return options[choice_position(key, names_of(options))].second;
  }

  // With the unit and range written here: files without declarations (validation
  // cases) and defaults that depend on other keys. Where the key is declared, the
  // unit, range and default must be the declared ones (else std::logic_error).
  [[nodiscard]] double number(const std::string& key, Parser parse, Range range) const;
  [[nodiscard]] double number_or(const std::string& key, Parser parse, Range range, double fallback) const;
  [[nodiscard]] int integer(const std::string& key, Range range) const;
  [[nodiscard]] int integer_or(const std::string& key, Range range, int fallback) const;
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
  // One scalar (the value, or `sub` of {value, low, high}) parsed and range-checked.
  [[nodiscard]] double parse_one(const std::string& key, const std::string& sub, const YAML::Node& node, Parser parse,
                                 const Range& range) const;
  [[nodiscard]] std::size_t choice_position(const std::string& key, const std::vector<std::string>& names) const;
  // The key's declaration, or nullptr in a file without declarations.
  [[nodiscard]] const KeyDecl* declared(const std::string& key) const;
  [[nodiscard]] const KeyDecl& declaration(const std::string& key) const;
  // The declared default text when the key is absent and optional, else nullptr.
  [[nodiscard]] const std::string* absent_default(const std::string& key) const;
  void check_declared(const std::string& key, Parser parse, const Range& range) const;
  void check_declared_default(const std::string& key, double fallback) const;

  const LoadContext* ctx_;
  const SchemaKey* schema_;
  std::string path_;
  SourceMark mark_;
  std::map<std::string, Entry> entries_;
};

}  // namespace trainsim::config
