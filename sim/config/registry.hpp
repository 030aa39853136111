#pragma once
// Lookup by name in the registries of the later stages (fabrics, collectives, MoE
// routing kinds): a registry is a list of entries, or of pointers to entries, that
// have a `name`. Unknown names are input errors listing the registered ones, with
// "did you mean" for a misspelling.
#include <string>
#include <string_view>
#include <vector>

#include "sim/config/error.hpp"
#include "sim/config/suggest.hpp"

namespace trainsim::config {

template <class Kind>
const Kind& entry(const Kind& k) {
  return k;
}
template <class Kind>
const Kind& entry(const Kind* k) {
  return *k;
}

// The names, in registration order.
template <class Registry>
std::vector<std::string> names_of(const Registry& kinds) {
  std::vector<std::string> names;
  for (const auto& k : kinds) names.emplace_back(entry(k).name);
  return names;
}

// The entry called `name`, or nullptr.
template <class Registry>
auto find_named(const Registry& kinds, std::string_view name) -> decltype(&entry(*kinds.begin())) {
  for (const auto& k : kinds)
    if (name == entry(k).name) return &entry(k);
  return nullptr;
}

// The entry called `name`; else InputError at `where`: `KEY: expected one of ...`
// (no `KEY: ` prefix when key is empty).
template <class Registry>
auto named(const Registry& kinds, const std::string& name, const SourceMark& where, const std::string& key = "")
    -> decltype(entry(*kinds.begin())) {
  if (const auto* k = find_named(kinds, name)) return *k;
  throw InputError(where, (key.empty() ? "" : key + ": ") + expected_one_of(name, names_of(kinds)));
}

}  // namespace trainsim::config
