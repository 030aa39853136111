#include "sim/studies/sweep.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "sim/config/error.hpp"

namespace trainsim::sweep {

namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

// Nesting a sweep row may have; a row of trainsim nests a few levels. flatten_into and
// the comparisons of merge_rows recurse once per level: a hostile row 100,000 deep
// overflowed the stack (SIGSEGV).
constexpr int kMaxRowDepth = 64;

// The byte offset (0-based) of the first '[' or '{' that opens level kMaxRowDepth + 1
// outside strings, or npos.
std::size_t too_deep_at(const std::string& line) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxRowDepth) return i;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return std::string::npos;
}

void flatten_into(const Row& value, ColumnPath& path, std::vector<Cell>& out) {
  for (const auto& [key, member] : value.items()) {
    path.push_back(key);
    if (member.is_object()) {
      flatten_into(member, path, out);
    } else if (member.is_string()) {
      out.push_back({path, member.get<std::string>()});
    } else if (member.is_null()) {
      out.push_back({path, ""});
    } else {
      out.push_back({path, member.dump()});  // numbers, booleans, arrays (compact JSON)
    }
    path.pop_back();
  }
}

std::string join_path(const ColumnPath& path) {
  std::string s;
  for (const auto& p : path) {
    if (!s.empty()) s += '.';
    s += p;
  }
  return s;
}

}  // namespace

std::vector<std::string> split_values(const std::string& text, const std::string& origin) {
  std::vector<std::string> values;
  std::string current;
  int depth = 0;
  char quote = 0;
  for (char c : text) {
    if (quote != 0) {
      if (c == quote) quote = 0;
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (--depth < 0) throw InputError({origin, 0, 0}, fmt::format("unbalanced '{}' in the value list", c));
    } else if (c == ',' && depth == 0) {
      values.push_back(current);
      current.clear();
      continue;
    }
    current += c;
  }
  if (quote != 0) throw InputError({origin, 0, 0}, fmt::format("unterminated {} quote in the value list", quote));
  if (depth != 0) throw InputError({origin, 0, 0}, "unbalanced '{' or '[' in the value list");
  values.push_back(current);
  for (auto& v : values) {
    v = trim(v);
    if (v.empty()) throw InputError({origin, 0, 0}, "empty value in the comma-separated list");
  }
  return values;
}

Plan parse_plan(const std::vector<std::string>& set_args) {
  Plan plan;
  std::set<std::string> keys;
  for (const auto& arg : set_args) {
    const std::string origin = "--set " + arg;
    const auto eq = arg.find('=');
    if (eq == std::string::npos) throw InputError({origin, 0, 0}, "expected key.path=value or key.path=v1,v2,...");
    SetEntry entry;
    entry.key = trim(arg.substr(0, eq));
    if (entry.key.empty()) throw InputError({origin, 0, 0}, "missing key path before '='");
    // Keys are unique: a later --set of the same key would silently override an axis.
    if (!keys.insert(entry.key).second) throw InputError({origin, 0, 0}, "key \"" + entry.key + "\" given twice");
    entry.values = split_values(arg.substr(eq + 1), origin);
    plan.sets.push_back(std::move(entry));
  }
  // The product is counted in floating point, so that it cannot wrap around (8 axes of 256 values wrapped to 0
  // points in size_t: an empty CSV and exit 0), and refused above kMaxPoints.
  double points = 1;
  std::string sizes;
  for (const auto& s : plan.sets) {
    points *= static_cast<double>(s.values.size());
    sizes += (sizes.empty() ? "" : " x ") + std::to_string(s.values.size());
  }
  if (points > kMaxPoints.active())
    throw InputError({"--set", 0, 0},
                     fmt::format("the sweep's axes have {} values = {:.6g} points, about {:.3g} CPU-days at {:.0f} s "
                                 "each; at most {:.0f} are run in one sweep: use fewer values or split the sweep{}",
                                 sizes, points, points * kSecondsPerPoint / 86400, kSecondsPerPoint,
                                 kMaxPoints.active(), size_limit_hint(kMaxPoints)));
  return plan;
}

void check_expected_points(long long expected) {
  if (static_cast<double>(expected) > kMaxPoints.active())
    throw InputError({"--expect-points", 0, 0}, fmt::format("{} is beyond the largest sweep ({:.0f} points){}", expected,
                                                            kMaxPoints.active(), size_limit_hint(kMaxPoints)));
}

