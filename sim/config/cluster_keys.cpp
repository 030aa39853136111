// The keys of a cluster file (topologies/*.yaml), in file order.
#include "sim/config/keys.hpp"

namespace trainsim::config {

namespace {
// Latencies: at least 1 ns, the simulator's time resolution (SimGrid's default
// surf/precision); SimGrid 3.32 crashes in its solver on positive latencies below it.
// At most 1 ms: 200 km of fibre, far beyond any cable or switch in one cluster.
const Range kLatencyRange = Range::between(1e-9, 1e-3);
// Efficiencies: at least 0.1 % of the peak (assumption: below it an op is not a peak fraction but a stall).
const Range kEfficiencyRange = Range::between(1e-3, 1);
// Dense peaks: 1 TFLOP/s to 100 PFLOP/s per GPU (B200 dense FP8: 4.5 PFLOP/s).
const Range kPeakRange = Range::between(1e12, 1e17);
// Prices in USD: at most 10 million per item (an H800 node share is about 40 thousand).
const Range kUsdRange = Range::between(0, 1e7);
// Failure rates: at most 1,000 failures per 1,000 component-days (one a day per component; assumption:
// far above any published fleet rate, which are a few per 1,000 node-days).
const Range kFailureRateRange = Range::between(0, 1000);
// Recovery times: at most 30 days (assumption: a longer outage is not a restart but a new run).
const Range kRecoveryTimeRange = Range::between(0, 30 * 86400.0);
// Checkpoint bandwidths: 1 MB/s to 10 TB/s per node (a node's NICs together: 3.2 Tb/s = 400 GB/s).
const Range kCheckpointBandwidthRange = Range::between(1e6, 1e13);

// One failure rate of reliability.failures_per_1000_days (all five read the same way).
KeyDecl failure_rate(const std::string& component, const std::string& help) {
  return declare::optional(
      declare::number("reliability.failures_per_1000_days." + component, quantity::plain, kFailureRateRange, help),
      "0");
}
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
          number("gpu.peak_tflops.bf16", compute_rate, kPeakRange, "dense BF16 peak; a plain number is TFLOP/s"),
          optional(number("gpu.peak_tflops.fp8", compute_rate, Range::between(0, 1e17),
                          "dense FP8 peak; a plain number is TFLOP/s; absent (0): the GPU has no FP8 tensor cores "
                          "(A100) and a workload with an FP8 gemm or attention precision is refused"),
                   "0"),
          integer("gpu.sms", Range::between(1, 4096), "streaming multiprocessors per GPU (H800: 132)"),
          number("gpu.hbm", memory, Range::between(1e9, 1e13), "HBM capacity per GPU, 1 GB to 10 TB (H200: 141 GB)"),
          number("gpu.hbm_bandwidth", bandwidth, Range::between(1e9, 1e15), "HBM bandwidth per GPU, 1 GB/s to 1 PB/s (H200: 4.8 TB/s)"),
          section("gpu.power", "board power, for energy and electricity cost"),
          number("gpu.power.idle", power, Range::between(0, 1e5), "board power while waiting; at most busy"),
          number("gpu.power.busy", power, Range::between(1, 1e5), "board power while computing, 1 W to 100 kW (H800: 700 W)"),
          number("gpu.launch_overhead", time, Range::between(0, 1e-3), "gap between dependent kernels on one stream, at most 1 ms (CUDA: a few us)"),
          section("gpu.efficiency", "fraction of the peak an op kind reaches on the SMs it runs on"),
          section("gpu.efficiency.dense_gemm", "projections, shared expert, dense FFN, head"),
          number("gpu.efficiency.dense_gemm.fp8", fraction, kEfficiencyRange, "of the FP8 peak"),
          number("gpu.efficiency.dense_gemm.bf16", fraction, kEfficiencyRange, "of the BF16 peak"),
          section("gpu.efficiency.grouped_gemm", "routed experts"),
          number("gpu.efficiency.grouped_gemm.fp8", fraction, kEfficiencyRange, "of the FP8 peak"),
          number("gpu.efficiency.grouped_gemm.bf16", fraction, kEfficiencyRange, "of the BF16 peak"),
          number("gpu.efficiency.attention_fwd", fraction, kEfficiencyRange, "flash attention forward, of the peak"),
          number("gpu.efficiency.attention_bwd", fraction, kEfficiencyRange, "flash attention backward, of the peak"),
          number("gpu.efficiency.hbm", fraction, kEfficiencyRange, "memory-bound ops, of hbm_bandwidth"),
          optional(text("gpu.calibration",
                        "calibration file (cost laws per kernel class, `trainsim calibrate --write`), relative to "
                        "this file; with a workload's training.recipes it replaces the efficiencies above"),
                   "none"),
          integer("nodes", Range::at_least(1), "number of nodes; nodes x node.gpus GPUs in all"),
          section("node", "one node: GPUs on one NVSwitch"),
          integer("node.gpus", Range::between(1, 1024), "GPUs per node (one NVLink domain; NVL576 is the largest announced)"),
          number("node.nvlink_bandwidth", bandwidth, Range::between(1e8, 1e14), "NVLink bandwidth per GPU per direction, 100 MB/s to 100 TB/s (H800: 200 GB/s)"),
          number("node.nvlink_efficiency", fraction, kEfficiencyRange, "achievable fraction of nvlink_bandwidth"),
          number("node.nvlink_latency", time, kLatencyRange, "GPU-to-GPU one-way latency through the NVSwitch"),
          section("network", "the scale-out fabric between nodes"),
          name("network.fabric", "fabric by its registered name, e.g. multi-plane-fat-tree"),
          integer("network.planes", Range::at_least(1),
                  "independent planes; multi-plane: one per in-node GPU index, dividing node.gpus"),
          number("network.nic_bandwidth", bandwidth, Range::between(1.25e5, 1.25e12), "NIC bandwidth per GPU per direction, 1 Mb/s to 10 Tb/s"),
          number("network.nic_efficiency", fraction, kEfficiencyRange, "achievable fraction of nic_bandwidth"),
          integer("network.switch_radix", Range::between(2, 4096), "ports per switch (today's switches: 32 to 512)"),
          number("network.oversubscription", plain, Range::between(1, 1024),
                 "leaf down:up ratio (clos3: at the aggregation layer); 1 = full bisection"),
          number("network.link_latency", time, kLatencyRange, "one-way latency per cable hop"),
          number("network.switch_latency", time, kLatencyRange, "latency per switch traversal"),
          optional(number("network.bandwidth_factor", plain, Range::between(0.01, 10),
                          "SimGrid network-model bandwidth correction; 1 = ideal fluid model"),
                   "1"),
          optional(number("network.latency_factor", plain, Range::between(0.01, 100),
                          "SimGrid network-model latency correction; 1 = ideal fluid model"),
                   "1"),
          section("pricing", "prices for the cost reports"),
          number("pricing.gpu_hour_usd", plain, Range::between(0, 1e4), "rental price per GPU-hour, USD"),
          optional(number("pricing.pue", plain, Range::between(1, 10), "power usage effectiveness of the data centre"), "1"),
          optional(number("pricing.electricity_usd_per_kwh", plain, Range::between(0, 100),
                          "electricity price, USD per kWh; 0 = not given"),
                   "0"),
          optional(number("pricing.capex_per_gpu_usd", plain, kUsdRange,
                          "purchase cost per GPU incl. its host share, USD; 0 = not given"),
                   "0"),
          optional(number("pricing.capex_per_endpoint_usd", plain, kUsdRange,
                          "network cost per endpoint, USD; 0 = not given"),
                   "0"),
          optional(number("pricing.amortization_years", plain, Range::between(0, 100),
                          "years over which capex is spread; 0 = not given"),
                   "0"),
          optional(section("reliability", "failures, restarts and checkpoints: the goodput block of `run`"),
                   "absent: no failures (the idealised figures alone)"),
          section("reliability.failures_per_1000_days",
                  "failure rates, each in failures per 1,000 days of ONE such component (per 1,000 GPU-days, "
                  "node-days, NIC-days, cable-days, switch-days); the cluster's count of each multiplies it"),
          failure_rate("gpu", "per 1,000 GPU-days; the GPU's node leaves the job until replaced"),
          failure_rate("node", "host failures (CPU, memory, power, board) per 1,000 node-days; the node leaves the job"),
          failure_rate("nic", "per 1,000 NIC-days (one NIC per GPU); the node leaves the job"),
          failure_rate("link",
                       "per 1,000 cable-days of the scale-out fabric (NIC-leaf and switch-switch cables); the job "
                       "restarts, no node is lost"),
          failure_rate("switch", "per 1,000 switch-days of the scale-out fabric; the job restarts, no node is lost"),
          optional(number("reliability.detection_time", time, kRecoveryTimeRange,
                          "from a failure to the job being stopped (hang detection, watchdog timeouts)"),
                   "0s"),
          optional(number("reliability.replace_time", time, kRecoveryTimeRange,
                          "to repair or replace a failed node and return it to the spare pool; the job waits for "
                          "it when no spare is left"),
                   "0s"),
          optional(number("reliability.restart_time", time, kRecoveryTimeRange,
                          "to reschedule and re-initialise the job (process launch, communicator set-up), before "
                          "the checkpoint load"),
                   "0s"),
          optional(integer("reliability.spare_nodes", Range::between(0, 1e6),
                           "healthy nodes held outside the job; a node failure takes one instead of waiting "
                           "replace_time"),
                   "0"),
          section("reliability.checkpoint", "checkpoints: weights + optimizer states, written to the storage plane"),
          number("reliability.checkpoint.write_bandwidth", bandwidth, kCheckpointBandwidthRange,
                 "checkpoint write bandwidth per node to the storage plane"),
          number("reliability.checkpoint.read_bandwidth", bandwidth, kCheckpointBandwidthRange,
                 "checkpoint read (load) bandwidth per node from the storage plane"),
          optional(number("reliability.checkpoint.storage_bandwidth", bandwidth, Range::between(0, 1e16),
                          "aggregate cap of the storage plane over all nodes together; 0 = no cap"),
                   "0B/s"),
          optional(boolean("reliability.checkpoint.asynchronous",
                           "true: the step stalls only for the snapshot copy to host memory and the write "
                           "goes on in the background (a checkpoint counts once written)"),
                   "false"),
          conditional(number("reliability.checkpoint.snapshot_bandwidth", bandwidth, Range::between(1e8, 1e13),
                             "device-to-host copy bandwidth per GPU for the asynchronous snapshot"),
                      "required when asynchronous is true, refused otherwise"),
          optional(number("reliability.checkpoint.interval", time, kRecoveryTimeRange,
                          "time between checkpoints, rounded to whole full-batch steps (at least one); "
                          "`run --checkpoint-interval STEPS` overrides it; 0 = the interval that minimises the wall "
                          "time, searched"),
                   "0s"),
          optional(section("stragglers", "GPUs slower than the rest: per-GPU speed factors on compute in the step"),
                   "absent: every GPU at full speed"),
          optional(text("stragglers.slow_gpus",
                        "slow GPUs as GPU:speed pairs, comma-separated (`12:0.8, 40:0.9`): GPU index (node x "
                        "node.gpus + local index) and its compute speed as a fraction of nominal, in [0.05, 1]"),
                   "none"),
          optional(number("stragglers.spread", fraction, Range::between(0, 0.95),
                          "every GPU's compute speed drawn uniformly in [1 - spread, 1] (seeded; slow_gpus then "
                          "lowers the GPUs it names further); 0 = no draw"),
                   "0"),
          optional(integer("stragglers.seed", Range::between(0, 2147483647), "seed of the spread draw"), "1"),
      }};
  return table;
}

}  // namespace trainsim::config
