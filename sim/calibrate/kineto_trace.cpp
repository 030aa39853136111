#include "sim/calibrate/kineto_trace.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "sim/config/error.hpp"

namespace trainsim::calibrate {
namespace {

using nlohmann::json;

// A byte offset of `text` as a 1-based line and column.
SourceMark trace_position(const std::string& file, const std::string& text, std::size_t offset) {
  offset = std::min(offset, text.size());
  int line = 1, column = 1;
  for (std::size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n')
      ++line, column = 1;
    else
      ++column;
  }
  return {file, line, column};
}

// Byte offsets of the elements of the event list (the root array, or the root
// object's "traceEvents" array) of text that parsed as JSON. Computed only to
// place an error on its event.
std::vector<std::size_t> trace_event_offsets(const std::string& text) {
  std::vector<std::size_t> offsets;
  int depth = 0;
  int events_depth = -1;  // the depth inside the event list; -2 once it closed
  std::string root_key;   // the last string read at depth 1 (a key or a value)
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '"') {
      std::string s;
      std::size_t j = i + 1;
      for (; j < text.size() && text[j] != '"'; ++j) {
        if (text[j] == '\\') ++j;
        else s += text[j];
      }
      if (depth == 1) root_key = s;
      i = j;
    } else if (c == '{' || c == '[') {
      if (depth == events_depth) offsets.push_back(i);
      const bool opens_events =
          events_depth == -1 && c == '[' && (depth == 0 || (depth == 1 && root_key == "traceEvents"));
      ++depth;
      if (opens_events) events_depth = depth;
    } else if (c == '}' || c == ']') {
      --depth;
      if (events_depth > 0 && depth < events_depth) events_depth = -2;
    } else if (c == ',' && depth == 1) {
      root_key.clear();
    }
  }
  return offsets;
}

class TraceEventReader {
 public:
  TraceEventReader(const std::string& text, const std::string& file) : text_(text), file_(file) {}

  [[noreturn]] void fail(std::size_t index, const std::string& message) const {
    if (offsets_.empty()) offsets_ = trace_event_offsets(text_);
    const SourceMark where =
        index < offsets_.size() ? trace_position(file_, text_, offsets_[index]) : SourceMark{file_, 0, 0};
    throw InputError(where, "traceEvents[" + std::to_string(index) + "]: " + message);
  }

  // A time in microseconds (Chrome-trace "ts" / "dur") as integer nanoseconds.
  std::int64_t nanoseconds(std::size_t index, const json& event, const char* key, bool non_negative) const {
    const auto it = event.find(key);
    if (it == event.end()) fail(index, std::string("no \"") + key + "\" (microseconds)");
    if (!it->is_number()) fail(index, std::string("\"") + key + "\" must be a number of microseconds");
    // µs: a time stamp since the epoch (1.7e15 in 2025) or a duration of at most 10^4 s,
    // so that nanosecond sums and differences stay far inside int64.
    const double limit = non_negative ? 1e10 : 4e15;
    const double us = it->get<double>();
    if (!std::isfinite(us) || std::abs(us) >= limit)
      fail(index, std::string("\"") + key + "\" is out of range: " + it->dump());
    if (non_negative && us < 0) fail(index, std::string("\"") + key + "\" must be >= 0, got " + it->dump());
    if (it->is_number_integer()) return it->get<std::int64_t>() * 1000;
    return std::llround(us * 1000.0);
  }

  std::string text_field(std::size_t index, const json& event, const char* key) const {
    const auto it = event.find(key);
    if (it == event.end() || !it->is_string()) fail(index, std::string("\"") + key + "\" must be a text");
    return it->get<std::string>();
  }

  // An integer of "args", if there.
  std::optional<std::int64_t> arg_integer(std::size_t index, const json& event, const char* key) const {
    const auto args = event.find("args");
    if (args == event.end() || !args->is_object()) return std::nullopt;
    const auto it = args->find(key);
    if (it == args->end()) return std::nullopt;
    if (!it->is_number_integer()) fail(index, std::string("\"args\".\"") + key + "\" must be an integer");
    return it->get<std::int64_t>();
  }

