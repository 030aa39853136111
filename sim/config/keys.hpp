#pragma once
// One declaration per config key (the ns-3 attribute pattern): its dotted path,
// kind and unit, allowed range, default, and a line of help. The loader reads
// values through it, the schema used to refuse unknown keys is derived from it,
// --set values are checked against it, and `trainsim keys` prints it (the
// README's configuration reference is that output). The tables themselves are
// in cluster_keys.cpp and workload_keys.cpp.
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/config/spec.hpp"

namespace trainsim::config {

// A number as %g writes it: "1e-09", "0.5", "64".
[[nodiscard]] std::string number_text(double v);

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
  // "must be > 0"; with the base unit, "must be at most 1e+12 B/s" (a bound in base units
  // without its unit reads as a bare number).
  [[nodiscard]] std::string describe(std::string_view unit = {}) const;
  [[nodiscard]] std::string bounds() const;    // "> 0", "(0, 1]", "" when any
  // Throws std::invalid_argument "must be > 0, got WRITTEN" when `v` is outside.
  void check(double v, std::string_view written, std::string_view unit = {}) const;
  [[nodiscard]] bool operator==(const Range&) const = default;
};

// Text → base-unit value; throws std::invalid_argument (sim/config/units.hpp).
using Parser = double (*)(std::string_view);

// What a number measures, and how it is written.
struct Quantity {
  std::string_view name;     // "bandwidth"
  std::string_view written;  // "400Gbps, 50GB/s"
  std::string_view base;     // the unit parse returns: "B/s"; "" for a pure number
  Parser parse;
};
namespace quantity {
extern const Quantity bandwidth, time, memory, power, tokens, compute_rate, plain, fraction;
}
// The base unit a parser returns ("B/s" for bandwidths), "" for counts and pure numbers.
[[nodiscard]] std::string_view base_unit(Parser parse);

enum class KeyKind {
  section,  // a map of keys
  text,     // free text (a display name)
  name,     // a name registered by a later stage (schedule, fabric, routing kind)
  choice,   // one of a fixed list of names
  integer,  // digits only
  number,   // a quantity with its unit; may be written {value, low, high}
  boolean,  // true or false
};

enum class Presence {
  required,
  optional,     // absent = the default, which is written as the key's value would be
  conditional,  // required, refused or defaulted depending on other keys (the default text says how)
};

struct KeyDecl {
  std::string path;                   // dotted, within its file: "network.nic_bandwidth"
  KeyKind kind = KeyKind::text;
  const Quantity* quantity = nullptr;  // number only
  Range range;                        // integer and number
  Presence presence = Presence::required;
  std::string default_text;           // optional: the default value; conditional: when it applies
  std::vector<std::string> choices;   // choice only
  std::string help;                   // one line, with the unit where there is one

  // Measured quantities may carry an uncertainty range for `trainsim claim`.
  [[nodiscard]] bool accepts_uncertainty() const { return kind == KeyKind::number; }
  [[nodiscard]] Parser parser() const;  // number and integer
};

// The key names of a file as a tree; a key without children takes a value.
struct SchemaKey {
  std::string name;
  std::vector<SchemaKey> children;
  [[nodiscard]] bool is_section() const { return !children.empty(); }
  [[nodiscard]] const SchemaKey* child(std::string_view key) const;
  [[nodiscard]] std::vector<std::string> child_names() const;
};

// The declarations of one file, in file order (the order of "did you mean" ties
// and of key lists in messages), with their schema tree.
class KeyTable {
 public:
  KeyTable(std::string file, std::vector<KeyDecl> keys);
  [[nodiscard]] const std::string& file() const { return file_; }  // "cluster" / "workload"
  [[nodiscard]] const std::vector<KeyDecl>& keys() const { return keys_; }
  [[nodiscard]] const KeyDecl* find(const std::string& path) const;
  [[nodiscard]] const SchemaKey& schema() const { return schema_; }

 private:
  std::string file_;
  std::vector<KeyDecl> keys_;
  std::map<std::string, std::size_t> index_;
  SchemaKey schema_;
};

[[nodiscard]] const KeyTable& cluster_keys();
[[nodiscard]] const KeyTable& workload_keys();
[[nodiscard]] const SchemaKey& cluster_schema();
[[nodiscard]] const SchemaKey& workload_schema();

// The names of the fixed-choice keys, mapped to their values.
[[nodiscard]] const std::vector<std::pair<std::string, Precision>>& precision_choices();
[[nodiscard]] const std::vector<std::pair<std::string, AttentionKind>>& attention_kind_choices();
[[nodiscard]] const std::vector<std::pair<std::string, Optimizer>>& optimizer_choices();
[[nodiscard]] const std::vector<std::pair<std::string, FfnActivation>>& ffn_activation_choices();
[[nodiscard]] const std::vector<std::pair<std::string, AttentionImplementation>>& attention_implementation_choices();
template <class E>
[[nodiscard]] std::vector<std::string> names_of(const std::vector<std::pair<std::string, E>>& choices) {
  std::vector<std::string> names;
  for (const auto& [name, value] : choices) names.push_back(name);
  return names;
}

// Builders for the tables: `optional(integer("parallelism.comm_sms", ...), "0")`.
namespace declare {
[[nodiscard]] KeyDecl section(std::string path, std::string help);
[[nodiscard]] KeyDecl text(std::string path, std::string help);
[[nodiscard]] KeyDecl name(std::string path, std::string help);
[[nodiscard]] KeyDecl choice(std::string path, std::vector<std::string> choices, std::string help);
[[nodiscard]] KeyDecl integer(std::string path, Range range, std::string help);
[[nodiscard]] KeyDecl number(std::string path, const Quantity& quantity, Range range, std::string help);
[[nodiscard]] KeyDecl boolean(std::string path, std::string help);
[[nodiscard]] KeyDecl optional(KeyDecl key, std::string default_value);
[[nodiscard]] KeyDecl conditional(KeyDecl key, std::string when);
}  // namespace declare

// Scalar checks shared by the loader and --set; each throws std::invalid_argument
// with the message after "path: ".
[[nodiscard]] bool parse_boolean(std::string_view text);
// The index of `text` in `names`; else "expected one of a, b, got "x"; did you mean ...".
[[nodiscard]] std::size_t choice_index(std::string_view text, const std::vector<std::string>& names);
// A written scalar against the key's kind, unit and range (nothing for sections).
void check_scalar(const KeyDecl& key, std::string_view text);

}  // namespace trainsim::config
