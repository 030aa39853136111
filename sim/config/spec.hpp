#pragma once
// Immutable, validated descriptions of a cluster and a workload.
// Built once by sim/config/load.cpp from YAML (+ --set overrides); every later
// stage reads them and never changes them. All quantities are in SI base units
// and carry their unit in the field name.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sim/config/error.hpp"

namespace trainsim {

enum class Precision { bf16, fp8 };
enum class AttentionKind { mha, gqa, mla };
enum class Optimizer { adamw };
enum class FfnActivation { swiglu, gelu };
enum class AttentionImplementation { flash, unfused };

// A constant whose YAML value was written `{value: V, low: L, high: H}`:
// the spec holds V; the range feeds `trainsim claim` (Monte Carlo).
struct UncertainConstant {
  std::string path;  // dotted key path, usable with --set (e.g. "cluster.gpu.efficiency.attention_fwd")
  double value = 0;  // in the spec's base unit
  double low = 0;
  double high = 0;
};

// ---------------------------------------------------------------- cluster
// Fraction of the dense peak (or of HBM bandwidth) an op kind reaches on the
// SMs it runs on. Sourced per entry in the cluster YAML.
struct EfficiencySpec {
  double dense_gemm_fp8 = 0;    // attention projections, shared expert, dense FFN, head
  double dense_gemm_bf16 = 0;
  double grouped_gemm_fp8 = 0;  // routed experts
  double grouped_gemm_bf16 = 0;
  double attention_fwd = 0;     // flash attention forward (score + value products)
  double attention_bwd = 0;     // flash attention backward
  double hbm = 0;               // memory-bound ops: fraction of hbm_bytes_per_s
};

struct GpuSpec {
  std::string name;
  double peak_flops_bf16 = 0;   // dense, FLOP/s
  double peak_flops_fp8 = 0;    // dense, FLOP/s
  int sms = 0;
  double hbm_bytes = 0;
  double hbm_bytes_per_s = 0;
  double power_idle_w = 0;
  double power_busy_w = 0;
  double launch_overhead_s = 0; // per kernel
  EfficiencySpec efficiency;
  std::string calibration;      // gpu.calibration as written (relative to the cluster file); "" = op_time's model
};

struct NodeSpec {
  int gpus = 0;                    // GPUs per node, all on one NVSwitch
  double nvlink_bytes_per_s = 0;   // per GPU per direction
  double nvlink_efficiency = 1;    // achievable fraction (H800: 160 of 200 GB/s)
  double nvlink_latency_s = 0;
};

struct NetworkSpec {
  std::string fabric = "multi-plane-fat-tree";  // registered in sim/topology (check_fabric)
  int planes = 1;                  // multi-plane: one plane per in-node GPU index
  double nic_bytes_per_s = 0;      // per GPU (one NIC per GPU), per direction
  double nic_efficiency = 1;       // achievable fraction (ISCA'25: 40 of 50 GB/s)
  int switch_radix = 0;            // ports per switch
  double oversubscription = 1;     // leaf down:up (clos3: at the aggregation layer)
  double link_latency_s = 0;       // per cable hop
  double switch_latency_s = 0;     // per switch traversal
  // SimGrid network-model corrections; 1 = ideal fluid model (see sim/engine).
  double bandwidth_factor = 1;
  double latency_factor = 1;
};

struct PricingSpec {
  double gpu_hour_usd = 0;         // rental price
  double pue = 1;                  // power usage effectiveness
  double electricity_usd_per_kwh = 0;
  // Ownership view (optional; 0 = not given).
  double capex_per_gpu_usd = 0;
  double capex_per_endpoint_usd = 0;  // network cost per GPU endpoint
  double amortization_years = 0;
};

// `--set gpu.calibration.CLASS=V` (or `{value: V, low: L, high: H}`): a model-form
// multiplier on one kernel class's law time (sim/calibrate/step_calibration.hpp, which
// checks the class against the calibration and derives the default range).
struct CalibrationMultiplier {
  std::string class_name;
  double value = 1, low = 1, high = 1;
  bool ranged = false;  // written as {value, low, high}; a plain number fixes the multiplier
  std::string origin;   // the --set argument, for errors
};

// The `reliability:` section (sim/reliability/goodput.hpp reads it). Rates are per
// component-second (the YAML's failures per 1,000 component-days / 8.64e7).
struct FailureRates {
  double gpu = 0, node = 0, nic = 0, link = 0, fabric_switch = 0;
};
struct ReliabilitySpec {
  FailureRates rates;
  double detection_s = 0;
  double replace_s = 0;
  double restart_s = 0;
  int spare_nodes = 0;
  double checkpoint_write_bytes_per_s = 0;  // per node
  double checkpoint_read_bytes_per_s = 0;   // per node
  double storage_bytes_per_s = 0;           // aggregate cap; 0 = none
  bool asynchronous = false;
  double snapshot_bytes_per_s = 0;          // per GPU, device to host; asynchronous only
  double checkpoint_interval_s = 0;         // 0: the interval is searched
};

// Per-GPU compute speed factors (issue 16, stragglers): 1 = nominal.
struct StragglerSpec {
  std::vector<std::pair<int, double>> slow_gpus;  // (GPU index, speed), in file order
  double spread = 0;                              // speeds drawn uniformly in [1 - spread, 1]
  int seed = 1;
};

struct ClusterSpec {
  std::string source_file;
  std::string name;
  GpuSpec gpu;
  int nodes = 0;
  NodeSpec node;
  NetworkSpec network;
  PricingSpec pricing;
  std::optional<ReliabilitySpec> reliability;  // absent: no failures
  std::optional<StragglerSpec> stragglers;     // absent: every GPU at nominal speed
  std::vector<UncertainConstant> uncertain;
  std::map<std::string, SourceMark> marks;  // dotted key path → where it was written
  std::vector<CalibrationMultiplier> calibration_multipliers;  // --set only, in argument order

