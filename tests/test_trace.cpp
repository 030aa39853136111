// The Chrome trace of `trainsim run --trace` read as Perfetto and chrome://tracing read
// it (Trace Event Format): no Debian or npm package offers a validator or Perfetto's
// trace processor, so the rules they apply are checked here: valid JSON, well-formed
// metadata events, "X" slices with a positive duration that nest or are disjoint on
// each (pid, tid), every track with slices named and every named track used.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tests/support.hpp"

namespace test_trace {

using trainsim::test::run_trainsim;

namespace {

// What a trace viewer would draw wrongly or refuse, one line each; empty: a valid trace.
std::vector<std::string> trace_problems(const std::string& text) {
  std::vector<std::string> problems;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    return {std::string("not JSON: ") + e.what()};
  }
  if (!j.is_object() || !j.contains("traceEvents") || !j["traceEvents"].is_array()) return {"no traceEvents array"};
  struct Slice {
    long long start, end;  // nanoseconds, as Perfetto stores them
    std::string name;
  };
  std::map<std::pair<long long, long long>, std::vector<Slice>> tracks;
  std::set<std::pair<long long, long long>> named_tracks;
  std::set<long long> named_processes;
  for (const auto& e : j["traceEvents"]) {
    if (!e.is_object() || !e.contains("ph") || !e["ph"].is_string() || !e.contains("name") || !e["name"].is_string() ||
        !e.contains("pid") || !e["pid"].is_number_integer()) {
      problems.push_back("event without a string ph and name and an integer pid: " + e.dump());
      continue;
    }
    const std::string ph = e["ph"], name = e["name"];
    const long long pid = e["pid"];
    const bool has_tid = e.contains("tid") && e["tid"].is_number_integer();
    if (ph == "M") {
      const auto& args = e.value("args", nlohmann::json::object());
      if (name == "process_name" || name == "thread_name") {
        if (!args.contains("name") || !args["name"].is_string() || args["name"].get<std::string>().empty())
          problems.push_back(name + " without a name: " + e.dump());
        if (name == "thread_name" && !has_tid) problems.push_back("thread_name without a tid: " + e.dump());
        if (name == "thread_name" && has_tid && !named_tracks.insert({pid, e["tid"].get<long long>()}).second)
          problems.push_back("track named twice: " + e.dump());
        if (name == "process_name") named_processes.insert(pid);
      } else if (name == "process_sort_index" || name == "thread_sort_index") {
        if (!args.contains("sort_index") || !args["sort_index"].is_number_integer())
          problems.push_back(name + " without an integer sort_index: " + e.dump());
      } else {
        problems.push_back("unknown metadata event: " + e.dump());
      }
    } else if (ph == "X") {
      if (!has_tid || !e.contains("ts") || !e["ts"].is_number() || !e.contains("dur") || !e["dur"].is_number()) {
        problems.push_back("X slice without tid, ts or dur: " + e.dump());
        continue;
      }
      const double ts = e["ts"], dur = e["dur"];
      const long long start = std::llround(ts * 1e3), end = std::llround((ts + dur) * 1e3);
      if (!(ts >= 0) || !(dur > 0) || end <= start) problems.push_back("slice with ts < 0 or no duration: " + e.dump());
      tracks[{pid, e["tid"].get<long long>()}].push_back({start, end, name});
    } else {
      problems.push_back("unexpected phase " + ph);
    }
  }
  for (auto& [track, slices] : tracks) {
    if (!named_tracks.count(track))
      problems.push_back(fmt::format("slices on unnamed track pid {} tid {}", track.first, track.second));
    if (!named_processes.count(track.first)) problems.push_back(fmt::format("unnamed process {}", track.first));
    // Nest or be disjoint: by start (longer first on a tie), each slice ends before the
    // enclosing open slice ends or starts after it.
    std::sort(slices.begin(), slices.end(), [](const Slice& a, const Slice& b) {
      return a.start != b.start ? a.start < b.start : a.end > b.end;
    });
    std::vector<const Slice*> open;
    for (const Slice& s : slices) {
      while (!open.empty() && open.back()->end <= s.start) open.pop_back();
      if (!open.empty() && s.end > open.back()->end)
        problems.push_back(fmt::format("pid {} tid {}: \"{}\" [{}, {}] ns partly overlaps \"{}\" [{}, {}] ns",
                                       track.first, track.second, s.name, s.start, s.end, open.back()->name,
                                       open.back()->start, open.back()->end));
      open.push_back(&s);
    }
  }
  for (const auto& track : named_tracks)
    if (!tracks.count(track))
      problems.push_back(fmt::format("empty track pid {} tid {} (named, no slices)", track.first, track.second));
  return problems;
}

std::string read_text(const std::filesystem::path& path) { return trainsim::test::file_text(path.string()); }

nlohmann::json metadata(const char* name, int pid, int tid, const char* value) {
  return {{"name", name}, {"ph", "M"}, {"pid", pid}, {"tid", tid}, {"args", {{"name", value}}}};
}
nlohmann::json slice(const char* name, int tid, double ts, double dur) {
  return {{"name", name}, {"ph", "X"}, {"pid", 0}, {"tid", tid}, {"ts", ts}, {"dur", dur}};
}
std::string trace_of(std::vector<nlohmann::json> events) {
  nlohmann::json j;
  j["traceEvents"] = events;
  return j.dump();
}

// A 32-GPU cut of the default case (4 nodes; pp 2, EP 16 = dp 16; 4 layers, 1 dense),
// full fidelity: every GPU and flow, so transfers of one GPU overlap.
const std::string kSmallFullRun =
    "run --format json --ramp-points 1 --fidelity full --allow-oversubscribed-memory --set cluster.nodes=4"
    " --set workload.model.layers=4 --set workload.model.moe.first_dense_layers=1 --set workload.parallelism.pp=2"
    " --set workload.parallelism.dp=16 --set workload.parallelism.ep=16 --set workload.model.moe.max_nodes_per_token=2"
    " --set workload.training.global_batch=64"
    " --set workload.training.batch_ramp.start=64";

}  // namespace

