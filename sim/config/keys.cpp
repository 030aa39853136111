#include "sim/config/keys.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "sim/config/suggest.hpp"
#include "sim/config/units.hpp"

namespace trainsim::config {

std::string number_text(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

namespace {
std::string comma_list(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// Adds `path` (dotted) to the tree, keeping the order in which keys first appear.
void insert_path(SchemaKey& root, std::string_view path) {
  SchemaKey* node = &root;
  while (!path.empty()) {
    const auto dot = path.find('.');
    const std::string_view part = path.substr(0, dot);
    path = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
    auto& children = node->children;
    auto it = std::find_if(children.begin(), children.end(), [&](const SchemaKey& c) { return c.name == part; });
    if (it == children.end()) it = children.insert(children.end(), SchemaKey{std::string(part), {}});
    node = &*it;
  }
}
}  // namespace

// ------------------------------------------------------------------ Range

bool Range::contains(double v) const {
  const bool above = min_inclusive ? v >= min : v > min;
  const bool below = max_inclusive ? v <= max : v < max;
  return above && below;
}

std::string Range::bounds() const {
  const bool has_min = std::isfinite(min), has_max = std::isfinite(max);
  std::string out;
  if (has_min && has_max) {
    out += min_inclusive ? "[" : "(";
    out += number_text(min) + ", " + number_text(max);
    out += max_inclusive ? "]" : ")";
  } else if (has_min) {
    out += min_inclusive ? ">= " : "> ";
    out += number_text(min);
  } else if (has_max) {
    out += max_inclusive ? "<= " : "< ";
    out += number_text(max);
  }
  return out;
}

std::string Range::describe(std::string_view unit) const {
  const bool has_min = std::isfinite(min), has_max = std::isfinite(max);
  const std::string suffix = unit.empty() ? "" : " " + std::string(unit);
  if (has_min && has_max) return "must be in " + bounds() + suffix;
  if (has_min) return std::string("must be ") + (min_inclusive ? "at least " : "> ") + number_text(min) + suffix;
  if (has_max) return std::string("must be ") + (max_inclusive ? "at most " : "< ") + number_text(max) + suffix;
  return "must be a number";
}

void Range::check(double v, std::string_view written, std::string_view unit) const {
  if (!contains(v)) throw std::invalid_argument(describe(unit) + ", got " + std::string(written));
}

// ------------------------------------------------------------------ quantities

namespace quantity {
const Quantity bandwidth{"bandwidth", "400Gbps, 50GB/s, 3.35TB/s", "B/s", units::bandwidth_bytes_per_s};
const Quantity time{"time", "2.8us, 1ms, 500ns", "s", units::time_s};
const Quantity memory{"memory", "80GB, 80GiB", "B", units::memory_bytes};
const Quantity power{"power", "700W, 1.2kW", "W", units::power_w};
const Quantity tokens{"token count", "14.8T, 469B, 4096", "", units::token_count};
const Quantity compute_rate{"compute rate", "989.4 (TFLOP/s), 1.9PFLOPS", "FLOP/s", units::peak_tflops};
const Quantity plain{"number", "1.3", "", units::plain_number};
const Quantity fraction{"fraction", "0.8", "", units::plain_number};
}  // namespace quantity

std::string_view base_unit(Parser parse) {
  for (const Quantity* q : {&quantity::bandwidth, &quantity::time, &quantity::memory, &quantity::power,
                            &quantity::tokens, &quantity::compute_rate, &quantity::plain, &quantity::fraction})
    if (q->parse == parse) return q->base;
  return {};
}

Parser KeyDecl::parser() const {
  if (kind == KeyKind::integer) return units::integer_count;
  if (kind == KeyKind::number && quantity != nullptr) return quantity->parse;
  throw std::logic_error(path + " is not a number");
}

// ------------------------------------------------------------------ schema

const SchemaKey* SchemaKey::child(std::string_view key) const {
  for (const auto& c : children)
    if (c.name == key) return &c;
  return nullptr;
}

std::vector<std::string> SchemaKey::child_names() const {
  std::vector<std::string> names;
  for (const auto& c : children) names.push_back(c.name);
  return names;
}

KeyTable::KeyTable(std::string file, std::vector<KeyDecl> keys) : file_(std::move(file)), keys_(std::move(keys)) {
  for (std::size_t i = 0; i < keys_.size(); ++i) {
    if (!index_.emplace(keys_[i].path, i).second) throw std::logic_error("key declared twice: " + keys_[i].path);
    insert_path(schema_, keys_[i].path);
  }
}

const KeyDecl* KeyTable::find(const std::string& path) const {
  auto it = index_.find(path);
  return it == index_.end() ? nullptr : &keys_[it->second];
}

const SchemaKey& cluster_schema() { return cluster_keys().schema(); }
const SchemaKey& workload_schema() { return workload_keys().schema(); }

// ------------------------------------------------------------------ builders

namespace declare {
namespace {
KeyDecl of_kind(std::string path, KeyKind kind, std::string help) {
  KeyDecl key;
  key.path = std::move(path);
  key.kind = kind;
  key.help = std::move(help);
  return key;
}
}  // namespace

KeyDecl section(std::string path, std::string help) { return of_kind(std::move(path), KeyKind::section, std::move(help)); }
KeyDecl text(std::string path, std::string help) { return of_kind(std::move(path), KeyKind::text, std::move(help)); }
KeyDecl name(std::string path, std::string help) { return of_kind(std::move(path), KeyKind::name, std::move(help)); }
KeyDecl boolean(std::string path, std::string help) { return of_kind(std::move(path), KeyKind::boolean, std::move(help)); }
KeyDecl choice(std::string path, std::vector<std::string> choices, std::string help) {
  KeyDecl key = of_kind(std::move(path), KeyKind::choice, std::move(help));
  key.choices = std::move(choices);
  return key;
}
KeyDecl integer(std::string path, Range range, std::string help) {
  KeyDecl key = of_kind(std::move(path), KeyKind::integer, std::move(help));
  key.range = range;
  return key;
}
KeyDecl number(std::string path, const Quantity& quantity, Range range, std::string help) {
  KeyDecl key = of_kind(std::move(path), KeyKind::number, std::move(help));
  key.quantity = &quantity;
  key.range = range;
  return key;
}
KeyDecl optional(KeyDecl key, std::string default_value) {
  key.presence = Presence::optional;
  key.default_text = std::move(default_value);
  return key;
}
KeyDecl conditional(KeyDecl key, std::string when) {
  key.presence = Presence::conditional;
  key.default_text = std::move(when);
  return key;
}
}  // namespace declare

// ------------------------------------------------------------------ choices

const std::vector<std::pair<std::string, Precision>>& precision_choices() {
  static const std::vector<std::pair<std::string, Precision>> choices = {{"fp8", Precision::fp8},
                                                                         {"bf16", Precision::bf16}};
  return choices;
}

const std::vector<std::pair<std::string, AttentionImplementation>>& attention_implementation_choices() {
  static const std::vector<std::pair<std::string, AttentionImplementation>> c = {{"flash", AttentionImplementation::flash}, {"unfused", AttentionImplementation::unfused}};
  return c;
}

const std::vector<std::pair<std::string, AttentionKind>>& attention_kind_choices() {
  static const std::vector<std::pair<std::string, AttentionKind>> choices = {
      {"mha", AttentionKind::mha}, {"gqa", AttentionKind::gqa}, {"mla", AttentionKind::mla}};
  return choices;
}

const std::vector<std::pair<std::string, Optimizer>>& optimizer_choices() {
  static const std::vector<std::pair<std::string, Optimizer>> choices = {{"adamw", Optimizer::adamw}};
  return choices;
}

const std::vector<std::pair<std::string, FfnActivation>>& ffn_activation_choices() {
  static const std::vector<std::pair<std::string, FfnActivation>> c = {{"swiglu", FfnActivation::swiglu}, {"gelu", FfnActivation::gelu}};
  return c;
}

// ------------------------------------------------------------------ scalar checks

bool parse_boolean(std::string_view text) {
  if (text == "true") return true;
  if (text == "false") return false;
  throw std::invalid_argument("expected true or false, got \"" + std::string(text) + "\"");
}

std::size_t choice_index(std::string_view text, const std::vector<std::string>& names) {
  for (std::size_t i = 0; i < names.size(); ++i)
    if (names[i] == text) return i;
  const std::string near = nearest(text, names);
  throw std::invalid_argument("expected one of " + comma_list(names) + ", got \"" + std::string(text) + "\"" +
                              (near.empty() ? "" : "; did you mean \"" + near + "\"?"));
}

void check_scalar(const KeyDecl& key, std::string_view text) {
  switch (key.kind) {
    case KeyKind::section: return;
    case KeyKind::text:
    case KeyKind::name:
      if (text.empty()) throw std::invalid_argument("empty value");
      return;
    case KeyKind::choice: (void)choice_index(text, key.choices); return;
    case KeyKind::boolean: (void)parse_boolean(text); return;
    case KeyKind::integer:
    case KeyKind::number: key.range.check(key.parser()(text), text, base_unit(key.parser())); return;
  }
}

}  // namespace trainsim::config
