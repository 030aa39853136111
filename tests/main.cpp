// Catch2 v2 entry point; each TEST_CASE runs in its own process under CTest
// (catch_discover_tests), which SimGrid needs.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
