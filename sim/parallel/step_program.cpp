// Step program builder: schedule × layers × blocks → a DAG of tasks per GPU.
//
// Granularity: one compute task per (chunk pass, layer, block), where a layer's
// "attn" block is everything before the MoE dispatch (norms, projections,
// attention core, gate) and its "mlp" block the experts or dense FFN; one
// transfer task per collective instance (or per ring phase).
//
// Streams: each GPU runs its compute tasks in program order (one stream), and
// its MoE dispatch/combine in program order on a comm stream; pipeline and
// data-parallel transfers run beside them. Overlap is what these orders and the
// data dependencies allow, nothing more (DESIGN.md rule 6). In a DualPipe F&B
// pair the per-layer order is the DeepSeek-V3 report's Fig. 4, as the profile
// trace shows it: compute attn(F) mlp(B) mlp(W) mlp(F) attn(B) attn(W); comm
// combine(B) dispatch(F) dispatch(B) combine(F).
#include "sim/parallel/step_program.hpp"

#include <algorithm>
#include <array>
#include <memory>
#include <fmt/format.h>

#include <tuple>
#include <limits>
#include <map>
#include <numeric>
#include <stdexcept>
#include <string>

#include "sim/model/cost_model.hpp"
#include "sim/model/op_time.hpp"
#include "sim/parallel/schedule.hpp"

