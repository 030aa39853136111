// YAML → ClusterSpec / WorkloadSpec. Order of work for one file: read the text
// (refusing directories, binary data and tab indentation), parse it (yaml-cpp
// errors keep their position), apply --set overrides to the tree, then walk
// the tree with config::Section, which refuses unknown and duplicate keys and
// parses every value with its unit. Consistency checks come last and point at
// the key that has to change.
//
// Optional keys and their defaults (everything else is required):
//   cluster:  network.bandwidth_factor = 1, network.latency_factor = 1 (ideal SimGrid model);
//             pricing.pue = 1, pricing.electricity_usd_per_kwh = 0, pricing.capex_per_gpu_usd = 0,
//             pricing.capex_per_endpoint_usd = 0, pricing.amortization_years = 0 (0 = not given).
//   workload: model.moe absent = dense model; moe.first_dense_layers = 0, moe.shared_experts = 0,
//             moe.max_nodes_per_token = 0 (unlimited), moe.routing = balanced, moe.seed = 0
//             (moe.zipf_exponent is required with routing: zipf and refused otherwise, by
//             check_moe_routing in sim/parallel; network.fabric and its rules: check_fabric);
//             model.ffn may be omitted only when every layer is MoE (first_dense_layers = 0);
//             model.mtp_depth = 0, model.tied_embeddings = false;
//             attention: mha kv_heads = heads, mla q_lora_rank = 0 (no query compression);
//             training.batch_ramp absent = full batch from the start;
//             training.precision.dispatch = bf16, training.precision.combine = bf16;
//             training.causal = true; training.recompute.* = false;
//             parallelism.virtual_stages = 1, parallelism.comm_sms = 0.
#include "sim/config/load.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>

#include "sim/config/suggest.hpp"
#include "sim/config/units.hpp"
#include "sim/config/yaml_reader.hpp"

