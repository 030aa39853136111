#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "sim/config/keys.hpp"
#include "sim/config/load.hpp"
#include "sim/config/yaml_reader.hpp"
#include "sim/parallel/schedule.hpp"

namespace test_config {

using namespace trainsim;

namespace {
std::string src(const std::string& rel) { return std::string(TRAINSIM_SOURCE_DIR) + "/" + rel; }

// 1-based line of the first line of `file` that starts with `prefix`, or 0.
int line_of(const std::string& file, const std::string& prefix) {
  std::ifstream in(file);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n)
    if (line.rfind(prefix, 0) == 0) return n;
  return 0;
}

const UncertainConstant* find_uncertain(const std::vector<UncertainConstant>& all, const std::string& path) {
  for (const auto& u : all)
    if (u.path == path) return &u;
  return nullptr;
}

Approx exactly(double v) { return Approx(v).epsilon(1e-14); }
}  // namespace

TEST_CASE("h800-2048 loads in SI units", "[config]") {
  const std::string file = src("topologies/h800-2048.yaml");
  const ClusterSpec c = load_cluster(file, {});
  CHECK(c.name == "h800-2048");
  CHECK(c.num_gpus() == 2048);
  CHECK(c.gpu.name == "H800-SXM5-80GB");
  CHECK(c.gpu.peak_flops_bf16 == exactly(989.4e12));
  CHECK(c.gpu.peak_flops_fp8 == exactly(1978.9e12));
  CHECK(c.peak_flops(Precision::fp8) == c.gpu.peak_flops_fp8);
  CHECK(c.gpu.sms == 132);
  CHECK(c.gpu.hbm_bytes == exactly(80e9));
  CHECK(c.gpu.hbm_bytes_per_s == exactly(3.35e12));
  CHECK(c.gpu.power_idle_w == exactly(100));
  CHECK(c.gpu.power_busy_w == exactly(700));
  CHECK(c.gpu.launch_overhead_s == exactly(4e-6));
  CHECK(c.gpu.efficiency.dense_gemm_fp8 == exactly(0.58));
  CHECK(c.gpu.efficiency.dense_gemm_bf16 == exactly(0.70));
  CHECK(c.gpu.efficiency.grouped_gemm_fp8 == exactly(0.58));
  CHECK(c.gpu.efficiency.grouped_gemm_bf16 == exactly(0.65));
  CHECK(c.gpu.efficiency.attention_fwd == exactly(0.66));
  CHECK(c.gpu.efficiency.attention_bwd == exactly(0.54));
  CHECK(c.gpu.efficiency.hbm == exactly(0.80));
  CHECK(c.node.gpus == 8);
  CHECK(c.node.nvlink_bytes_per_s == exactly(200e9));
  CHECK(c.node.nvlink_efficiency == exactly(0.8));
  CHECK(c.node.nvlink_latency_s == exactly(1e-6));
  CHECK(c.network.fabric == "multi-plane-fat-tree");
  CHECK(c.network.planes == 8);
  CHECK(c.network.nic_bytes_per_s == exactly(50e9));  // 400Gbps
  CHECK(c.network.nic_efficiency == exactly(0.8));
  CHECK(c.network.switch_radix == 64);
  CHECK(c.network.oversubscription == 1);
  CHECK(c.network.link_latency_s == exactly(0.5e-6));
  CHECK(c.network.switch_latency_s == exactly(0.3e-6));
  CHECK(c.network.bandwidth_factor == 1);  // optional, absent
  CHECK(c.network.latency_factor == 1);
  CHECK(c.pricing.gpu_hour_usd == exactly(2.0));
  CHECK(c.pricing.pue == exactly(1.3));
  CHECK(c.pricing.capex_per_endpoint_usd == exactly(4390));
  CHECK(c.pricing.amortization_years == exactly(4));

  // Every {value, low, high} in the file, in base units, with a --set-able path.
  CHECK(c.uncertain.size() == 19);
  const auto* busy = find_uncertain(c.uncertain, "cluster.gpu.power.busy");
  REQUIRE(busy != nullptr);
  CHECK(busy->value == exactly(700));
  CHECK(busy->low == exactly(550));
  CHECK(busy->high == exactly(700));
  const auto* launch = find_uncertain(c.uncertain, "cluster.gpu.launch_overhead");
  REQUIRE(launch != nullptr);
  CHECK(launch->low == exactly(2e-6));
  CHECK(launch->high == exactly(8e-6));
  CHECK(find_uncertain(c.uncertain, "cluster.node.nvlink_efficiency") != nullptr);
  CHECK(find_uncertain(c.uncertain, "cluster.gpu.efficiency.grouped_gemm.fp8") != nullptr);
  CHECK(find_uncertain(c.uncertain, "cluster.node.nvlink_bandwidth") == nullptr);  // a plain value

  // Marks point at the key as written.
  REQUIRE(c.marks.count("node.nvlink_bandwidth") == 1);
  const SourceMark m = c.marks.at("node.nvlink_bandwidth");
  CHECK(m.file == file);
  CHECK(m.line == line_of(file, "  nvlink_bandwidth:"));
  CHECK(m.column == 3);
  CHECK(c.marks.at("nodes").line == line_of(file, "nodes:"));
  CHECK(c.marks.at("nodes").column == 1);
  CHECK(c.marks.count("gpu.efficiency.dense_gemm.fp8") == 1);
}

