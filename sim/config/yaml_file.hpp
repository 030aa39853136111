#pragma once
// Reading one YAML file strictly, for every file trainsim reads (cluster,
// workload, validation case): a directory, binary data (NUL), tab indentation,
// malformed YAML, more than one document, an empty file, a root that is not a
// map, an explicit tag and nesting deeper than kMaxYamlDepth are InputErrors with
// FILE:LINE:COL. CR-only line ends are read as line ends.
#include <yaml-cpp/yaml.h>

#include <string>

namespace trainsim::config {

// Maps and lists inside one another, at most: the deepest shipped file nests 4.
inline constexpr int kMaxYamlDepth = 64;

// A regular file's bytes; a directory, device, FIFO or socket is refused before it is
// opened (a FIFO without a writer would block, /dev/zero never end).
[[nodiscard]] std::string read_text_file(const std::string& path);

// A YAML value that is not a file (a --set value): the same refusals as a file's
// (tags, nesting), errors at `origin` without a position ("malformed value: ...").
[[nodiscard]] YAML::Node load_yaml_value(const std::string& text, const std::string& origin);

// The file's one document, a map. `what` names the expected content in errors:
// "a cluster description" → "empty file; expected a cluster description".
[[nodiscard]] YAML::Node read_yaml_file(const std::string& file, const std::string& what);

}  // namespace trainsim::config
