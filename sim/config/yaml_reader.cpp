#include "sim/config/yaml_reader.hpp"

#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "sim/config/suggest.hpp"
#include "sim/config/units.hpp"

namespace trainsim::config {

namespace {
const SchemaKey& uncertain_schema() {
  static const SchemaKey schema{"", {{"value", {}}, {"low", {}}, {"high", {}}}};
  return schema;
}

const char* type_name(const YAML::Node& n) {
  if (n.IsMap()) return "a map";
  if (n.IsSequence()) return "a list";
  if (n.IsNull()) return "nothing";
  return "a value";
}

}  // namespace

std::string join_path(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  return b.empty() ? a : a + "." + b;
}

std::string printable(std::string_view s) {
  std::string out;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      out += c;
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", u);
      out += buf;
    }
  }
  return out;
}

SourceMark LoadContext::mark(const std::string& path, const YAML::Mark& m) const {
  // The longest overridden prefix of the path (a whole section may be replaced).
  std::string p = path;
  while (!p.empty()) {
    auto it = override_origin.find(p);
    if (it != override_origin.end()) return {it->second, 0, 0};
    const auto dot = p.rfind('.');
    p = dot == std::string::npos ? std::string() : p.substr(0, dot);
  }
  if (m.line < 0) return {file, 0, 0};
  return {file, m.line + 1, m.column + 1};
}

Section::Section(const LoadContext& ctx, const YAML::Node& node, std::string path, const SchemaKey& schema,
                 const YAML::Mark& where)
    : ctx_(&ctx), schema_(&schema), path_(std::move(path)), mark_(ctx.mark(path_, where)) {
  const std::string label = path_.empty() ? "at top level" : "in " + path_;
  if (!node.IsMap()) {
    const std::string what = path_.empty() ? "the file" : path_;
    throw InputError(ctx.mark(path_, node.IsNull() ? where : node.Mark()),
                     what + ": expected a map of keys, got " + type_name(node));
  }
  const auto names = schema.child_names();
  for (auto it = node.begin(); it != node.end(); ++it) {
    const YAML::Node key = it->first;  // copies: `it->first` lives in a temporary proxy
    const YAML::Node value = it->second;
    if (!key.IsScalar()) throw InputError(ctx.mark(path_, key.Mark()), "expected a key name " + label);
    const std::string& name = key.Scalar();
    const std::string full = join_path(path_, name);
    if (auto seen = entries_.find(name); seen != entries_.end()) {
      const SourceMark first = ctx.mark(full, seen->second.key.Mark());
      throw InputError(ctx.mark(full, key.Mark()), "duplicate key \"" + printable(name) + "\" " + label +
                                                       " (first written at line " + std::to_string(first.line) + ")");
    }
    if (schema.child(name) == nullptr)
      throw InputError(ctx.mark(full, key.Mark()),
                       "unknown key \"" + printable(name) + "\" " + label + suggestion(name, names));
    entries_.emplace(name, Entry{key, value});
    if (ctx.marks != nullptr) (*ctx.marks)[full] = ctx.mark(full, key.Mark());
  }
}

SourceMark Section::key_mark(const std::string& key) const {
  auto it = entries_.find(key);
  if (it == entries_.end()) return mark_;
  return ctx_->mark(join_path(path_, key), it->second.key.Mark());
}

SourceMark Section::value_mark(const std::string& key) const {
  auto it = entries_.find(key);
  if (it == entries_.end()) return mark_;
  const YAML::Mark m = it->second.value.Mark();
  return ctx_->mark(join_path(path_, key), m.line < 0 ? it->second.key.Mark() : m);
}

void Section::fail_key(const std::string& key, const std::string& message) const {
  throw InputError(key_mark(key), join_path(path_, key) + ": " + message);
}

void Section::fail_value(const std::string& key, const std::string& message) const {
  throw InputError(value_mark(key), join_path(path_, key) + ": " + message);
}

void Section::fail_missing(const std::string& key) const {
  throw InputError(mark_, "missing key \"" + key + "\" " + (path_.empty() ? "at top level" : "in " + path_));
}

const Section::Entry& Section::require(const std::string& key) const {
  auto it = entries_.find(key);
  if (it == entries_.end()) fail_missing(key);
  return it->second;
}

Section Section::section(const std::string& key) const {
  const Entry& e = require(key);
  return Section(*ctx_, e.value, join_path(path_, key), *schema_->child(key), e.key.Mark());
}

std::optional<Section> Section::optional_section(const std::string& key) const {
  if (!has(key)) return std::nullopt;
  return section(key);
}

const YAML::Node& Section::scalar(const std::string& key, std::string_view expected) const {
  const Entry& e = require(key);
  if (e.value.IsNull()) fail_value(key, "missing value; expected " + std::string(expected));
  if (!e.value.IsScalar()) fail_value(key, "expected " + std::string(expected) + ", got " + type_name(e.value));
  return e.value;
}

std::string Section::text(const std::string& key) const {
  const std::string t = scalar(key, "a text value").Scalar();
  if (t.empty()) fail_value(key, "empty value");
  return printable(t);
}

// ------------------------------------------------------------------ declarations

const KeyDecl* Section::declared(const std::string& key) const {
  return ctx_->keys == nullptr ? nullptr : ctx_->keys->find(join_path(path_, key));
}

const KeyDecl& Section::declaration(const std::string& key) const {
  const KeyDecl* k = declared(key);
  if (k == nullptr) throw std::logic_error("read of undeclared key " + join_path(path_, key));
  return *k;
}

