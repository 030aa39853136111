#include "sim/parallel/moe_routing_registry.hpp"

#include "sim/config/registry.hpp"

namespace trainsim::parallel {

// The kinds, each defined in sim/parallel/moe_routing_<name>.cpp, in listing order.
extern const MoeRoutingKind balanced_routing;
extern const MoeRoutingKind zipf_routing;

const std::vector<const MoeRoutingKind*>& moe_routing_kinds() {
  static const std::vector<const MoeRoutingKind*> kinds = {&balanced_routing, &zipf_routing};
  return kinds;
}

std::vector<std::string> moe_routing_names() { return config::names_of(moe_routing_kinds()); }

const MoeRoutingKind* find_moe_routing(std::string_view name) { return config::find_named(moe_routing_kinds(), name); }

const MoeRoutingKind& moe_routing_named(const std::string& name, const SourceMark& where) {
  return config::named(moe_routing_kinds(), name, where);
}

void check_moe_routing(const WorkloadSpec& w) {
  if (!w.model.moe) return;
  const MoeSpec& moe = *w.model.moe;
  const MoeRoutingKind& kind =
      config::named(moe_routing_kinds(), moe.routing, w.mark_of("model.moe.routing"), "model.moe.routing");
  const bool written = moe.zipf_exponent != 0;  // the loader refuses 0
  if (kind.uses_zipf_exponent && !written)
    throw InputError(w.mark_of("model.moe"), "missing key \"zipf_exponent\" in model.moe");
  if (!kind.uses_zipf_exponent && written) {
    std::string users;
    for (const MoeRoutingKind* k : moe_routing_kinds())
      if (k->uses_zipf_exponent) users += (users.empty() ? "" : ", ") + std::string(k->name);
    throw InputError(w.mark_of("model.moe.zipf_exponent"), "model.moe.zipf_exponent: applies only to routing: " + users);
  }
}

}  // namespace trainsim::parallel