  [[nodiscard]] int num_gpus() const { return nodes * node.gpus; }
  [[nodiscard]] double peak_flops(Precision p) const {
    return p == Precision::fp8 ? gpu.peak_flops_fp8 : gpu.peak_flops_bf16;
  }
};

// ---------------------------------------------------------------- workload
struct AttentionSpec {
  AttentionKind kind = AttentionKind::gqa;
  int heads = 0;
  int kv_heads = 0;           // mha: = heads; gqa: groups; mla: unused
  int head_dim = 0;           // mha/gqa
  // MLA (DeepSeek-V2/V3); 0 q_lora_rank = no query compression.
  int q_lora_rank = 0;
  int kv_lora_rank = 0;
  int qk_nope_head_dim = 0;
  int qk_rope_head_dim = 0;
  int v_head_dim = 0;
  // flash: one fused kernel, no s² matrix in HBM; unfused: score GEMM, softmax
  // and value GEMM as separate kernels with the s² matrices in HBM.
  AttentionImplementation implementation = AttentionImplementation::flash;
};

struct MoeSpec {
  int first_dense_layers = 0;   // leading layers with a dense FFN
  int routed_experts = 0;
  int shared_experts = 0;
  int expert_intermediate = 0;
  int top_k = 0;
  int max_nodes_per_token = 0;  // node-limited routing (M); 0 = unlimited
  std::string routing = "balanced";  // registered in sim/parallel (check_moe_routing)
  double zipf_exponent = 0;     // skew of expert popularity when routing = zipf; 0 = not written
  unsigned seed = 0;
  int max_devices_per_token = 0;  // device-limited routing (DeepSeek-V2's M); 0 = unlimited
  double capacity_factor = 0;     // expert capacity over the balanced share; 0 = no cap (no dropping)
};

struct ModelSpec {
  std::string name;
  int layers = 0;
  int hidden = 0;
  int vocab = 0;
  AttentionSpec attention;
  int ffn_intermediate = 0;     // SwiGLU intermediate of the dense layers
  std::optional<MoeSpec> moe;   // absent: dense model
  int mtp_depth = 0;            // multi-token-prediction modules
  bool tied_embeddings = false;
  // The dense FFN's activation: SwiGLU (gate and up GEMMs) or GELU (one up GEMM,
  // GPT-style h → I → h). MoE experts are SwiGLU.
  FfnActivation ffn_activation = FfnActivation::swiglu;
};

struct BatchRamp {
  int start_sequences = 0;
  double over_tokens = 0;       // linear ramp start → global_batch over this many tokens
};

struct RecomputeSpec {
  bool norms = false;           // DeepSeek-V3 §3.2.3: RMSNorm recomputed in backward
  bool mla_up_projections = false;
  bool swiglu = false;          // §3.3.3: SwiGLU output recomputed
  bool full = false;            // full activation recomputation (every layer's forward again)
  // Selective recomputation (Korthikanti et al., MLSys 2023): the attention core
  // (scores, softmax, value product) re-run in backward; its s² matrices are not kept.
  bool attention_core = false;
};

// Bytes per parameter element that the optimizer step and ZeRO's collectives move
// (training.optimizer; initialisers = the declared defaults, workload_keys.cpp).
struct OptimizerSpec {
  Optimizer kind = Optimizer::adamw;
  int gradient_bytes = 4;       // weight gradients: written by backward, reduce-scattered, read by the optimizer
  int master_weight_bytes = 4;  // the optimizer's copy of the weights; 0 = none
  int moment_bytes = 2;         // each of AdamW's two moments
  int parameter_bytes = 2;      // working weights: written by the optimizer, all-gathered
};

struct TrainingSpec {
  double tokens = 0;
  int seq_len = 0;
  int global_batch = 0;         // sequences per step at full batch
  std::optional<BatchRamp> batch_ramp;
  int micro_batch = 0;          // sequences per micro-batch
  Precision gemm = Precision::bf16;
  Precision attention = Precision::bf16;
  Precision dispatch = Precision::bf16;  // MoE dispatch payload (DeepSeek-V3: fp8)
  Precision combine = Precision::bf16;   // MoE combine payload (DeepSeek-V3: bf16)
  int fp8_scale_group = 128;    // channels per FP32 scale of an FP8 activation tile (declared default)
  bool causal = true;           // FLOP convention of the attention products
  RecomputeSpec recompute;
  OptimizerSpec optimizer;
  std::string recipes;          // training.recipes as written; "" = none (sim/calibrate/step_calibration.hpp)
};

struct ParallelismSpec {
  int tp = 1;
  int pp = 1;
  int ep = 1;
  int dp = 1;
  int zero = 0;                 // ZeRO stage 0..3
  // A registered schedule's name or alias (sim/parallel/schedule_registry.hpp),
  // as written; check_workload_schedule checks it and the schedule's rules.
  std::string schedule = "1f1b";
  SourceMark schedule_mark;     // where the name was written, for an unknown-name error
  int virtual_stages = 1;       // interleaved 1F1B chunks per rank
  int comm_sms = 0;             // SMs held by communication kernels
  bool sequence_parallel = false;  // TP all-reduce → all-gather + reduce-scatter; norms on 1/tp of the tokens
  int cp = 1;                   // context-parallel degree (ring attention)
  int microbatch_group = 0;     // interleaved: micro-batches per chunk group; 0 = pp
};

// HBM per GPU outside the model's weights, gradients, optimizer states and
// activations (the workload's `memory` section; initialisers = the declared defaults).
struct MemorySpec {
  double comm_buffer_bytes = 0;  // communication libraries' buffers (DeepEP, NCCL)
  double reserved_bytes = 0;     // CUDA context, workspaces, allocator fragmentation
};

struct WorkloadSpec {
  std::string source_file;
  ModelSpec model;
  TrainingSpec training;
  ParallelismSpec parallelism;
  MemorySpec memory;
  std::vector<UncertainConstant> uncertain;
  std::map<std::string, SourceMark> marks;  // dotted key path → where it was written

  // Mark of a key for an error message; the file alone when the key was not written.
  [[nodiscard]] SourceMark mark_of(const std::string& path) const {
    auto it = marks.find(path);
    return it != marks.end() ? it->second : SourceMark{source_file, 0, 0};
  }
  [[nodiscard]] int micro_batches_per_step() const {
    return global_batch_micro_batches(training.global_batch);
  }
  [[nodiscard]] int global_batch_micro_batches(int global_batch_sequences) const {
    return global_batch_sequences / (parallelism.dp * training.micro_batch);
  }
  [[nodiscard]] double tokens_per_step() const {
    return static_cast<double>(training.global_batch) * training.seq_len;
  }
};

// Names used in YAML, messages and reports.
[[nodiscard]] const char* to_string(Precision p);
[[nodiscard]] const char* to_string(AttentionKind k);

}  // namespace trainsim
