// trainsim calibrate, first part (issue 13): reading a Kineto trace, classifying
// its kernels by the YAML table, attributing them to phases and layers. A tiny
// hand-made trace with exact sums, the shipped DeepSeek-V3 profile against the
// manual kernel-by-kernel reading, and bad traces / class tables.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <unistd.h>

#include "sim/calibrate/attribution_output.hpp"
#include "sim/calibrate/kernel_attribution.hpp"
#include "sim/calibrate/kernel_classes.hpp"
#include "sim/calibrate/kineto_trace.hpp"
#include "sim/config/error.hpp"
#include "tests/support.hpp"

namespace test_calibrate {

using namespace trainsim;
using namespace trainsim::calibrate;
namespace fs = std::filesystem;

namespace {

const std::string kClasses = std::string(TRAINSIM_SOURCE_DIR) + "/topologies/calibration/kernel-classes.yaml";
const std::string kTinyTrace = std::string(TRAINSIM_SOURCE_DIR) + "/tests/calibrate/tiny-trace.json";
const std::string kShippedTrace = std::string(TRAINSIM_SOURCE_DIR) + "/../shared/reference/deepseek-v3-profile/train.json";

constexpr std::int64_t us = 1000;  // the records hold nanoseconds

const PhaseSummary& phase_named(const TraceAttribution& a, const std::string& name) {
  for (const PhaseSummary& p : a.phases)
    if (p.name == name) return p;
  FAIL("no phase " << name);
  throw std::logic_error("unreachable");
}
const ClassSummary& class_named(const TraceAttribution& a, const std::string& name) {
  for (const ClassSummary& c : a.classes)
    if (c.name == name) return c;
  FAIL("no class " << name);
  throw std::logic_error("unreachable");
}
const StreamSummary& stream_numbered(const TraceAttribution& a, std::int64_t stream) {
  for (const StreamSummary& s : a.streams)
    if (s.stream == stream) return s;
  FAIL("no stream " << stream);
  throw std::logic_error("unreachable");
}

// Per-layer mean of a phase's compute-stream kernel time, µs.
double compute_us_per_layer(const PhaseSummary& p) {
  return static_cast<double>(p.compute.kernel_ns) / 1000.0 / static_cast<double>(p.layers.size());
}

// Files a test writes, in a folder of its process removed when the test ends.
class ScratchFolder {
 public:
  ScratchFolder() : root_(fs::temp_directory_path() / ("trainsim-calibrate-" + std::to_string(::getpid()))) {
    fs::create_directories(root_);
  }
  ~ScratchFolder() {
    std::error_code ignored;
    fs::remove_all(root_, ignored);
  }
  ScratchFolder(const ScratchFolder&) = delete;
  ScratchFolder& operator=(const ScratchFolder&) = delete;
  [[nodiscard]] std::string file(const std::string& name, const std::string& text) const {
    std::ofstream(root_ / name) << text;
    return (root_ / name).string();
  }
  [[nodiscard]] std::string folder() const { return root_.string(); }

