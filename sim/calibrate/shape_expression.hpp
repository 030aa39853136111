#pragma once
// Shape expressions of recipes: numbers, variable names, + - * / and parentheses
// (`3*m*k`, `(m/2)*n`). Nothing else, so a recipe stays a listing, not a program.
#include <map>
#include <string>

namespace trainsim::calibrate {

using ShapeVariables = std::map<std::string, double>;

// The value of `text` with `variables`; std::invalid_argument (the reason) when
// it is malformed or names a variable not in `variables`.
[[nodiscard]] double evaluate_shape(const std::string& text, const ShapeVariables& variables);

}  // namespace trainsim::calibrate
