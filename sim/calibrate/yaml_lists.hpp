#pragma once
// Shared by the calibration files' readers (kernel classes, cost laws, recipes):
// a schema of plain keys, and a list of maps read as Sections.
#include <yaml-cpp/yaml.h>

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "sim/config/keys.hpp"
#include "sim/config/yaml_reader.hpp"

namespace trainsim::calibrate {

// A map whose keys all take values (a list or a scalar): no nested sections.
[[nodiscard]] config::SchemaKey flat_schema(std::initializer_list<const char*> keys);

// The non-empty list under `key` of `owner` (whose node is `node`), each element a map
// read as a Section named `key[i]`, with its node (for lists nested inside it).
[[nodiscard]] std::vector<std::pair<config::Section, YAML::Node>> sections_of_list(
    const config::LoadContext& ctx, const config::Section& owner, const YAML::Node& node, const std::string& key,
    const config::SchemaKey& schema);

}  // namespace trainsim::calibrate
