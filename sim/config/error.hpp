#pragma once
// Input errors: everything a user can get wrong in a file, a flag or a --set.
// Printed as one line `FILE:LINE:COL: message`; the CLI exits with status 2.
#include <stdexcept>
#include <string>

namespace trainsim {

struct SourceMark {
  std::string file;  // a path, or `--set key=value` for an override
  int line = 0;      // 1-based; 0 when unknown
  int column = 0;    // 1-based; 0 when unknown
};

class InputError : public std::runtime_error {
 public:
  InputError(SourceMark mark, const std::string& message)
      : std::runtime_error(format(mark, message)), mark_(std::move(mark)), message_(message) {}
  [[nodiscard]] const SourceMark& mark() const { return mark_; }
  [[nodiscard]] const std::string& message() const { return message_; }

 private:
  static std::string format(const SourceMark& m, const std::string& msg) {
    if (m.file.empty()) return msg;
    if (m.line <= 0) return m.file + ": " + msg;
    return m.file + ":" + std::to_string(m.line) + ":" + std::to_string(m.column) + ": " + msg;
  }
  SourceMark mark_;
  std::string message_;
};

}  // namespace trainsim
