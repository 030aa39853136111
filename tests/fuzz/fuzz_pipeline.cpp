// Structure-aware libFuzzer target: the whole pipeline on valid configurations
// with mutated values. The input picks a base (a shipped cluster and workload cut
// to 2-4 nodes by --set, each checked valid at start-up), then up to 8 changes,
// each a key of the schema (sim/config/*_keys.cpp) and a value drawn from that
// key's kind and range: its bounds, just past them, zero, one, powers of two, the
// default scaled, huge and tiny magnitudes, inf and NaN, a {value, low, high}
// triple, or any value in range (value_table() below). So nearly every input gets
// past the parser, and libFuzzer's mutations move keys and values instead of bytes.
//
// Each input runs `trainsim check` (the real command, output discarded), then,
// when check accepts it, `run`'s symmetric step (simulate_run without batch ramp,
// and the text, JSON, CSV and trace outputs) in a child process (one SimGrid engine
// per process) with a memory budget. Findings besides those of
// fuzz_cluster_yaml.cpp: a run that refuses what check accepted, an exception or
// signal in the child (an inf or NaN in an output is std::logic_error there), a
// child above 1 GiB, and any input above 30 s (libFuzzer's -timeout in scripts/fuzz: instrumented
// code, 3-10x slower than Release).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iostream>
#include <limits>
#include <string>
#include <vector>

#include "sim/cli/commands.hpp"
#include "sim/config/keys.hpp"
#include "sim/run/process_pool.hpp"
#include "sim/run/simulate_run.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using namespace trainsim;

// Shipped configurations cut to a few nodes; the memory check is waived
// (--allow-oversubscribed-memory) so that a step is simulated whatever the HBM.
struct Base {
  std::string cluster;
  std::string workload;
  std::vector<std::string> sets;
};
const std::vector<Base>& bases() {
  static const std::vector<Base> all = {
      {"topologies/h800-2048.yaml", "workloads/deepseek-v3.yaml",
       {"nodes=4", "parallelism.pp=2", "parallelism.dp=16", "parallelism.ep=16", "model.moe.max_nodes_per_token=2",
        "training.global_batch=64", "training.batch_ramp.start=32"}},
      {"topologies/h800-2048.yaml", "workloads/deepseek-v2.yaml",
       {"nodes=2", "parallelism.pp=2", "parallelism.dp=8", "parallelism.ep=8", "training.global_batch=32",
        "training.batch_ramp.start=16"}},
      {"topologies/h800-2048.yaml", "workloads/llama3-8b.yaml",
       {"nodes=2", "parallelism.dp=4", "training.global_batch=32"}},
      {"topologies/h100-2048.yaml", "workloads/llama3-8b.yaml",
       {"nodes=4", "parallelism.dp=8", "training.global_batch=32"}},
      {"topologies/a100-1024.yaml", "workloads/llama3-8b.yaml",
       {"nodes=2", "parallelism.dp=4", "training.global_batch=16"}},
  };
  return all;
}

// The keys a change can name: every key that takes a value, cluster then workload.
const std::vector<const config::KeyDecl*>& value_keys() {
  static const std::vector<const config::KeyDecl*> keys = [] {
    std::vector<const config::KeyDecl*> out;
    for (const config::KeyTable* table : {&config::cluster_keys(), &config::workload_keys()})
      for (const config::KeyDecl& k : table->keys())
        if (k.kind != config::KeyKind::section) out.push_back(&k);
    return out;
  }();
  return keys;
}

// The registered names (and near misses) a name key can take.
const std::vector<std::string>& registered_names() {
  static const std::vector<std::string> names = {
      "gpipe",       "1f1b",  "interleaved", "zb-h1",         "dualpipe",     "dualpipev", "naive", "fat-tree",
      "multi-plane-fat-tree", "rail-optimized", "clos3",     "balanced",     "zipf",      "",      "1F1B"};
  return names;
}

