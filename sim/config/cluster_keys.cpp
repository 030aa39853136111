// The keys of a cluster file (topologies/*.yaml), in file order.
#include "sim/config/keys.hpp"

namespace trainsim::config {

namespace {
// Latencies: at least 1 ns, the simulator's time resolution (SimGrid's default
// surf/precision); SimGrid 3.32 crashes in its solver on positive latencies below it.
const Range kLatencyRange = Range::at_least(1e-9);
}  // namespace

const KeyTable& cluster_keys() {
  using namespace declare;
  using quantity::bandwidth, quantity::compute_rate, quantity::fraction, quantity::memory, quantity::plain,
      quantity::power, quantity::time;
  static const KeyTable table{
      "cluster",
      {
          text("name", "cluster name, shown in reports"),
          section("gpu", "the GPU model, identical on every node"),
          text("gpu.name", "GPU model name, shown in reports"),
          section("gpu.peak_tflops", "dense Tensor-core peaks"),
          number("gpu.peak_tflops.bf16", compute_rate, Range::positive(), "dense BF16 peak; a plain number is TFLOP/s"),
          optional(number("gpu.peak_tflops.fp8", compute_rate, Range::non_negative(),
                          "dense FP8 peak; a plain number is TFLOP/s; absent (0): the GPU has no FP8 tensor cores "
                          "(A100) and a workload with an FP8 gemm or attention precision is refused"),
                   "0"),
          integer("gpu.sms", Range::at_least(1), "streaming multiprocessors per GPU"),
          number("gpu.hbm", memory, Range::positive(), "HBM capacity per GPU"),
          number("gpu.hbm_bandwidth", bandwidth, Range::positive(), "HBM bandwidth per GPU"),
          section("gpu.power", "board power, for energy and electricity cost"),
          number("gpu.power.idle", power, Range::non_negative(), "board power while waiting; at most busy"),
          number("gpu.power.busy", power, Range::positive(), "board power while computing"),
          number("gpu.launch_overhead", time, Range::non_negative(), "gap between dependent kernels on one stream"),
          section("gpu.efficiency", "fraction of the peak an op kind reaches on the SMs it runs on"),
          section("gpu.efficiency.dense_gemm", "projections, shared expert, dense FFN, head"),
          number("gpu.efficiency.dense_gemm.fp8", fraction, Range::fraction(), "of the FP8 peak"),
          number("gpu.efficiency.dense_gemm.bf16", fraction, Range::fraction(), "of the BF16 peak"),
          section("gpu.efficiency.grouped_gemm", "routed experts"),
          number("gpu.efficiency.grouped_gemm.fp8", fraction, Range::fraction(), "of the FP8 peak"),
          number("gpu.efficiency.grouped_gemm.bf16", fraction, Range::fraction(), "of the BF16 peak"),
          number("gpu.efficiency.attention_fwd", fraction, Range::fraction(), "flash attention forward, of the peak"),
          number("gpu.efficiency.attention_bwd", fraction, Range::fraction(), "flash attention backward, of the peak"),
          number("gpu.efficiency.hbm", fraction, Range::fraction(), "memory-bound ops, of hbm_bandwidth"),
          optional(text("gpu.calibration",
                        "calibration file (cost laws per kernel class, `trainsim calibrate --write`), relative to "
                        "this file; with a workload's training.recipes it replaces the efficiencies above"),
                   "none"),
          integer("nodes", Range::at_least(1), "number of nodes; nodes x node.gpus GPUs in all"),
          section("node", "one node: GPUs on one NVSwitch"),
          integer("node.gpus", Range::at_least(1), "GPUs per node"),
          number("node.nvlink_bandwidth", bandwidth, Range::positive(), "NVLink bandwidth per GPU per direction"),
          number("node.nvlink_efficiency", fraction, Range::fraction(), "achievable fraction of nvlink_bandwidth"),
          number("node.nvlink_latency", time, kLatencyRange, "GPU-to-GPU one-way latency through the NVSwitch"),
          section("network", "the scale-out fabric between nodes"),
          name("network.fabric", "fabric by its registered name, e.g. multi-plane-fat-tree"),
          integer("network.planes", Range::at_least(1),
                  "independent planes; multi-plane: one per in-node GPU index, dividing node.gpus"),
          number("network.nic_bandwidth", bandwidth, Range::positive(), "NIC bandwidth per GPU per direction"),
          number("network.nic_efficiency", fraction, Range::fraction(), "achievable fraction of nic_bandwidth"),
          integer("network.switch_radix", Range::at_least(2), "ports per switch"),
          number("network.oversubscription", plain, Range::at_least(1),
                 "leaf down:up ratio (clos3: at the aggregation layer); 1 = full bisection"),
          number("network.link_latency", time, kLatencyRange, "one-way latency per cable hop"),
          number("network.switch_latency", time, kLatencyRange, "latency per switch traversal"),
          optional(number("network.bandwidth_factor", plain, Range::positive(),
                          "SimGrid network-model bandwidth correction; 1 = ideal fluid model"),
                   "1"),
          optional(number("network.latency_factor", plain, Range::positive(),
                          "SimGrid network-model latency correction; 1 = ideal fluid model"),
                   "1"),
          section("pricing", "prices for the cost reports"),
          number("pricing.gpu_hour_usd", plain, Range::non_negative(), "rental price per GPU-hour, USD"),
          optional(number("pricing.pue", plain, Range::at_least(1), "power usage effectiveness of the data centre"), "1"),
          optional(number("pricing.electricity_usd_per_kwh", plain, Range::non_negative(),
                          "electricity price, USD per kWh; 0 = not given"),
                   "0"),
          optional(number("pricing.capex_per_gpu_usd", plain, Range::non_negative(),
                          "purchase cost per GPU incl. its host share, USD; 0 = not given"),
                   "0"),
          optional(number("pricing.capex_per_endpoint_usd", plain, Range::non_negative(),
                          "network cost per endpoint, USD; 0 = not given"),
                   "0"),
          optional(number("pricing.amortization_years", plain, Range::non_negative(),
                          "years over which capex is spread; 0 = not given"),
                   "0"),
      }};
  return table;
}

}  // namespace trainsim::config
