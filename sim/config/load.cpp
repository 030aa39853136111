// YAML → ClusterSpec / WorkloadSpec. Order of work for one file: read it
// strictly (sim/config/yaml_file.hpp), apply --set overrides to the tree, then
// walk the tree with config::Section, which refuses unknown and duplicate keys
// and reads every value through its declaration (sim/config/cluster_keys.cpp,
// workload_keys.cpp: unit, range, default). Consistency checks between keys
// come last and point at the key that has to change. Names that an upper stage
// registers (network.fabric, model.moe.routing, parallelism.schedule) are read
// as text here and checked, with their rules, by that stage (check_fabric,
// check_moe_routing, check_workload_schedule) at the value's position.
#include "sim/config/load.hpp"

#include <yaml-cpp/yaml.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <string_view>
#include <utility>

#include "sim/config/overrides.hpp"
#include "sim/config/size_limits.hpp"
#include "sim/config/units.hpp"
#include "sim/config/yaml_file.hpp"
#include "sim/config/yaml_reader.hpp"

namespace trainsim {
namespace {

using config::LoadContext;
using config::Range;
using config::Section;

[[noreturn]] void fail_at(const std::map<std::string, SourceMark>& marks, const std::string& file,
                          const std::string& path, const std::string& message) {
  auto it = marks.find(path);
  throw InputError(it != marks.end() ? it->second : SourceMark{file, 0, 0}, message);
}

std::string str(long long v) { return std::to_string(v); }

// The GPU count the file itself describes (nodes x node.gpus before --set); 0 where it does
// not read as two whole numbers (the loader then reports the value itself).
long long gpus_in_file(const YAML::Node& root) {
  try {
    const YAML::Node& r = root;  // const: reading must not add keys to the tree
    if (!r.IsMap() || !r["node"].IsMap()) return 0;
    const long long nodes = r["nodes"].as<long long>(), per_node = r["node"]["gpus"].as<long long>();
    return nodes > 0 && per_node > 0 && nodes < (1LL << 31) && per_node < (1LL << 31) ? nodes * per_node : 0;
  } catch (const YAML::Exception&) {
    return 0;
  }
}

// The cluster's name after --set changed its size, so reports say what was simulated:
// a trailing "-<GPUs of the file>" becomes the new count (h800-2048 at 16 nodes: h800-128),
// any other name gets "(N GPUs)" appended.
std::string name_for_size(const std::string& name, long long file_gpus, long long gpus) {
  if (file_gpus <= 0 || file_gpus == gpus) return name;
  const std::string suffix = "-" + str(file_gpus);
  if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
    return name.substr(0, name.size() - suffix.size()) + "-" + str(gpus);
  return name + " (" + str(gpus) + " GPUs)";
}

// stragglers.slow_gpus: "GPU:speed, GPU:speed"; each GPU once, inside the cluster.
StragglerSpec read_stragglers(const Section& st, int num_gpus) {
  StragglerSpec spec;
  spec.spread = st.number("spread");
  spec.seed = st.integer("seed");
  if (!st.has("slow_gpus")) return spec;
  const std::string text = st.text("slow_gpus");
  if (text == "none") return spec;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const std::size_t comma = std::min(text.find(',', pos), text.size());
    const std::string item = text.substr(pos, comma - pos);
    int gpu = -1;
    double speed = 0;
    char colon = 0, rest = 0;
    if (std::sscanf(item.c_str(), " %d %c %lf %c", &gpu, &colon, &speed, &rest) != 3 || colon != ':')
      st.fail_key("slow_gpus", "expected GPU:speed pairs separated by commas (`12:0.8, 40:0.9`), got '" +
                                   config::printable(item) + "'");
    if (gpu < 0 || gpu >= num_gpus)
      st.fail_key("slow_gpus", fmt::format("GPU {} is outside the cluster (GPUs 0 to {})", gpu, num_gpus - 1));
    if (!(speed >= 0.05 && speed <= 1))
      st.fail_key("slow_gpus", fmt::format("speed of GPU {} must be in [0.05, 1], got {:g}", gpu, speed));
    for (const auto& [g, s] : spec.slow_gpus)
      if (g == gpu) st.fail_key("slow_gpus", fmt::format("GPU {} is listed twice", gpu));
    spec.slow_gpus.emplace_back(gpu, speed);
    pos = comma + 1;
  }
  return spec;
}

}  // namespace

