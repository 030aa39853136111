#pragma once
// Quantities with units, as written in the YAML files and --set values.
// Decimal prefixes are powers of 1000 (GB, Gbps, TB/s); binary prefixes are
// powers of 1024 (GiB). Bits (bps) and bytes (B/s) are kept apart. A plain
// number where a unit is required is an error. Each parser throws
// std::invalid_argument with a message that says what was expected.
#include <string_view>

namespace trainsim::units {

[[nodiscard]] double bandwidth_bytes_per_s(std::string_view text);  // "400Gbps", "50GB/s", "3.35TB/s"
[[nodiscard]] double time_s(std::string_view text);                 // "2.8us", "1ms", "500ns", "1s"
[[nodiscard]] double memory_bytes(std::string_view text);           // "80GB", "80GiB", "512MiB", "1024B"
[[nodiscard]] double power_w(std::string_view text);                // "700W", "1.2kW"
[[nodiscard]] double token_count(std::string_view text);            // "14.8T", "469B", "4K", "4096"
[[nodiscard]] double flops_per_s(std::string_view text);            // "989.4TFLOPS", "1.9PFLOPS"
[[nodiscard]] double plain_number(std::string_view text);           // "0.61", "1e-3" (finite only)
[[nodiscard]] double peak_tflops(std::string_view text);            // "989.4" (TFLOP/s) or "989.4TFLOPS"
[[nodiscard]] double integer_count(std::string_view text);          // "8", "-1": digits only, no "8.0" or "1e3"

}  // namespace trainsim::units
