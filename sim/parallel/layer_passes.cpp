// The tasks of one pass over one layer (see layer_passes.hpp).
#include "sim/parallel/layer_passes.hpp"

#include <algorithm>
#include <map>
#include <string>

#include "sim/parallel/step_tasks.hpp"

namespace trainsim::step {

namespace {

std::string label(const char* pass, int mb, int layer, const char* block) {
  return std::string(pass) + " mb" + std::to_string(mb) + " L" + std::to_string(layer) + " " + block;
}

// The attn block's label, or a one-block layer's own name ("embedding", "head"):
// what the trace shows for it.
std::string attn_label(const char* pass, int mb, int layer, const LayerPlan& L) {
  return label(pass, mb, layer, L.two_blocks ? "attn" : L.name.c_str());
}

// EP group starting at data-parallel index `first` on rank r: ep consecutive indices.
std::vector<int> ep_group(const StepBuild& b, int r, int first) {
  std::vector<int> g;
  for (int i = 0; i < b.p.ep; ++i) g.push_back(gpu_of(b.p, r, first + i, 0));
  return g;
}

// The dispatch/combine plan of one EP group, built once: every micro-batch and
// layer of a stage repeats the same all-to-all (routing is fixed per step). Kept with
// the transfers the simulated GPUs take part in only (keep_transfers), so that each
// repetition does not filter the whole group's flows again.
const parallel::CollectivePlan& moe_plan(StepBuild& b, int r, int group_first, bool dispatch_shape, double bytes) {
  const auto key = std::make_tuple(r, group_first, dispatch_shape, bytes);
  auto it = b.moe_plans.find(key);
  if (it == b.moe_plans.end()) {
    const auto group = ep_group(b, r, group_first);
    parallel::CollectivePlan plan = dispatch_shape ? parallel::moe_dispatch(group, b.routing, bytes)
                                                   : parallel::moe_combine(group, b.routing, bytes);
    for (auto& phase : plan.phases) phase.transfers = keep_transfers(b.reps, phase.transfers);
    it = b.moe_plans.emplace(key, std::move(plan)).first;
  }
  return it->second;
}

// A dispatch/combine instance on rank r: one task per EP group, on the comm
// stream of every member, after `deps` (one per replica); returns per replica.
Tasks all_to_all(StepBuild& b, int r, bool dispatch_shape, double bytes, const std::string& name, const Tasks& deps) {
  const auto& replicas = b.reps.replicas;
  Tasks out(replicas.size(), kNone);
  std::map<int, int> task_of_group;
  for (std::size_t i = 0; i < replicas.size(); ++i) {
    const int d = replicas[i];
    const int group_first = (d / b.p.ep) * b.p.ep;
    auto it = task_of_group.find(group_first);
    const int gpu = gpu_of(b.p, r, d, 0);
    int& last_comm = b.last[gpu][static_cast<int>(Stream::comm)];
    if (it == task_of_group.end()) {
      const int id = add_collective(b, moe_plan(b, r, group_first, dispatch_shape, bytes), Category::ep, name, gpu,
                                    {deps[i], last_comm});
      it = task_of_group.emplace(group_first, id).first;
    } else if (it->second != kNone) {
      if (deps[i] != kNone) b.draft.add_edge(deps[i], it->second);
      if (last_comm != kNone) b.draft.add_edge(last_comm, it->second);
    }
    if (it->second != kNone) last_comm = it->second;
    out[i] = it->second != kNone ? it->second : deps[i];
  }
  return out;
}

// Records the tasks a pass creates from the chunk's placeholders (the first
// tasks of its chain): the pipeline transfer into the chunk must precede them,
// not the collective or ring step the pass returns.
void note_chain_start(StepBuild& b, const Tasks& in, const Tasks& created) {
  if (in.empty() || created.empty() || created.front() == kNone) return;
  if (std::all_of(in.begin(), in.end(), [](int t) { return t == kNone; }) && b.chain_start.empty())
    b.chain_start = created;
}

enum class TpCollective { all_reduce, all_gather, reduce_scatter };

// One tensor-parallel collective of a micro-batch's activations on every
// replica: the all-reduce after a block (Megatron: 2 per layer per pass), or,
// under sequence parallelism, its two halves: the all-gather before the block
// and the reduce-scatter after it.
Tasks tp_collective(StepBuild& b, int r, TpCollective kind, const std::string& name, const Tasks& deps) {
  if (b.p.tp == 1) return deps;
  const auto& replicas = b.reps.replicas;
  Tasks out(replicas.size());
  for (std::size_t i = 0; i < replicas.size(); ++i) {
    std::vector<int> group;
    for (int t = 0; t < b.p.tp; ++t) group.push_back(gpu_of(b.p, r, replicas[i], t));
    const auto plan = kind == TpCollective::all_reduce   ? parallel::ring_all_reduce(group, b.activation_bytes)
                      : kind == TpCollective::all_gather ? parallel::ring_all_gather(group, b.activation_bytes)
                                                         : parallel::ring_reduce_scatter(group, b.activation_bytes);
    const int id = add_collective(b, plan, Category::tp, name, group[0], {deps[i]});
    out[i] = id == kNone ? deps[i] : id;
  }
  note_chain_start(b, deps, out);
  return out;
}

// Before a transformer block: the sequence-parallel all-gather (nothing without SP).
Tasks tp_before_block(StepBuild& b, int r, const std::string& name, const Tasks& deps) {
  return b.p.sequence_parallel ? tp_collective(b, r, TpCollective::all_gather, name + " tp ag", deps) : deps;
}

// After a transformer block: the all-reduce, or under SP the reduce-scatter.
Tasks tp_after_block(StepBuild& b, int r, const std::string& name, const Tasks& deps) {
  return b.p.sequence_parallel ? tp_collective(b, r, TpCollective::reduce_scatter, name + " tp rs", deps)
                               : tp_collective(b, r, TpCollective::all_reduce, name + " tp", deps);
}

// One step of the context-parallel ring on every CP group of the simulated
// replicas: each CP rank sends a block of `bytes` (per TP rank) to the next
// rank of its ring, every TP index to its counterpart. One task per group,
// after `deps` of all its members; returns per replica.
Tasks cp_ring_step(StepBuild& b, int r, const std::string& name, double bytes, const Tasks& deps) {
  const auto& replicas = b.reps.replicas;
  const int cp = b.p.cp;
  Tasks out(replicas.size(), kNone);
  for (std::size_t first = 0; first < replicas.size(); first += static_cast<std::size_t>(cp)) {
    parallel::CollectivePlan plan;
    plan.name = "cp ring";
    plan.ranks = cp;
    plan.phases.emplace_back();
    std::vector<int> group_deps;
    for (int c = 0; c < cp; ++c) {
      const int from = replicas[first + static_cast<std::size_t>(c)];
      const int to = replicas[first + static_cast<std::size_t>((c + 1) % cp)];
      for (int t = 0; t < b.p.tp; ++t)
        plan.phases[0].transfers.push_back({gpu_of(b.p, r, from, t), gpu_of(b.p, r, to, t), bytes});
      group_deps.push_back(deps[first + static_cast<std::size_t>(c)]);
    }
    const int id = add_collective(b, plan, Category::cp, name, gpu_of(b.p, r, replicas[first], 0), group_deps);
    for (int c = 0; c < cp; ++c) {
      const std::size_t i = first + static_cast<std::size_t>(c);
      out[i] = id == kNone ? deps[i] : id;
    }
  }
  return out;
}

// Tokens the EP rank of data-parallel index d receives, over the mean of its group.
double expert_load(const StepBuild& b, int d) {
  return b.expert_load.empty() ? 1.0 : b.expert_load[static_cast<std::size_t>(d % b.p.ep)];
}

// `routed_seconds` (part of `seconds`) scales per replica with the tokens its EP
// rank receives relative to the mean: 1 for balanced routing, the skew otherwise.
Tasks compute_all(StepBuild& b, int r, Category cat, const std::string& name, TaskSeconds seconds, double flops,
                  const Tasks& deps, TaskSeconds routed_seconds = {}) {
  const auto& replicas = b.reps.replicas;
  Tasks out(replicas.size());
  for (std::size_t i = 0; i < replicas.size(); ++i) {
    const double skew = expert_load(b, replicas[i]) - 1.0;
    const TaskSeconds own{seconds.all_sms + routed_seconds.all_sms * skew,
                          seconds.sm_shared + routed_seconds.sm_shared * skew};
    out[i] = add_compute(b, r, replicas[i], Stream::compute, cat, name, own, flops, {deps.empty() ? kNone : deps[i]});
  }
  note_chain_start(b, deps, out);
  return out;
}

// The attention core as ring attention over the cp ranks of each CP group
// (Megatron --context-parallel-size, zig-zag chunks): cp steps, each 1/cp of
// the rank's core, against the KV block it holds at that step. Forward: the KV
// block for step k+1 travels to the next rank beside step k's compute. Backward:
// KV travels the same way; the partial dK,dV of a block follow it to the next
// rank after each step (overlapping the next step; the step after that waits for
// them), and the last step's go home before the block's remaining backward.
Tasks ring_attention(StepBuild& b, int r, const LayerPlan& L, const std::string& name, bool backward,
                     TaskSeconds step_seconds, double step_flops, const Tasks& in) {
  const int cp = b.p.cp;
  Tasks kv_here = in;                        // the KV block of step k has arrived
  Tasks dkv_sent(in.size(), kNone), dkv_before(in.size(), kNone);  // dKV transfers k-1 and k-2
  Tasks computed = in;
  for (int k = 0; k < cp; ++k) {
    const std::string step = name + " core" + std::to_string(k);
    const Tasks kv_next = k + 1 < cp ? cp_ring_step(b, r, step + " kv", b.cp_kv_bytes, kv_here) : kv_here;
    computed = compute_all(b, r, L.category, step, step_seconds, step_flops, kv_here);
    if (backward) {
      for (std::size_t i = 0; i < computed.size(); ++i)
        if (dkv_before[i] != kNone) b.draft.add_edge(dkv_before[i], computed[i]);
      dkv_before = dkv_sent;
      dkv_sent = cp_ring_step(b, r, step + " dkv", b.cp_kv_bytes, computed);
    }
    kv_here = kv_next;
  }
  return backward ? dkv_sent : computed;
}

// A transformer's attn block: its ops, with the core as ring steps under CP
// (the block's other ops run first: their order inside the block does not
// change its chain). `seconds` and `flops` are the whole block's.
Tasks attn_block(StepBuild& b, int r, const LayerPlan& L, const std::string& name, bool backward, TaskSeconds seconds,
                 double flops, TaskSeconds core_seconds, double core_flops, const Tasks& in) {
  if (b.p.cp == 1 || core_seconds.all_sms <= 0) return compute_all(b, r, L.category, name, seconds, flops, in);
  const TaskSeconds rest_seconds{seconds.all_sms - core_seconds.all_sms, seconds.sm_shared - core_seconds.sm_shared};
  const TaskSeconds step_seconds{core_seconds.all_sms / b.p.cp, core_seconds.sm_shared / b.p.cp};
  const Tasks rest = compute_all(b, r, L.category, name, rest_seconds, flops - core_flops, in);
  return ring_attention(b, r, L, name, backward, step_seconds, core_flops / b.p.cp, rest);
}

}  // namespace

Tasks forward_attn(StepBuild& b, int r, int mb, int li, const Tasks& in) {
  const LayerPlan& L = b.layers[li];
  const std::string name = attn_label("F", mb, li, L);
  if (!L.two_blocks) return compute_all(b, r, L.category, name, L.attn.forward_seconds(), L.attn.flops_f, in);
  auto t = tp_before_block(b, r, name, in);
  t = attn_block(b, r, L, name, false, L.attn.forward_seconds(), L.attn.flops_f, L.core.forward_seconds(),
                 L.core.flops_f, t);
  return tp_after_block(b, r, name, t);
}

Tasks forward_dispatch(StepBuild& b, int r, int mb, int li, const Tasks& in) {
  if (!b.layers[li].moe) return in;
  return all_to_all(b, r, true, b.dispatch_bytes, label("F", mb, li, "dispatch"), in);
}

Tasks forward_mlp(StepBuild& b, int r, int mb, int li, const Tasks& in) {
  const LayerPlan& L = b.layers[li];
  if (!L.two_blocks) return in;
  const std::string name = label("F", mb, li, "mlp");
  auto t = tp_before_block(b, r, name, in);
  t = compute_all(b, r, L.mlp_category(), name, L.mlp.forward_seconds(), L.mlp.flops_f, t, L.routed.forward_seconds());
  return tp_after_block(b, r, name, t);
}

Tasks forward_combine(StepBuild& b, int r, int mb, int li, const Tasks& in) {
  if (!b.layers[li].moe) return in;
  return all_to_all(b, r, false, b.combine_bytes, label("F", mb, li, "combine"), in);
}

// Full recomputation re-runs a transformer layer's forward before its backward,
// with that forward's communication: the tensor-parallel collectives (all-reduces,
// or under sequence parallelism all-gathers and reduce-scatters) and the MoE
// dispatch and combine. The re-run compute is in the backward blocks' seconds
// (layer_plan), so its communication is chained ahead of the layer's backward.
Tasks recompute_forward_communication(StepBuild& b, int r, int mb, int li, const Tasks& in) {
  const LayerPlan& L = b.layers[li];
  if (!b.workload.training.recompute.full || !L.two_blocks) return in;
  const std::string attn = label("R", mb, li, "attn"), mlp = label("R", mb, li, "mlp");
  Tasks t = tp_after_block(b, r, attn, tp_before_block(b, r, attn, in));
  if (L.moe) {
    t = all_to_all(b, r, true, b.dispatch_bytes, label("R", mb, li, "dispatch"), t);
    t = all_to_all(b, r, false, b.combine_bytes, label("R", mb, li, "combine"), t);
  }
  return tp_after_block(b, r, mlp, tp_before_block(b, r, mlp, t));
}

Tasks backward_combine(StepBuild& b, int r, int mb, int li, const Tasks& in) {
  const Tasks start = recompute_forward_communication(b, r, mb, li, in);
  if (!b.layers[li].moe) return start;
  return all_to_all(b, r, true, b.dispatch_bytes, label("B", mb, li, "combine"), start);
}

Tasks backward_mlp(StepBuild& b, int r, int mb, int li, const Tasks& in, bool with_w) {
  const LayerPlan& L = b.layers[li];
  if (!L.two_blocks) return in;
  const std::string name = label("B", mb, li, "mlp");
  // Under SP the backward of the forward's reduce-scatter is an all-gather, and of its all-gather a reduce-scatter.
  auto t = tp_before_block(b, r, name, in);
  t = compute_all(b, r, L.mlp_category(), name, L.mlp.backward_seconds(with_w),
                  L.mlp.flops_b + (with_w ? L.mlp.flops_w : 0), t, L.routed.backward_seconds(with_w));
  return tp_after_block(b, r, name, t);
}

Tasks backward_dispatch(StepBuild& b, int r, int mb, int li, const Tasks& in) {
  if (!b.layers[li].moe) return in;
  return all_to_all(b, r, false, b.combine_bytes, label("B", mb, li, "dispatch"), in);
}

Tasks backward_attn(StepBuild& b, int r, int mb, int li, const Tasks& in, bool with_w) {
  const LayerPlan& L = b.layers[li];
  const std::string name = attn_label("B", mb, li, L);
  const TaskSeconds seconds = L.attn.backward_seconds(with_w);
  const double flops = L.attn.flops_b + (with_w ? L.attn.flops_w : 0);
  if (!L.two_blocks) return compute_all(b, r, L.category, name, seconds, flops, in);
  auto t = tp_before_block(b, r, name, in);
  t = attn_block(b, r, L, name, true, seconds, flops, L.core.backward_seconds(false), L.core.flops_b, t);
  return tp_after_block(b, r, name, t);
}

void weight_grads(StepBuild& b, int r, int mb, int li, bool mlp) {
  const LayerPlan& L = b.layers[li];
  const BlockCost& block = mlp ? L.mlp : L.attn;
  if (mlp && !L.two_blocks) return;
  if (block.w <= 0) return;
  const Category cat = mlp ? L.mlp_category() : L.category;
  compute_all(b, r, cat, mlp ? label("W", mb, li, "mlp") : attn_label("W", mb, li, L), block.weight_seconds(), block.flops_w, {},
              mlp ? L.routed.weight_seconds() : TaskSeconds{});
}

}  // namespace trainsim::step