// ------------------------------------------------------------------ public

ClusterSpec load_cluster(const std::string& path, const std::vector<Override>& overrides) {
  ClusterSpec c;
  c.source_file = path;
  LoadContext ctx{path, "cluster.", {}, &c.marks, &c.uncertain, &config::cluster_keys()};
  YAML::Node root = config::read_yaml_file(path, "a cluster description");
  const long long file_gpus = gpus_in_file(root);
  std::vector<Override> file_overrides = overrides;
  c.calibration_multipliers = config::take_calibration_multipliers(file_overrides);
  config::apply_overrides(root, file_overrides, true, ctx);
  const Section top(ctx, root, "", config::cluster_schema(), root.Mark());

  c.name = top.text("name");

  const Section gpu = top.section("gpu");
  c.gpu.name = gpu.text("name");
  const Section peak = gpu.section("peak_tflops");
  c.gpu.peak_flops_bf16 = peak.number("bf16");
  c.gpu.peak_flops_fp8 = peak.number("fp8");
  // `trainsim claim` samples an uncertain constant anywhere in [low, high]: rules between keys must
  // hold over those ranges. The range of a key (its value twice when it is certain):
  const auto sampled_range = [&c](std::string_view key, double value) {
    for (const UncertainConstant& u : c.uncertain)
      if (u.path == key) return std::pair{u.low, u.high};
    return std::pair{value, value};
  };
  {
    // The fp8 range includes 0 (absent: no FP8 tensor cores); a present peak is a peak like bf16's.
    const double fp8_low = sampled_range("cluster.gpu.peak_tflops.fp8", c.gpu.peak_flops_fp8).first;
    const Range& present = config::cluster_keys().find("gpu.peak_tflops.bf16")->range;
    if (fp8_low != 0 && !present.contains(fp8_low))
      peak.fail_value("fp8", "must be 0 (no FP8 tensor cores) or in " + present.bounds() + " FLOP/s, got " +
                                 config::number_text(fp8_low) + " FLOP/s");
  }
  c.gpu.sms = gpu.integer("sms");
  c.gpu.hbm_bytes = gpu.number("hbm");
  c.gpu.hbm_bytes_per_s = gpu.number("hbm_bandwidth");
  const Section power = gpu.section("power");
  c.gpu.power_idle_w = power.number("idle");
  c.gpu.power_busy_w = power.number("busy");
  if (c.gpu.power_idle_w > c.gpu.power_busy_w)
    power.fail_value("idle", "idle power exceeds busy power (" + config::number_text(c.gpu.power_busy_w) + " W)");
  const double idle_high = sampled_range("cluster.gpu.power.idle", c.gpu.power_idle_w).second;
  const double busy_low = sampled_range("cluster.gpu.power.busy", c.gpu.power_busy_w).first;
  if (idle_high > busy_low)
    power.fail_value("idle", "idle power up to " + config::number_text(idle_high) + " W exceeds busy power down to " +
                                 config::number_text(busy_low) + " W (their {low, high} ranges; claim samples both)");
  c.gpu.launch_overhead_s = gpu.number("launch_overhead");
  const Section eff = gpu.section("efficiency");
  const Section dense = eff.section("dense_gemm");
  const Section grouped = eff.section("grouped_gemm");
  c.gpu.efficiency.dense_gemm_fp8 = dense.number("fp8");
  c.gpu.efficiency.dense_gemm_bf16 = dense.number("bf16");
  c.gpu.efficiency.grouped_gemm_fp8 = grouped.number("fp8");
  c.gpu.efficiency.grouped_gemm_bf16 = grouped.number("bf16");
  c.gpu.efficiency.attention_fwd = eff.number("attention_fwd");
  c.gpu.efficiency.attention_bwd = eff.number("attention_bwd");
  c.gpu.efficiency.hbm = eff.number("hbm");
  if (gpu.has("calibration") && gpu.text("calibration") != "none")
    c.gpu.calibration = gpu.text("calibration");  // read by sim/calibrate/step_calibration

  c.nodes = top.integer("nodes");
  const Section node = top.section("node");
  c.node.gpus = node.integer("gpus");
  // Every command builds the cluster graph, about 1.5 KB per GPU (measured: `topology` at 65,536 GPUs holds
  // 142 MB), and run's platform more: refuse, before anything is allocated, more than 2^20 GPUs (assumption:
  // five times the largest cluster announced, ~200k GPUs); --allow-large raises it to 2^22 (6 GB of graph),
  // which still keeps GPU counts, ints everywhere, far from overflow (found by tests/fuzz).
  constexpr double kGraphBytesPerGpu = 1.5e3;
  const SizeLimit max_gpus{static_cast<double>(1LL << 20), static_cast<double>(1LL << 22)};
  const long long gpus = static_cast<long long>(c.nodes) * c.node.gpus;
  if (static_cast<double>(gpus) > max_gpus.active())
    top.fail_value("nodes", fmt::format("{} nodes x {} GPUs = {} GPUs; at most {:.0f} are supported (the cluster "
                                        "graph alone takes about 1.5 KB per GPU, {:.3g} GB here){}",
                                        c.nodes, c.node.gpus, gpus, max_gpus.active(),
                                        static_cast<double>(gpus) * kGraphBytesPerGpu / 1e9,
                                        size_limit_hint(max_gpus)));
  c.name = name_for_size(c.name, file_gpus, gpus);
  c.node.nvlink_bytes_per_s = node.number("nvlink_bandwidth");
  c.node.nvlink_efficiency = node.number("nvlink_efficiency");
  c.node.nvlink_latency_s = node.number("nvlink_latency");

  const Section net = top.section("network");
  // The fabric's name and rules are checked by its stage (check_fabric, sim/topology), at the values.
  c.network.fabric = net.text("fabric");
  c.network.planes = net.integer("planes");
  for (const char* key : {"fabric", "planes"}) c.marks[std::string("network.") + key] = net.value_mark(key);
  c.network.nic_bytes_per_s = net.number("nic_bandwidth");
  c.network.nic_efficiency = net.number("nic_efficiency");
  c.network.switch_radix = net.integer("switch_radix");
  c.network.oversubscription = net.number("oversubscription");
  c.network.link_latency_s = net.number("link_latency");
  c.network.switch_latency_s = net.number("switch_latency");
  c.network.bandwidth_factor = net.number("bandwidth_factor");
  c.network.latency_factor = net.number("latency_factor");

  // Every pricing key is a number; units, ranges and defaults are declared in cluster_keys.cpp.
  const Section pricing = top.section("pricing");
  PricingSpec& price = c.pricing;
  for (const auto& [key, field] : {std::pair{"gpu_hour_usd", &price.gpu_hour_usd}, {"pue", &price.pue},
                                   {"electricity_usd_per_kwh", &price.electricity_usd_per_kwh},
                                   {"capex_per_gpu_usd", &price.capex_per_gpu_usd},
                                   {"capex_per_endpoint_usd", &price.capex_per_endpoint_usd},
                                   {"amortization_years", &price.amortization_years}})
    *field = pricing.number(key);

  if (const auto rel = top.optional_section("reliability")) {
    ReliabilitySpec r;
    const Section rates = rel->section("failures_per_1000_days");
    constexpr double kPer1000DaysToPerSecond = 1.0 / (1000 * 86400.0);
    for (const auto& [key, field] : {std::pair{"gpu", &r.rates.gpu}, {"node", &r.rates.node}, {"nic", &r.rates.nic},
                                     {"link", &r.rates.link}, {"switch", &r.rates.fabric_switch}})
      *field = rates.number(key) * kPer1000DaysToPerSecond;
    r.detection_s = rel->number("detection_time");
    r.replace_s = rel->number("replace_time");
    r.restart_s = rel->number("restart_time");
    r.spare_nodes = rel->integer("spare_nodes");
    const Section ckpt = rel->section("checkpoint");
    r.checkpoint_write_bytes_per_s = ckpt.number("write_bandwidth");
    r.checkpoint_read_bytes_per_s = ckpt.number("read_bandwidth");
    r.storage_bytes_per_s = ckpt.number("storage_bandwidth");
    r.asynchronous = ckpt.boolean("asynchronous");
    r.checkpoint_interval_s = ckpt.number("interval");
    if (r.asynchronous)
      r.snapshot_bytes_per_s = ckpt.number("snapshot_bandwidth");
    else if (ckpt.has("snapshot_bandwidth"))
      ckpt.fail_key("snapshot_bandwidth", "applies only to asynchronous checkpoints (asynchronous: true)");
    c.reliability = r;
  }
  if (const auto st = top.optional_section("stragglers")) c.stragglers = read_stragglers(*st, c.num_gpus());
  return c;
}