namespace trainsim {

const char* to_string(Category c) {
  switch (c) {
    case Category::attention: return "attention";
    case Category::mlp: return "mlp";
    case Category::embedding_head: return "embedding_head";
    case Category::mtp: return "mtp";
    case Category::optimizer: return "optimizer";
    case Category::pp: return "pp";
    case Category::ep: return "ep";
    case Category::tp: return "tp";
    case Category::dp: return "dp";
  }
  return "?";
}

bool is_communication(Category c) {
  return c == Category::pp || c == Category::ep || c == Category::tp || c == Category::dp;
}

int gpu_of(const ParallelismSpec& p, int pp_rank, int dp_index, int tp_index) {
  return (pp_rank * p.dp + dp_index) * p.tp + tp_index;
}

namespace {

constexpr int kNone = -1;
// Weight gradients are FP32, as the cost model writes them (DeepSeek-V3 §3.3.3).
constexpr double kWeightGradBytes = 4;

// Seconds and model FLOPs of one block of one layer, per pass, on one GPU.
struct BlockCost {
  double f = 0, b = 0, w = 0;           // forward, backward-input (+ recompute), backward-weight
  double flops_f = 0, flops_b = 0, flops_w = 0;
};

struct LayerPlan {
  Category category = Category::attention;  // for layers that are one block (embedding, head)
  bool moe = false;
  bool two_blocks = false;  // attn + mlp; otherwise everything in `attn`
  BlockCost attn, mlp;
  BlockCost routed;  // the routed experts' share of `mlp`: scales with the tokens a rank receives
  std::string name;
  // The MLP block is reported as MTP work in the MTP module, as mlp elsewhere.
  [[nodiscard]] Category mlp_category() const { return category == Category::mtp ? Category::mtp : Category::mlp; }
};

bool before_dispatch(const std::string& op) {
  return op.rfind("attn.", 0) == 0 || op == "moe.norm" || op == "moe.gate" || op == "moe.router" ||
         op.rfind("mtp.", 0) == 0;
}

void add_op(BlockCost& block, const OpCost& op, const ClusterSpec& c, const WorkloadSpec& w, int shards) {
  block.f += op_seconds(op, Pass::forward, c, w, shards);
  block.b += op_seconds(op, Pass::backward_input, c, w, shards) + op_seconds(op, Pass::recompute, c, w, shards);
  block.w += op_seconds(op, Pass::backward_weight, c, w, shards);
  block.flops_f += op.flops_fwd / shards;
  block.flops_b += op.flops_bwd_input / shards;
  block.flops_w += op.flops_bwd_weight / shards;
}

LayerPlan plan_layer(const LayerCost& layer, const ClusterSpec& c, const WorkloadSpec& w) {
  LayerPlan plan;
  plan.name = layer.name;
  const int shards = w.parallelism.tp;
  const bool transformer = layer.kind == LayerKind::dense || layer.kind == LayerKind::moe ||
                           layer.kind == LayerKind::mtp;
  plan.two_blocks = transformer;
  plan.category = layer.kind == LayerKind::mtp ? Category::mtp
                  : transformer               ? Category::attention
                                              : Category::embedding_head;
  for (const OpCost& op : layer.ops) {
    if (op.name.rfind("moe.routed", 0) == 0) {
      plan.moe = true;
      // The cost model is unsharded: its routed-expert ops read every expert's
      // weights. Under expert parallelism a GPU holds 1/ep of them (and, with
      // balanced routing, computes its micro-batch's share of the FLOPs), so only
      // the weight traffic shrinks.
      OpCost local = op;
      const double foreign = op.params * (1.0 - 1.0 / w.parallelism.ep);
      local.bytes_fwd -= foreign * element_bytes(op.precision);
      local.bytes_bwd_input -= foreign * element_bytes(op.precision);
      local.bytes_bwd_weight -= foreign * kWeightGradBytes;
      local.bytes_bwd = local.bytes_bwd_input + local.bytes_bwd_weight;
      add_op(plan.mlp, local, c, w, shards);
      add_op(plan.routed, local, c, w, shards);
      continue;
    }
    add_op(transformer && !before_dispatch(op.name) ? plan.mlp : plan.attn, op, c, w, shards);
  }
  return plan;
}

// Contiguous split of the layers into `stages` stages that minimises the largest
// stage's forward + backward time (the pipeline's slowest stage sets its pace).
std::vector<std::vector<int>> partition_layers(const std::vector<LayerPlan>& layers, int stages) {
  const int n = static_cast<int>(layers.size());
  std::vector<double> cost(n);
  for (int i = 0; i < n; ++i) {
    const auto& l = layers[i];
    cost[i] = l.attn.f + l.attn.b + l.attn.w + l.mlp.f + l.mlp.b + l.mlp.w;
  }
  std::vector<double> prefix(n + 1, 0);
  for (int i = 0; i < n; ++i) prefix[i + 1] = prefix[i] + cost[i];
  // best[s][i]: minimal max-stage cost splitting the first i layers into s stages.
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<std::vector<double>> best(stages + 1, std::vector<double>(n + 1, inf));
  std::vector<std::vector<int>> cut(stages + 1, std::vector<int>(n + 1, 0));
  best[0][0] = 0;
  for (int s = 1; s <= stages; ++s)
    for (int i = s; i <= n - (stages - s); ++i)
      for (int j = s - 1; j < i; ++j) {
        const double v = std::max(best[s - 1][j], prefix[i] - prefix[j]);
        if (v < best[s][i] - 1e-15) {
          best[s][i] = v;
          cut[s][i] = j;
        }
      }
  std::vector<std::vector<int>> result(stages);
  int end = n;
  for (int s = stages; s >= 1; --s) {
    const int begin = cut[s][end];
    for (int i = begin; i < end; ++i) result[s - 1].push_back(i);
    end = begin;
  }
  return result;
}

class Builder {
 public:
  Builder(const ClusterSpec& c, const WorkloadSpec& w, int batch, Fidelity fidelity)
      : cluster_(c), workload_(w), p_(w.parallelism), fidelity_(fidelity) {
    microbatches_ = batch / (p_.dp * w.training.micro_batch);
    schedule_ = workload_schedule(w, batch);
    if (w.model.moe && p_.tp != 1)
      throw InputError(w.mark_of("parallelism.tp"), "MoE workloads with tp > 1 are not supported yet");
    cost_ = std::make_unique<ModelCost>(model_cost(w));
    for (const LayerCost& l : cost_->layers) layers_.push_back(plan_layer(l, c, w));
    if (schedule_.num_stages > static_cast<int>(layers_.size()))
      throw InputError(w.mark_of("parallelism.pp"), "more pipeline stages than layers");
    stage_layers_ = partition_layers(layers_, schedule_.num_stages);
    activation_bytes_ = static_cast<double>(w.training.micro_batch) * w.training.seq_len * w.model.hidden *
                        element_bytes(Precision::bf16);
    if (w.model.moe) {
      routing_ = parallel::route_tokens(parallel::routing_params(w, std::min(p_.ep, c.node.gpus)));
      dispatch_bytes_ = dispatch_bytes_per_token_per_copy(w);
      combine_bytes_ = combine_bytes_per_token_per_copy(w);
      // Expert load per EP rank: tokens received over the group's mean (all 1 when balanced).
      const auto& pairs = routing_.expert_tokens;
      const double mean = std::accumulate(pairs.begin(), pairs.end(), 0.0) / static_cast<double>(pairs.size());
      if (mean > 0 && w.model.moe->routing != "balanced")
        for (double x : pairs) expert_load_.push_back(x / mean);
    }
    if (fidelity == Fidelity::symmetric && c.network.oversubscription > 1)
      program_.notes.push_back(
          "symmetric fidelity on an oversubscribed fabric (" + fmt::format("{:g}", c.network.oversubscription) +
          ":1): switch links shared with GPUs that are not simulated carry only the representatives' flows, so "
          "contention is underestimated; use --fidelity full for this fabric");
    if (fidelity == Fidelity::full) {
      for (int d = 0; d < p_.dp; ++d) replicas_.push_back(d);
    } else if (expert_load_.empty()) {
      replicas_.push_back(0);
    } else {
      // Skewed routing: the most loaded EP rank's pipeline sets the pace (an
      // all-to-all ends with its slowest rank), so it is the representative.
      const auto most = std::max_element(expert_load_.begin(), expert_load_.end()) - expert_load_.begin();
      replicas_.push_back(static_cast<int>(most));
      program_.notes.push_back(
          "skewed routing in symmetric fidelity: the most loaded EP rank (" + std::to_string(most) +
          ", load " + std::to_string(expert_load_[static_cast<std::size_t>(most)]) +
          " x mean) is simulated; the waits of the other ranks are not (use --fidelity full for imbalance_wait)");
    }
  }