std::string number_written(double v, const config::KeyDecl& key) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  const std::string unit = key.quantity ? std::string(key.quantity->base) : "";
  return config::number_text(v) + unit;
}

double finite_or(double v, double fallback) { return std::isfinite(v) ? v : fallback; }

// The value of change `selector` for `key`; `bits` is 8 input bytes for the values
// that need randomness.
std::string value_table(const config::KeyDecl& key, uint8_t selector, uint64_t bits) {
  using config::KeyKind;
  const double unit_random = static_cast<double>(bits >> 11) / static_cast<double>(1ULL << 53);  // [0, 1)
  switch (key.kind) {
    case KeyKind::boolean:
      return selector % 3 == 2 ? "yes" : (selector & 1 ? "true" : "false");
    case KeyKind::choice:
      return selector < 240 && !key.choices.empty() ? key.choices[selector % key.choices.size()] : "nonesuch";
    case KeyKind::name:
      return registered_names()[selector % registered_names().size()];
    case KeyKind::text:
      return selector & 1 ? "fuzzed name" : "x";
    case KeyKind::integer: {
      const double lo = finite_or(key.range.min, -1e6), hi = finite_or(key.range.max, 1e6);
      const double small_hi = std::min(hi, lo + 64);
      switch (selector % 12) {
        case 0: return std::to_string(static_cast<long long>(lo));
        case 1: return std::to_string(static_cast<long long>(hi));
        case 2: return std::to_string(static_cast<long long>(lo) - 1);
        case 3: return std::to_string(static_cast<long long>(hi) + 1);
        case 4: return "0";
        case 5: return std::to_string(1LL << (bits % 40));  // a power of two up to 2^39
        case 6: return "2147483647";
        case 7: return "2147483648";
        case 8: return "9223372036854775807";
        case 9: return key.default_text.empty() ? "1" : key.default_text;
        case 10: return std::to_string(static_cast<long long>(lo + std::floor(unit_random * (small_hi - lo + 1))));
        default: return std::to_string(1 + bits % 16);
      }
    }
    case KeyKind::number: {
      const double lo = key.range.min, hi = key.range.max;
      const double inside_lo = std::isfinite(lo) ? lo : -1e6, inside_hi = std::isfinite(hi) ? hi : 1e6;
      double v = 0;
      switch (selector % 16) {
        case 0: v = inside_lo; break;
        case 1: v = inside_hi; break;
        case 2: v = std::nextafter(inside_lo, -std::numeric_limits<double>::infinity()); break;
        case 3: v = std::nextafter(inside_hi, std::numeric_limits<double>::infinity()); break;
        case 4: v = std::nextafter(inside_lo, inside_hi); break;
        case 5: v = 0; break;
        case 6: v = 1; break;
        case 7: v = 1e300; break;
        case 8: v = 1e-300; break;
        case 9: v = std::numeric_limits<double>::quiet_NaN(); break;
        case 10: v = std::numeric_limits<double>::infinity(); break;
        case 11: v = std::ldexp(1.0, static_cast<int>(bits % 200) - 100); break;  // 2^-100 .. 2^99
        case 12: {  // log-uniform inside the range (positive ranges), else uniform
          const double a = std::max(inside_lo, 1e-12), b = std::max(inside_hi, a);
          v = inside_lo > 0 || inside_hi > 1e-12 ? a * std::pow(b / a, unit_random)
                                                 : inside_lo + unit_random * (inside_hi - inside_lo);
          break;
        }
        case 13: {  // an uncertain {value, low, high} triple around a value inside the range
          const double a = std::max(inside_lo, 1e-9), b = std::max(inside_hi, a);
          const double mid = std::min(b, a * std::pow(2.0, 1 + 10 * unit_random));
          const double low = std::max(a, mid * (bits & 256 ? 0.5 : 1.0)), high = std::min(b, mid * (bits & 512 ? 2 : 1));
          return "{value: " + number_written(mid, key) + ", low: " + number_written(low, key) +
                 ", high: " + number_written(high, key) + "}";
        }
        case 14: return "{value: 1, low: 2, high: 0.5}";
        default: v = -inside_hi; break;
      }
      return number_written(v, key);
    }
    case KeyKind::section:
      break;
  }
  return "";
}

