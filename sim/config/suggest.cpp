#include "sim/config/suggest.hpp"

#include <algorithm>
#include <cctype>

namespace trainsim::config {

size_t edit_distance(std::string_view a, std::string_view b) {
  // Optimal string alignment distance, case-insensitive.
  const auto lower = [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); };
  const size_t n = a.size(), m = b.size();
  std::vector<std::vector<size_t>> d(n + 1, std::vector<size_t>(m + 1, 0));
  for (size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (size_t i = 1; i <= n; ++i) {
    for (size_t j = 1; j <= m; ++j) {
      const size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) && lower(a[i - 2]) == lower(b[j - 1]))
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[n][m];
}

std::string nearest(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = 0;
  for (const auto& c : candidates) {  // first of equals wins: candidates are in schema order
    const size_t dist = edit_distance(word, c);
    if (best.empty() || dist < best_distance) best = c, best_distance = dist;
  }
  const size_t allowed = std::max<size_t>(2, word.size() / 3);
  return best_distance <= allowed ? best : std::string();
}

std::string suggestion(std::string_view word, const std::vector<std::string>& candidates, std::string_view what) {
  const std::string near = nearest(word, candidates);
  if (!near.empty()) return "; did you mean \"" + near + "\"?";
  std::string list;
  for (const auto& c : candidates) list += (list.empty() ? "" : ", ") + c;
  return "; " + std::string(what) + ": " + list;
}

std::string expected_one_of(std::string_view word, const std::vector<std::string>& names,
                            const std::vector<std::string>& spellings) {
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  const std::string near = nearest(word, spellings.empty() ? names : spellings);
  return "expected one of " + list + ", got \"" + std::string(word) + "\"" +
         (near.empty() ? "" : "; did you mean \"" + near + "\"?");
}

}  // namespace trainsim::config
