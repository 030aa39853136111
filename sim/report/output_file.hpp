#pragma once
// The one way trainsim writes an output file (--output, --trace, --csv, --plot,
// calibrate --write, sweep --emit-jobs and its partial rows): a regular file (or a new
// one) is written to a unique temporary beside it (mkstemp), flushed, closed and renamed
// over the path only when the command succeeded, so a reader never sees half a file and
// a failed command leaves no new file and an existing one untouched. A path that exists
// and is not a regular file (a character device such as /dev/null, a FIFO, /dev/stdout,
// any symbolic link) is written in place and never replaced. Every write or close error
// is an OutputError. The temporaries are removed on every error path, and by a SIGINT /
// SIGTERM handler while they exist.
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace trainsim {

// "trainsim: cannot write PATH: REASON" (strerror); the CLI exits with status 4.
class OutputError : public std::runtime_error {
 public:
  OutputError(const std::string& path, const std::string& reason)
      : std::runtime_error("trainsim: cannot write " + path + ": " + reason) {}
};
inline constexpr int kOutputErrorStatus = 4;

// An output named on the command line: the flag that named it and its path.
struct NamedPath {
  std::string flag;  // "--output", "--trace", ...
  std::string path;
};

// Refuses (InputError, exit 2) an output that is the same file as an input or as
// another output (same st_dev and st_ino, so links and ./a vs a count). Empty paths
// and paths that do not exist yet are skipped.
void refuse_outputs_over_inputs(const std::vector<NamedPath>& outputs, const std::vector<NamedPath>& inputs);

class OutputFile {
 public:
  OutputFile() = default;
  // Checks now that `path` can be written, so that a bad path fails before the work:
  // creates the temporary beside a regular or new file (InputError when that fails:
  // no such directory, no permission, a directory). Empty path: nothing (commit is a no-op).
  explicit OutputFile(std::string path);
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;
  OutputFile(OutputFile&& other) noexcept { *this = std::move(other); }
  OutputFile& operator=(OutputFile&& other) noexcept;
  ~OutputFile();  // not committed: the temporary is removed, the path untouched

  // Writes `text` and makes it the file (rename of the temporary; in place for a
  // device, FIFO or link). Throws OutputError on any write, close or rename error
  // (the temporary is removed, the path untouched).
  void commit(std::string_view text);

  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] bool is_open() const { return !path_.empty(); }

 private:
  void discard() noexcept;
  std::string path_;
  std::string temporary_;  // empty: written in place
  int fd_ = -1;            // the temporary's descriptor
  int slot_ = -1;          // its entry in the signal handler's list
};

// One-shot: OutputFile(path).commit(text).
void write_output_file(const std::string& path, std::string_view text);

}  // namespace trainsim
