// libFuzzer target for validation case files (tests/validation/*.yaml, `trainsim
// validate FILE`): the input is one case file. It is loaded and computed by
// run_cases; the cases computed without a simulation (pipeline bubbles, switch and
// link counts) give their number, the simulated ones stop where their child
// process would start (engine::refuse_simulations: one SimGrid engine per process,
// and none in a fuzzer). Then both outputs are written. InputError is the expected
// answer to bad input; see fuzz_cluster_yaml.cpp for what is a finding; an accepted
// case's predicted value is finite.
#include <cmath>
#include <cstdint>
#include <vector>

#include "sim/engine/platform.hpp"
#include "sim/studies/validation.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace trainsim;
  static fuzz::MemoryFile file;
  static const bool refused = (engine::refuse_simulations(), fuzz::enter_source_dir(), true);
  (void)refused;
  try {
    const ValidationCase validation_case = load_case(file.write(data, size));
    RunRequest request;
    request.jobs = 1;
    const std::vector<CaseResult> results = run_cases({validation_case}, request);
    for (const CaseResult& r : results)
      if (!std::isfinite(r.predicted) || !std::isfinite(r.relative_error))
        fuzz::violated("validation case computed a non-finite value");
    (void)validation_text(results);
    (void)validation_json(results).dump();
  } catch (const InputError&) {
    // bad input, refused with a message: the expected outcome
  } catch (const engine::SimulationRefused&) {
    // a valid simulated case, stopped before its simulation
  }
  return 0;
}
