#include "sim/config/size_limits.hpp"

#include <fmt/format.h>

namespace trainsim {

namespace {
bool g_large_inputs_allowed = false;  // the process's --allow-large
}  // namespace

void allow_large_inputs(bool allow) { g_large_inputs_allowed = allow; }

bool large_inputs_allowed() { return g_large_inputs_allowed; }

std::string size_limit_hint(const SizeLimit& limit) {
  if (large_inputs_allowed()) return fmt::format(" (the bound even with {})", kAllowLargeFlag);
  return fmt::format("; {} lifts this limit (up to {:.0f})", kAllowLargeFlag, limit.lifted);
}

}  // namespace trainsim
