// Unit parsing: a number followed by a unit suffix, both required where the
// quantity has a unit. Decimal prefixes are powers of 1000, binary (Ki, Mi, ...)
// powers of 1024; bits (b, bps) and bytes (B, B/s) are distinct.
#include "sim/config/units.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace trainsim::units {
namespace {

struct Suffix {
  std::string_view text;
  double scale;  // multiplier to the base unit
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Splits "3.35TB/s" into the number 3.35 and the rest "TB/s". The number is a
// plain decimal with optional sign and exponent; "nan", "inf" and hex are not
// numbers here. Returns false when no number starts the text.
bool split_number(std::string_view s, double& number, std::string_view& rest) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  size_t digits = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
  }
  if (digits == 0) return false;
  // An exponent only when digits follow, so "1e" stays "1" + unit "e" (an error later).
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    size_t j = i + 1;
    if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
    if (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) {
      while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
      i = j;
    }
  }
  const std::string num(s.substr(0, i));
  number = std::strtod(num.c_str(), nullptr);
  rest = trim(s.substr(i));
  return true;
}

[[noreturn]] void fail(std::string_view expected, std::string_view text, std::string_view why = {}) {
  std::string msg = "expected " + std::string(expected) + ", got \"" + std::string(text) + "\"";
  if (!why.empty()) msg += " (" + std::string(why) + ")";
  throw std::invalid_argument(msg);
}

// Number + one of the suffixes (exact, case-sensitive). `unit_optional` accepts a
// bare number at scale 1 (token counts).
double parse_with_suffix(std::string_view raw, const std::vector<Suffix>& suffixes, std::string_view expected,
                         bool unit_optional = false) {
  const std::string_view text = trim(raw);
  double number = 0;
  std::string_view rest;
  if (!split_number(text, number, rest)) fail(expected, text);
  double scale = 0;
  if (rest.empty()) {
    if (!unit_optional) fail(expected, text, "a unit is required");
    scale = 1;
  } else {
    for (const auto& s : suffixes)
      if (s.text == rest) scale = s.scale;
    if (scale == 0) fail(expected, text, "unknown unit \"" + std::string(rest) + "\"");
  }
  const double value = number * scale;
  if (!std::isfinite(value)) fail(expected, text, "not a finite number");
  if (value < 0) fail(expected, text, "negative");
  return value;
}

constexpr double kilo = 1e3, mega = 1e6, giga = 1e9, tera = 1e12, peta = 1e15, exa = 1e18;
constexpr double kibi = 1024.0, mebi = kibi * 1024, gibi = mebi * 1024, tebi = gibi * 1024, pebi = tebi * 1024;

}  // namespace

double bandwidth_bytes_per_s(std::string_view text) {
  static const std::vector<Suffix> suffixes = {
      // bits per second (network convention), / 8 to bytes
      {"bps", 1.0 / 8}, {"Kbps", kilo / 8}, {"kbps", kilo / 8}, {"Mbps", mega / 8}, {"Gbps", giga / 8},
      {"Tbps", tera / 8}, {"b/s", 1.0 / 8}, {"Kb/s", kilo / 8}, {"kb/s", kilo / 8}, {"Mb/s", mega / 8},
      {"Gb/s", giga / 8}, {"Tb/s", tera / 8},
      // bytes per second, decimal
      {"B/s", 1}, {"KB/s", kilo}, {"kB/s", kilo}, {"MB/s", mega}, {"GB/s", giga}, {"TB/s", tera}, {"PB/s", peta},
      // bytes per second, binary
      {"KiB/s", kibi}, {"MiB/s", mebi}, {"GiB/s", gibi}, {"TiB/s", tebi}, {"PiB/s", pebi}};
  return parse_with_suffix(text, suffixes, "a bandwidth such as 400Gbps or 50GB/s");
}