// `trainsim check` itself: 0, or InputError (escapes) for a refused configuration.
int run_check_command(const Base& base, const std::vector<std::string>& sets) {
  CLI::App app{"trainsim"};
  cli::Action action;
  cli::register_check(app, action);
  std::vector<std::string> args = {"check", "--cluster", base.cluster, "--workload", base.workload,
                                   "--allow-oversubscribed-memory"};
  for (const auto& s : sets) {
    args.push_back("--set");
    args.push_back(s);
  }
  std::reverse(args.begin(), args.end());
  app.parse(args);
  return action();
}

// A line of /proc/self/status in bytes ("VmRSS", "VmHWM").
double status_bytes(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind(field + ":", 0) == 0) return std::stod(line.substr(field.size() + 1)) * 1024;
  return 0;
}

// A configuration check accepted: its step and every output format, in a child.
// Its memory is what the child's peak adds to what it shares with the fuzzer.
std::vector<double> simulated_step(const Inputs& in) {
  const double rss_at_fork = status_bytes("VmRSS");
  RunRequest request;
  request.fidelity = Fidelity::symmetric;
  request.ramp_points = 0;
  request.jobs = 1;
  std::string trace;
  const StepResult result = simulate_run(in.cluster, in.workload, request, &trace);
  (void)to_text(result);
  (void)to_csv(result);
  (void)to_json(result).dump();
  if (!std::isfinite(result.step_time_s) || !(result.step_time_s > 0))
    throw std::logic_error("step time not finite and positive");
  if (status_bytes("VmHWM") - rss_at_fork > 1024.0 * 1024 * 1024)
    throw std::logic_error("the step simulation used more than 1 GiB (memory budget)");
  return {result.step_time_s};
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  trainsim::fuzz::enter_source_dir();
  std::cout.rdbuf(nullptr);  // check's summary
  // A base that check refuses would waste the target.
  for (const Base& base : bases()) {
    try {
      (void)run_check_command(base, base.sets);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "fuzz_pipeline: base %s + %s is refused: %s\n", base.cluster.c_str(),
                   base.workload.c_str(), e.what());
      std::abort();
    }
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr size_t kChange = 11;  // key (2 bytes), selector, 8 bytes of randomness
  if (size < 1) return 0;
  const Base& base = bases()[data[0] % bases().size()];
  std::vector<std::string> sets = base.sets;
  const auto& keys = value_keys();
  for (size_t at = 1; at + kChange <= size && sets.size() < base.sets.size() + 8; at += kChange) {
    const config::KeyDecl& key = *keys[(data[at] | data[at + 1] << 8) % keys.size()];
    uint64_t bits = 0;
    std::memcpy(&bits, data + at + 3, sizeof bits);
    sets.push_back(key.path + "=" + value_table(key, data[at + 2], bits));
  }
  try {
    if (run_check_command(base, sets) != 0) fuzz::violated("check returned a non-zero status without an error");
  } catch (const InputError&) {
    return 0;  // refused by check: the expected outcome of most changes
  }
  cli::ConfigOptions options;
  options.cluster_path = base.cluster;
  options.workload_path = base.workload;
  options.set_args = sets;
  const Inputs in = cli::load_configs(options);
  try {
    (void)run_isolated([&in] { return simulated_step(in); });
  } catch (const InputError& e) {
    std::fprintf(stderr, "fuzz_pipeline: run refused: %s\n", e.what());
    fuzz::violated("run refuses a configuration that check accepts");
  }
  return 0;
}