  StepProgram build() {
    program_.num_gpus = cluster_.num_gpus();
    program_.microbatches = microbatches_;
    program_.tokens_per_step =
        static_cast<double>(microbatches_) * p_.dp * workload_.training.micro_batch * workload_.training.seq_len;
    program_.stage_layers = stage_layers_;
    program_.fidelity = fidelity_;
    for (int r = 0; r < p_.pp; ++r)
      for (int d : replicas_)
        for (int t = 0; t < (fidelity_ == Fidelity::full ? p_.tp : 1); ++t)
          program_.simulated_gpus.push_back(gpu_of(p_, r, d, t));
    std::sort(program_.simulated_gpus.begin(), program_.simulated_gpus.end());
    simulated_.assign(cluster_.num_gpus(), false);
    for (int g : program_.simulated_gpus) simulated_[g] = true;
    last_.assign(cluster_.num_gpus(), {kNone, kNone, kNone});

    for (int r = 0; r < p_.pp; ++r)
      for (const PipelineOp& op : schedule_.ranks[r]) emit_op(r, op);
    link_pipeline();
    for (int r = 0; r < p_.pp; ++r) emit_data_parallel(r);
    return std::move(program_);
  }

 private:
  using Tasks = std::vector<int>;  // one task per simulated replica of a rank (same order as replicas_)

  // ---- task creation -------------------------------------------------------
  int add_task(StepTask task, const std::vector<int>& deps) {
    const int id = static_cast<int>(boost::add_vertex(std::move(task), program_.graph));
    for (int d : deps)
      if (d != kNone) boost::add_edge(d, id, program_.graph);
    return id;
  }

  // A compute task on replica d of rank r, after the previous task of its stream.
  int compute(int r, int d, Stream stream, Category cat, const std::string& name, double seconds, double flops,
              std::vector<int> deps) {
    const int gpu = gpu_of(p_, r, d, 0);
    int& last = last_[gpu][static_cast<int>(stream)];
    deps.push_back(last);
    StepTask t;
    t.name = name;
    t.category = cat;
    t.gpu = gpu;
    t.stream = stream;
    t.seconds = seconds;
    t.model_flops = flops;
    last = add_task(std::move(t), deps);
    return last;
  }

  // Transfers kept for the simulated GPUs. Symmetric mode keeps those that touch
  // a representative: its own NIC and NVLink ports then carry exactly their
  // loads, its peers' mirror traffic toward it included, with as many flows as in
  // `full` (max-min sharing is per flow, so merging flows would change the
  // shares). Exact when the representatives' ports are the bottleneck
  // (non-blocking fabrics); `full` is the reference otherwise.
  std::vector<parallel::Transfer> keep(const std::vector<parallel::Transfer>& all) const {
    if (fidelity_ == Fidelity::full) return all;
    std::vector<parallel::Transfer> kept;
    for (const auto& t : all)
      if (t.src_gpu != t.dst_gpu && (simulated_[t.src_gpu] || simulated_[t.dst_gpu])) kept.push_back(t);
    return kept;
  }

