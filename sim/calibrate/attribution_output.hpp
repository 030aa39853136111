#pragma once
// `trainsim calibrate`'s output: the attribution of a trace as text tables
// (per phase, mean per layer and per layer; per phase and class; per class; per
// stream; what no class or no phase matched) or as one JSON object. Times in µs.
#include <nlohmann/json.hpp>
#include <ostream>

#include "sim/calibrate/kernel_attribution.hpp"

namespace trainsim::calibrate {

void write_attribution_text(std::ostream& out, const TraceAttribution& a);
[[nodiscard]] nlohmann::ordered_json attribution_json(const TraceAttribution& a);

}  // namespace trainsim::calibrate