std::size_t point_count(const Plan& plan) {
  std::size_t n = 1;
  for (const auto& s : plan.sets) n *= s.values.size();
  return n;
}

std::vector<std::size_t> point_coordinates(const Plan& plan, std::size_t point) {
  std::vector<std::size_t> coords(plan.sets.size(), 0);
  for (std::size_t i = plan.sets.size(); i-- > 0;) {
    const std::size_t n = plan.sets[i].values.size();
    coords[i] = point % n;
    point /= n;
  }
  return coords;
}

std::vector<std::string> point_set_args(const Plan& plan, std::size_t point) {
  const auto coords = point_coordinates(plan, point);
  std::vector<std::string> args;
  for (std::size_t i = 0; i < plan.sets.size(); ++i)
    args.push_back(plan.sets[i].key + "=" + plan.sets[i].values[coords[i]]);
  return args;
}

std::vector<std::string> all_set_args(const Plan& plan) {
  std::vector<std::string> args;
  for (const auto& s : plan.sets)
    for (const auto& v : s.values) args.push_back(s.key + "=" + v);
  return args;
}

Row make_row(const Plan& plan, std::size_t point, const std::string& error, const Row& result) {
  Row row;
  row["point"] = point;
  const auto coords = point_coordinates(plan, point);
  for (std::size_t i = 0; i < plan.sets.size(); ++i)
    if (plan.sets[i].is_axis()) row[plan.sets[i].key] = plan.sets[i].values[coords[i]];
  row["status"] = error.empty() ? "ok" : "error";
  row["error"] = error;
  if (result.is_object())
    for (const auto& [key, value] : result.items())
      if (!row.contains(key)) row[key] = value;
  return row;
}

bool row_failed(const Row& row) {
  const auto it = row.find("status");
  return it == row.end() || !it->is_string() || it->get<std::string>() != "ok";
}

std::vector<Cell> flatten(const Row& row) {
  std::vector<Cell> out;
  ColumnPath path;
  flatten_into(row, path, out);
  return out;
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  quoted += '"';
  return quoted;
}

std::string to_csv(const std::vector<Row>& rows) {
  // Columns are keyed by header: an axis typed "parallelism.pp" and the run's
  // parallelism.pp share one column, so no header appears twice (CSV readers keyed
  // by header would otherwise lose the axis value of failed rows).
  std::vector<std::string> headers;
  std::map<std::string, std::size_t> index;
  std::vector<std::vector<Cell>> flat;
  for (const auto& row : rows) {
    flat.push_back(flatten(row));
    for (const auto& cell : flat.back()) {
      const std::string header = join_path(cell.path);
      if (index.emplace(header, headers.size()).second) headers.push_back(header);
    }
  }
  std::string out;
  for (std::size_t c = 0; c < headers.size(); ++c) {
    if (c > 0) out += ',';
    out += csv_field(headers[c]);
  }
  out += '\n';
  for (const auto& cells : flat) {
    std::vector<std::string> line(headers.size());
    std::vector<bool> filled(headers.size(), false);
    for (const auto& cell : cells) {
      const std::size_t c = index.at(join_path(cell.path));
      if (filled[c]) continue;  // the first cell of a header wins: the axis value as typed
      filled[c] = true;
      line[c] = csv_field(cell.text);
    }
    for (std::size_t c = 0; c < line.size(); ++c) {
      if (c > 0) out += ',';
      out += line[c];
    }
    out += '\n';
  }
  return out;
}

std::string to_jsonl(const std::vector<Row>& rows) {
  std::string out;
  for (const auto& row : rows) {
    out += row.dump();
    out += '\n';
  }
  return out;
}