TEST_CASE("h100-2048 differs from h800 in NVLink bandwidth", "[config]") {
  const ClusterSpec h100 = load_cluster(src("topologies/h100-2048.yaml"), {});
  const ClusterSpec h800 = load_cluster(src("topologies/h800-2048.yaml"), {});
  CHECK(h100.node.nvlink_bytes_per_s == exactly(450e9));
  CHECK(h100.num_gpus() == h800.num_gpus());
  CHECK(h100.network.nic_bytes_per_s == h800.network.nic_bytes_per_s);
}

TEST_CASE("deepseek-v3 workload loads", "[config]") {
  const std::string file = src("workloads/deepseek-v3.yaml");
  const WorkloadSpec w = load_workload(file, {});
  CHECK(w.model.name == "DeepSeek-V3");
  CHECK(w.model.layers == 61);
  CHECK(w.model.hidden == 7168);
  CHECK(w.model.vocab == 129280);
  CHECK(w.model.attention.kind == AttentionKind::mla);
  CHECK(w.model.attention.heads == 128);
  CHECK(w.model.attention.q_lora_rank == 1536);
  CHECK(w.model.attention.kv_lora_rank == 512);
  CHECK(w.model.attention.qk_nope_head_dim == 128);
  CHECK(w.model.attention.qk_rope_head_dim == 64);
  CHECK(w.model.attention.v_head_dim == 128);
  CHECK(w.model.ffn_intermediate == 18432);
  REQUIRE(w.model.moe.has_value());
  CHECK(w.model.moe->first_dense_layers == 3);
  CHECK(w.model.moe->routed_experts == 256);
  CHECK(w.model.moe->shared_experts == 1);
  CHECK(w.model.moe->expert_intermediate == 2048);
  CHECK(w.model.moe->top_k == 8);
  CHECK(w.model.moe->max_nodes_per_token == 4);
  CHECK(w.model.moe->routing == "balanced");
  CHECK(w.model.mtp_depth == 1);
  CHECK_FALSE(w.model.tied_embeddings);
  CHECK(w.training.tokens == 14.8e12);
  CHECK(w.training.seq_len == 4096);
  CHECK(w.training.global_batch == 15360);
  REQUIRE(w.training.batch_ramp.has_value());
  CHECK(w.training.batch_ramp->start_sequences == 3072);
  CHECK(w.training.batch_ramp->over_tokens == 469e9);
  CHECK(w.training.micro_batch == 1);
  CHECK(w.training.gemm == Precision::fp8);
  CHECK(w.training.attention == Precision::bf16);
  CHECK(w.training.dispatch == Precision::fp8);
  CHECK(w.training.combine == Precision::bf16);
  CHECK(w.training.causal);
  CHECK(w.training.recompute.norms);
  CHECK(w.training.recompute.mla_up_projections);
  CHECK(w.training.recompute.swiglu);
  CHECK_FALSE(w.training.recompute.full);
  CHECK(w.parallelism.tp == 1);
  CHECK(w.parallelism.pp == 16);
  CHECK(w.parallelism.ep == 64);
  CHECK(w.parallelism.dp == 128);
  CHECK(w.parallelism.zero == 1);
  CHECK(w.parallelism.schedule == "dualpipe");
  CHECK(w.parallelism.virtual_stages == 1);
  CHECK(w.parallelism.comm_sms == 20);
  CHECK(w.micro_batches_per_step() == 120);
  CHECK(w.global_batch_micro_batches(3072) == 24);
  CHECK(w.tokens_per_step() == 15360.0 * 4096);
  CHECK(w.uncertain.empty());
  CHECK(w.mark_of("parallelism.pp").line == line_of(file, "  pp:"));
  CHECK(w.mark_of("parallelism.pp").column == 3);
  CHECK(w.mark_of("no.such.key").line == 0);
  CHECK_NOTHROW(check_workload_schedule(w));
  CHECK_NOTHROW(check_workload_fits_cluster(w, load_cluster(src("topologies/h800-2048.yaml"), {})));
}

