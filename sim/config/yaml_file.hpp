#pragma once
// Reading one YAML file strictly, for every file trainsim reads (cluster,
// workload, validation case): a directory, binary data (NUL), tab indentation,
// malformed YAML, more than one document, an empty file and a root that is not
// a map are InputErrors with FILE:LINE:COL.
#include <yaml-cpp/yaml.h>

#include <string>

namespace trainsim::config {

// The file's one document, a map. `what` names the expected content in errors:
// "a cluster description" → "empty file; expected a cluster description".
[[nodiscard]] YAML::Node read_yaml_file(const std::string& file, const std::string& what);

}  // namespace trainsim::config
