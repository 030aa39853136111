#include "sim/config/key_reference.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sim/config/keys.hpp"

namespace trainsim::config {

namespace {

// One key as the reference shows it.
struct Row {
  std::string key, kind, range, fallback, uncertain, help;
};

std::string kind_text(const KeyDecl& k) {
  switch (k.kind) {
    case KeyKind::section: return "section";
    case KeyKind::text: return "text";
    case KeyKind::name: return "name";
    case KeyKind::integer: return "integer";
    case KeyKind::boolean: return "boolean";
    case KeyKind::number: return std::string(k.quantity->name);
    case KeyKind::choice: {
      std::string out = "one of ";
      for (std::size_t i = 0; i < k.choices.size(); ++i) out += (i == 0 ? "" : ", ") + k.choices[i];
      return out;
    }
  }
  return "?";
}

std::string presence_text(Presence p) {
  switch (p) {
    case Presence::required: return "required";
    case Presence::optional: return "optional";
    case Presence::conditional: return "conditional";
  }
  return "?";
}

// "> 0", ">= 1e-09 s": bounds in the unit the value is held in.
std::string range_text(const KeyDecl& k) {
  if (k.kind != KeyKind::integer && k.kind != KeyKind::number) return "";
  std::string out = k.range.bounds();
  if (!out.empty() && k.kind == KeyKind::number && !k.quantity->base.empty()) {
    out += ' ';
    out += k.quantity->base;
  }
  return out;
}

Row row_of(const KeyDecl& k) {
  return {k.path,
          kind_text(k),
          range_text(k),
          k.presence == Presence::required ? "required" : k.default_text,
          k.accepts_uncertainty() ? "yes" : "",
          k.help};
}

// The two files, each with where its examples live.
struct FileTable {
  const KeyTable& table;
  const char* title;
};
std::vector<FileTable> files() {
  return {{cluster_keys(), "Cluster file (`topologies/*.yaml`)"}, {workload_keys(), "Workload file (`workloads/*.yaml`)"}};
}

const std::vector<const Quantity*>& quantities() {
  static const std::vector<const Quantity*> all = {&quantity::bandwidth, &quantity::time,  &quantity::memory,
                                                   &quantity::power,     &quantity::tokens, &quantity::compute_rate,
                                                   &quantity::plain,     &quantity::fraction};
  return all;
}

}  // namespace

void write_key_reference_text(std::ostream& out) {
  for (const auto& f : files()) {
    std::vector<Row> rows;
    for (const KeyDecl& k : f.table.keys()) rows.push_back(row_of(k));
    std::size_t key_w = 0, kind_w = 0, range_w = 0, default_w = 0;
    for (const Row& r : rows) {
      key_w = std::max(key_w, r.key.size());
      kind_w = std::max(kind_w, r.kind.size());
      range_w = std::max(range_w, r.range.size());
      default_w = std::max(default_w, r.fallback.size());
    }
    out << f.table.file() << " file\n";
    for (const Row& r : rows)
      out << fmt::format("  {:<{}}  {:<{}}  {:<{}}  {:<{}}  {}{}\n", r.key, key_w, r.kind, kind_w, r.range, range_w,
                         r.fallback, default_w, r.help, r.uncertain.empty() ? "" : " [{value, low, high}]");
    out << '\n';
  }
  out << "units:\n";
  for (const Quantity* q : quantities()) out << fmt::format("  {:<13} {}\n", q->name, q->written);
}

void write_key_reference_markdown(std::ostream& out) {
  out << "Units, as written in the files:";
  for (const Quantity* q : quantities()) out << fmt::format(" {} `{}`;", q->name, q->written);
  out << " a required unit is never implied.\n"
         "\"Uncertain\": the value may be written `{value: V, low: L, high: H}` for `trainsim claim`.\n";
  for (const auto& f : files()) {
    out << "\n#### " << f.title << "\n\n";
    out << "| Key | Kind | Range | Default | Uncertain | Description |\n";
    out << "|---|---|---|---|---|---|\n";
    for (const KeyDecl& k : f.table.keys()) {
      const Row r = row_of(k);
      out << fmt::format("| `{}` | {} | {} | {} | {} | {} |\n", r.key, r.kind, r.range, r.fallback, r.uncertain,
                         r.help);
    }
  }
}

void write_key_reference_json(std::ostream& out) {
  nlohmann::ordered_json keys = nlohmann::ordered_json::array();
  for (const auto& f : files()) {
    for (const KeyDecl& k : f.table.keys()) {
      nlohmann::ordered_json j;
      j["file"] = f.table.file();
      j["key"] = k.path;
      j["kind"] = kind_text(k);
      if (k.kind == KeyKind::number) j["unit_examples"] = std::string(k.quantity->written);
      if (!k.choices.empty()) j["choices"] = k.choices;
      if (k.kind == KeyKind::integer || k.kind == KeyKind::number) j["range"] = range_text(k);
      j["presence"] = presence_text(k.presence);
      if (k.presence != Presence::required) j["default"] = k.default_text;
      j["uncertainty"] = k.accepts_uncertainty();
      j["help"] = k.help;
      keys.push_back(j);
    }
  }
  out << nlohmann::ordered_json{{"keys", keys}}.dump(2) << '\n';
}

}  // namespace trainsim::config