  std::optional<std::array<std::int64_t, 3>> arg_dim3(std::size_t index, const json& event, const char* key) const {
    const auto args = event.find("args");
    if (args == event.end() || !args->is_object()) return std::nullopt;
    const auto it = args->find(key);
    if (it == args->end()) return std::nullopt;
    if (!it->is_array() || it->size() != 3 || !std::all_of(it->begin(), it->end(), [](const json& v) {
          return v.is_number_integer();
        }))
      fail(index, std::string("\"args\".\"") + key + "\" must be a list of 3 integers");
    return std::array<std::int64_t, 3>{(*it)[0].get<std::int64_t>(), (*it)[1].get<std::int64_t>(),
                                       (*it)[2].get<std::int64_t>()};
  }

 private:
  const std::string& text_;
  const std::string& file_;
  mutable std::vector<std::size_t> offsets_;
};

// "pid" / "tid" / flow "id": a number or a text, kept as written.
std::string id_text(const json& event, const char* key) {
  const auto it = event.find(key);
  if (it == event.end()) return "";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

// nlohmann's message without its "[json.exception.parse_error.101] parse error at line 3, column 5: ".
std::string json_error_detail(std::string what) {
  if (const std::size_t tag = what.find("] "); what.rfind("[json.exception", 0) == 0 && tag != std::string::npos)
    what.erase(0, tag + 2);
  if (const std::size_t at = what.find(": "); what.rfind("parse error", 0) == 0 && at != std::string::npos)
    what.erase(0, at + 2);
  return what;
}

const json& event_list(const json& root, const std::string& file) {
  if (root.is_array()) return root;
  if (!root.is_object()) throw InputError({file, 1, 1}, "expected a Kineto / Chrome trace: a JSON object with \"traceEvents\"");
  const auto it = root.find("traceEvents");
  if (it == root.end()) throw InputError({file, 1, 1}, "no \"traceEvents\" list; expected a Kineto / Chrome trace");
  if (!it->is_array()) throw InputError({file, 1, 1}, "\"traceEvents\" must be a list of events");
  return *it;
}

void shift_to_origin(KinetoTrace& trace) {
  std::int64_t origin = std::numeric_limits<std::int64_t>::max();
  for (const auto& k : trace.kernels) origin = std::min(origin, k.start_ns);
  for (const auto& l : trace.launches) origin = std::min(origin, l.start_ns);
  for (const auto& f : trace.flows) origin = std::min(origin, f.ts_ns);
  for (const auto& a : trace.annotations) origin = std::min(origin, a.start_ns);
  for (auto& k : trace.kernels) k.start_ns -= origin;
  for (auto& l : trace.launches) l.start_ns -= origin;
  for (auto& f : trace.flows) f.ts_ns -= origin;
  for (auto& a : trace.annotations) a.start_ns -= origin;
}

}  // namespace

