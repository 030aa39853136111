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

// Takes the `gpu.calibration.CLASS` overrides out of `overrides` (a calibration names its
// classes, so the key table cannot list them) and reads each value: a positive number or
// {value, low, high}. A class given twice is refused by parse_overrides.
[[nodiscard]] std::vector<CalibrationMultiplier> take_calibration_multipliers(std::vector<Override>& overrides);

}  // namespace trainsim::config
