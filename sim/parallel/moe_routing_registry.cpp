#include "sim/parallel/moe_routing_registry.hpp"

#include "sim/config/suggest.hpp"

namespace trainsim::parallel {

// Defined in sim/parallel/moe_routing_<name>.cpp.
const MoeRoutingKind& balanced_routing();
const MoeRoutingKind& zipf_routing();

const std::vector<const MoeRoutingKind*>& moe_routing_kinds() {
  static const std::vector<const MoeRoutingKind*> kinds = {
      &balanced_routing(),
      &zipf_routing(),
  };
  return kinds;
}

std::vector<std::string> moe_routing_names() {
  std::vector<std::string> names;
  for (const MoeRoutingKind* k : moe_routing_kinds()) names.emplace_back(k->name);
  return names;
}

const MoeRoutingKind* find_moe_routing(std::string_view name) {
  for (const MoeRoutingKind* k : moe_routing_kinds())
    if (name == k->name) return k;
  return nullptr;
}

const MoeRoutingKind& moe_routing_named(const std::string& name, const SourceMark& where) {
  if (const MoeRoutingKind* k = find_moe_routing(name)) return *k;
  throw InputError(where, config::expected_one_of(name, moe_routing_names()));
}

void check_moe_routing(const WorkloadSpec& w) {
  if (!w.model.moe) return;
  const MoeSpec& moe = *w.model.moe;
  const MoeRoutingKind* kind = find_moe_routing(moe.routing);
  if (kind == nullptr)
    throw InputError(w.mark_of("model.moe.routing"),
                     "model.moe.routing: " + config::expected_one_of(moe.routing, moe_routing_names()));
  const bool written = moe.zipf_exponent != 0;  // the loader refuses 0
  if (kind->uses_zipf_exponent && !written)
    throw InputError(w.mark_of("model.moe"), "missing key \"zipf_exponent\" in model.moe");
  if (!kind->uses_zipf_exponent && written) {
    std::string users;
    for (const MoeRoutingKind* k : moe_routing_kinds())
      if (k->uses_zipf_exponent) users += (users.empty() ? "" : ", ") + std::string(k->name);
    throw InputError(w.mark_of("model.moe.zipf_exponent"), "model.moe.zipf_exponent: applies only to routing: " + users);
  }
}

}  // namespace trainsim::parallel