namespace trainsim {
namespace {

using config::LoadContext;
using config::Range;
using config::SchemaKey;
using config::Section;

// ------------------------------------------------------------------ reading

std::string read_text(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw InputError({path, 0, 0}, "cannot read: is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError({path, 0, 0}, std::string("cannot read: ") + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw InputError({path, 0, 0}, "cannot read: I/O error");
  return text.str();
}

// Refuses what yaml-cpp would accept silently or report obscurely.
void check_text(const std::string& file, const std::string& text) {
  int line = 1, column = 1;
  bool at_indent = true;  // still in the leading whitespace of the line
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\0') throw InputError({file, line, column}, "not a text file (NUL byte); expected YAML");
    if (c == '\n') {
      ++line, column = 1, at_indent = true;
      continue;
    }
    if (at_indent && c == '\t') {
      // A tab in the indentation of a line that holds something (not only a comment).
      size_t j = i;
      while (j < text.size() && (text[j] == ' ' || text[j] == '\t')) ++j;
      if (j < text.size() && text[j] != '\n' && text[j] != '\r' && text[j] != '#')
        throw InputError({file, line, column}, "tab character in indentation; YAML indents with spaces");
    }
    if (c != ' ' && c != '\t') at_indent = false;
    ++column;
  }
}

// Notes where each document starts and where its root node is. Used instead of
// YAML::LoadAll, which loops forever (allocating) on a stray ',' outside a flow
// collection: yaml-cpp 0.7 then yields an empty document without consuming the
// token, again and again (found by tests/fuzz; case tests/bad-inputs/c-stray-comma.yaml).
struct DocumentMarks : YAML::EventHandler {
  std::vector<YAML::Mark> starts, roots;
  void OnDocumentStart(const YAML::Mark& m) override { starts.push_back(m); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& m, YAML::anchor_t) override { root(m); }
  void OnAlias(const YAML::Mark& m, YAML::anchor_t) override { root(m); }
  void OnScalar(const YAML::Mark& m, const std::string&, YAML::anchor_t, const std::string&) override { root(m); }
  void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    root(m);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    root(m);
  }
  void OnMapEnd() override {}
  void root(const YAML::Mark& m) {
    if (roots.size() < starts.size()) roots.push_back(m);
  }
};

YAML::Node parse_yaml(const std::string& file, const std::string& what) {
  const std::string text = read_text(file);
  check_text(file, text);
  YAML::Node doc;
  try {
    // At most three documents: enough to tell one from several, and a parser
    // stuck on a token (two documents starting at the same place) from both.
    std::istringstream in(text);
    YAML::Parser parser(in);
    DocumentMarks marks;
    while (marks.starts.size() < 3 && parser.HandleNextDocument(marks)) {
      const size_t n = marks.starts.size();
      if (n >= 2 && marks.starts[n - 1].pos == marks.starts[n - 2].pos) {
        const YAML::Mark m = marks.starts[n - 1];
        const std::string token = m.pos >= 0 && static_cast<size_t>(m.pos) < text.size() ? text.substr(m.pos, 1) : "";
        throw InputError({file, m.line + 1, m.column + 1}, "malformed YAML: unexpected \"" + config::printable(token) + "\"");
      }
    }
    if (marks.starts.size() > 1) {
      const YAML::Mark m = marks.roots.size() > 1 ? marks.roots[1] : marks.starts[1];
      throw InputError({file, m.line + 1, m.column + 1}, "more than one YAML document; expected only " + what);
    }
    doc = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    const int line = e.mark.line < 0 ? 0 : e.mark.line + 1;
    throw InputError({file, line, e.mark.column + 1}, "malformed YAML: " + config::printable(e.msg));
  }
  if (doc.IsNull()) throw InputError({file, 0, 0}, "empty file; expected " + what);
  if (!doc.IsMap()) {
    const YAML::Mark m = doc.Mark();
    throw InputError({file, m.line + 1, m.column + 1},
                     "expected " + what + " (a map of keys), got " + (doc.IsSequence() ? "a list" : "a value"));
  }
  return doc;
}

// ------------------------------------------------------------------ overrides

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(path);
  while (std::getline(in, part, '.')) parts.push_back(part);
  if (!path.empty() && path.back() == '.') parts.emplace_back();
  return parts;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

// Inserts each override of this file into the tree. Paths were checked
// against the schema by parse_overrides; sections missing in the file are created.
void apply_overrides(YAML::Node& root, const std::vector<Override>& overrides, bool cluster, LoadContext& ctx) {
  for (const auto& ov : overrides) {
    if (ov.cluster != cluster) continue;
    const SourceMark where{ov.origin, 0, 0};
    YAML::Node value;
    try {
      value = YAML::Load(ov.value);
    } catch (const YAML::Exception& e) {
      throw InputError(where, "malformed value: " + config::printable(e.msg));
    }
    if (value.IsNull()) throw InputError(where, "missing value after '='");
    const auto parts = split_path(ov.path);
    YAML::Node cur = root;
    std::string walked;
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      walked = config::join_path(walked, parts[i]);
      YAML::Node next = cur[parts[i]];
      if (!next.IsDefined() || next.IsNull()) {
        cur[parts[i]] = YAML::Node(YAML::NodeType::Map);
        next.reset(cur[parts[i]]);
      } else if (!next.IsMap()) {
        throw InputError(where, walked + " is not a map in " + ctx.file);
      }
      cur.reset(next);
    }
    cur[parts.back()] = value;
    ctx.override_origin[ov.path] = ov.origin;
  }
}

// ------------------------------------------------------------------ value parsers

// peak_tflops entries: a plain number in TFLOP/s, or a rate with its unit.
double tflops(std::string_view text) {
  const bool has_unit = std::any_of(text.begin(), text.end(), [](char c) { return c == 'F' || c == '/'; });
  if (has_unit) return units::flops_per_s(text);
  const double flops = units::plain_number(text) * 1e12;
  // plain_number checked the number, not its product (1e300 TFLOP/s; found by tests/fuzz).
  if (!std::isfinite(flops))
    throw std::invalid_argument("expected a compute rate such as 989.4TFLOPS, got \"" + std::string(text) +
                                "\" (not a finite number)");
  return flops;
}