TEST_CASE("the trace validator accepts nested and disjoint slices and names each fault", "[trace]") {
  const auto named = [](std::vector<nlohmann::json> slices) {
    std::vector<nlohmann::json> events{metadata("process_name", 0, 0, "GPU 0"), metadata("thread_name", 0, 0, "compute")};
    for (auto& s : slices) events.push_back(std::move(s));
    return trace_of(events);
  };
  CHECK(trace_problems(named({slice("a", 0, 0, 10), slice("b", 0, 2, 3), slice("c", 0, 10, 5)})).empty());
  // Partly overlapping, zero-length, on an unnamed track; an empty named track; not JSON.
  CHECK(trace_problems(named({slice("a", 0, 0, 10), slice("b", 0, 5, 10)})).size() == 1);
  CHECK(trace_problems(named({slice("a", 0, 0, 0)})).size() == 1);
  CHECK(trace_problems(named({slice("a", 1, 0, 1), slice("b", 0, 0, 1)})).size() == 1);
  CHECK(trace_problems(trace_of({metadata("process_name", 0, 0, "GPU 0"), metadata("thread_name", 0, 0, "compute")}))
            .size() == 1);
  CHECK(trace_problems("{\"traceEvents\": [").size() == 1);
}

TEST_CASE("a full-fidelity trace is valid for Perfetto and labels embedding and head by name", "[trace][cli]") {
  const auto path = std::filesystem::temp_directory_path() / ("trainsim-trace-" + std::to_string(::getpid()) + ".json");
  const auto r = run_trainsim(kSmallFullRun + " --trace '" + path.string() + "'", false);
  REQUIRE(r.status == 0);
  const std::string text = read_text(path);
  std::filesystem::remove(path);
  const auto problems = trace_problems(text);
  for (const auto& p : problems) UNSCOPED_INFO(p);
  CHECK(problems.empty());

  const auto j = nlohmann::json::parse(text);
  std::size_t slices = 0, embedding = 0, head = 0, communication_tracks = 0;
  for (const auto& e : j["traceEvents"]) {
    if (e["ph"] == "M" && e["name"] == "thread_name" &&
        e["args"]["name"].get<std::string>().rfind("communication", 0) == 0)
      ++communication_tracks;
    if (e["ph"] != "X") continue;
    ++slices;
    const std::string name = e["name"];
    if (e["cat"] == "embedding_head") {
      CHECK(name.find("attn") == std::string::npos);
      embedding += name.find("embedding") != std::string::npos ? 1 : 0;
      head += name.find("head") != std::string::npos ? 1 : 0;
    }
  }
  CHECK(slices > 1000);
  // Forward (and backward where it takes time) of every micro-batch on the first and last stage.
  CHECK(embedding > 0);
  CHECK(head > 0);
  // Concurrent transfers of a GPU are spread over more tracks than one per GPU.
  CHECK(communication_tracks > 32);
  CHECK(j["otherData"]["zero_length_tasks_left_out"].is_number_unsigned());
}

}  // namespace test_trace