WorkloadSpec load_workload(const std::string& path, const std::vector<Override>& overrides) {
  WorkloadSpec w;
  w.source_file = path;
  LoadContext ctx{path, "workload.", {}, &w.marks, &w.uncertain, &config::workload_keys()};
  YAML::Node root = config::read_yaml_file(path, "a workload description");
  config::apply_overrides(root, overrides, false, ctx);
  const Section top(ctx, root, "", config::workload_schema(), root.Mark());

  // ---- model
  const Section model = top.section("model");
  ModelSpec& m = w.model;
  m.name = model.text("name");
  m.layers = model.integer("layers");
  m.hidden = model.integer("hidden");
  m.vocab = model.integer("vocab");

  const Section att = model.section("attention");
  AttentionSpec& a = m.attention;
  a.kind = att.choice("kind", config::attention_kind_choices());
  a.heads = att.integer("heads");
  const auto refuse = [&att](const std::vector<std::string>& keys, const char* kind) {
    for (const auto& k : keys)
      if (att.has(k)) att.fail_key(k, std::string("does not apply to attention kind ") + kind);
  };
  const std::vector<std::string> mla_keys = {"q_lora_rank", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim",
                                             "v_head_dim"};
  if (a.kind == AttentionKind::mla) {
    refuse({"kv_heads", "head_dim"}, "mla");
    a.q_lora_rank = att.integer("q_lora_rank");
    a.kv_lora_rank = att.integer("kv_lora_rank");
    a.qk_nope_head_dim = att.integer("qk_nope_head_dim");
    a.qk_rope_head_dim = att.integer("qk_rope_head_dim");
    a.v_head_dim = att.integer("v_head_dim");
  } else {
    refuse(mla_keys, to_string(a.kind));
    a.head_dim = att.integer("head_dim");
    if (a.kind == AttentionKind::gqa) {
      a.kv_heads = att.integer("kv_heads");
      if (a.heads % a.kv_heads != 0)
        att.fail_value("kv_heads", str(a.kv_heads) + " KV heads do not divide the " + str(a.heads) + " heads");
    } else {
      a.kv_heads = att.has("kv_heads") ? att.integer("kv_heads") : a.heads;
      if (a.kv_heads != a.heads)
        att.fail_value("kv_heads", "mha has one KV head per head (" + str(a.heads) + "); use kind: gqa");
    }
  }

  a.implementation = att.choice("implementation", config::attention_implementation_choices());

  if (const auto moe = model.optional_section("moe")) {
    MoeSpec e;
    e.first_dense_layers = moe->integer("first_dense_layers");
    if (e.first_dense_layers > m.layers)
      moe->fail_value("first_dense_layers",
                      Range::between(0, m.layers).describe() + ", got " + moe->text("first_dense_layers"));
    e.routed_experts = moe->integer("routed_experts");
    e.shared_experts = moe->integer("shared_experts");
    e.expert_intermediate = moe->integer("expert_intermediate");
    e.top_k = moe->integer("top_k");
    if (e.top_k > e.routed_experts)
      moe->fail_value("top_k", "top_k " + str(e.top_k) + " exceeds the " + str(e.routed_experts) + " routed experts");
    e.max_nodes_per_token = moe->integer("max_nodes_per_token");
    // The routing kind and the parameters it takes are checked by check_moe_routing (sim/parallel).
    if (moe->has("routing")) {
      e.routing = moe->text("routing");
      w.marks["model.moe.routing"] = moe->value_mark("routing");
    }
    if (moe->has("zipf_exponent")) e.zipf_exponent = moe->number("zipf_exponent");  // 0: not written
    e.seed = static_cast<unsigned>(moe->integer("seed"));
    e.max_devices_per_token = moe->integer("max_devices_per_token");
    e.capacity_factor = moe->number("capacity_factor");
    m.moe = e;
  }
  const bool has_dense_layers = !m.moe || m.moe->first_dense_layers > 0;
  if (has_dense_layers || model.has("ffn")) {
    const Section ffn = model.section("ffn");
    m.ffn_intermediate = ffn.integer("intermediate");
    m.ffn_activation = ffn.choice("activation", config::ffn_activation_choices());
  }
  m.mtp_depth = model.integer("mtp_depth");
  m.tied_embeddings = model.boolean("tied_embeddings");

  // ---- training
  const Section tr = top.section("training");
  TrainingSpec& t = w.training;
  t.tokens = tr.number("tokens");
  t.seq_len = tr.integer("seq_len");
  t.global_batch = tr.integer("global_batch");
  if (const auto ramp = tr.optional_section("batch_ramp")) {
    BatchRamp r;
    r.start_sequences = ramp->integer("start");
    r.over_tokens = ramp->number("over_tokens");
    if (r.start_sequences > t.global_batch)
      ramp->fail_value("start", "ramp start " + str(r.start_sequences) + " exceeds global_batch " +
                                    str(t.global_batch));
    t.batch_ramp = r;
  }
  t.micro_batch = tr.integer("micro_batch");
  const Section prec = tr.section("precision");
  t.gemm = prec.choice("gemm", config::precision_choices());
  t.attention = prec.choice("attention", config::precision_choices());
  t.dispatch = prec.choice("dispatch", config::precision_choices());
  t.combine = prec.choice("combine", config::precision_choices());
  t.fp8_scale_group = prec.integer("fp8_scale_group");
  t.causal = tr.boolean("causal");
  if (const auto rc = tr.optional_section("recompute")) {
    t.recompute.norms = rc->boolean("norms");
    t.recompute.mla_up_projections = rc->boolean("mla_up_projections");
    t.recompute.swiglu = rc->boolean("swiglu");
    t.recompute.full = rc->boolean("full");
    t.recompute.attention_core = rc->boolean("attention_core");
  }
  {
    // An absent section reads every key's declared default, like an absent key.
    const YAML::Node none(YAML::NodeType::Map);
    const Section opt = tr.has("optimizer") ? tr.section("optimizer")
                                            : Section(ctx, none, "training.optimizer",
                                                      *config::workload_schema().child("training")->child("optimizer"),
                                                      root.Mark());
    OptimizerSpec& o = t.optimizer;
    o.kind = opt.choice("name", config::optimizer_choices());
    o.gradient_bytes = opt.integer("gradient_bytes");
    o.master_weight_bytes = opt.integer("master_weight_bytes");
    o.moment_bytes = opt.integer("moment_bytes");
    o.parameter_bytes = opt.integer("parameter_bytes");
  }
  if (tr.has("recipes") && tr.text("recipes") != "none")
    t.recipes = tr.text("recipes");  // read by sim/calibrate/step_calibration

  // ---- parallelism
  const Section par = top.section("parallelism");
  ParallelismSpec& p = w.parallelism;
  p.tp = par.integer("tp");
  p.pp = par.integer("pp");
  p.ep = par.integer("ep");
  p.dp = par.integer("dp");
  p.zero = par.integer("zero");
  p.schedule = par.text("schedule");  // name and rules: check_workload_schedule (sim/parallel)
  p.schedule_mark = par.value_mark("schedule");
  p.virtual_stages = par.integer("virtual_stages");
  p.comm_sms = par.integer("comm_sms");
  p.sequence_parallel = par.boolean("sequence_parallel");
  p.cp = par.integer("cp");
  p.microbatch_group = par.integer("microbatch_group");

  // ---- memory (absent: every key's default)
  {
    const YAML::Node none(YAML::NodeType::Map);
    const Section mem = top.has("memory") ? top.section("memory")
                                          : Section(ctx, none, "memory", *config::workload_schema().child("memory"),
                                                    root.Mark());
    w.memory.comm_buffer_bytes = mem.number("comm_buffers");
    w.memory.reserved_bytes = mem.number("reserved");
  }

  // ---- consistency
  const auto fail = [&w](const std::string& key, const std::string& message) {
    fail_at(w.marks, w.source_file, key, key + ": " + message);
  };
  if (m.layers < p.pp) fail("parallelism.pp", str(p.pp) + " pipeline stages but the model has " + str(m.layers) + " layers");
  if (a.heads % p.tp != 0)
    fail("parallelism.tp", "tp " + str(p.tp) + " does not divide the " + str(a.heads) + " attention heads");
  const long long sequences_per_micro_step = static_cast<long long>(p.dp) * t.micro_batch;
  if (t.global_batch % sequences_per_micro_step != 0)
    fail("training.global_batch", "global_batch " + str(t.global_batch) + " is not divisible by dp x micro_batch = " +
                                      str(p.dp) + " x " + str(t.micro_batch) + " = " + str(sequences_per_micro_step));
  if (t.batch_ramp && t.batch_ramp->start_sequences % sequences_per_micro_step != 0)
    fail("training.batch_ramp.start", "ramp start " + str(t.batch_ramp->start_sequences) +
                                          " is not divisible by dp x micro_batch = " + str(sequences_per_micro_step));
  if (m.moe) {
    if (m.moe->routed_experts % p.ep != 0)
      fail("parallelism.ep", "ep " + str(p.ep) + " does not divide the " + str(m.moe->routed_experts) + " routed experts");
  } else if (p.ep != 1) {
    fail("parallelism.ep", "ep " + str(p.ep) + " needs a MoE model (model.moe is absent); use ep: 1");
  }
  // Zig-zag ring attention splits each sequence into 2 x cp chunks (a GPU holds chunks i and 2cp-1-i).
  if (p.cp > 1 && t.seq_len % (2LL * p.cp) != 0)
    fail("parallelism.cp", "2 x cp = " + str(2LL * p.cp) + " does not divide training.seq_len " + str(t.seq_len));
  if (p.cp > 1 && p.ep > 1)
    fail("parallelism.cp", "context parallelism with expert parallelism (ep " + str(p.ep) +
                               ") is not supported: the EP groups would have to span the CP ranks; use ep: 1 or cp: 1");
  if ((static_cast<long long>(p.dp) * p.tp) % p.ep != 0)
    fail("parallelism.ep", "ep " + str(p.ep) + " does not divide dp x tp = " + str(static_cast<long long>(p.dp) * p.tp));
  if (m.moe && m.moe->max_devices_per_token > 0) {
    const int devices = m.moe->max_devices_per_token;
    if (devices > p.ep)
      fail("model.moe.max_devices_per_token", str(devices) + " exceeds the " + str(p.ep) + " GPUs of an EP group (ep)");
    if (static_cast<long long>(devices) * (m.moe->routed_experts / p.ep) < m.moe->top_k)
      fail("model.moe.max_devices_per_token", "top_k " + str(m.moe->top_k) + " experts do not fit on " + str(devices) +
                                                  " devices of " + str(m.moe->routed_experts / p.ep) + " experts each");
  }

  return w;
}