const std::vector<std::pair<std::string, Precision>> precisions = {{"fp8", Precision::fp8},
                                                                     {"bf16", Precision::bf16}};

[[noreturn]] void fail_at(const std::map<std::string, SourceMark>& marks, const std::string& file,
                          const std::string& path, const std::string& message) {
  auto it = marks.find(path);
  throw InputError(it != marks.end() ? it->second : SourceMark{file, 0, 0}, message);
}

std::string str(long long v) { return std::to_string(v); }

}  // namespace

// ------------------------------------------------------------------ public

std::vector<Override> parse_overrides(const std::vector<std::string>& set_args) {
  std::vector<Override> out;
  for (const auto& arg : set_args) {
    Override ov;
    ov.origin = "--set " + config::printable(arg);
    const SourceMark where{ov.origin, 0, 0};
    const auto eq = arg.find('=');
    if (eq == std::string::npos) throw InputError(where, "expected key.path=value");
    std::string path = trim(arg.substr(0, eq));
    ov.value = arg.substr(eq + 1);
    if (path.empty()) throw InputError(where, "missing key path before '='");
    if (trim(ov.value).empty()) throw InputError(where, "missing value after '='");
    auto parts = split_path(path);
    for (const auto& p : parts)
      if (p.empty()) throw InputError(where, "malformed key path \"" + config::printable(path) + "\"");
    const SchemaKey& cluster = config::cluster_schema();
    const SchemaKey& workload = config::workload_schema();
    if (parts[0] == "cluster" || parts[0] == "workload") {
      ov.cluster = parts[0] == "cluster";
      parts.erase(parts.begin());
      if (parts.empty()) throw InputError(where, "missing key path after \"" + path + "\"");
    } else if (parts[0] == "name") {
      throw InputError(where, "ambiguous key \"name\"; write cluster.name or workload.model.name");
    } else if (cluster.child(parts[0]) != nullptr) {
      ov.cluster = true;
    } else if (workload.child(parts[0]) != nullptr) {
      ov.cluster = false;
    } else {
      auto names = cluster.child_names();
      for (const auto& n : workload.child_names()) names.push_back(n);
      names.insert(names.begin(), {"cluster", "workload"});
      throw InputError(where, "unknown key \"" + config::printable(parts[0]) + "\"" +
                                  config::suggestion(parts[0], names));
    }
    // The path must exist in the schema: a value can be set, a section replaced.
    const SchemaKey* node = ov.cluster ? &cluster : &workload;
    std::string walked;
    for (const auto& p : parts) {
      if (!node->is_section() && !walked.empty())
        throw InputError(where, walked + " takes a value; it has no key \"" + config::printable(p) + "\"");
      const SchemaKey* next = node->child(p);
      if (next == nullptr)
        throw InputError(where, "unknown key \"" + config::printable(p) + "\" " +
                                    (walked.empty() ? std::string(ov.cluster ? "in the cluster file" : "in the workload file")
                                                    : "in " + walked) +
                                    config::suggestion(p, node->child_names()));
      walked = config::join_path(walked, p);
      node = next;
    }
    ov.path = walked;
    out.push_back(ov);
  }
  return out;
}

// Latencies: at least 1 ns, the simulator's time resolution (SimGrid's default
// surf/precision); SimGrid 3.32 crashes in its solver on positive latencies below it.
const Range kLatencyRange = Range::at_least(1e-9);

