// Communication SMs (issue 12, defect 2): a compute task runs on all of its GPU's
// SMs, and on sms - comm_sms of them only while a communication task sends or
// receives on the same GPU. Hand-made programs through the engine against closed
// forms, then the effect on a whole step.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/engine/step_executor.hpp"
#include "sim/model/op_time.hpp"
#include "sim/parallel/layer_plan.hpp"
#include "sim/parallel/step_program.hpp"
#include "sim/run/process_pool.hpp"
#include "tests/support.hpp"

namespace test_comm_sms {

using namespace trainsim;

namespace {

constexpr double kComputeSeconds = 10;
constexpr double kSharedRate = 0.8;  // the compute task's rate beside a comm kernel
constexpr double kTransferBytes = 160e9;  // about 1 s over one NVLink hop of the test cluster (160 GB/s)

// The test cluster of tests/support.hpp with the GPU figures these tests read.
ClusterSpec comm_test_cluster() {
  ClusterSpec c = test::h800_like_cluster(1);
  c.gpu.sms = 132;
  c.gpu.peak_flops_bf16 = 989e12;
  c.gpu.hbm_bytes_per_s = 3.35e12;
  c.gpu.efficiency.dense_gemm_bf16 = 0.6;
  c.gpu.efficiency.hbm = 0.8;
  c.gpu.launch_overhead_s = 5e-6;
  c.gpu.power_idle_w = 100;
  c.gpu.power_busy_w = 700;
  return c;
}

StepTask compute_task(int gpu, double seconds_sm_shared) {
  StepTask t;
  t.name = "compute";
  t.category = Category::mlp;
  t.gpu = gpu;
  t.seconds = kComputeSeconds;
  t.seconds_sm_shared = seconds_sm_shared;
  return t;
}

StepTask transfer_task(int src, int dst, double bytes) {
  StepTask t;
  t.name = "transfer";
  t.category = Category::ep;
  t.gpu = src;
  t.stream = Stream::comm;
  t.transfers = {{src, dst, bytes}};
  return t;
}

StepTask wait_task(int gpu, double seconds) {
  StepTask t = compute_task(gpu, 0);
  t.name = "wait";
  t.seconds = seconds;
  return t;
}

struct Timeline {
  std::vector<double> start, end;  // by task
  std::vector<double> energy_j;    // by simulated GPU
  double makespan = 0;
};

// Runs `program` on a one-node H800-like cluster in a child process (one SimGrid
// engine per process).
Timeline run_program(StepProgram program) {
  program.num_gpus = 8;
  program.simulated_gpus = {0, 1, 2, 3, 4, 5, 6, 7};
  const std::size_t n = num_vertices(program.graph);
  const auto numbers = run_isolated([&] {
    const auto x = engine::execute_step(comm_test_cluster(), program);
    std::vector<double> out{x.makespan_s};
    for (const auto& t : x.tasks) out.insert(out.end(), {t.start_s, t.end_s});
    out.insert(out.end(), x.gpu_energy_j.begin(), x.gpu_energy_j.end());
    return out;
  });
  REQUIRE(numbers.size() == 1 + 2 * n + 8);
  Timeline t;
  t.makespan = numbers[0];
  for (std::size_t v = 0; v < n; ++v) {
    t.start.push_back(numbers[1 + 2 * v]);
    t.end.push_back(numbers[2 + 2 * v]);
  }
  t.energy_j.assign(numbers.begin() + static_cast<long>(1 + 2 * n), numbers.end());
  return t;
}

std::size_t add(StepProgram& p, StepTask t) { return test::add_task(p, std::move(t)); }

}  // namespace

TEST_CASE("comm SMs: a compute task alone on its GPU takes exactly its all-SM seconds", "[comm_sms]") {
  StepProgram p;
  const auto c = add(p, compute_task(0, kComputeSeconds / kSharedRate));
  const auto x = run_program(p);
  CHECK(x.start[c] == 0);
  CHECK(x.end[c] == Approx(kComputeSeconds).margin(1e-9));
}

TEST_CASE("comm SMs: a comm task on the same GPU for the compute task's first part slows that part only",
          "[comm_sms]") {
  StepProgram p;
  const auto c = add(p, compute_task(0, kComputeSeconds / kSharedRate));
  const auto m = add(p, transfer_task(0, 1, 2 * kTransferBytes));  // GPU 0 sends
  const auto x = run_program(p);
  const double comm_end = x.end[m];
  REQUIRE(x.start[m] == 0);
  REQUIRE(comm_end > 1.5);
  REQUIRE(comm_end < 2.5);
  // Work done: kSharedRate per second until the comm ends, then 1 per second.
  const double expected = comm_end + (kComputeSeconds - kSharedRate * comm_end);
  CHECK(x.end[c] == Approx(expected).margin(1e-6));
  CHECK(x.end[c] > kComputeSeconds + 0.3);

  SECTION("the receiving GPU's compute is slowed the same way") {
    StepProgram q;
    const auto rc = add(q, compute_task(1, kComputeSeconds / kSharedRate));
    const auto rm = add(q, transfer_task(0, 1, 2 * kTransferBytes));  // GPU 1 receives
    const auto y = run_program(q);
    CHECK(y.end[rc] == Approx(y.end[rm] + kComputeSeconds - kSharedRate * y.end[rm]).margin(1e-6));
  }
  SECTION("energy: busy power for the whole compute interval, slowed part included") {
    const double idle = comm_test_cluster().gpu.power_idle_w;
    const double busy = comm_test_cluster().gpu.power_busy_w;
    CHECK(x.energy_j[0] == Approx(idle * x.makespan + (busy - idle) * x.end[c]).epsilon(1e-9));
    CHECK(x.energy_j[1] == Approx(idle * x.makespan).epsilon(1e-9));  // receives only: no compute
  }
}

TEST_CASE("comm SMs: a comm task in the middle of a compute task slows exactly its span", "[comm_sms]") {
  StepProgram p;
  const auto c = add(p, compute_task(0, kComputeSeconds / kSharedRate));
  const auto w = add(p, wait_task(2, 3));  // the comm starts at 3 s
  const auto m = add(p, transfer_task(0, 1, 2 * kTransferBytes));
  test::add_dependency(p, w, m);
  const auto x = run_program(p);
  REQUIRE(x.start[m] == Approx(3).margin(1e-9));
  const double span = x.end[m] - x.start[m];
  REQUIRE(span > 1.5);
  CHECK(x.end[c] == Approx(kComputeSeconds + (1 - kSharedRate) * span).margin(1e-6));
}

TEST_CASE("comm SMs: overlapping comm tasks on one GPU hold its SMs until the last ends", "[comm_sms]") {
  StepProgram p;
  const auto c = add(p, compute_task(0, kComputeSeconds / kSharedRate));
  const auto m1 = add(p, transfer_task(0, 1, kTransferBytes));
  const auto m2 = add(p, transfer_task(2, 0, 3 * kTransferBytes));
  const auto x = run_program(p);
  const double held = std::max(x.end[m1], x.end[m2]);
  REQUIRE(x.end[m1] < x.end[m2]);
  CHECK(x.end[c] == Approx(held + kComputeSeconds - kSharedRate * held).margin(1e-6));
}

TEST_CASE("comm SMs: a comm task on another GPU does not slow the compute task", "[comm_sms]") {
  StepProgram p;
  const auto c = add(p, compute_task(0, kComputeSeconds / kSharedRate));
  const auto m = add(p, transfer_task(2, 3, 2 * kTransferBytes));
  const auto x = run_program(p);
  REQUIRE(x.end[m] > 1.5);
  CHECK(x.end[c] == Approx(kComputeSeconds).margin(1e-9));
}

TEST_CASE("comm SMs: a compute task without a shared duration (HBM-bound) is never slowed", "[comm_sms]") {
  StepProgram p;
  const auto c = add(p, compute_task(0, 0));
  const auto m = add(p, transfer_task(0, 1, 2 * kTransferBytes));
  const auto x = run_program(p);
  REQUIRE(x.end[m] > 1.5);
  CHECK(x.end[c] == Approx(kComputeSeconds).margin(1e-9));
}

TEST_CASE("comm SMs: op_time scales the FLOP-bound part by the SM share and keeps the HBM-bound part",
          "[comm_sms]") {
  ClusterSpec c = comm_test_cluster();
  OpCost gemm;
  gemm.kind = OpKind::dense_gemm;
  gemm.precision = Precision::bf16;
  gemm.flops_fwd = 1e15;
  gemm.bytes_fwd = 1;
  const double share = 112.0 / 132.0;
  const double launch = c.gpu.launch_overhead_s;
  const double all = op_seconds(gemm, Pass::forward, c, 1.0) - launch;
  CHECK(op_seconds(gemm, Pass::forward, c, share) - launch == Approx(all / share));
  OpCost copy;
  copy.kind = OpKind::memory_bound;
  copy.precision = Precision::bf16;
  copy.bytes_fwd = 1e12;
  CHECK(op_seconds(copy, Pass::forward, c, share) == op_seconds(copy, Pass::forward, c, 1.0));

  WorkloadSpec w;
  w.parallelism.comm_sms = 20;
  CHECK(compute_sm_share(c, w) == Approx(share));
  w.parallelism.comm_sms = 0;
  CHECK(compute_sm_share(c, w) == 1.0);
}

namespace {

// Step time of the small MoE case (DeepSeek-V3's recipe on 128 GPUs) under 1F1B.
double small_1f1b_step_s(int comm_sms) {
  const auto r = test::run_trainsim(
      "run --format json --ramp-points 0 --jobs 1 --set nodes=16 --set model.layers=6 "
      "--set model.moe.first_dense_layers=1 --set parallelism.pp=2 --set parallelism.dp=64 "
      "--set training.global_batch=256 --set training.batch_ramp.start=256 --set parallelism.schedule=1f1b "
      "--set parallelism.comm_sms=" + std::to_string(comm_sms),
      false);
  REQUIRE(r.status == 0);
  const auto j = nlohmann::json::parse(r.output);
  return j.at("step_time_s").get<double>();
}

}  // namespace

TEST_CASE("comm SMs: under 1F1B, where little communication overlaps compute, comm_sms barely moves the step",
          "[comm_sms]") {
  const double with = small_1f1b_step_s(20);
  const double without = small_1f1b_step_s(0);
  CHECK(with >= without);
  // Before, every compute op ran on 112 of 132 SMs all step: 0.978 s against 0.896 s (+9.2 %);
  // now 0.8966 s against 0.8959 s (+0.07 %).
  CHECK((with - without) / without < 0.01);
}

}  // namespace test_comm_sms