  // One transfer task per phase of `plan`, chained; returns the last (or kNone).
  int collective(const parallel::CollectivePlan& plan, Category cat, const std::string& name, int owner_gpu,
                 std::vector<int> deps, Stream stream = Stream::comm) {
    int prev = kNone;
    for (std::size_t ph = 0; ph < plan.phases.size(); ++ph) {
      auto transfers = keep(plan.phases[ph].transfers);
      if (transfers.empty()) continue;
      StepTask t;
      t.name = plan.phases.size() > 1 ? name + " #" + std::to_string(ph) : name;
      t.category = cat;
      t.gpu = owner_gpu;
      t.stream = stream;
      t.transfers = std::move(transfers);
      std::vector<int> d = prev == kNone ? deps : std::vector<int>{prev};
      prev = add_task(std::move(t), d);
    }
    return prev;
  }

  // EP group starting at data-parallel index `first` on rank r: ep consecutive indices.
  std::vector<int> ep_group(int r, int first) const {
    std::vector<int> g;
    for (int i = 0; i < p_.ep; ++i) g.push_back(gpu_of(p_, r, first + i, 0));
    return g;
  }

  // The dispatch/combine plan of one EP group, built once: every micro-batch and
  // layer of a stage repeats the same all-to-all (routing is fixed per step).
  const parallel::CollectivePlan& moe_plan(int r, int group_first, bool dispatch_shape, double bytes) {
    const auto key = std::make_tuple(r, group_first, dispatch_shape, bytes);
    auto it = moe_plans_.find(key);
    if (it == moe_plans_.end()) {
      const auto group = ep_group(r, group_first);
      it = moe_plans_
               .emplace(key, dispatch_shape ? parallel::moe_dispatch(group, routing_, bytes)
                                            : parallel::moe_combine(group, routing_, bytes))
               .first;
    }
    return it->second;
  }
  std::map<std::tuple<int, int, bool, double>, parallel::CollectivePlan> moe_plans_;

  // A dispatch/combine instance on rank r: one task per EP group, on the comm
  // stream of every member, after `deps` (one per replica); returns per replica.
  Tasks all_to_all(int r, bool dispatch_shape, double bytes, const std::string& name, const Tasks& deps) {
    Tasks out(replicas_.size(), kNone);
    std::map<int, int> task_of_group;
    for (std::size_t i = 0; i < replicas_.size(); ++i) {
      const int d = replicas_[i];
      const int group_first = (d / p_.ep) * p_.ep;
      auto it = task_of_group.find(group_first);
      const int gpu = gpu_of(p_, r, d, 0);
      int& last_comm = last_[gpu][static_cast<int>(Stream::comm)];
      if (it == task_of_group.end()) {
        const int id = collective(moe_plan(r, group_first, dispatch_shape, bytes), Category::ep, name, gpu,
                                  {deps[i], last_comm});
        it = task_of_group.emplace(group_first, id).first;
      } else if (it->second != kNone) {
        if (deps[i] != kNone) boost::add_edge(deps[i], it->second, program_.graph);
        if (last_comm != kNone) boost::add_edge(last_comm, it->second, program_.graph);
      }
      if (it->second != kNone) last_comm = it->second;
      out[i] = it->second != kNone ? it->second : deps[i];
    }
    return out;
  }

  // Tensor-parallel all-reduce of the activations after a block (Megatron: 2 per layer per pass).
  Tasks tp_all_reduce(int r, const std::string& name, const Tasks& deps) {
    if (p_.tp == 1) return deps;
    Tasks out(replicas_.size());
    for (std::size_t i = 0; i < replicas_.size(); ++i) {
      std::vector<int> group;
      for (int t = 0; t < p_.tp; ++t) group.push_back(gpu_of(p_, r, replicas_[i], t));
      const auto plan = parallel::ring_all_reduce(group, activation_bytes_);
      const int id = collective(plan, Category::tp, name, group[0], {deps[i]});
      out[i] = id == kNone ? deps[i] : id;
    }
    return out;
  }

  // `routed_seconds` (part of `seconds`) scales per replica with the tokens its EP
  // rank receives relative to the mean: 1 for balanced routing, the skew otherwise.
  Tasks compute_all(int r, Stream s, Category cat, const std::string& name, double seconds, double flops,
                    const Tasks& deps, double routed_seconds = 0) {
    Tasks out(replicas_.size());
    for (std::size_t i = 0; i < replicas_.size(); ++i) {
      const double own = seconds + routed_seconds * (expert_load(replicas_[i]) - 1.0);
      out[i] = compute(r, replicas_[i], s, cat, name, own, flops, {deps.empty() ? kNone : deps[i]});
    }
    return out;
  }