ClusterSpec load_cluster(const std::string& path, const std::vector<Override>& overrides) {
  ClusterSpec c;
  c.source_file = path;
  LoadContext ctx{path, "cluster.", {}, &c.marks, &c.uncertain};
  YAML::Node root = parse_yaml(path, "a cluster description");
  apply_overrides(root, overrides, true, ctx);
  const Section top(ctx, root, "", config::cluster_schema(), root.Mark());

  c.name = top.text("name");

  const Section gpu = top.section("gpu");
  c.gpu.name = gpu.text("name");
  const Section peak = gpu.section("peak_tflops");
  c.gpu.peak_flops_bf16 = peak.number("bf16", tflops, Range::positive());
  c.gpu.peak_flops_fp8 = peak.number("fp8", tflops, Range::positive());
  c.gpu.sms = gpu.integer("sms", Range::at_least(1));
  c.gpu.hbm_bytes = gpu.number("hbm", units::memory_bytes, Range::positive());
  c.gpu.hbm_bytes_per_s = gpu.number("hbm_bandwidth", units::bandwidth_bytes_per_s, Range::positive());
  const Section power = gpu.section("power");
  c.gpu.power_idle_w = power.number("idle", units::power_w, Range::non_negative());
  c.gpu.power_busy_w = power.number("busy", units::power_w, Range::positive());
  if (c.gpu.power_idle_w > c.gpu.power_busy_w)
    power.fail_value("idle", "idle power exceeds busy power (" + power.text("busy") + ")");
  c.gpu.launch_overhead_s = gpu.number("launch_overhead", units::time_s, Range::non_negative());
  const Section eff = gpu.section("efficiency");
  const Section dense = eff.section("dense_gemm");
  const Section grouped = eff.section("grouped_gemm");
  c.gpu.efficiency.dense_gemm_fp8 = dense.number("fp8", units::plain_number, Range::fraction());
  c.gpu.efficiency.dense_gemm_bf16 = dense.number("bf16", units::plain_number, Range::fraction());
  c.gpu.efficiency.grouped_gemm_fp8 = grouped.number("fp8", units::plain_number, Range::fraction());
  c.gpu.efficiency.grouped_gemm_bf16 = grouped.number("bf16", units::plain_number, Range::fraction());
  c.gpu.efficiency.attention_fwd = eff.number("attention_fwd", units::plain_number, Range::fraction());
  c.gpu.efficiency.attention_bwd = eff.number("attention_bwd", units::plain_number, Range::fraction());
  c.gpu.efficiency.hbm = eff.number("hbm", units::plain_number, Range::fraction());

  c.nodes = top.integer("nodes", Range::at_least(1));
  const Section node = top.section("node");
  c.node.gpus = node.integer("gpus", Range::at_least(1));
  // GPU counts are ints everywhere (ClusterSpec::num_gpus); refuse what overflows one (found by tests/fuzz).
  const long long gpus = static_cast<long long>(c.nodes) * c.node.gpus;
  if (gpus > std::numeric_limits<int>::max())
    top.fail_value("nodes", str(c.nodes) + " nodes x " + str(c.node.gpus) + " GPUs = " + str(gpus) +
                                " GPUs; at most " + str(std::numeric_limits<int>::max()) + " are supported");
  c.node.nvlink_bytes_per_s = node.number("nvlink_bandwidth", units::bandwidth_bytes_per_s, Range::positive());
  c.node.nvlink_efficiency = node.number("nvlink_efficiency", units::plain_number, Range::fraction());
  c.node.nvlink_latency_s = node.number("nvlink_latency", units::time_s, kLatencyRange);

  const Section net = top.section("network");
  // The fabric's name and rules are checked by its stage (check_fabric, sim/topology), at the values.
  c.network.fabric = net.text("fabric");
  c.network.planes = net.integer("planes", Range::at_least(1));
  for (const char* key : {"fabric", "planes"}) c.marks[std::string("network.") + key] = net.value_mark(key);
  c.network.nic_bytes_per_s = net.number("nic_bandwidth", units::bandwidth_bytes_per_s, Range::positive());
  c.network.nic_efficiency = net.number("nic_efficiency", units::plain_number, Range::fraction());
  c.network.switch_radix = net.integer("switch_radix", Range::at_least(2));
  c.network.oversubscription = net.number("oversubscription", units::plain_number, Range::at_least(1));
  c.network.link_latency_s = net.number("link_latency", units::time_s, kLatencyRange);
  c.network.switch_latency_s = net.number("switch_latency", units::time_s, kLatencyRange);
  c.network.bandwidth_factor = net.number_or("bandwidth_factor", units::plain_number, Range::positive(), 1);
  c.network.latency_factor = net.number_or("latency_factor", units::plain_number, Range::positive(), 1);

  const Section pricing = top.section("pricing");
  c.pricing.gpu_hour_usd = pricing.number("gpu_hour_usd", units::plain_number, Range::non_negative());
  c.pricing.pue = pricing.number_or("pue", units::plain_number, Range::at_least(1), 1);
  c.pricing.electricity_usd_per_kwh =
      pricing.number_or("electricity_usd_per_kwh", units::plain_number, Range::non_negative(), 0);
  c.pricing.capex_per_gpu_usd = pricing.number_or("capex_per_gpu_usd", units::plain_number, Range::non_negative(), 0);
  c.pricing.capex_per_endpoint_usd =
      pricing.number_or("capex_per_endpoint_usd", units::plain_number, Range::non_negative(), 0);
  c.pricing.amortization_years =
      pricing.number_or("amortization_years", units::plain_number, Range::non_negative(), 0);
  return c;
}