double time_s(std::string_view text) {
  static const std::vector<Suffix> suffixes = {
      {"ns", 1e-9}, {"us", 1e-6}, {"\xC2\xB5s", 1e-6}, {"ms", 1e-3}, {"s", 1}, {"min", 60}, {"h", 3600}};
  return parse_with_suffix(text, suffixes, "a time such as 2.8us, 1ms or 500ns");
}

double memory_bytes(std::string_view text) {
  static const std::vector<Suffix> suffixes = {
      {"B", 1},       {"KB", kilo},    {"kB", kilo},    {"MB", mega},    {"GB", giga},    {"TB", tera},
      {"PB", peta},   {"KiB", kibi},   {"MiB", mebi},   {"GiB", gibi},   {"TiB", tebi},   {"PiB", pebi}};
  return parse_with_suffix(text, suffixes, "a memory size such as 80GB or 80GiB");
}

double power_w(std::string_view text) {
  static const std::vector<Suffix> suffixes = {{"W", 1}, {"kW", kilo}, {"KW", kilo}, {"MW", mega}};
  return parse_with_suffix(text, suffixes, "a power such as 700W or 1.2kW");
}

double token_count(std::string_view text) {
  static const std::vector<Suffix> suffixes = {{"K", kilo}, {"k", kilo}, {"M", mega}, {"B", giga}, {"T", tera}};
  constexpr std::string_view expected = "a token count such as 14.8T, 469B or 4096";
  const double value = parse_with_suffix(text, suffixes, expected, /*unit_optional=*/true);
  // 14.8 * 1e12 is not exactly an integer in binary floating point: round, but
  // refuse a count that is fractional by more than rounding noise.
  const double whole = std::round(value);
  if (std::abs(value - whole) > 1e-9 * std::max(1.0, whole)) fail(expected, trim(text), "not a whole number");
  return whole;
}

double flops_per_s(std::string_view text) {
  static const std::vector<Suffix> suffixes = {
      {"FLOPS", 1},       {"FLOP/s", 1},       {"KFLOPS", kilo}, {"KFLOP/s", kilo}, {"MFLOPS", mega},
      {"MFLOP/s", mega},  {"GFLOPS", giga},    {"GFLOP/s", giga}, {"TFLOPS", tera}, {"TFLOP/s", tera},
      {"PFLOPS", peta},   {"PFLOP/s", peta},   {"EFLOPS", exa},  {"EFLOP/s", exa}};
  return parse_with_suffix(text, suffixes, "a compute rate such as 989.4TFLOPS");
}

double plain_number(std::string_view raw) {
  const std::string_view text = trim(raw);
  double number = 0;
  std::string_view rest;
  if (!split_number(text, number, rest) || !rest.empty()) fail("a number", text);
  if (!std::isfinite(number)) fail("a number", text, "not a finite number");
  return number;
}

// peak_tflops entries: a plain number in TFLOP/s, or a rate with its unit.
double peak_tflops(std::string_view text) {
  const bool has_unit = std::any_of(text.begin(), text.end(), [](char c) { return c == 'F' || c == '/'; });
  if (has_unit) return flops_per_s(text);
  const double flops = plain_number(text) * 1e12;
  // plain_number checked the number, not its product (1e300 TFLOP/s; found by tests/fuzz).
  if (!std::isfinite(flops))
    throw std::invalid_argument("expected a compute rate such as 989.4TFLOPS, got \"" + std::string(text) +
                                "\" (not a finite number)");
  return flops;
}

double integer_count(std::string_view text) {
  size_t i = (!text.empty() && (text[0] == '-' || text[0] == '+')) ? 1 : 0;
  bool ok = i < text.size();
  for (size_t j = i; j < text.size(); ++j) ok = ok && text[j] >= '0' && text[j] <= '9';
  if (!ok) throw std::invalid_argument("expected an integer, got \"" + std::string(text) + "\"");
  // Digits past any count's range (2^63 and beyond) are a number all the same, so that the
  // key's range check says it is out of range; strtod gives inf, not an exception, past 1e308.
  return std::strtod(std::string(text).c_str(), nullptr);
}

}  // namespace trainsim::units