  // Tokens the EP rank of data-parallel index d receives, over the mean of its group.
  [[nodiscard]] double expert_load(int d) const {
    return expert_load_.empty() ? 1.0 : expert_load_[static_cast<std::size_t>(d % p_.ep)];
  }

  // ---- chunk passes ----------------------------------------------------------
  struct ChunkEnds {
    Tasks entry, exit;
  };
  std::map<std::tuple<int, int, int>, ChunkEnds> ends_;  // (fwd?1:0, mb, stage) → first/last tasks

  static std::string label(const char* pass, int mb, int layer, const char* block) {
    return std::string(pass) + " mb" + std::to_string(mb) + " L" + std::to_string(layer) + " " + block;
  }

  // Forward of one layer: attn, [dispatch, mlp, combine] or mlp. `in` = dependency per replica.
  Tasks forward_attn(int r, int mb, int li, const Tasks& in) {
    const LayerPlan& L = layers_[li];
    auto t = compute_all(r, Stream::compute, L.category, label("F", mb, li, "attn"), L.attn.f, L.attn.flops_f, in);
    return L.two_blocks ? tp_all_reduce(r, label("F", mb, li, "attn tp"), t) : t;
  }
  Tasks forward_dispatch(int r, int mb, int li, const Tasks& in) {
    if (!layers_[li].moe) return in;
    return all_to_all(r, true, dispatch_bytes_, label("F", mb, li, "dispatch"), in);
  }
  Tasks forward_mlp(int r, int mb, int li, const Tasks& in) {
    const LayerPlan& L = layers_[li];
    if (!L.two_blocks) return in;
    auto t = compute_all(r, Stream::compute, L.mlp_category(), label("F", mb, li, "mlp"), L.mlp.f, L.mlp.flops_f, in,
                         L.routed.f);
    return tp_all_reduce(r, label("F", mb, li, "mlp tp"), t);
  }
  Tasks forward_combine(int r, int mb, int li, const Tasks& in) {
    if (!layers_[li].moe) return in;
    return all_to_all(r, false, combine_bytes_, label("F", mb, li, "combine"), in);
  }
  // Backward of the combine = a dispatch-shaped all-to-all of output gradients,
  // quantised like the dispatch (DeepSeek-V3 §3.3.3); backward of the dispatch =
  // a combine-shaped all-to-all in BF16.
  Tasks backward_combine(int r, int mb, int li, const Tasks& in) {
    if (!layers_[li].moe) return in;
    return all_to_all(r, true, dispatch_bytes_, label("B", mb, li, "combine"), in);
  }
  Tasks backward_mlp(int r, int mb, int li, const Tasks& in, bool with_w) {
    const LayerPlan& L = layers_[li];
    if (!L.two_blocks) return in;
    const Category cat = L.mlp_category();
    auto t = compute_all(r, Stream::compute, cat, label("B", mb, li, "mlp"), L.mlp.b + (with_w ? L.mlp.w : 0),
                         L.mlp.flops_b + (with_w ? L.mlp.flops_w : 0), in, L.routed.b + (with_w ? L.routed.w : 0));
    return tp_all_reduce(r, label("B", mb, li, "mlp tp"), t);
  }
  Tasks backward_dispatch(int r, int mb, int li, const Tasks& in) {
    if (!layers_[li].moe) return in;
    return all_to_all(r, false, combine_bytes_, label("B", mb, li, "dispatch"), in);
  }
  Tasks backward_attn(int r, int mb, int li, const Tasks& in, bool with_w) {
    const LayerPlan& L = layers_[li];
    auto t = compute_all(r, Stream::compute, L.category, label("B", mb, li, "attn"), L.attn.b + (with_w ? L.attn.w : 0),
                         L.attn.flops_b + (with_w ? L.attn.flops_w : 0), in);
    return L.two_blocks ? tp_all_reduce(r, label("B", mb, li, "attn tp"), t) : t;
  }
  void weight_grads(int r, int mb, int li, bool mlp) {
    const LayerPlan& L = layers_[li];
    const BlockCost& b = mlp ? L.mlp : L.attn;
    if (mlp && !L.two_blocks) return;
    if (b.w <= 0) return;
    const Category cat = mlp ? L.mlp_category() : L.category;
    compute_all(r, Stream::compute, cat, label("W", mb, li, mlp ? "mlp" : "attn"), b.w, b.flops_w, {},
                mlp ? L.routed.w : 0);
  }