WorkloadSpec load_workload(const std::string& path, const std::vector<Override>& overrides) {
  WorkloadSpec w;
  w.source_file = path;
  LoadContext ctx{path, "workload.", {}, &w.marks, &w.uncertain};
  YAML::Node root = parse_yaml(path, "a workload description");
  apply_overrides(root, overrides, false, ctx);
  const Section top(ctx, root, "", config::workload_schema(), root.Mark());

  // ---- model
  const Section model = top.section("model");
  ModelSpec& m = w.model;
  m.name = model.text("name");
  m.layers = model.integer("layers", Range::at_least(1));
  m.hidden = model.integer("hidden", Range::at_least(1));
  m.vocab = model.integer("vocab", Range::at_least(1));

  const Section att = model.section("attention");
  AttentionSpec& a = m.attention;
  a.kind = att.choice<AttentionKind>("kind", {{"mha", AttentionKind::mha},
                                              {"gqa", AttentionKind::gqa},
                                              {"mla", AttentionKind::mla}});
  a.heads = att.integer("heads", Range::at_least(1));
  const auto refuse = [&att](const std::vector<std::string>& keys, const char* kind) {
    for (const auto& k : keys)
      if (att.has(k)) att.fail_key(k, std::string("does not apply to attention kind ") + kind);
  };
  const std::vector<std::string> mla_keys = {"q_lora_rank", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim",
                                             "v_head_dim"};
  if (a.kind == AttentionKind::mla) {
    refuse({"kv_heads", "head_dim"}, "mla");
    a.q_lora_rank = att.integer_or("q_lora_rank", Range::non_negative(), 0);
    a.kv_lora_rank = att.integer("kv_lora_rank", Range::at_least(1));
    a.qk_nope_head_dim = att.integer("qk_nope_head_dim", Range::at_least(1));
    a.qk_rope_head_dim = att.integer("qk_rope_head_dim", Range::at_least(1));
    a.v_head_dim = att.integer("v_head_dim", Range::at_least(1));
  } else {
    refuse(mla_keys, to_string(a.kind));
    a.head_dim = att.integer("head_dim", Range::at_least(1));
    if (a.kind == AttentionKind::gqa) {
      a.kv_heads = att.integer("kv_heads", Range::at_least(1));
      if (a.heads % a.kv_heads != 0)
        att.fail_value("kv_heads", str(a.kv_heads) + " KV heads do not divide the " + str(a.heads) + " heads");
    } else {
      a.kv_heads = att.integer_or("kv_heads", Range::at_least(1), a.heads);
      if (a.kv_heads != a.heads)
        att.fail_value("kv_heads", "mha has one KV head per head (" + str(a.heads) + "); use kind: gqa");
    }
  }

  if (const auto moe = model.optional_section("moe")) {
    MoeSpec e;
    e.first_dense_layers = moe->integer_or("first_dense_layers", Range::between(0, m.layers), 0);
    e.routed_experts = moe->integer("routed_experts", Range::at_least(1));
    e.shared_experts = moe->integer_or("shared_experts", Range::non_negative(), 0);
    e.expert_intermediate = moe->integer("expert_intermediate", Range::at_least(1));
    e.top_k = moe->integer("top_k", Range::at_least(1));
    if (e.top_k > e.routed_experts)
      moe->fail_value("top_k", "top_k " + str(e.top_k) + " exceeds the " + str(e.routed_experts) + " routed experts");
    e.max_nodes_per_token = moe->integer_or("max_nodes_per_token", Range::non_negative(), 0);
    // The routing kind and the parameters it takes are checked by check_moe_routing (sim/parallel).
    if (moe->has("routing")) {
      e.routing = moe->text("routing");
      w.marks["model.moe.routing"] = moe->value_mark("routing");
    }
    e.zipf_exponent = moe->number_or("zipf_exponent", units::plain_number, Range::positive(), 0);
    e.seed = static_cast<unsigned>(moe->integer_or("seed", Range::non_negative(), 0));
    m.moe = e;
  }
  const bool has_dense_layers = !m.moe || m.moe->first_dense_layers > 0;
  if (has_dense_layers || model.has("ffn"))
    m.ffn_intermediate = model.section("ffn").integer("intermediate", Range::at_least(1));
  m.mtp_depth = model.integer_or("mtp_depth", Range::non_negative(), 0);
  m.tied_embeddings = model.boolean_or("tied_embeddings", false);

  // ---- training
  const Section tr = top.section("training");
  TrainingSpec& t = w.training;
  t.tokens = tr.number("tokens", units::token_count, Range::positive());
  t.seq_len = tr.integer("seq_len", Range::at_least(1));
  t.global_batch = tr.integer("global_batch", Range::at_least(1));
  if (const auto ramp = tr.optional_section("batch_ramp")) {
    BatchRamp r;
    r.start_sequences = ramp->integer("start", Range::at_least(1));
    r.over_tokens = ramp->number("over_tokens", units::token_count, Range::positive());
    if (r.start_sequences > t.global_batch)
      ramp->fail_value("start", "ramp start " + str(r.start_sequences) + " exceeds global_batch " +
                                    str(t.global_batch));
    t.batch_ramp = r;
  }
  t.micro_batch = tr.integer("micro_batch", Range::at_least(1));
  const Section prec = tr.section("precision");
  t.gemm = prec.choice("gemm", precisions);
  t.attention = prec.choice("attention", precisions);
  t.dispatch = prec.choice_or("dispatch", precisions, Precision::bf16);
  t.combine = prec.choice_or("combine", precisions, Precision::bf16);
  t.causal = tr.boolean_or("causal", true);
  if (const auto rc = tr.optional_section("recompute")) {
    t.recompute.norms = rc->boolean_or("norms", false);
    t.recompute.mla_up_projections = rc->boolean_or("mla_up_projections", false);
    t.recompute.swiglu = rc->boolean_or("swiglu", false);
    t.recompute.full = rc->boolean_or("full", false);
  }

  // ---- parallelism
  const Section par = top.section("parallelism");
  ParallelismSpec& p = w.parallelism;
  p.tp = par.integer("tp", Range::at_least(1));
  p.pp = par.integer("pp", Range::at_least(1));
  p.ep = par.integer("ep", Range::at_least(1));
  p.dp = par.integer("dp", Range::at_least(1));
  p.zero = par.integer("zero", Range::between(0, 3));
  p.schedule = par.choice<Schedule>("schedule", {{"gpipe", Schedule::gpipe},
                                                 {"1f1b", Schedule::one_f_one_b},
                                                 {"interleaved", Schedule::interleaved},
                                                 {"zb-h1", Schedule::zb_h1},
                                                 {"dualpipe", Schedule::dualpipe},
                                                 {"dualpipev", Schedule::dualpipev}});
  p.virtual_stages = par.integer_or("virtual_stages", Range::at_least(1), 1);
  p.comm_sms = par.integer_or("comm_sms", Range::non_negative(), 0);

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
  if ((static_cast<long long>(p.dp) * p.tp) % p.ep != 0)
    fail("parallelism.ep", "ep " + str(p.ep) + " does not divide dp x tp = " + str(static_cast<long long>(p.dp) * p.tp));

  const long long micro_batches = t.global_batch / sequences_per_micro_step;
  const std::string mb_text = str(micro_batches) + " micro-batches per step (global_batch " + str(t.global_batch) +
                              " / (dp " + str(p.dp) + " x micro_batch " + str(t.micro_batch) + "))";
  const char* sched = to_string(p.schedule);
  if (p.schedule != Schedule::interleaved && p.virtual_stages != 1)
    fail("parallelism.virtual_stages", "virtual_stages " + str(p.virtual_stages) + " applies only to schedule interleaved");
  switch (p.schedule) {
    case Schedule::dualpipe:
    case Schedule::dualpipev:
      if (p.pp % 2 != 0) fail("parallelism.pp", std::string(sched) + " needs an even pp, got " + str(p.pp));
      if (micro_batches < 2LL * p.pp || micro_batches % 2 != 0)
        fail("training.global_batch", std::string(sched) + " needs an even number of micro-batches, at least 2 x pp = " +
                                          str(2LL * p.pp) + "; got " + mb_text);
      break;
    case Schedule::interleaved:
      if (p.virtual_stages < 2)
        fail("parallelism.virtual_stages", "interleaved needs virtual_stages >= 2, got " + str(p.virtual_stages));
      if (m.layers < static_cast<long long>(p.pp) * p.virtual_stages)
        fail("parallelism.virtual_stages", "pp x virtual_stages = " + str(static_cast<long long>(p.pp) * p.virtual_stages) +
                                               " chunks but the model has " + str(m.layers) + " layers");
      [[fallthrough]];
    case Schedule::one_f_one_b:
    case Schedule::zb_h1:
      if (micro_batches < p.pp)
        fail("training.global_batch", std::string(sched) + " needs at least pp = " + str(p.pp) + " micro-batches; got " + mb_text);
      break;
    case Schedule::gpipe:
      break;
  }
  return w;
}

