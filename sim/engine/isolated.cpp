#include "sim/engine/isolated.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include "sim/config/error.hpp"
#include "sim/engine/platform.hpp"

namespace trainsim::engine {

namespace {

bool write_all(int fd, const void* data, std::size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, p, size);
    if (n <= 0) return false;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  return out;
}

}  // namespace

namespace {

struct Child {
  pid_t pid = -1;
  int fd = -1;
};

Child spawn(const std::function<std::vector<double>()>& simulate) {
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::close(fds[0]);
    // Message framing: 'V' + doubles, or 'I'/'E' + message text.
    int status = 0;
    try {
      const std::vector<double> values = simulate();
      const char tag = 'V';
      write_all(fds[1], &tag, 1);
      write_all(fds[1], values.data(), values.size() * sizeof(double));
    } catch (const InputError& e) {
      const char tag = 'I';
      write_all(fds[1], &tag, 1);
      write_all(fds[1], e.what(), std::strlen(e.what()));
      status = 2;
    } catch (const std::exception& e) {
      const char tag = 'E';
      write_all(fds[1], &tag, 1);
      write_all(fds[1], e.what(), std::strlen(e.what()));
      status = 3;
    }
    ::close(fds[1]);
    ::_exit(status);
  }
  ::close(fds[1]);
  return {pid, fds[0]};
}

std::vector<double> collect(const Child& child) {
  const std::string data = read_all(child.fd);
  ::close(child.fd);
  int status = 0;
  ::waitpid(child.pid, &status, 0);
  if (data.empty()) throw std::runtime_error("simulation child process died without a result");
  const std::string body = data.substr(1);
  if (data[0] == 'I') throw InputError({}, body);
  if (data[0] == 'E') throw std::runtime_error(body);
  std::vector<double> values(body.size() / sizeof(double));
  std::memcpy(values.data(), body.data(), values.size() * sizeof(double));
  return values;
}

}  // namespace

std::vector<double> run_isolated(const std::function<std::vector<double>()>& simulate) {
  return run_isolated_all({simulate}, 1).front();
}

std::vector<std::vector<double>> run_isolated_all(
    const std::vector<std::function<std::vector<double>()>>& simulations, int parallel) {
  if (Simulator::exists()) throw std::logic_error("run_isolated after this process created its simulator");
  std::vector<std::vector<double>> results(simulations.size());
  const std::size_t width = static_cast<std::size_t>(std::max(1, parallel));
  for (std::size_t first = 0; first < simulations.size(); first += width) {
    std::vector<Child> children;
    for (std::size_t i = first; i < std::min(simulations.size(), first + width); ++i)
      children.push_back(spawn(simulations[i]));
    // Children write a few bytes each: reading them in order cannot deadlock.
    for (std::size_t k = 0; k < children.size(); ++k) results[first + k] = collect(children[k]);
  }
  return results;
}

}  // namespace trainsim::engine
