#include <catch2/catch.hpp>

#include "sim/config/spec.hpp"

namespace test_smoke {

TEST_CASE("ClusterSpec counts GPUs as nodes x gpus per node", "[config]") {
  trainsim::ClusterSpec c;
  c.nodes = 256;
  c.node.gpus = 8;
  REQUIRE(c.num_gpus() == 2048);
}

}  // namespace test_smoke
