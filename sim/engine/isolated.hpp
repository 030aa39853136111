#pragma once
// SimGrid's engine can exist once per process, so a command that needs several
// independent simulations (the batch-ramp points of `trainsim run`) runs each in a
// forked child, as WRENCH does, and gets back a few numbers through a pipe.
#include <functional>
#include <vector>

namespace trainsim::engine {

// Runs `simulate` in a child process and returns what it returned. An exception
// in the child (InputError included) is rethrown here as InputError / runtime_error
// carrying its message. Must be called before this process creates its own simulator.
[[nodiscard]] std::vector<double> run_isolated(const std::function<std::vector<double>()>& simulate);

// The same for several simulations, up to `parallel` children at once; results in
// the order of `simulations` (so output does not depend on `parallel`).
[[nodiscard]] std::vector<std::vector<double>> run_isolated_all(
    const std::vector<std::function<std::vector<double>()>>& simulations, int parallel);

}  // namespace trainsim::engine
