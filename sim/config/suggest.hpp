#pragma once
// "Did you mean ...?" for misspelt keys and enum values.
#include <string>
#include <string_view>
#include <vector>

namespace trainsim::config {

// Levenshtein distance with adjacent transpositions counted as one edit.
[[nodiscard]] size_t edit_distance(std::string_view a, std::string_view b);

// The candidate nearest to `word`, or "" when none is close enough to be a
// plausible misspelling (more than a third of the word's letters wrong).
[[nodiscard]] std::string nearest(std::string_view word, const std::vector<std::string>& candidates);

// `; did you mean "x"?` or, when nothing is close, `; valid keys: a, b, c`.
[[nodiscard]] std::string suggestion(std::string_view word, const std::vector<std::string>& candidates,
                                     std::string_view what = "valid keys");

// `expected one of a, b, c, got "w"` and `; did you mean "x"?` when one is close: for a
// name that must be one of a registry's (a fabric, a schedule, a collective, a routing
// kind). The suggestion is drawn from `spellings` when given (names and their aliases).
[[nodiscard]] std::string expected_one_of(std::string_view word, const std::vector<std::string>& names,
                                          const std::vector<std::string>& spellings = {});

}  // namespace trainsim::config