const std::string* Section::absent_default(const std::string& key) const {
  const KeyDecl* k = declared(key);
  if (has(key) || k == nullptr || k->presence != Presence::optional) return nullptr;
  return &k->default_text;
}

// A unit or range written in the loader that differs from the declaration would
// make the reference lie; the shipped files are loaded by the tests, so this fires there.
void Section::check_declared(const std::string& key, Parser parse, const Range& range) const {
  const KeyDecl* k = declared(key);
  if (k != nullptr && (k->parser() != parse || !(k->range == range)))
    throw std::logic_error(join_path(path_, key) + " is read with a unit or range other than its declaration");
}

void Section::check_declared_default(const std::string& key, double fallback) const {
  const KeyDecl* k = declared(key);
  if (k != nullptr && (k->presence != Presence::optional || k->parser()(k->default_text) != fallback))
    throw std::logic_error(join_path(path_, key) + " is read with a default other than its declaration");
}

double Section::number(const std::string& key) const {
  const KeyDecl& k = declaration(key);
  if (const std::string* fallback = absent_default(key)) return k.parser()(*fallback);
  return number(key, k.parser(), k.range);
}

int Section::integer(const std::string& key) const {
  const KeyDecl& k = declaration(key);
  if (const std::string* fallback = absent_default(key)) return static_cast<int>(units::integer_count(*fallback));
  return integer(key, k.range);
}

bool Section::boolean(const std::string& key) const {
  if (const std::string* fallback = absent_default(key)) return parse_boolean(*fallback);
  const std::string t = scalar(key, "true or false").Scalar();
  try {
    return parse_boolean(t);
  } catch (const std::invalid_argument& e) {
    fail_value(key, printable(e.what()));
  }
}

std::size_t Section::choice_position(const std::string& key, const std::vector<std::string>& names) const {
  const std::string* fallback = absent_default(key);
  const std::string written = fallback != nullptr ? *fallback : text(key);
  try {
    return choice_index(written, names);
  } catch (const std::invalid_argument& e) {
    fail_value(key, e.what());
  }
}

// ------------------------------------------------------------------ numbers

double Section::parse_one(const std::string& key, const std::string& sub, const YAML::Node& node, Parser parse,
                          const Range& range) const {
  const std::string full = join_path(join_path(path_, key), sub);
  const SourceMark where = ctx_->mark(full, node.Mark().line < 0 ? entries_.at(key).key.Mark() : node.Mark());
  if (node.IsNull()) throw InputError(where, full + ": missing value");
  if (!node.IsScalar()) throw InputError(where, full + ": expected a single value, got " + type_name(node));
  try {
    const double v = parse(node.Scalar());
    range.check(v, node.Scalar(), base_unit(parse));
    return v;
  } catch (const std::invalid_argument& e) {
    throw InputError(where, full + ": " + printable(e.what()));
  }
}

double Section::number(const std::string& key, Parser parse, Range range) const {
  check_declared(key, parse, range);
  const Entry& e = require(key);
  if (!e.value.IsMap()) return parse_one(key, "", e.value, parse, range);
  // {value: V, low: L, high: H}
  const std::string full = join_path(path_, key);
  const Section u(*ctx_, e.value, full, uncertain_schema(), e.key.Mark());
  double vals[3] = {0, 0, 0};
  const char* names[3] = {"value", "low", "high"};
  for (int i = 0; i < 3; ++i) vals[i] = parse_one(key, names[i], u.require(names[i]).value, parse, range);
  if (!(vals[1] <= vals[0] && vals[0] <= vals[2]))
    throw InputError(value_mark(key), full + ": needs low <= value <= high, got low " + number_text(vals[1]) +
                                          ", value " + number_text(vals[0]) + ", high " + number_text(vals[2]));
  if (ctx_->uncertain != nullptr) ctx_->uncertain->push_back({ctx_->prefix + full, vals[0], vals[1], vals[2]});
  return vals[0];
}

double Section::number_or(const std::string& key, Parser parse, Range range, double fallback) const {
  check_declared_default(key, fallback);
  return has(key) ? number(key, parse, range) : fallback;
}

int Section::integer(const std::string& key, Range range) const {
  check_declared(key, units::integer_count, range);
  const Entry& e = require(key);
  // Counts are exact: an uncertainty range would have `trainsim claim` sample fractions of them.
  if (e.value.IsMap()) fail_value(key, "expected an integer, got a map; {value, low, high} is for measured quantities");
  const double v = parse_one(key, "", e.value, units::integer_count, range);
  // The key's range, narrowed to what an int holds (a count past 2^63 came here as "expected an integer").
  constexpr double kMaxCount = 2147483647.0;
  if (std::abs(v) > kMaxCount) {
    // Written out: number_text's %g would print the bound as 2.14748e+09.
    const std::string held = std::isfinite(range.min) ? "must be in " + std::string(range.min_inclusive ? "[" : "(") +
                                                            number_text(range.min) + ", 2147483647]"
                                                      : "must be in [-2147483647, 2147483647]";
    fail_value(key, held + ", got " + printable(e.value.Scalar()));
  }
  return static_cast<int>(v);
}

int Section::integer_or(const std::string& key, Range range, int fallback) const {
  check_declared_default(key, fallback);
  return has(key) ? integer(key, range) : fallback;
}

}  // namespace trainsim::config