std::vector<Row> read_rows(const std::string& text, const std::string& file) {
  std::vector<Row> rows;
  std::istringstream in(text);
  std::string line;
  int line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (trim(line).empty()) continue;
    if (const std::size_t at = too_deep_at(line); at != std::string::npos)
      throw InputError({file, line_number, static_cast<int>(at + 1)},
                       fmt::format("JSON nested deeper than {} arrays and objects; not a sweep row", kMaxRowDepth));
    Row row;
    try {
      row = Row::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      throw InputError({file, line_number, static_cast<int>(std::max<std::size_t>(e.byte, 1))},
                       "not a JSON row of a sweep");
    } catch (const nlohmann::json::out_of_range& e) {
      // A number beyond a double (1e400): nlohmann quotes it in its message but gives no position.
      const std::string what = e.what();
      const std::size_t open = what.find('\''), close = what.rfind('\'');
      const std::string number = open < close ? what.substr(open + 1, close - open - 1) : "";
      const std::size_t at = number.empty() ? std::string::npos : line.find(number);
      throw InputError({file, line_number, at == std::string::npos ? 1 : static_cast<int>(at + 1)},
                       fmt::format("not a JSON row of a sweep: the number {} is beyond the range of a double", number));
    }
    if (!row.is_object() || !row.contains("point") || !row["point"].is_number_integer() ||
        row["point"].get<long long>() < 0)
      throw InputError({file, line_number, 1}, "expected a sweep row: a JSON object with a \"point\" index");
    // missing_points walks every index up to the largest: a row's claim of a huge one would allocate without bound.
    if (static_cast<double>(row["point"].get<long long>()) >= kMaxPoints.active())
      throw InputError({file, line_number, 1},
                       fmt::format("point {} is beyond the largest sweep ({:.0f} points){}", row["point"].get<long long>(),
                                   kMaxPoints.active(), size_limit_hint(kMaxPoints)));
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<Row> merge_rows(std::vector<Row> rows) {
  std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    return a["point"].get<long long>() < b["point"].get<long long>();
  });
  std::vector<Row> out;
  for (auto& row : rows) {
    if (!out.empty() && out.back()["point"] == row["point"]) {
      if (out.back() != row)
        throw InputError({}, fmt::format("point {} appears twice with different results",
                                         row["point"].get<long long>()));
      continue;
    }
    out.push_back(std::move(row));
  }
  return out;
}

std::vector<long long> missing_points(const std::vector<Row>& rows, long long expected) {
  std::set<long long> seen;
  for (const auto& row : rows) seen.insert(row["point"].get<long long>());
  const long long end = expected > 0 ? expected : (seen.empty() ? 0 : *seen.rbegin() + 1);
  std::vector<long long> missing;
  for (long long p = 0; p < end; ++p)
    if (!seen.count(p)) missing.push_back(p);
  return missing;
}

std::string shell_quote(const std::string& word) {
  std::string out = "'";
  for (char c : word) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  out += '\'';
  return out;
}

OutputFile open_output(const std::string& path) {
  if (path.empty()) return {};
  std::error_code ignored;  // a real failure shows when the temporary is created
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ignored);
  return OutputFile(path);
}

void write_output(OutputFile& out, const std::string& text) {
  if (out.is_open()) {
    out.commit(text);
    return;
  }
  std::cout << text << std::flush;
  if (!std::cout) throw OutputError("standard output", std::strerror(errno != 0 ? errno : EIO));
}

void write_output(const std::string& path, const std::string& text) {
  OutputFile out = open_output(path);
  write_output(out, text);
}

std::vector<Row> read_resumed_rows(const Plan& plan, const std::string& text, const std::string& file) {
  std::vector<Row> rows = read_rows(text, file);
  const std::size_t points = point_count(plan);
  for (const Row& row : rows) {
    const auto point = row["point"].get<long long>();
    if (static_cast<std::size_t>(point) >= points)
      throw InputError({file, 0, 0}, fmt::format("point {} is not a point of this sweep ({} points)", point, points));
    const Row expected = make_row(plan, static_cast<std::size_t>(point), "", Row());
    for (const auto& entry : plan.sets)
      if (entry.is_axis() && (!row.contains(entry.key) || row[entry.key] != expected[entry.key]))
        throw InputError({file, 0, 0}, fmt::format("point {} was run with another {}: not a row of this sweep",
                                                   point, entry.key));
  }
  return rows;
}

std::string point_file_name(std::size_t point, std::size_t points) {
  const std::size_t width = std::max<std::size_t>(6, fmt::format("{}", points > 0 ? points - 1 : 0).size());
  return fmt::format("point-{:0{}}.jsonl", point, width);
}

}  // namespace trainsim::sweep