  Tasks placeholder_deps() const { return Tasks(replicas_.size(), kNone); }

  // Runs a chunk's forward over its stage's layers. Returns entry/exit per replica.
  ChunkEnds forward_chunk(int r, ChunkRef c) {
    ChunkEnds e;
    Tasks cur = placeholder_deps();
    for (int li : stage_layers_[c.stage]) {
      cur = forward_attn(r, c.microbatch, li, cur);
      note_entry(e.entry, cur);
      cur = forward_dispatch(r, c.microbatch, li, cur);
      cur = forward_mlp(r, c.microbatch, li, cur);
      cur = forward_combine(r, c.microbatch, li, cur);
    }
    e.exit = cur;
    return e;
  }

  // Backward (input gradients, plus weight gradients when with_w) in reverse layer order.
  ChunkEnds backward_chunk(int r, ChunkRef c, bool with_w) {
    ChunkEnds e;
    Tasks cur = placeholder_deps();
    const auto& ls = stage_layers_[c.stage];
    for (auto it = ls.rbegin(); it != ls.rend(); ++it) {
      const int li = *it;
      cur = backward_combine(r, c.microbatch, li, cur);
      note_entry(e.entry, cur);
      cur = backward_mlp(r, c.microbatch, li, cur, with_w);
      note_entry(e.entry, cur);
      cur = backward_dispatch(r, c.microbatch, li, cur);
      cur = backward_attn(r, c.microbatch, li, cur, with_w);
      note_entry(e.entry, cur);
    }
    e.exit = cur;
    return e;
  }

  // A chain's entry is the first task it creates: the one that must wait for the
  // pipeline neighbour's transfer. Steps that create nothing (the all-to-all of a
  // dense layer, the MLP of an embedding) pass the placeholders through.
  static void note_entry(Tasks& entry, const Tasks& cur) {
    if (entry.empty() && !cur.empty() && cur.front() != kNone) entry = cur;
  }

  // DualPipe F&B: forward layer k interleaved with backward layer n-1-k in the
  // DeepSeek-V3 Fig. 4 order (see the file comment).
  void fb_pair(int r, ChunkRef f, ChunkRef b) {
    ChunkEnds ef, eb;
    const auto& fl = stage_layers_[f.stage];
    const auto& bl = stage_layers_[b.stage];
    const int slots = static_cast<int>(std::max(fl.size(), bl.size()));
    Tasks fcur = placeholder_deps(), bcur = placeholder_deps();
    for (int k = 0; k < slots; ++k) {
      const int fi = k < static_cast<int>(fl.size()) ? fl[k] : kNone;
      const int bk = static_cast<int>(bl.size()) - 1 - k;
      const int bi = bk >= 0 ? bl[bk] : kNone;
      if (bi != kNone) {
        bcur = backward_combine(r, b.microbatch, bi, bcur);
        note_entry(eb.entry, bcur);
      }
      if (fi != kNone) {
        fcur = forward_attn(r, f.microbatch, fi, fcur);
        note_entry(ef.entry, fcur);
        fcur = forward_dispatch(r, f.microbatch, fi, fcur);
      }
      if (bi != kNone) {
        bcur = backward_mlp(r, b.microbatch, bi, bcur, false);
        note_entry(eb.entry, bcur);
        weight_grads(r, b.microbatch, bi, true);
        bcur = backward_dispatch(r, b.microbatch, bi, bcur);
      }
      if (fi != kNone) {
        fcur = forward_mlp(r, f.microbatch, fi, fcur);
        fcur = forward_combine(r, f.microbatch, fi, fcur);
      }
      if (bi != kNone) {
        bcur = backward_attn(r, b.microbatch, bi, bcur, false);
        note_entry(eb.entry, bcur);
        weight_grads(r, b.microbatch, bi, false);
      }
    }
    ef.exit = fcur;
    eb.exit = bcur;
    ends_[{1, f.microbatch, f.stage}] = ef;
    ends_[{0, b.microbatch, b.stage}] = eb;
  }