void check_workload_fits_cluster(const WorkloadSpec& w, const ClusterSpec& c) {
  const ParallelismSpec& p = w.parallelism;
  const auto fail = [&w](const std::string& key, const std::string& message) {
    fail_at(w.marks, w.source_file, key, key + ": " + message);
  };
  const long long gpus = static_cast<long long>(p.tp) * p.cp * p.pp * p.dp;
  const std::string layout = p.cp > 1 ? "tp x cp x pp x dp = " + str(p.tp) + " x " + str(p.cp) + " x " : "tp x pp x dp = " + str(p.tp) + " x ";
  if (gpus != c.num_gpus())
    fail("parallelism.dp", layout + str(p.pp) + " x " + str(p.dp) + " = " + str(gpus) +
                               " GPUs, but cluster " + c.name + " has " + str(c.num_gpus()) + " (" + str(c.nodes) +
                               " nodes x " + str(c.node.gpus) + ")");
  if (p.tp > c.node.gpus)
    fail("parallelism.tp", "tp " + str(p.tp) + " exceeds the " + str(c.node.gpus) + " GPUs of a node");
  if (const auto& moe = w.model.moe) {
    // The EP group's ranks are ordered node by node: a group wider than a node fills whole nodes.
    if (p.ep > c.node.gpus && p.ep % c.node.gpus != 0)
      fail("parallelism.ep", "ep " + str(p.ep) + " spans more than one node but is not a multiple of the " +
                                 str(c.node.gpus) + " GPUs of a node");
    // Node-limited routing: a token's top_k experts must fit on the nodes it may reach.
    const int ep_nodes = std::max(1, p.ep / c.node.gpus);
    const int reachable = moe->max_nodes_per_token == 0 ? ep_nodes : std::min(moe->max_nodes_per_token, ep_nodes);
    const int experts_per_node = moe->routed_experts / ep_nodes;
    if (static_cast<long long>(reachable) * experts_per_node < moe->top_k)
      fail("model.moe.top_k", "top_k " + str(moe->top_k) + " experts do not fit on the " + str(reachable) +
                                  " node(s) a token may reach (model.moe.max_nodes_per_token) with " +
                                  str(experts_per_node) + " experts each");
    if (moe->max_nodes_per_token > ep_nodes)
      fail("model.moe.max_nodes_per_token", str(moe->max_nodes_per_token) + " exceeds the " + str(ep_nodes) +
                                                " node(s) an EP group of " + str(p.ep) + " GPUs spans (" +
                                                str(c.node.gpus) + " GPUs per node)");
  }
  // No FP8 tensor cores (A100: gpu.peak_tflops.fp8 absent): FP8 GEMMs or attention cannot run.
  for (const auto& [key, precision] : {std::pair{"training.precision.gemm", w.training.gemm},
                                       std::pair{"training.precision.attention", w.training.attention}})
    if (precision == Precision::fp8 && c.gpu.peak_flops_fp8 <= 0)
      fail(key, "fp8 needs FP8 tensor cores, but the " + c.gpu.name + " of cluster " + c.name +
                    " has none (gpu.peak_tflops.fp8 is absent); use bf16");
  if (p.comm_sms >= c.gpu.sms)
    fail("parallelism.comm_sms", str(p.comm_sms) + " communication SMs leave none of the " + str(c.gpu.sms) +
                                     " SMs for compute");
}

std::string default_cluster_path() {
  const std::string rel = "topologies/h800-2048.yaml";
  if (std::filesystem::exists(rel)) return rel;
  return std::string(TRAINSIM_SOURCE_DIR) + "/" + rel;
}

std::string default_workload_path() {
  const std::string rel = "workloads/deepseek-v3.yaml";
  if (std::filesystem::exists(rel)) return rel;
  return std::string(TRAINSIM_SOURCE_DIR) + "/" + rel;
}

}  // namespace trainsim
