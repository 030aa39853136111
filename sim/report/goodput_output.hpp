#pragma once
// The goodput block of `trainsim run` (a cluster with a `reliability:` section):
// JSON object, text block and CSV columns. The idealised figures stay beside it.
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "sim/reliability/goodput.hpp"

namespace trainsim {

[[nodiscard]] nlohmann::ordered_json goodput_json(const reliability::GoodputReport& g);
[[nodiscard]] std::string goodput_text(const reliability::GoodputReport& g);
// {header columns, row values}, each starting with a comma.
[[nodiscard]] std::pair<std::string, std::string> goodput_csv(const reliability::GoodputReport& g);

}  // namespace trainsim