 private:
  fs::path root_;
};

std::string input_error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("calibrate: the tiny trace is read into kernels, launch calls, flows and ranges", "[calibrate]") {
  const KinetoTrace t = read_kineto_trace(kTinyTrace);
  REQUIRE(t.kernels.size() == 9);        // 8 kernels and 1 memset
  CHECK(t.launches.size() == 9);         // cudaEventQuery has no correlation: skipped
  CHECK(t.flows.size() == 5);
  CHECK(t.annotations.size() == 4);
  // Times from the earliest event (ProfilerStep#1 at the base), in nanoseconds.
  CHECK(t.kernels[0].start_ns == 500 * us);
  CHECK(t.kernels[0].duration_ns == 100 * us);
  CHECK(t.kernels[0].stream == 7);
  CHECK(t.kernels[0].correlation == 1);
  REQUIRE(t.kernels[0].grid.has_value());
  CHECK((*t.kernels[0].grid)[0] == 132);
  CHECK(t.kernels[1].grid == std::array<std::int64_t, 3>{32, 128, 1});
  CHECK_FALSE(t.kernels[7].correlation.has_value());  // rotary_kernel: linked by its flow arrow only
  CHECK(t.kernels[8].activity == GpuActivity::memset);
}

TEST_CASE("calibrate: the tiny trace's attribution has the hand-counted sums", "[calibrate]") {
  const KernelClassTable table = load_kernel_classes(kClasses);
  const TraceAttribution a = attribute_kernels(read_kineto_trace(kTinyTrace), table);
  CHECK(a.kernels == 9);
  CHECK(a.layers == 2);  // attn(F) twice
  // ProfilerStep#1 holds the others: not a phase.
  REQUIRE(a.phases.size() == 2);
  CHECK(a.phases[0].name == "attn(F)");
  CHECK(a.phases[1].name == "mlp(F)");

  const PhaseSummary& attn = phase_named(a, "attn(F)");
  REQUIRE(attn.layers.size() == 2);
  // Layer 0: GEMM [500,600], flash [610,660], unclassified [665,670]: gaps 10 and 5.
  CHECK(attn.layers[0].compute.count == 3);
  CHECK(attn.layers[0].compute.kernel_ns == 155 * us);
  CHECK(attn.layers[0].compute.busy_ns == 155 * us);
  CHECK(attn.layers[0].compute.gap_count == 2);
  CHECK(attn.layers[0].compute.gap_ns == 15 * us);
  CHECK(attn.layers[0].compute.gap_median_ns == 7500);
  // Layer 1: GEMM [900,980] and the flow-linked rotary_kernel [990,1000].
  CHECK(attn.layers[1].compute.count == 2);
  CHECK(attn.layers[1].compute.kernel_ns == 90 * us);
  CHECK(attn.layers[1].compute.gap_ns == 10 * us);
  CHECK(attn.compute.kernel_ns == 245 * us);
  CHECK(attn.compute.gap_count == 3);
  CHECK(attn.compute.gap_median_ns == 10 * us);  // of 10, 5, 10
  CHECK(attn.communication.count == 0);

  // mlp(F): cast [700,720] on stream 7 and wgrad GEMM [710,750] on stream 23 overlap;
  // the dispatch on stream 27 is its communication.
  const PhaseSummary& mlp = phase_named(a, "mlp(F)");
  CHECK(mlp.compute.count == 2);
  CHECK(mlp.compute.kernel_ns == 60 * us);
  CHECK(mlp.compute.busy_ns == 50 * us);
  CHECK(mlp.compute.gap_count == 0);
  CHECK(mlp.communication.count == 1);
  CHECK(mlp.communication.kernel_ns == 200 * us);
  REQUIRE(mlp.communication_classes.size() == 1);
  CHECK(mlp.communication_classes[0].name == "comm_ep");

  CHECK(class_named(a, "gemm_fp8").count == 2);
  CHECK(class_named(a, "gemm_fp8").kernel_ns == 180 * us);
  CHECK(class_named(a, "attention_fwd").kernel_ns == 50 * us);
  CHECK(class_named(a, "gemm_fp8_wgrad").kernel_ns == 40 * us);
  CHECK(class_named(a, "rope").kernel_ns == 10 * us);
  CHECK(class_named(a, "memset").kernel_ns == 2 * us);
  CHECK(class_named(a, "comm_ep").compute_stream_ns == 0);
  CHECK(class_named(a, "unclassified").kernel_ns == 5 * us);

  // Stream 7: gaps 10, 5, 30, 180, 10, 100 between consecutive kernels of any phase.
  const StreamSummary& s7 = stream_numbered(a, 7);
  CHECK(s7.compute);
  CHECK(s7.totals.count == 7);
  CHECK(s7.totals.kernel_ns == 267 * us);
  CHECK(s7.totals.gap_count == 6);
  CHECK(s7.totals.gap_ns == 335 * us);
  CHECK(s7.totals.gap_median_ns == 20 * us);
  CHECK_FALSE(stream_numbered(a, 27).compute);
  CHECK(stream_numbered(a, 23).compute);
  CHECK(a.compute.busy_ns == 297 * us);
  CHECK(a.span_ns == 602 * us);

  // Nothing dropped: the unclassified kernel and the memset outside every phase.
  REQUIRE(a.unclassified.size() == 1);
  CHECK(a.unclassified[0].name == "mystery_kernel");
  CHECK(a.unclassified[0].kernel_ns == 5 * us);
  REQUIRE(a.outside_phases.size() == 1);
  CHECK(a.outside_phases[0].name == "Memset (Device)");
  CHECK(a.without_launch == 0);
}

TEST_CASE("calibrate: the command prints the attribution as text and JSON", "[calibrate][cli]") {
  const auto text = test::run_trainsim("calibrate tests/calibrate/tiny-trace.json");
  CHECK(text.status == 0);
  CHECK(text.output.find("attn(F)") != std::string::npos);
  CHECK(text.output.find("mystery_kernel") != std::string::npos);
  CHECK(text.output.find("No calibration file is written") != std::string::npos);
  const auto json = test::run_trainsim("calibrate tests/calibrate/tiny-trace.json --format json", false);
  REQUIRE(json.status == 0);
  const auto j = nlohmann::json::parse(json.output);
  CHECK(j["layers"] == 2);
  CHECK(j["phases"][0]["phase"] == "attn(F)");
  CHECK(j["phases"][0]["mean_per_layer"]["compute"]["kernel_us"].get<double>() == Approx(122.5));
  CHECK(j["unclassified"][0]["name"] == "mystery_kernel");
  CHECK(j["calibration_written"] == false);
  // Deterministic output.
  CHECK(test::run_trainsim("calibrate tests/calibrate/tiny-trace.json --format json", false).output == json.output);
}

TEST_CASE("calibrate: the shipped DeepSeek-V3 profile against the manual kernel-by-kernel reading", "[calibrate]") {
  if (!fs::exists(kShippedTrace)) {
    WARN("no shared reference trace at " << kShippedTrace << "; skipped");
    return;
  }
  const TraceAttribution a = attribute_kernels(read_kineto_trace(kShippedTrace), load_kernel_classes(kClasses));
  CHECK(a.kernels == 983);
  CHECK(a.layers == 4);
  REQUIRE(a.phases.size() == 10);
  CHECK(a.unclassified.empty());
  CHECK(a.outside_phases.empty());
  CHECK(a.without_launch == 0);
  CHECK_FALSE(stream_numbered(a, 27).compute);
  CHECK(stream_numbered(a, 7).compute);
  CHECK(stream_numbered(a, 23).compute);

  // kernel-attribution.md, per phase, compute streams (7 + 23), µs per layer.
  CHECK(compute_us_per_layer(phase_named(a, "attn(F)")) == Approx(4370).epsilon(0.01));
  CHECK(compute_us_per_layer(phase_named(a, "mlp(F)")) == Approx(4602).epsilon(0.01));
  CHECK(compute_us_per_layer(phase_named(a, "mlp(B)")) == Approx(5306).epsilon(0.01));
  CHECK(compute_us_per_layer(phase_named(a, "attn(B)")) == Approx(9341).epsilon(0.01));
  CHECK(compute_us_per_layer(phase_named(a, "mlp(W)")) == Approx(6378).epsilon(0.01));
  CHECK(compute_us_per_layer(phase_named(a, "attn(W)")) == Approx(2388).epsilon(0.01));
  // mlp(W)'s two streams overlap: wall time with a compute stream busy.
  const PhaseSummary& mlp_w = phase_named(a, "mlp(W)");
  CHECK(static_cast<double>(mlp_w.compute.busy_ns) / 1000.0 / 4 == Approx(5063).epsilon(0.01));
  double all_compute = 0;
  for (const PhaseSummary& p : a.phases) all_compute += compute_us_per_layer(p);
  CHECK(all_compute == Approx(32385).epsilon(0.01));
  // The communication phases hold no compute kernel.
  for (const char* comm : {"dispatch(F)", "combine(F)", "dispatch(B)", "combine(B)"})
    CHECK(phase_named(a, comm).compute.count == 0);

  // Missing-work classes (µs per layer pair, compute streams).
  const auto per_layer_on_compute = [&](const std::string& c) {
    return static_cast<double>(class_named(a, c).compute_stream_ns) / 1000.0 / 4;
  };
  // The FP8 family, split by kernel into six classes, sums to the manual reading's 3708 µs.
  double fp8_family = 0;
  for (const char* c : {"fp8_quantize_cast_transpose", "fp8_scale_transpose", "fp8_transpose", "fp8_cast_transpose",
                        "fp8_cast_back", "fp8_special_format"})
    fp8_family += per_layer_on_compute(c);
  CHECK(fp8_family == Approx(3708).epsilon(0.01));
  // Kernel counts over the 4 layers, as kernel-classes.yaml's comments list them.
  CHECK(class_named(a, "fp8_scale_transpose").count == 64);
  CHECK(class_named(a, "fp8_transpose").count == 36);
  CHECK(class_named(a, "fp8_cast_transpose").count == 68);
  CHECK(class_named(a, "fp8_cast_back").count == 12);
  CHECK(class_named(a, "fp8_special_format").count == 8);
  CHECK(class_named(a, "fp8_quantize_cast_transpose").count == 72 + 4);
  CHECK(class_named(a, "norm_finalize").count == 16);
  CHECK(class_named(a, "norm").count == 32);      // ln_fwd_kernel
  CHECK(class_named(a, "norm_bwd").count == 16);  // ln_bwd_kernel
  CHECK(class_named(a, "moe_routing_map").count == 4 + 4);
  CHECK(class_named(a, "moe_permute").count == 8 + 8);
  // The FP8 cast on the comm SMs (stream 27, combine(B)): 270 µs.
  const auto& fp8 = class_named(a, "fp8_quantize_cast_transpose");
  CHECK(static_cast<double>(fp8.kernel_ns - fp8.compute_stream_ns) / 1000.0 / 4 == Approx(270).epsilon(0.01));
  // Copies: the manual's 667 µs counts the device-to-device memcpy (5.25 µs) as router
  // work; the copy class holds it. Without it the two readings agree within 1 %.
  std::int64_t memcpy_ns = 0;
  const KinetoTrace trace = read_kineto_trace(kShippedTrace);
  for (const GpuKernel& k : trace.kernels)
    if (k.activity == GpuActivity::memcpy) memcpy_ns += k.duration_ns;
  CHECK(memcpy_ns == 21 * us);
  // (copy_strided: the 52 at::native::elementwise_kernel direct copies of non-contiguous tensors; copy: the other 32)
  CHECK(class_named(a, "copy_strided").count == 52);
  CHECK(class_named(a, "copy").count == 16 + 8 + 8);
  CHECK(per_layer_on_compute("copy") + per_layer_on_compute("copy_strided") - static_cast<double>(memcpy_ns) / 1000.0 / 4 ==
        Approx(667).epsilon(0.01));
  CHECK(per_layer_on_compute("attention_bwd_pre") + per_layer_on_compute("attention_bwd_post") ==
        Approx(476).epsilon(0.01));
}

TEST_CASE("calibrate: bad traces are input errors with a position, never a crash", "[calibrate][errors]") {
  ScratchFolder dir;
  const std::string good = R"({"traceEvents": [{"ph": "X", "cat": "kernel", "name": "k", "ts": 1, "dur": 2, "args": {"stream": 7}}]})";
  CHECK_NOTHROW(parse_kineto_trace(good, "t.json"));

  // Truncated JSON: the position where the text stops.
  const std::string truncated = "{\"traceEvents\": [\n  {\"ph\": \"X\", \"cat\": \"kernel\",";
  const std::string cut = input_error_of([&] { (void)parse_kineto_trace(truncated, "t.json"); });
  CHECK(cut.rfind("t.json:2:", 0) == 0);
  CHECK(cut.find("not valid JSON") != std::string::npos);

  CHECK(input_error_of([] { (void)parse_kineto_trace("", "t.json"); }).find("empty file") != std::string::npos);
  CHECK(input_error_of([] { (void)parse_kineto_trace("42", "t.json"); }).find("traceEvents") != std::string::npos);
  CHECK(input_error_of([] { (void)parse_kineto_trace(R"({"a": 1})", "t.json"); }).find("no \"traceEvents\"") !=
        std::string::npos);
  // CPU events only: no kernel.
  const std::string cpu_only = R"({"traceEvents": [{"ph": "X", "cat": "cpu_op", "name": "aten::mm", "ts": 1, "dur": 2}]})";
  CHECK(input_error_of([&] { (void)parse_kineto_trace(cpu_only, "t.json"); }).find("no GPU kernels") !=
        std::string::npos);
  // A malformed kernel event: its line and column.
  const std::string bad_dur =
      "{\"traceEvents\": [\n {\"ph\": \"X\", \"cat\": \"cpu_op\", \"name\": \"x\"},\n"
      " {\"ph\": \"X\", \"cat\": \"kernel\", \"name\": \"k\", \"ts\": 1, \"dur\": \"2\", \"args\": {\"stream\": 7}}]}";
  const std::string dur = input_error_of([&] { (void)parse_kineto_trace(bad_dur, "t.json"); });
  CHECK(dur.rfind("t.json:3:2: traceEvents[1]: \"dur\" must be a number", 0) == 0);
  const std::string negative = R"({"traceEvents": [{"ph": "X", "cat": "kernel", "name": "k", "ts": 1, "dur": -2, "args": {"stream": 7}}]})";
  CHECK(input_error_of([&] { (void)parse_kineto_trace(negative, "t.json"); }).find("must be >= 0") != std::string::npos);
  const std::string no_stream = R"({"traceEvents": [{"ph": "X", "cat": "kernel", "name": "k", "ts": 1, "dur": 2, "tid": "x"}]})";
  CHECK(input_error_of([&] { (void)parse_kineto_trace(no_stream, "t.json"); }).find("stream") != std::string::npos);
  const std::string bad_grid = R"({"traceEvents": [{"ph": "X", "cat": "kernel", "name": "k", "ts": 1, "dur": 2, "args": {"stream": 7, "grid": [1, 2]}}]})";
  CHECK(input_error_of([&] { (void)parse_kineto_trace(bad_grid, "t.json"); }).find("3 integers") != std::string::npos);
  const std::string long_kernel = R"({"traceEvents": [{"ph": "X", "cat": "kernel", "name": "k", "ts": 1, "dur": 2e10, "args": {"stream": 7}}]})";
  CHECK(input_error_of([&] { (void)parse_kineto_trace(long_kernel, "t.json"); }).find("\"dur\" is out of range") !=
        std::string::npos);
  // A number beyond double: an input error at the number, not an internal error.
  const std::string overflow = "{\"traceEvents\": [\n {\"ph\": \"X\", \"ts\": 1E400}]}";
  const std::string huge = input_error_of([&] { (void)parse_kineto_trace(overflow, "t.json"); });
  CHECK(huge.rfind("t.json:2:20: not valid JSON", 0) == 0);
  // A root array of events is a Chrome trace too.
  CHECK(parse_kineto_trace(R"([{"ph": "X", "cat": "kernel", "name": "k", "ts": 1, "dur": 2, "args": {"stream": 7}}])", "t.json")
            .kernels.size() == 1);

  // Through the command: status 2, one line FILE:LINE:COL.
  const std::string file = dir.file("cut.json", truncated);
  const auto r = test::run_trainsim("calibrate '" + file + "'");
  CHECK(r.status == 2);
  CHECK(r.output.rfind(file + ":2:", 0) == 0);
  CHECK(test::run_trainsim("calibrate '" + dir.folder() + "'").status == 2);
  CHECK(test::run_trainsim("calibrate '" + dir.file("none.json", cpu_only) + "'").status == 2);
  CHECK(test::run_trainsim("calibrate /nonexistent/trace.json").status == 2);
}

TEST_CASE("calibrate: bad kernel-class tables are FILE:LINE:COL errors", "[calibrate][errors]") {
  ScratchFolder dir;
  const std::string head =
      "name: t\nsource: test\nclasses:\n  - {name: gemm, kind: compute, about: GEMMs}\n"
      "libraries:\n  - library: L\n    patterns:\n";
  CHECK(load_kernel_classes(dir.file("ok.yaml", head + "      - {match: 'Gemm', class: gemm}\n")).patterns.size() == 1);
  const auto error_of = [&](const std::string& name, const std::string& text) {
    const std::string file = dir.file(name, text);
    return input_error_of([&] { (void)load_kernel_classes(file); });
  };
  CHECK(error_of("k.yaml", head + "      - {match: 'Gemm', class: gemm, colour: red}\n").find(":8:") != std::string::npos);
  CHECK(error_of("k2.yaml", head + "      - {match: 'Gemm', class: gemm, colour: red}\n").find("unknown key \"colour\"") !=
        std::string::npos);
  const std::string regex = error_of("r.yaml", head + "      - {match: 'Gemm(', class: gemm}\n");
  CHECK(regex.find(":8:17:") != std::string::npos);
  CHECK(regex.find("not a valid regular expression") != std::string::npos);
  const std::string klass = error_of("c.yaml", head + "      - {match: 'Gemm', class: gem}\n");
  CHECK(klass.find("not a declared class") != std::string::npos);
  CHECK(klass.find("did you mean \"gemm\"") != std::string::npos);
  CHECK(error_of("u.yaml", "name: t\nsource: s\nclasses:\n  - {name: unclassified, kind: compute, about: x}\nlibraries: []\n")
            .find("\"unclassified\" is what no pattern matches") != std::string::npos);
  CHECK(error_of("d.yaml", "name: t\nsource: s\nclasses:\n  - {name: a, kind: compute, about: x}\n"
                           "  - {name: a, kind: compute, about: y}\nlibraries: []\n")
            .find("declared twice") != std::string::npos);
  CHECK(error_of("kd.yaml", "name: t\nsource: s\nclasses:\n  - {name: a, kind: network, about: x}\nlibraries: []\n")
            .find("expected one of compute, communication") != std::string::npos);
  CHECK(error_of("top.yaml", head + "      - {match: 'x', class: gemm}\nextra: 1\n").find("unknown key \"extra\"") !=
        std::string::npos);
  // The command: status 2.
  const auto r = test::run_trainsim("calibrate tests/calibrate/tiny-trace.json --classes '" +
                                    dir.file("bad.yaml", head + "      - {match: '[', class: gemm}\n") + "'");
  CHECK(r.status == 2);
}

TEST_CASE("calibrate: first pattern in file order wins, names no pattern matches stay unclassified", "[calibrate]") {
  const KernelClassTable table = load_kernel_classes(kClasses);
  KernelClassifier classify(table);
  const auto name_of = [&](const std::string& kernel) {
    const auto c = classify.classify(kernel);
    return c ? table.classes[*c].name : std::string(unclassified_class);
  };
  // Names that contain a later pattern's text.
  CHECK(name_of("void cuda::swiglu_forward_with_weight_and_per_token_cast_to_fp8_with_channels_impl<>") == "swiglu");
  CHECK(name_of("void cutlass::device_kernel<dpsk::grouped_gemm::cuda::m_grouped_fp8_ptp128c::GemmKernel>") ==
        "grouped_gemm_fp8");
  CHECK(name_of("cutlass::device_kernel<flash::FlashAttnBwdPreprocess<>>") == "attention_bwd_pre");
  CHECK(name_of("cutlass::device_kernel<flash::FlashAttnBwd<>>") == "attention_bwd");
  // the strided (elementwise_kernel) direct copy before the general direct_copy pattern; the contiguous one after it
  CHECK(name_of("void at::native::elementwise_kernel<128, 4, at::native::gpu_kernel_impl<at::native::direct_copy_kernel_cuda>") ==
        "copy_strided");
  CHECK(name_of("void at::native::unrolled_elementwise_kernel<at::native::direct_copy_kernel_cuda(at::TensorIteratorBase&)>") ==
        "copy");
  CHECK(name_of("ncclDevKernel_AllReduce_Sum_bf16_RING_LL") == "comm_nccl");
  CHECK(name_of("some_new_kernel") == "unclassified");
  CHECK(name_of("some_new_kernel") == "unclassified");  // remembered
}

}  // namespace test_calibrate
