#include "sim/topology/fabric_registry.hpp"

#include <stdexcept>

#include "sim/config/error.hpp"
#include "sim/config/registry.hpp"

namespace trainsim {

// The fabrics, each defined in sim/topology/fabrics/<name>.cpp, in listing order.
extern const FabricKind fat_tree_fabric;
extern const FabricKind multi_plane_fat_tree_fabric;
extern const FabricKind rail_optimized_fabric;
extern const FabricKind clos3_fabric;

const std::vector<const FabricKind*>& fabric_kinds() {
  static const std::vector<const FabricKind*> kinds = {&fat_tree_fabric, &multi_plane_fat_tree_fabric,
                                                       &rail_optimized_fabric, &clos3_fabric};
  return kinds;
}

std::vector<std::string> fabric_names() { return config::names_of(fabric_kinds()); }

const FabricKind* find_fabric(std::string_view name) { return config::find_named(fabric_kinds(), name); }

const FabricKind& fabric_named(const std::string& name) {
  if (const FabricKind* k = find_fabric(name)) return *k;
  throw std::invalid_argument("topology: network.fabric: " + config::expected_one_of(name, fabric_names()));
}

void check_fabric(const ClusterSpec& spec) {
  const FabricKind& kind =
      config::named(fabric_kinds(), spec.network.fabric, cluster_mark(spec, "network.fabric"), "network.fabric");
  if (kind.check != nullptr) kind.check(spec);
}

SourceMark cluster_mark(const ClusterSpec& spec, const std::string& key) {
  auto it = spec.marks.find(key);
  return it != spec.marks.end() ? it->second : SourceMark{spec.source_file, 0, 0};
}

}  // namespace trainsim