TEST_CASE("Llama 3 workloads load as dense GQA models", "[config]") {
  const ClusterSpec h800 = load_cluster(src("topologies/h800-2048.yaml"), {});
  const WorkloadSpec big = load_workload(src("workloads/llama3-405b.yaml"), {});
  CHECK_FALSE(big.model.moe.has_value());
  CHECK(big.model.attention.kind == AttentionKind::gqa);
  CHECK(big.model.attention.kv_heads == 8);
  CHECK(big.model.attention.head_dim == 128);
  CHECK(big.model.ffn_intermediate == 53248);
  CHECK(big.training.tokens == 15.6e12);
  CHECK_FALSE(big.training.batch_ramp.has_value());
  CHECK(big.training.dispatch == Precision::bf16);  // default
  CHECK_FALSE(big.training.recompute.norms);        // section absent
  CHECK(big.parallelism.schedule == "interleaved");
  CHECK(big.parallelism.virtual_stages == 2);
  CHECK(big.micro_batches_per_step() == 128);
  CHECK_NOTHROW(check_workload_schedule(big));
  CHECK_NOTHROW(check_workload_fits_cluster(big, h800));

  const WorkloadSpec small = load_workload(src("workloads/llama3-8b.yaml"), {});
  CHECK(small.model.layers == 32);
  CHECK(small.training.tokens == 15e12);
  CHECK(small.parallelism.schedule == "1f1b");
  CHECK(small.micro_batches_per_step() == 8);
  CHECK_NOTHROW(check_workload_schedule(small));
  CHECK_NOTHROW(check_workload_fits_cluster(small, h800));
}

TEST_CASE("Overrides (--set) change values and are traced to their argument", "[config]") {
  const auto ov = parse_overrides({"node.nvlink_bandwidth=450GB/s", "workload.parallelism.pp=32",
                                   "parallelism.dp=64", "cluster.network.bandwidth_factor=0.9",
                                   "pricing.gpu_hour_usd={value: 2.5, low: 2, high: 3}",
                                   "training.recompute.full=true"});
  REQUIRE(ov.size() == 6);
  CHECK(ov[0].cluster);
  CHECK(ov[0].path == "node.nvlink_bandwidth");
  CHECK(ov[0].value == "450GB/s");
  CHECK(ov[0].origin == "--set node.nvlink_bandwidth=450GB/s");
  CHECK_FALSE(ov[1].cluster);
  CHECK(ov[1].path == "parallelism.pp");
  CHECK_FALSE(ov[2].cluster);

  const ClusterSpec c = load_cluster(src("topologies/h800-2048.yaml"), ov);
  CHECK(c.node.nvlink_bytes_per_s == exactly(450e9));
  CHECK(c.marks.at("node.nvlink_bandwidth").file == "--set node.nvlink_bandwidth=450GB/s");
  CHECK(c.marks.at("node.nvlink_bandwidth").line == 0);
  CHECK(c.network.bandwidth_factor == exactly(0.9));  // key absent from the file: created
  CHECK(c.pricing.gpu_hour_usd == exactly(2.5));
  CHECK(c.uncertain.size() == 20);
  const auto* price = find_uncertain(c.uncertain, "cluster.pricing.gpu_hour_usd");
  REQUIRE(price != nullptr);
  CHECK(price->low == exactly(2));
  CHECK(price->high == exactly(3));

  const WorkloadSpec w = load_workload(src("workloads/llama3-8b.yaml"), ov);
  CHECK(w.parallelism.pp == 32);
  CHECK(w.parallelism.dp == 64);
  CHECK(w.micro_batches_per_step() == 64);
  CHECK(w.training.recompute.full);  // section absent from the file: created
  CHECK_NOTHROW(check_workload_schedule(w));
  CHECK_NOTHROW(check_workload_fits_cluster(w, c));
}

