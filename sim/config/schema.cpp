// The key names of the cluster and workload files (DESIGN.md "Configuration
// schema"). Used to refuse unknown keys, to suggest the nearest one, and to
// check --set paths before they touch a file.
#include "sim/config/yaml_reader.hpp"

namespace trainsim::config {

const SchemaKey& cluster_schema() {
  static const SchemaKey schema{
      "",
      {{"name", {}},
       {"gpu",
        {{"name", {}},
         {"peak_tflops", {{"bf16", {}}, {"fp8", {}}}},
         {"sms", {}},
         {"hbm", {}},
         {"hbm_bandwidth", {}},
         {"power", {{"idle", {}}, {"busy", {}}}},
         {"launch_overhead", {}},
         {"efficiency",
          {{"dense_gemm", {{"fp8", {}}, {"bf16", {}}}},
           {"grouped_gemm", {{"fp8", {}}, {"bf16", {}}}},
           {"attention_fwd", {}},
           {"attention_bwd", {}},
           {"hbm", {}}}}}},
       {"nodes", {}},
       {"node", {{"gpus", {}}, {"nvlink_bandwidth", {}}, {"nvlink_efficiency", {}}, {"nvlink_latency", {}}}},
       {"network",
        {{"fabric", {}},
         {"planes", {}},
         {"nic_bandwidth", {}},
         {"nic_efficiency", {}},
         {"switch_radix", {}},
         {"oversubscription", {}},
         {"link_latency", {}},
         {"switch_latency", {}},
         {"bandwidth_factor", {}},
         {"latency_factor", {}}}},
       {"pricing",
        {{"gpu_hour_usd", {}},
         {"pue", {}},
         {"electricity_usd_per_kwh", {}},
         {"capex_per_gpu_usd", {}},
         {"capex_per_endpoint_usd", {}},
         {"amortization_years", {}}}}}};
  return schema;
}

const SchemaKey& workload_schema() {
  static const SchemaKey schema{
      "",
      {{"model",
        {{"name", {}},
         {"layers", {}},
         {"hidden", {}},
         {"vocab", {}},
         {"attention",
          {{"kind", {}},
           {"heads", {}},
           {"kv_heads", {}},
           {"head_dim", {}},
           {"q_lora_rank", {}},
           {"kv_lora_rank", {}},
           {"qk_nope_head_dim", {}},
           {"qk_rope_head_dim", {}},
           {"v_head_dim", {}}}},
         {"ffn", {{"intermediate", {}}}},
         {"moe",
          {{"first_dense_layers", {}},
           {"routed_experts", {}},
           {"shared_experts", {}},
           {"expert_intermediate", {}},
           {"top_k", {}},
           {"max_nodes_per_token", {}},
           {"routing", {}},
           {"zipf_exponent", {}},
           {"seed", {}}}},
         {"mtp_depth", {}},
         {"tied_embeddings", {}}}},
       {"training",
        {{"tokens", {}},
         {"seq_len", {}},
         {"global_batch", {}},
         {"batch_ramp", {{"start", {}}, {"over_tokens", {}}}},
         {"micro_batch", {}},
         {"precision", {{"gemm", {}}, {"attention", {}}, {"dispatch", {}}, {"combine", {}}}},
         {"causal", {}},
         {"recompute", {{"norms", {}}, {"mla_up_projections", {}}, {"swiglu", {}}, {"full", {}}}}}},
       {"parallelism",
        {{"tp", {}},
         {"pp", {}},
         {"ep", {}},
         {"dp", {}},
         {"zero", {}},
         {"schedule", {}},
         {"virtual_stages", {}},
         {"comm_sms", {}}}}}};
  return schema;
}

}  // namespace trainsim::config
