// trainsim: simulate large-model training steps on GPU clusters.
#include <cstdio>
#include <exception>
#include <iostream>
#include <string>

#include "sim/cli/commands.hpp"
#include "sim/config/error.hpp"
#include "sim/report/output_file.hpp"
#include "sim/run/process_pool.hpp"

int main(int argc, char** argv) {
  using namespace trainsim;
  CLI::App app{"trainsim: simulate a large-model training run on a GPU cluster, step by step"};
  // The version of project() in CMakeLists.txt, and the SimGrid it was built against.
  app.set_version_flag("--version", std::string("trainsim ") + TRAINSIM_VERSION + " (SimGrid " +
                                        TRAINSIM_SIMGRID_VERSION + ")");
  cli::Action action;
  cli::register_all(app, action);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // Bad flags are input errors too: one line, status 2.
    std::cerr << "trainsim: " << e.what() << " (see trainsim --help)\n";
    return 2;
  }
  try {
    return action ? action() : 2;
  } catch (const InputError& e) {
    std::cerr << e.what() << '\n';
    return 2;
  } catch (const OutputError& e) {
    std::cerr << e.what() << '\n';
    return kOutputErrorStatus;
  } catch (const Interrupted& e) {
    std::cerr << "trainsim: " << e.what() << '\n';
    return 128 + e.signal_number;
  } catch (const std::exception& e) {
    std::cerr << "trainsim: internal error: " << e.what() << '\n';
    return 3;
  }
}
