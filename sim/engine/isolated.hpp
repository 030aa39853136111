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

}  // namespace trainsim::engine
