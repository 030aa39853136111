#include "sim/calibrate/shape_expression.hpp"

#include <cctype>
#include <cstdlib>
#include <stdexcept>

namespace trainsim::calibrate {
namespace {

// Recursive descent: expr = term {(+|-) term}; term = factor {(*|/) factor};
// factor = number | name | ( expr ) | - factor.
struct ShapeParser {
  const std::string& text;
  const ShapeVariables& variables;
  std::size_t at = 0;

  void skip_spaces() {
    while (at < text.size() && std::isspace(static_cast<unsigned char>(text[at]))) ++at;
  }
  [[noreturn]] void fail(const std::string& why) const {
    throw std::invalid_argument(why + " at character " + std::to_string(at + 1) + " of \"" + text + "\"");
  }
  double expression() {
    double value = term();
    for (skip_spaces(); at < text.size() && (text[at] == '+' || text[at] == '-'); skip_spaces()) {
      const char op = text[at++];
      const double right = term();
      value = op == '+' ? value + right : value - right;
    }
    return value;
  }
  double term() {
    double value = factor();
    for (skip_spaces(); at < text.size() && (text[at] == '*' || text[at] == '/'); skip_spaces()) {
      const char op = text[at++];
      const double right = factor();
      if (op == '/' && right == 0) fail("division by zero");
      value = op == '*' ? value * right : value / right;
    }
    return value;
  }
  double factor() {
    skip_spaces();
    if (at >= text.size()) fail("expected a number, a name or (");
    const char c = text[at];
    if (c == '(') {
      ++at;
      const double value = expression();
      skip_spaces();
      if (at >= text.size() || text[at] != ')') fail("expected )");
      ++at;
      return value;
    }
    if (c == '-') {
      ++at;
      return -factor();
    }
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '.') {
      const char* begin = text.c_str() + at;
      char* end = nullptr;
      const double value = std::strtod(begin, &end);
      if (end == begin) fail("malformed number");
      at += static_cast<std::size_t>(end - begin);
      return value;
    }
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      const std::size_t start = at;
      while (at < text.size() && (std::isalnum(static_cast<unsigned char>(text[at])) || text[at] == '_')) ++at;
      const std::string name = text.substr(start, at - start);
      const auto it = variables.find(name);
      if (it == variables.end()) {
        std::string known;
        for (const auto& [n, v] : variables) known += (known.empty() ? "" : ", ") + n;
        at = start;
        fail("unknown name \"" + name + "\" (known: " + known + ")");
      }
      return it->second;
    }
    fail(std::string("unexpected '") + c + "'");
  }
};

}  // namespace

double evaluate_shape(const std::string& text, const ShapeVariables& variables) {
  ShapeParser parser{text, variables};
  const double value = parser.expression();
  parser.skip_spaces();
  if (parser.at != text.size()) parser.fail("unexpected text");
  return value;
}

}  // namespace trainsim::calibrate
