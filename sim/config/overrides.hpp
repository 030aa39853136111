#pragma once
// Putting --set overrides (parse_overrides, sim/config/load.hpp) into a file's YAML tree.
#include <yaml-cpp/yaml.h>

#include <vector>

#include "sim/config/load.hpp"
#include "sim/config/yaml_reader.hpp"

namespace trainsim::config {

// Inserts the overrides of one file (`cluster` or workload) into its tree, creating
// the sections the file lacks, and records each path's origin in `ctx`. A scalar
// is checked against its key's kind, unit and range (ctx.keys).
void apply_overrides(YAML::Node& root, const std::vector<Override>& overrides, bool cluster, LoadContext& ctx);

}  // namespace trainsim::config
