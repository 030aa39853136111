// engine::refuse_simulations, for the fuzz targets that run commands without their
// simulation (tests/fuzz/README.md). Refusal is for the whole process, and CTest
// runs each TEST_CASE in its own process, so the case below is the only one it
// affects.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "sim/config/load.hpp"
#include "sim/engine/platform.hpp"
#include "sim/run/inputs.hpp"
#include "sim/run/process_pool.hpp"
#include "sim/run/simulate_run.hpp"
#include "tests/support.hpp"

namespace test_simulation_refusal {

using namespace trainsim;

TEST_CASE("simulation refusal: no engine and no child process once refused", "[engine][fuzz]") {
  REQUIRE_FALSE(engine::simulations_refused());
  engine::refuse_simulations();
  REQUIRE(engine::simulations_refused());
  // The engine is not created...
  REQUIRE_THROWS_AS(engine::Simulator::create(trainsim::test::h800_like_cluster(2, "multi-plane-fat-tree")),
                    engine::SimulationRefused);
  REQUIRE_FALSE(engine::Simulator::exists());
  // ...and no child process is started (sweeps, ramp points, claims, validation all fork first).
  const std::vector<Job> jobs = {[] { return std::string("ran"); }};
  REQUIRE_THROWS_AS(run_in_children(jobs, 1), engine::SimulationRefused);
  REQUIRE_THROWS_AS(run_isolated([] { return std::vector<double>{1.0}; }), engine::SimulationRefused);
  // ...and a run stops before it builds its step (the default case's takes seconds).
  const Inputs in = load_inputs(default_cluster_path(), default_workload_path(), {});
  RunRequest request;
  request.ramp_points = 0;
  REQUIRE_THROWS_AS(simulate_run(in.cluster, in.workload, request), engine::SimulationRefused);
  REQUIRE_THROWS_AS(simulate_step(in.cluster, in.workload, request), engine::SimulationRefused);
}

}  // namespace test_simulation_refusal
