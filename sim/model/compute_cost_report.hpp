#pragma once
// Text and JSON views of a ModelCost, used by `trainsim inspect`.
#include <string>

#include <nlohmann/json.hpp>

#include "sim/config/spec.hpp"
#include "sim/model/cost_model.hpp"

namespace trainsim {

// One object: workload name, parameter and FLOP totals, the all-to-all payloads
// per token, and `layers` (per layer sums and per-op detail, per micro-batch).
[[nodiscard]] nlohmann::json cost_to_json(const ModelCost& cost, const WorkloadSpec& workload);

// A per-layer table (identical consecutive layers collapsed into one row that
// shows one layer's figures) followed by the totals.
[[nodiscard]] std::string cost_to_text(const ModelCost& cost, const WorkloadSpec& workload);

}  // namespace trainsim