KinetoTrace parse_kineto_trace(const std::string& text, const std::string& file) {
  if (text.find_first_not_of(" \t\r\n") == std::string::npos)
    throw InputError({file, 0, 0}, "empty file; expected a Kineto / Chrome trace (JSON)");
  json root;
  try {
    root = json::parse(text);
  } catch (const json::parse_error& e) {
    throw InputError(trace_position(file, text, e.byte > 0 ? e.byte - 1 : 0),
                     "not valid JSON (truncated?): " + json_error_detail(e.what()));
  } catch (const json::out_of_range& e) {
    // A number beyond double ("1E400"); nlohmann names it between quotes but gives no position.
    const std::string what = e.what();
    const std::size_t open = what.find('\'');
    const std::size_t close = open == std::string::npos ? open : what.find('\'', open + 1);
    const std::size_t at =
        close == std::string::npos ? std::string::npos : text.find(what.substr(open + 1, close - open - 1));
    throw InputError(at == std::string::npos ? SourceMark{file, 0, 0} : trace_position(file, text, at),
                     "not valid JSON: " + json_error_detail(what));
  }
  const json& events = event_list(root, file);
  const TraceEventReader reader(text, file);
  KinetoTrace trace;
  trace.file = file;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const json& e = events[i];
    if (!e.is_object()) reader.fail(i, "an event must be a JSON object");
    const auto cat_it = e.find("cat");
    const auto ph_it = e.find("ph");
    if (cat_it == e.end() || !cat_it->is_string() || ph_it == e.end() || !ph_it->is_string()) continue;
    const std::string cat = cat_it->get<std::string>();
    const std::string ph = ph_it->get<std::string>();
    if (ph == "X" && (cat == "kernel" || cat == "gpu_memcpy" || cat == "gpu_memset")) {
      GpuKernel k;
      k.name = reader.text_field(i, e, "name");
      k.activity = cat == "kernel" ? GpuActivity::kernel : cat == "gpu_memcpy" ? GpuActivity::memcpy : GpuActivity::memset;
      k.start_ns = reader.nanoseconds(i, e, "ts", false);
      k.duration_ns = reader.nanoseconds(i, e, "dur", true);
      k.pid = id_text(e, "pid");
      k.tid = id_text(e, "tid");
      const auto stream = reader.arg_integer(i, e, "stream");
      if (stream) {
        k.stream = *stream;
      } else {
        // Kineto writes the stream as the GPU row's "tid" too.
        const auto tid = e.find("tid");
        if (tid == e.end() || !tid->is_number_integer()) reader.fail(i, "a GPU event needs \"args\".\"stream\"");
        k.stream = tid->get<std::int64_t>();
      }
      k.correlation = reader.arg_integer(i, e, "correlation");
      k.grid = reader.arg_dim3(i, e, "grid");
      k.block = reader.arg_dim3(i, e, "block");
      trace.kernels.push_back(std::move(k));
    } else if (ph == "X" && (cat == "cuda_runtime" || cat == "cuda_driver")) {
      const auto correlation = reader.arg_integer(i, e, "correlation");
      if (!correlation) continue;  // a call that launched nothing
      trace.launches.push_back({reader.text_field(i, e, "name"), *correlation, id_text(e, "pid"), id_text(e, "tid"),
                                reader.nanoseconds(i, e, "ts", false), reader.nanoseconds(i, e, "dur", true)});
    } else if ((ph == "s" || ph == "f") && cat == "ac2g") {
      if (e.find("id") == e.end()) reader.fail(i, "a flow event needs an \"id\"");
      trace.flows.push_back({ph == "s", id_text(e, "id"), id_text(e, "pid"), id_text(e, "tid"),
                             reader.nanoseconds(i, e, "ts", false)});
    } else if (ph == "X" && cat == "user_annotation") {
      trace.annotations.push_back({reader.text_field(i, e, "name"), id_text(e, "pid"), id_text(e, "tid"),
                                   reader.nanoseconds(i, e, "ts", false), reader.nanoseconds(i, e, "dur", true)});
    }
  }
  if (trace.kernels.empty())
    throw InputError({file, 0, 0},
                     "no GPU kernels in the trace (events with \"cat\": \"kernel\"); record it with the CUDA activity on");
  shift_to_origin(trace);
  return trace;
}

KinetoTrace read_kineto_trace(const std::string& file) {
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec)) throw InputError({file, 0, 0}, "cannot read: is a directory");
  // Opened at its end, so the size is known before reading (traces run to hundreds of MB).
  std::ifstream in(file, std::ios::binary | std::ios::ate);
  if (!in) throw InputError({file, 0, 0}, std::string("cannot read: ") + std::strerror(errno));
  std::string text(static_cast<std::size_t>(std::max<std::streamoff>(in.tellg(), 0)), '\0');
  in.seekg(0);
  if (!in.read(text.data(), static_cast<std::streamsize>(text.size())))
    throw InputError({file, 0, 0}, "cannot read: I/O error");
  return parse_kineto_trace(text, file);
}

}  // namespace trainsim::calibrate