TEST_CASE("Errors carry the position of the offending key or value", "[config]") {
  const std::string file = src("topologies/h800-2048.yaml");
  try {
    (void)load_cluster(file, parse_overrides({"node.gpus=0"}));
    FAIL("no error");
  } catch (const InputError& e) {
    CHECK(e.mark().file == "--set node.gpus=0");
    CHECK(e.mark().line == 0);
    CHECK(std::string(e.what()) == "--set node.gpus=0: node.gpus: must be in [1, 1024], got 0");
  }
  const ClusterSpec c = load_cluster(file, {});
  const WorkloadSpec w = load_workload(src("workloads/deepseek-v3.yaml"), parse_overrides({"parallelism.dp=64"}));
  try {
    check_workload_fits_cluster(w, c);
    FAIL("no error");
  } catch (const InputError& e) {
    CHECK(e.mark().file == "--set parallelism.dp=64");
    CHECK(e.message() == "parallelism.dp: tp x pp x dp = 1 x 16 x 64 = 1024 GPUs, but cluster h800-2048 has 2048 "
                         "(256 nodes x 8)");
  }
  CHECK_THROWS_AS(parse_overrides({"bogus"}), InputError);
  CHECK_THROWS_AS(load_cluster(src("no/such/file.yaml"), {}), InputError);
}

TEST_CASE("Default config paths exist and enum names round-trip", "[config]") {
  CHECK(std::ifstream(default_cluster_path()).good());
  CHECK(std::ifstream(default_workload_path()).good());
  CHECK(std::string(to_string(AttentionKind::mla)) == "mla");
  CHECK(std::string(to_string(Precision::fp8)) == "fp8");
}

// ------------------------------------------------------------------ key declarations

