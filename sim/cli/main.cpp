// trainsim: simulate large-model training steps on GPU clusters.
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <iostream>
#include <string>

#include "sim/cli/commands.hpp"
#include "sim/config/error.hpp"
#include "sim/config/size_limits.hpp"
#include "sim/report/output_file.hpp"
#include "sim/run/process_pool.hpp"

namespace {

// Standard output through write(2), remembering why the first write failed: a full disk is a write
// error (status 4, like an --output file), not a silent success, and stdio would drop a failed
// buffer and its errno before the end of the command.
class StandardOutput : public std::streambuf {
 public:
  StandardOutput() { reset(); }
  [[nodiscard]] int error() const { return error_; }

 protected:
  int_type overflow(int_type c) override {
    if (!drain()) return traits_type::eof();
    if (traits_type::eq_int_type(c, traits_type::eof())) return traits_type::not_eof(c);
    *pptr() = traits_type::to_char_type(c);
    pbump(1);
    return c;
  }
  int sync() override { return drain() ? 0 : -1; }

 private:
  void reset() { setp(buffer_.data(), buffer_.data() + buffer_.size()); }
  bool drain() {
    for (const char* p = pbase(); p < pptr();) {
      const ssize_t n = ::write(STDOUT_FILENO, p, static_cast<std::size_t>(pptr() - p));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        if (error_ == 0) error_ = n < 0 ? errno : EIO;
        reset();
        return false;
      }
      p += n;
    }
    reset();
    return error_ == 0;
  }
  std::array<char, 1 << 16> buffer_{};
  int error_ = 0;
};

int run_command(int argc, char** argv) {
  using namespace trainsim;
  CLI::App app{"trainsim: simulate a large-model training run on a GPU cluster, step by step"};
  // The version of project() in CMakeLists.txt, and the SimGrid it was built against.
  app.set_version_flag("--version", std::string("trainsim ") + TRAINSIM_VERSION + " (SimGrid " +
                                        TRAINSIM_SIMGRID_VERSION + ")");
  cli::Action action;
  bool allow_large = false;
  cli::register_all(app, action, allow_large);
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
  allow_large_inputs(allow_large);
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

}  // namespace

int main(int argc, char** argv) {
  StandardOutput out;
  std::streambuf* const stdio = std::cout.rdbuf(&out);
  if (isatty(STDOUT_FILENO) != 0) std::cout.setf(std::ios::unitbuf);  // a terminal sees each line as it comes
  const int status = run_command(argc, argv);
  std::cout.flush();
  std::cout.rdbuf(stdio);
  if (out.error() == 0) return status;
  std::cerr << trainsim::OutputError("standard output", std::strerror(out.error())).what() << '\n';
  return status == 0 || status == 1 ? trainsim::kOutputErrorStatus : status;
}