  void emit_op(int r, const PipelineOp& op) {
    switch (op.kind) {
      case PassKind::F: ends_[{1, op.fwd.microbatch, op.fwd.stage}] = forward_chunk(r, op.fwd); break;
      case PassKind::B: ends_[{0, op.bwd.microbatch, op.bwd.stage}] = backward_chunk(r, op.bwd, false); break;
      case PassKind::BW: ends_[{0, op.bwd.microbatch, op.bwd.stage}] = backward_chunk(r, op.bwd, true); break;
      case PassKind::W: {
        const auto& ls = stage_layers_[op.bwd.stage];
        for (auto it = ls.rbegin(); it != ls.rend(); ++it) {
          weight_grads(r, op.bwd.microbatch, *it, true);
          weight_grads(r, op.bwd.microbatch, *it, false);
        }
        break;
      }
      case PassKind::FB: fb_pair(r, op.fwd, op.bwd); break;
    }
    if (op.kind != PassKind::F) last_bwd_[{r, op.bwd.stage}] = last_compute(r);
  }

  Tasks last_compute(int r) const {
    Tasks t;
    for (int d : replicas_) t.push_back(last_[gpu_of(p_, r, d, 0)][0]);
    return t;
  }

  // ---- pipeline edges --------------------------------------------------------
  void connect(const Tasks& before, int before_rank, const Tasks& after, int after_rank, const std::string& name) {
    for (std::size_t i = 0; i < replicas_.size(); ++i) {
      if (before[i] == kNone || after[i] == kNone) continue;
      if (before_rank == after_rank) {
        boost::add_edge(before[i], after[i], program_.graph);
        continue;
      }
      const int src = gpu_of(p_, before_rank, replicas_[i], 0);
      const int dst = gpu_of(p_, after_rank, replicas_[i], 0);
      StepTask t;
      t.name = name;
      t.category = Category::pp;
      t.gpu = src;
      t.transfers = {{src, dst, activation_bytes_ / p_.tp}};
      const int id = add_task(std::move(t), {before[i]});
      boost::add_edge(id, after[i], program_.graph);
    }
  }

  void link_pipeline() {
    const int S = schedule_.num_stages;
    for (int mb = 0; mb < microbatches_; ++mb)
      for (int s = 0; s < S; ++s) {
        const int here = rank_of(schedule_, mb, s);
        const auto& f = ends_.at({1, mb, s});
        const auto& b = ends_.at({0, mb, s});
        if (s > 0) {
          const auto& prev = ends_.at({1, mb, s - 1});
          connect(prev.exit, rank_of(schedule_, mb, s - 1), f.entry, here,
                  "pp F mb" + std::to_string(mb) + " s" + std::to_string(s));
        }
        if (s + 1 < S) {
          const auto& next = ends_.at({0, mb, s + 1});
          connect(next.exit, rank_of(schedule_, mb, s + 1), b.entry, here,
                  "pp B mb" + std::to_string(mb) + " s" + std::to_string(s));
        }
        connect(f.exit, here, b.entry, here, "");  // backward after its own forward
      }
  }