namespace {
// Dotted paths of every key written in a YAML map; a declared number's
// {value, low, high} map is its value, not keys of its own.
void collect_paths(const YAML::Node& node, const std::string& prefix, const config::KeyTable& table,
                   std::vector<std::string>& out) {
  for (auto it = node.begin(); it != node.end(); ++it) {
    const std::string path = config::join_path(prefix, it->first.Scalar());
    out.push_back(path);
    const config::KeyDecl* key = table.find(path);
    const bool is_value = key != nullptr && key->kind != config::KeyKind::section;
    if (it->second.IsMap() && !is_value) collect_paths(it->second, path, table, out);
  }
}

// Every declared path reached through the schema tree, and each tree node's path.
void schema_paths(const config::SchemaKey& node, const std::string& prefix, std::vector<std::string>& out) {
  for (const auto& child : node.children) {
    const std::string path = config::join_path(prefix, child.name);
    out.push_back(path);
    schema_paths(child, path, out);
  }
}

std::string load_error(bool cluster, const std::string& set) {
  try {
    if (cluster)
      (void)load_cluster(src("topologies/h800-2048.yaml"), parse_overrides({set}));
    else
      (void)load_workload(src("workloads/deepseek-v3.yaml"), parse_overrides({set}));
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("Key tables: the schema is the table, each declaration is complete", "[config][keys]") {
  for (const config::KeyTable* table : {&config::cluster_keys(), &config::workload_keys()}) {
    std::vector<std::string> declared, in_schema;
    for (const auto& k : table->keys()) declared.push_back(k.path);
    schema_paths(table->schema(), "", in_schema);
    CHECK(in_schema == declared);  // same keys, same (file) order
    for (const auto& k : table->keys()) {
      INFO(table->file() << "." << k.path);
      CHECK_FALSE(k.help.empty());
      const config::SchemaKey* node = &table->schema();
      for (size_t start = 0; node != nullptr && start <= k.path.size();) {
        const size_t dot = std::min(k.path.find('.', start), k.path.size());
        node = node->child(k.path.substr(start, dot - start));
        start = dot + 1;
      }
      REQUIRE(node != nullptr);
      CHECK(node->is_section() == (k.kind == config::KeyKind::section));
      CHECK((k.kind == config::KeyKind::number) == (k.quantity != nullptr));
      CHECK((k.kind == config::KeyKind::choice) == !k.choices.empty());
      CHECK(k.accepts_uncertainty() == (k.kind == config::KeyKind::number));
      // A default is written as the value would be, and is valid for the key.
      if (k.presence == config::Presence::optional && k.kind != config::KeyKind::section)
        CHECK_NOTHROW(config::check_scalar(k, k.default_text));
      if (k.presence != config::Presence::required) CHECK_FALSE(k.default_text.empty());
      // Readable: --set reaches it, in its own file.
      const auto ov = parse_overrides({table->file() + "." + k.path + "=x"});
      CHECK(ov[0].path == k.path);
      CHECK(ov[0].cluster == (table->file() == "cluster"));
    }
  }
}

TEST_CASE("Key tables: every key the shipped files use is declared", "[config][keys]") {
  namespace fs = std::filesystem;
  int files = 0;
  for (const auto& [folder, table] : {std::pair{"topologies", &config::cluster_keys()},
                                      std::pair{"workloads", &config::workload_keys()}}) {
    for (const auto& entry : fs::directory_iterator(src(folder))) {
      if (entry.path().extension() != ".yaml") continue;
      ++files;
      std::vector<std::string> paths;
      collect_paths(YAML::LoadFile(entry.path().string()), "", *table, paths);
      for (const auto& p : paths) {
        INFO(entry.path().filename().string() << ": " << p);
        CHECK(table->find(p) != nullptr);
      }
      // And the loader reads each of them through its declaration (a read with
      // another unit, range or default would be a std::logic_error).
      if (std::string(folder) == "topologies")
        CHECK_NOTHROW(load_cluster(entry.path().string(), {}));
      else
        CHECK_NOTHROW(load_workload(entry.path().string(), {}));
    }
  }
  CHECK(files >= 7);
}

TEST_CASE("Key tables: defaults come from the declaration", "[config][keys]") {
  const ClusterSpec c = load_cluster(src("topologies/h800-2048.yaml"), {});
  CHECK(c.network.bandwidth_factor == 1);  // absent from the file
  CHECK(c.network.latency_factor == 1);
  const WorkloadSpec w = load_workload(src("workloads/llama3-8b.yaml"), {});
  CHECK(w.training.dispatch == Precision::bf16);
  CHECK(w.training.combine == Precision::bf16);
  CHECK_FALSE(w.model.moe.has_value());  // an optional section, absent
  // A default changed in the table is the one the loader uses.
  CHECK(config::workload_keys().find("training.precision.dispatch")->default_text == "bf16");
}

TEST_CASE("Overrides: values of the wrong kind are refused with the key named", "[config][keys][cli]") {
  struct Refusal {
    bool cluster;
    std::string set, message;  // the error after "--set SET: "
  };
  const std::vector<Refusal> refusals = {
      {true, "gpu.sms=many", "gpu.sms: expected an integer, got \"many\""},
      {true, "node.nvlink_latency=1",
       "node.nvlink_latency: expected a time such as 2.8us, 1ms or 500ns, got \"1\" (a unit is required)"},
      {true, "network.link_latency=0.1ns", "network.link_latency: must be in [1e-09, 0.001] s, got 0.1ns"},
      {false, "training.causal=1", "training.causal: expected true or false, got \"1\""},
      {false, "training.precision.gemm=fp9",
       "training.precision.gemm: expected one of fp8, bf16, got \"fp9\"; did you mean \"fp8\"?"},
      // Checked before the file is read: refused even where the loader would not
      // read the key (routing balanced never reads zipf_exponent).
      {false, "model.moe.zipf_exponent=steep", "model.moe.zipf_exponent: expected a number, got \"steep\""},
      // Integers are exact: no uncertainty range.
      {true, "nodes={value: 16, low: 8, high: 32}",
       "nodes: expected an integer, got a map; {value, low, high} is for measured quantities"},
  };
  for (const auto& r : refusals) CHECK(load_error(r.cluster, r.set) == "--set " + r.set + ": " + r.message);
  CHECK(load_error(true, "pricing.pue={value: 1.2, low: 1.1, high: 1.5}").empty());
}

}  // namespace test_config
