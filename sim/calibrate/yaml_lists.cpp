#include "sim/calibrate/yaml_lists.hpp"

#include <fmt/format.h>

namespace trainsim::calibrate {

config::SchemaKey flat_schema(std::initializer_list<const char*> keys) {
  config::SchemaKey schema;
  for (const char* key : keys) schema.children.push_back({key, {}});
  return schema;
}

std::vector<std::pair<config::Section, YAML::Node>> sections_of_list(const config::LoadContext& ctx,
                                                                     const config::Section& owner,
                                                                     const YAML::Node& node, const std::string& key,
                                                                     const config::SchemaKey& schema) {
  const YAML::Node list = node[key];
  if (!list.IsSequence() || list.size() == 0) owner.fail_value(key, "expected a non-empty list of maps");
  std::vector<std::pair<config::Section, YAML::Node>> items;
  const std::string path = config::join_path(owner.path(), key);
  for (std::size_t i = 0; i < list.size(); ++i)
    items.emplace_back(config::Section(ctx, list[i], fmt::format("{}[{}]", path, i), schema, list[i].Mark()), list[i]);
  return items;
}

}  // namespace trainsim::calibrate
