#include "sim/topology/fabric_registry.hpp"

#include <stdexcept>

#include "sim/config/error.hpp"
#include "sim/config/suggest.hpp"

namespace trainsim {

// Defined in sim/topology/fabrics/<name>.cpp.
const FabricKind& fat_tree_fabric();
const FabricKind& multi_plane_fat_tree_fabric();
const FabricKind& rail_optimized_fabric();
const FabricKind& clos3_fabric();

const std::vector<const FabricKind*>& fabric_kinds() {
  static const std::vector<const FabricKind*> kinds = {
      &fat_tree_fabric(),
      &multi_plane_fat_tree_fabric(),
      &rail_optimized_fabric(),
      &clos3_fabric(),
  };
  return kinds;
}

std::vector<std::string> fabric_names() {
  std::vector<std::string> names;
  for (const FabricKind* k : fabric_kinds()) names.emplace_back(k->name);
  return names;
}

const FabricKind* find_fabric(std::string_view name) {
  for (const FabricKind* k : fabric_kinds())
    if (name == k->name) return k;
  return nullptr;
}

const FabricKind& fabric_named(const std::string& name) {
  if (const FabricKind* k = find_fabric(name)) return *k;
  throw std::invalid_argument("topology: network.fabric: " + config::expected_one_of(name, fabric_names()));
}

void check_fabric(const ClusterSpec& spec) {
  const FabricKind* kind = find_fabric(spec.network.fabric);
  if (kind == nullptr)
    throw InputError(cluster_mark(spec, "network.fabric"),
                     "network.fabric: " + config::expected_one_of(spec.network.fabric, fabric_names()));
  if (kind->check != nullptr) kind->check(spec);
}

SourceMark cluster_mark(const ClusterSpec& spec, const std::string& key) {
  auto it = spec.marks.find(key);
  return it != spec.marks.end() ? it->second : SourceMark{spec.source_file, 0, 0};
}

}  // namespace trainsim
