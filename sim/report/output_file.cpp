#include "sim/report/output_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>

#include "sim/config/error.hpp"

namespace trainsim {

namespace {

// The temporaries that exist now, for the signal handler: fixed storage, because a
// handler may only call async-signal-safe functions (unlink, signal, raise).
constexpr std::size_t kSlots = 16, kSlotBytes = 4096;
std::array<std::array<char, kSlotBytes>, kSlots> g_temporaries{};
std::array<volatile sig_atomic_t, kSlots> g_slot_used{};
bool g_handler_installed = false;

extern "C" void remove_temporaries_and_die(int signal_number) {
  for (std::size_t i = 0; i < kSlots; ++i)
    if (g_slot_used[i] != 0) ::unlink(g_temporaries[i].data());
  std::signal(signal_number, SIG_DFL);
  std::raise(signal_number);
}

// Installed once, for SIGINT and SIGTERM, where they have their default action (an
// ignored signal stays ignored; a handler of someone else is left alone).
void install_handler_once() {
  if (g_handler_installed) return;
  g_handler_installed = true;
  for (const int s : {SIGINT, SIGTERM}) {
    struct sigaction current {};
    if (::sigaction(s, nullptr, &current) != 0 || current.sa_handler != SIG_DFL) continue;
    struct sigaction action {};
    action.sa_handler = remove_temporaries_and_die;
    sigemptyset(&action.sa_mask);
    ::sigaction(s, &action, nullptr);
  }
}

int register_temporary(const std::string& path) {
  install_handler_once();
  if (path.size() >= kSlotBytes) return -1;
  for (std::size_t i = 0; i < kSlots; ++i) {
    if (g_slot_used[i] != 0) continue;
    std::memcpy(g_temporaries[i].data(), path.c_str(), path.size() + 1);
    g_slot_used[i] = 1;
    return static_cast<int>(i);
  }
  return -1;  // more than kSlots at once: removed by the destructor only
}

std::string error_text(int error_number) { return std::strerror(error_number); }

bool write_all(int fd, std::string_view text, int& error_number) {
  const char* p = text.data();
  std::size_t left = text.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error_number = n < 0 ? errno : EIO;
      return false;
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  return true;
}

mode_t new_file_mode() {
  const mode_t mask = ::umask(0);
  ::umask(mask);
  return static_cast<mode_t>(0666 & ~mask);
}

}  // namespace

void refuse_outputs_over_inputs(const std::vector<NamedPath>& outputs, const std::vector<NamedPath>& inputs) {
  struct Seen {
    const NamedPath* named;
    struct stat st;
    bool output;
  };
  std::vector<Seen> seen;
  // Inputs first, so that an output is named against the input it would overwrite.
  for (const NamedPath& input : inputs) {
    struct stat st {};
    if (!input.path.empty() && ::stat(input.path.c_str(), &st) == 0 && S_ISREG(st.st_mode))
      seen.push_back({&input, st, false});
  }
  const auto refuse = [](const NamedPath& output, const NamedPath& earlier, bool earlier_is_output) {
    throw InputError({output.path, 0, 0}, output.flag + " is the same file as the " +
                                              (earlier_is_output ? "output " : "input ") + earlier.path + " (" +
                                              earlier.flag + "); refusing to overwrite it");
  };
  std::vector<std::pair<const NamedPath*, std::string>> new_outputs;  // by their absolute, normal path
  for (const NamedPath& output : outputs) {
    if (output.path.empty()) continue;
    struct stat st {};
    if (::stat(output.path.c_str(), &st) != 0) {
      std::error_code ec;
      const std::string normal = std::filesystem::weakly_canonical(std::filesystem::absolute(output.path), ec).string();
      for (const auto& [earlier, path] : new_outputs)
        if (!ec && path == normal) refuse(output, *earlier, true);
      new_outputs.emplace_back(&output, normal);
      continue;
    }
    // Two outputs on one device (/dev/null) are fine; only regular files can be overwritten.
    if (!S_ISREG(st.st_mode)) continue;
    for (const Seen& s : seen)
      if (s.st.st_dev == st.st_dev && s.st.st_ino == st.st_ino) refuse(output, *s.named, s.output);
    seen.push_back({&output, st, true});
  }
}

OutputFile::OutputFile(std::string path) : path_(std::move(path)) {
  if (path_.empty()) return;
  struct stat st {};
  const bool exists = ::lstat(path_.c_str(), &st) == 0;
  if (exists && !S_ISREG(st.st_mode)) {
    // A device, FIFO or link: written in place at commit, never replaced.
    struct stat target {};
    if (::stat(path_.c_str(), &target) == 0 && S_ISDIR(target.st_mode))
      throw InputError({path_, 0, 0}, "cannot write the file: " + error_text(EISDIR));
    if (::stat(path_.c_str(), &target) == 0 && ::access(path_.c_str(), W_OK) != 0)
      throw InputError({path_, 0, 0}, "cannot write the file: " + error_text(errno));
    return;
  }
  const std::filesystem::path target(path_);
  const std::string directory = target.has_parent_path() ? target.parent_path().string() : ".";
  std::string name = (std::filesystem::path(directory) / ("." + target.filename().string() + ".tmp-XXXXXX")).string();
  fd_ = ::mkostemp(name.data(), O_CLOEXEC);
  if (fd_ < 0) throw InputError({path_, 0, 0}, "cannot write the file: " + error_text(errno));
  temporary_ = name;
  slot_ = register_temporary(temporary_);
  // mkstemp makes 0600; the file gets the mode a plain open would give, or keeps its own.
  (void)::fchmod(fd_, exists ? (st.st_mode & 07777) : new_file_mode());
}

OutputFile& OutputFile::operator=(OutputFile&& other) noexcept {
  if (this != &other) {
    discard();
    path_ = std::exchange(other.path_, {});
    temporary_ = std::exchange(other.temporary_, {});
    fd_ = std::exchange(other.fd_, -1);
    slot_ = std::exchange(other.slot_, -1);
  }
  return *this;
}

OutputFile::~OutputFile() { discard(); }

void OutputFile::discard() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!temporary_.empty()) ::unlink(temporary_.c_str());
  temporary_.clear();
  if (slot_ >= 0) g_slot_used[static_cast<std::size_t>(slot_)] = 0;
  slot_ = -1;
  path_.clear();
}

void OutputFile::commit(std::string_view text) {
  if (path_.empty()) return;
  const std::string path = path_;
  int error_number = 0;
  if (temporary_.empty()) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) throw OutputError(path, error_text(errno));
    const bool written = write_all(fd, text, error_number);
    if (::close(fd) != 0 && written) error_number = errno;
    path_.clear();
    if (!written || error_number != 0) throw OutputError(path, error_text(error_number));
    return;
  }
  bool ok = write_all(fd_, text, error_number);
  const int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0 && ok) {
    ok = false;
    error_number = errno;
  }
  if (ok && ::rename(temporary_.c_str(), path.c_str()) != 0) {
    ok = false;
    error_number = errno;
  }
  if (ok) temporary_.clear();  // it is the file now
  discard();
  if (!ok) throw OutputError(path, error_text(error_number));
}

void write_output_file(const std::string& path, std::string_view text) { OutputFile(path).commit(text); }

}  // namespace trainsim
