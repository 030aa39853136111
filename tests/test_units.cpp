#include <catch2/catch.hpp>
#include <stdexcept>
#include <string>

#include "sim/config/units.hpp"

namespace test_units {

using namespace trainsim::units;

namespace {
// The message of the std::invalid_argument a parser throws, or "" when it does not throw.
template <class F>
std::string error_of(F&& parse, const char* text) {
  try {
    (void)parse(text);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}
Approx exactly(double v) { return Approx(v).epsilon(1e-14); }  // one or two ulps of decimal rounding
}  // namespace

TEST_CASE("Bandwidth: bits vs bytes, decimal vs binary prefixes", "[config][units]") {
  CHECK(bandwidth_bytes_per_s("400Gbps") == exactly(50e9));
  CHECK(bandwidth_bytes_per_s("400Gb/s") == exactly(50e9));
  CHECK(bandwidth_bytes_per_s("50GB/s") == exactly(50e9));
  CHECK(bandwidth_bytes_per_s("3.35TB/s") == exactly(3.35e12));
  CHECK(bandwidth_bytes_per_s("100Mbps") == exactly(12.5e6));
  CHECK(bandwidth_bytes_per_s("8bps") == exactly(1));
  CHECK(bandwidth_bytes_per_s("1Kbps") == exactly(125));
  CHECK(bandwidth_bytes_per_s("1.6Tbps") == exactly(200e9));
  CHECK(bandwidth_bytes_per_s("1KB/s") == exactly(1000));
  CHECK(bandwidth_bytes_per_s("1MB/s") == exactly(1e6));
  CHECK(bandwidth_bytes_per_s("1KiB/s") == exactly(1024));
  CHECK(bandwidth_bytes_per_s("1GiB/s") == exactly(1073741824.0));
  CHECK(bandwidth_bytes_per_s("2TiB/s") == exactly(2.0 * 1099511627776.0));
  CHECK(bandwidth_bytes_per_s(" 200GB/s ") == exactly(200e9));
  CHECK(bandwidth_bytes_per_s("2e11B/s") == exactly(2e11));  // base unit with exponent (for writing back values)
  // GB and GiB differ by 7.4%: kept apart.
  CHECK(bandwidth_bytes_per_s("1GiB/s") / bandwidth_bytes_per_s("1GB/s") == exactly(1.073741824));
}

TEST_CASE("Bandwidth: rejections say what was expected", "[config][units]") {
  CHECK(error_of(bandwidth_bytes_per_s, "400") ==
        "expected a bandwidth such as 400Gbps or 50GB/s, got \"400\" (a unit is required)");
  CHECK(error_of(bandwidth_bytes_per_s, "400GW") ==
        "expected a bandwidth such as 400Gbps or 50GB/s, got \"400GW\" (unknown unit \"GW\")");
  CHECK(error_of(bandwidth_bytes_per_s, "-1GB/s") ==
        "expected a bandwidth such as 400Gbps or 50GB/s, got \"-1GB/s\" (negative)");
  CHECK(error_of(bandwidth_bytes_per_s, "1e999GB/s") ==
        "expected a bandwidth such as 400Gbps or 50GB/s, got \"1e999GB/s\" (not a finite number)");
  CHECK_FALSE(error_of(bandwidth_bytes_per_s, "nan").empty());
  CHECK_FALSE(error_of(bandwidth_bytes_per_s, "infGB/s").empty());
  CHECK_FALSE(error_of(bandwidth_bytes_per_s, "").empty());
  CHECK_FALSE(error_of(bandwidth_bytes_per_s, "GB/s").empty());
  CHECK_FALSE(error_of(bandwidth_bytes_per_s, "50GBps").empty());  // not a spelling we accept
  CHECK_FALSE(error_of(bandwidth_bytes_per_s, "50gb/s").empty());  // case matters: b is bits, B bytes
  CHECK_FALSE(error_of(bandwidth_bytes_per_s, "0x10GB/s").empty());
}

TEST_CASE("Time units", "[config][units]") {
  CHECK(time_s("2.8us") == exactly(2.8e-6));
  CHECK(time_s("1ms") == exactly(1e-3));
  CHECK(time_s("500ns") == exactly(5e-7));
  CHECK(time_s("1s") == exactly(1));
  CHECK(time_s("0us") == 0);
  CHECK(time_s("4e-6s") == exactly(4e-6));
  CHECK(error_of(time_s, "1") == "expected a time such as 2.8us, 1ms or 500ns, got \"1\" (a unit is required)");
  CHECK(error_of(time_s, "-1us") == "expected a time such as 2.8us, 1ms or 500ns, got \"-1us\" (negative)");
  CHECK_FALSE(error_of(time_s, "1GB").empty());
  CHECK_FALSE(error_of(time_s, "1 lightyear").empty());
}

TEST_CASE("Memory units: GB is 1e9, GiB is 2^30", "[config][units]") {
  CHECK(memory_bytes("80GB") == exactly(80e9));
  CHECK(memory_bytes("80GiB") == exactly(80.0 * 1073741824.0));
  CHECK(memory_bytes("512MiB") == exactly(512.0 * 1048576.0));
  CHECK(memory_bytes("1KiB") == exactly(1024));
  CHECK(memory_bytes("1KB") == exactly(1000));
  CHECK(memory_bytes("1024B") == exactly(1024));
  CHECK(memory_bytes("1TB") == exactly(1e12));
  CHECK(memory_bytes("1TiB") == exactly(1099511627776.0));
  CHECK(error_of(memory_bytes, "80Gb") ==
        "expected a memory size such as 80GB or 80GiB, got \"80Gb\" (unknown unit \"Gb\")");
  CHECK(error_of(memory_bytes, "80") == "expected a memory size such as 80GB or 80GiB, got \"80\" (a unit is required)");
  CHECK_FALSE(error_of(memory_bytes, "-80GB").empty());
}

TEST_CASE("Power units", "[config][units]") {
  CHECK(power_w("700W") == exactly(700));
  CHECK(power_w("1.2kW") == exactly(1200));
  CHECK(power_w("3MW") == exactly(3e6));
  CHECK(error_of(power_w, "700") == "expected a power such as 700W or 1.2kW, got \"700\" (a unit is required)");
  CHECK_FALSE(error_of(power_w, "700w").empty());
  CHECK_FALSE(error_of(power_w, "-5W").empty());
}

TEST_CASE("Token counts: plain integers or K/M/B/T powers of 1000", "[config][units]") {
  CHECK(token_count("14.8T") == 14.8e12);  // rounded to a whole count: exact
  CHECK(token_count("469B") == 469e9);
  CHECK(token_count("4K") == 4000);
  CHECK(token_count("2.5M") == 2.5e6);
  CHECK(token_count("4096") == 4096);
  CHECK(token_count("0") == 0);
  CHECK(error_of(token_count, "1.5") ==
        "expected a token count such as 14.8T, 469B or 4096, got \"1.5\" (not a whole number)");
  CHECK(error_of(token_count, "14.8Q") ==
        "expected a token count such as 14.8T, 469B or 4096, got \"14.8Q\" (unknown unit \"Q\")");
  CHECK_FALSE(error_of(token_count, "-1T").empty());
  CHECK_FALSE(error_of(token_count, "1Ti").empty());
}

TEST_CASE("FLOP/s and plain numbers", "[config][units]") {
  CHECK(flops_per_s("989.4TFLOPS") == exactly(989.4e12));
  CHECK(flops_per_s("1.9PFLOPS") == exactly(1.9e15));
  CHECK(flops_per_s("1TFLOP/s") == exactly(1e12));
  CHECK(flops_per_s("5GFLOPS") == exactly(5e9));
  CHECK(error_of(flops_per_s, "989.4") ==
        "expected a compute rate such as 989.4TFLOPS, got \"989.4\" (a unit is required)");
  CHECK(plain_number("0.61") == exactly(0.61));
  CHECK(plain_number("1e-3") == exactly(1e-3));
  CHECK(plain_number("-2") == -2);
  CHECK(error_of(plain_number, "nan") == "expected a number, got \"nan\"");
  CHECK(error_of(plain_number, ".inf") == "expected a number, got \".inf\"");
  CHECK(error_of(plain_number, "1e999") == "expected a number, got \"1e999\" (not a finite number)");
  CHECK_FALSE(error_of(plain_number, "1GB").empty());
  CHECK_FALSE(error_of(plain_number, "").empty());
}

TEST_CASE("Peak TFLOP/s and integer counts", "[config][units]") {
  CHECK(peak_tflops("989.4") == exactly(989.4e12));
  CHECK(peak_tflops("1.9PFLOPS") == exactly(1.9e15));
  CHECK(error_of(peak_tflops, "1e300") ==
        "expected a compute rate such as 989.4TFLOPS, got \"1e300\" (not a finite number)");
  CHECK(integer_count("8") == 8);
  CHECK(integer_count("-1") == -1);
  CHECK(error_of(integer_count, "8.0") == "expected an integer, got \"8.0\"");
  CHECK(error_of(integer_count, "1e3") == "expected an integer, got \"1e3\"");
  CHECK(error_of(integer_count, "") == "expected an integer, got \"\"");
}

}  // namespace test_units