void check_workload_fits_cluster(const WorkloadSpec& w, const ClusterSpec& c) {
  const ParallelismSpec& p = w.parallelism;
  const auto fail = [&w](const std::string& key, const std::string& message) {
    fail_at(w.marks, w.source_file, key, key + ": " + message);
  };
  const long long gpus = static_cast<long long>(p.tp) * p.pp * p.dp;
  if (gpus != c.num_gpus())
    fail("parallelism.dp", "tp x pp x dp = " + str(p.tp) + " x " + str(p.pp) + " x " + str(p.dp) + " = " + str(gpus) +
                               " GPUs, but cluster " + c.name + " has " + str(c.num_gpus()) + " (" + str(c.nodes) +
                               " nodes x " + str(c.node.gpus) + ")");
  if (p.tp > c.node.gpus)
    fail("parallelism.tp", "tp " + str(p.tp) + " exceeds the " + str(c.node.gpus) + " GPUs of a node");
  if (w.model.moe && w.model.moe->max_nodes_per_token > 0) {
    const int spanned = std::max(1, p.ep / c.node.gpus);
    if (w.model.moe->max_nodes_per_token > spanned)
      fail("model.moe.max_nodes_per_token", str(w.model.moe->max_nodes_per_token) + " exceeds the " + str(spanned) +
                                                " node(s) an EP group of " + str(p.ep) + " GPUs spans (" +
                                                str(c.node.gpus) + " GPUs per node)");
  }
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
