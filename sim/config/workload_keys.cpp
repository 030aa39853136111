// The keys of a workload file (workloads/*.yaml), in file order.
#include "sim/config/keys.hpp"

namespace trainsim::config {

const KeyTable& workload_keys() {
  using namespace declare;
  using quantity::plain, quantity::tokens, quantity::memory;
  const auto precisions = names_of(precision_choices());
  const Range one_up = Range::at_least(1);
  // Model dimensions: at most a million (assumption; the largest published hidden size is 25,600, vocabularies
  // reach 256k), so that products of dimensions stay far from overflow.
  const Range dimension = Range::between(1, 1e6);
  // Bytes per stored number: 1 (FP8) to 16 (beyond FP64).
  const Range bytes_per_number = Range::between(1, 16);
  // Tokens: at most 1e15 (1,000T; the largest published runs train on tens of T).
  const Range token_range = Range::between(1, 1e15);
  static const KeyTable table{
      "workload",
      {
          section("model", "the transformer"),
          text("model.name", "model name, shown in reports"),
          integer("model.layers", one_up, "transformer layers"),
          integer("model.hidden", dimension, "hidden size"),
          integer("model.vocab", dimension, "vocabulary size"),
          section("model.attention", "attention block"),
          choice("model.attention.kind", names_of(attention_kind_choices()), "multi-head, grouped-query or multi-head latent"),
          integer("model.attention.heads", dimension, "query heads; tp divides them"),
          conditional(integer("model.attention.kv_heads", dimension, "key/value heads; divide heads"),
                      "required for gqa, = heads for mha, refused for mla"),
          conditional(integer("model.attention.head_dim", dimension, "dimension per head"), "required for mha and gqa, refused for mla"),
          optional(integer("model.attention.q_lora_rank", Range::between(0, 1e6),
                           "query compression rank (mla only); 0 = no query compression"),
                   "0"),
          conditional(integer("model.attention.kv_lora_rank", dimension, "key/value compression rank"),
                      "required for mla, refused otherwise"),
          conditional(integer("model.attention.qk_nope_head_dim", dimension, "query/key dimension without rotary part"),
                      "required for mla, refused otherwise"),
          conditional(integer("model.attention.qk_rope_head_dim", dimension, "query/key rotary dimension"),
                      "required for mla, refused otherwise"),
          conditional(integer("model.attention.v_head_dim", dimension, "value dimension per head"),
                      "required for mla, refused otherwise"),
          optional(choice("model.attention.implementation", names_of(attention_implementation_choices()),
                          "flash: one fused kernel, no score matrix in HBM; unfused: score GEMM, softmax and value "
                          "GEMM with the heads x seq_len^2 matrices in HBM (full products computed, causal or not)"),
                   "flash"),
          conditional(section("model.ffn", "the dense feed-forward"), "required unless every layer is MoE"),
          integer("model.ffn.intermediate", dimension, "feed-forward intermediate size of the dense layers"),
          optional(choice("model.ffn.activation", names_of(ffn_activation_choices()),
                          "dense FFN: swiglu (gate and up GEMMs h -> 2I, SiLU x up, down I -> h) or gelu (up h -> I, "
                          "GELU, down I -> h); MoE experts are swiglu"),
                   "swiglu"),
          optional(section("model.moe", "mixture of experts"), "absent: a dense model"),
          optional(integer("model.moe.first_dense_layers", Range::non_negative(),
                           "leading layers with a dense FFN instead of experts; at most model.layers"),
                   "0"),
          integer("model.moe.routed_experts", dimension, "routed experts per MoE layer; ep divides them"),
          optional(integer("model.moe.shared_experts", Range::between(0, 1024), "shared experts every token visits"), "0"),
          integer("model.moe.expert_intermediate", dimension, "intermediate size of one expert"),
          integer("model.moe.top_k", one_up, "routed experts per token; at most routed_experts"),
          optional(integer("model.moe.max_nodes_per_token", Range::non_negative(),
                           "nodes a token's experts may span; 0 = unlimited"),
                   "0"),
          optional(name("model.moe.routing", "how tokens spread over experts, by registered routing kind, e.g. zipf"),
                   "balanced"),
          conditional(number("model.moe.zipf_exponent", plain, Range::between(0.01, 10), "skew of Zipf routing (measured MoE skews: 0.5 to 2)"),
                      "required for routing zipf, refused otherwise"),
          optional(integer("model.moe.seed", Range::non_negative(), "seed of the routing draw"), "0"),
          optional(integer("model.moe.max_devices_per_token", Range::non_negative(),
                           "EP ranks (GPUs) a token's experts may span, within max_nodes_per_token; 0 = unlimited"),
                   "0"),
          optional(number("model.moe.capacity_factor", plain, Range::between(0, 1024),
                          "tokens an expert takes from each EP rank, over its balanced share T x top_k / experts; "
                          "the excess is dropped; 0 = no cap"),
                   "0"),
          optional(integer("model.mtp_depth", Range::non_negative(), "multi-token prediction modules"), "0"),
          optional(boolean("model.tied_embeddings", "embedding and output head share one matrix"), "false"),
          section("training", "the training run"),
          number("training.tokens", tokens, token_range, "tokens of the whole run"),
          integer("training.seq_len", Range::between(1, 16777216), "tokens per sequence"),
          integer("training.global_batch", one_up, "sequences per step; dp x micro_batch divides it"),
          optional(section("training.batch_ramp", "batch-size warm-up"), "absent: full batch from the start"),
          integer("training.batch_ramp.start", one_up, "sequences per step at the start; at most global_batch"),
          number("training.batch_ramp.over_tokens", tokens, token_range, "tokens over which the batch grows"),
          integer("training.micro_batch", one_up, "sequences per micro-batch"),
          section("training.precision", "number formats"),
          choice("training.precision.gemm", precisions, "GEMM inputs"),
          choice("training.precision.attention", precisions, "attention operators"),
          optional(choice("training.precision.dispatch", precisions, "MoE dispatch payload"), "bf16"),
          optional(choice("training.precision.combine", precisions, "MoE combine payload"), "bf16"),
          optional(integer("training.precision.fp8_scale_group", dimension,
                           "channels per FP32 scale of an FP8 activation tile (1 x N), sent with an FP8 dispatch"),
                   "128"),
          optional(boolean("training.causal", "causal mask: masked attention products count half"), "true"),
          optional(section("training.recompute", "activations recomputed in the backward pass"), "absent: none"),
          optional(boolean("training.recompute.norms", "normalisation layers"), "false"),
          optional(boolean("training.recompute.mla_up_projections", "MLA up-projections"), "false"),
          optional(boolean("training.recompute.swiglu", "FFN activation output (SwiGLU, or GELU)"), "false"),
          optional(boolean("training.recompute.full", "the whole layer"), "false"),
          optional(boolean("training.recompute.attention_core",
                           "selective recomputation (Korthikanti et al. 2023): scores, softmax and value product "
                           "re-run in backward from the kept q, k, v; no score matrix kept"),
                   "false"),
          optional(section("training.optimizer", "the optimizer: bytes per parameter it and ZeRO move"),
                   "absent: every key's default"),
          optional(choice("training.optimizer.name", names_of(optimizer_choices()),
                          "AdamW: gradient + 2 x master_weight + 4 x moment + parameter bytes of HBM traffic per "
                          "parameter"),
                   "adamw"),
          optional(integer("training.optimizer.gradient_bytes", bytes_per_number,
                           "bytes per weight gradient: written by backward, reduce-scattered, read by the optimizer"),
                   "4"),
          optional(integer("training.optimizer.master_weight_bytes", Range::between(0, 16),
                           "bytes per master weight, read and written by the optimizer; 0 = none"),
                   "4"),
          optional(integer("training.optimizer.moment_bytes", Range::between(0, 16),
                           "bytes per element of each of the two AdamW moments"),
                   "2"),
          optional(integer("training.optimizer.parameter_bytes", bytes_per_number,
                           "bytes per working weight: written by the optimizer, all-gathered by ZeRO"),
                   "2"),
          optional(text("training.recipes",
                        "recipe set (the kernels of each op-pass): a name beside the cluster's gpu.calibration, "
                        "or a path relative to this file; used with a calibration"),
                   "none"),
          section("parallelism", "how the model is split over the GPUs; tp x cp x pp x dp = GPUs"),
          integer("parallelism.tp", one_up, "tensor-parallel degree; at most node.gpus"),
          integer("parallelism.pp", one_up, "pipeline stages; at most model.layers"),
          integer("parallelism.ep", one_up, "expert-parallel degree; divides dp x tp; 1 for dense models"),
          integer("parallelism.dp", one_up, "data-parallel degree"),
          integer("parallelism.zero", Range::between(0, 3),
                  "ZeRO stage: 0 gradient all-reduce; 1 optimizer states sharded; 2 gradients too, reduce-scattered "
                  "per layer; 3 parameters too (FSDP full shard: per-layer gathers); see README, ZeRO and FSDP"),
          name("parallelism.schedule", "pipeline schedule by its registered name, e.g. dualpipe"),
          optional(integer("parallelism.virtual_stages", one_up, "model chunks per pipeline rank (interleaved)"), "1"),
          optional(integer("parallelism.comm_sms", Range::non_negative(),
                           "SMs a communication kernel holds while it runs; fewer than gpu.sms"),
                   "0"),
          optional(boolean("parallelism.sequence_parallel",
                           "Megatron sequence parallelism: with tp > 1, each TP all-reduce becomes an all-gather before "
                           "the block and a reduce-scatter after it, and norms and residuals run on 1/tp of the tokens"),
                   "false"),
          optional(integer("parallelism.cp", one_up,
                           "context-parallel degree (ring attention): each GPU holds seq_len/cp tokens of a sequence; "
                           "2 x cp divides training.seq_len; ep must be 1"),
                   "1"),
          optional(integer("parallelism.microbatch_group", Range::non_negative(),
                           "interleaved: micro-batches that run one model chunk before the next (Megatron-LM "
                           "microbatch_group_size_per_vp_stage); at least pp; 0 = pp"),
                   "0"),
          optional(section("memory", "per-GPU HBM besides the model's tensors, for the memory report and its fit check"),
                   "absent: every key's default"),
          optional(number("memory.comm_buffers", memory, Range::between(0, 1e13),
                          "HBM per GPU held by communication libraries' buffers (DeepEP, NCCL)"),
                   "0GB"),
          optional(number("memory.reserved", memory, Range::between(0, 1e13),
                          "HBM per GPU the framework holds besides tensors: CUDA context, library workspaces, "
                          "allocator fragmentation"),
                   "0GB"),
      }};
  return table;
}

}  // namespace trainsim::config