  // ---- data parallel ---------------------------------------------------------
  // ZeRO-1: once a stage's last backward on this rank is done, its gradients are
  // reduce-scattered over every copy of the stage (data-parallel replicas, and
  // DualPipe's two copies per replica) for the dense parameters, and over the
  // expert-data-parallel group for the routed experts; the optimizer updates this
  // rank's shard; the updated BF16 parameters are all-gathered. Gradients are
  // FP32 (DeepSeek-V3 §3.3.3: gradients for the optimizer kept in FP32).
  void emit_data_parallel(int r) {
    const ModelCost& cost = *cost_;
    Tasks rs_done(replicas_.size(), kNone);
    std::vector<int> rs_all;
    double shard_params = 0;
    double gathered_bytes = 0;
    for (int s = 0; s < schedule_.num_stages; ++s) {
      std::vector<int> holders;
      for (int mb = 0; mb < microbatches_; ++mb) {
        const int h = rank_of(schedule_, mb, s);
        if (std::find(holders.begin(), holders.end(), h) == holders.end()) holders.push_back(h);
      }
      if (std::find(holders.begin(), holders.end(), r) == holders.end()) continue;
      std::sort(holders.begin(), holders.end());
      double dense = 0, expert = 0;
      for (int li : stage_layers_[s])
        for (const OpCost& op : cost.layers[li].ops) (op.name.rfind("moe.routed", 0) == 0 ? expert : dense) += op.params;
      const double dense_per_gpu = dense / p_.tp;
      const double expert_per_gpu = p_.ep > 1 ? expert / p_.ep : expert / p_.tp;
      const int copies = static_cast<int>(holders.size());
      const int expert_dp = (p_.ep > 1 ? p_.dp / p_.ep : p_.dp) * copies;
      shard_params += dense_per_gpu / (p_.dp * copies) + expert_per_gpu / expert_dp;
      gathered_bytes += (dense_per_gpu / copies + expert_per_gpu / copies) * kParamBytes;
      const auto& after = last_bwd_.at({r, s});
      // Dense gradients: one collective over every copy of the stage.
      std::vector<int> group;
      for (int h : holders)
        for (int k = 0; k < p_.dp; ++k) group.push_back(gpu_of(p_, h, k, 0));
      const auto dense_rs = parallel::hierarchical_reduce_scatter(group, cluster_.node.gpus, dense_per_gpu * kGradBytes);
      const int owner = gpu_of(p_, r, replicas_[0], 0);
      std::vector<int> deps(after.begin(), after.end());
      int last = collective(dense_rs, Category::dp, "dp reduce-scatter s" + std::to_string(s), owner, deps);
      if (last == kNone) last = deps.front();
      // Expert gradients: one collective per position in the EP group.
      if (expert > 0 && expert_dp > 1) {
        const int positions = fidelity_ == Fidelity::full ? p_.ep : 1;
        for (int pos = 0; pos < positions; ++pos) {
          std::vector<int> eg;
          for (int h : holders)
            for (int k = pos; k < p_.dp; k += std::max(1, p_.ep)) eg.push_back(gpu_of(p_, h, k, 0));
          const auto ex_rs = parallel::ring_reduce_scatter(eg, expert_per_gpu * kGradBytes);
          const int e = collective(ex_rs, Category::dp, "dp expert reduce-scatter s" + std::to_string(s),
                                   gpu_of(p_, r, pos, 0), {last});
          if (e != kNone) rs_all.push_back(e);
        }
      }
      rs_all.push_back(last);
    }
    // Optimizer on this rank's shard (memory-bound AdamW), then the all-gather.
    const double seconds =
        shard_params * kAdamBytesPerParam / (cluster_.gpu.hbm_bytes_per_s * cluster_.gpu.efficiency.hbm);
    std::vector<int> opts;
    for (int d : replicas_) opts.push_back(compute(r, d, Stream::compute, Category::optimizer, "optimizer", seconds, 0, rs_all));
    std::vector<int> dp_group;
    for (int k = 0; k < p_.dp; ++k) dp_group.push_back(gpu_of(p_, r, k, 0));
    const auto ag = parallel::hierarchical_all_gather(dp_group, cluster_.node.gpus, gathered_bytes);
    collective(ag, Category::dp, "dp all-gather", gpu_of(p_, r, replicas_[0], 0), opts);
  }

  // Bytes per parameter: FP32 gradients reduced; BF16 parameters gathered; AdamW
  // reads and writes FP32 master weights and BF16 moments and writes BF16 weights
  // (DeepSeek-V3 §3.3.3): read 4 (grad) + 4 (master) + 2 + 2 (moments), write 4 + 2 + 2 + 2.
  static constexpr double kGradBytes = 4;
  static constexpr double kParamBytes = 2;
  static constexpr double kAdamBytesPerParam = 22;

  const ClusterSpec& cluster_;
  const WorkloadSpec& workload_;
  const ParallelismSpec& p_;
  Fidelity fidelity_;
  int microbatches_ = 0;
  PipelineSchedule schedule_;
  std::vector<LayerPlan> layers_;
  std::vector<std::vector<int>> stage_layers_;
  double activation_bytes_ = 0;
  parallel::MoeRouting routing_;
  std::vector<double> expert_load_;  // by EP rank; empty = balanced
  double dispatch_bytes_ = 0, combine_bytes_ = 0;
  std::vector<int> replicas_;
  std::vector<bool> simulated_;
  std::vector<std::array<int, 3>> last_;  // per GPU: last task per stream
  std::map<std::pair<int, int>, Tasks> last_bwd_;  // (rank, stage) → last backward compute task per replica
  std::unique_ptr<ModelCost> cost_;
  StepProgram program_;
};

}  // namespace

StepProgram build_step_program(const ClusterSpec& cluster, const WorkloadSpec& workload, int global_batch_sequences,
                               Fidelity fidelity) {
  Builder b(cluster, workload, global_batch_sequences, fidelity);
  return b.build();
}

}  // namespace trainsim
