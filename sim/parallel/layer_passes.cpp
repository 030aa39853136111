// The tasks of one pass over one layer (see layer_passes.hpp).
#include "sim/parallel/layer_passes.hpp"

#include <map>
#include <string>

#include "sim/parallel/step_tasks.hpp"

namespace trainsim::step {

namespace {

std::string label(const char* pass, int mb, int layer, const char* block) {
  return std::string(pass) + " mb" + std::to_string(mb) + " L" + std::to_string(layer) + " " + block;
}

// EP group starting at data-parallel index `first` on rank r: ep consecutive indices.
std::vector<int> ep_group(const StepBuild& b, int r, int first) {
  std::vector<int> g;
  for (int i = 0; i < b.p.ep; ++i) g.push_back(gpu_of(b.p, r, first + i, 0));
  return g;
}

// The dispatch/combine plan of one EP group, built once: every micro-batch and
// layer of a stage repeats the same all-to-all (routing is fixed per step).
const parallel::CollectivePlan& moe_plan(StepBuild& b, int r, int group_first, bool dispatch_shape, double bytes) {
  const auto key = std::make_tuple(r, group_first, dispatch_shape, bytes);
  auto it = b.moe_plans.find(key);
  if (it == b.moe_plans.end()) {
    const auto group = ep_group(b, r, group_first);
    it = b.moe_plans
             .emplace(key, dispatch_shape ? parallel::moe_dispatch(group, b.routing, bytes)
                                          : parallel::moe_combine(group, b.routing, bytes))
             .first;
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
      if (deps[i] != kNone) boost::add_edge(deps[i], it->second, b.program.graph);
      if (last_comm != kNone) boost::add_edge(last_comm, it->second, b.program.graph);
    }
    if (it->second != kNone) last_comm = it->second;
    out[i] = it->second != kNone ? it->second : deps[i];
  }
  return out;
}

// Tensor-parallel all-reduce of the activations after a block (Megatron: 2 per layer per pass).
Tasks tp_all_reduce(StepBuild& b, int r, const std::string& name, const Tasks& deps) {
  if (b.p.tp == 1) return deps;
  const auto& replicas = b.reps.replicas;
  Tasks out(replicas.size());
  for (std::size_t i = 0; i < replicas.size(); ++i) {
    std::vector<int> group;
    for (int t = 0; t < b.p.tp; ++t) group.push_back(gpu_of(b.p, r, replicas[i], t));
    const auto plan = parallel::ring_all_reduce(group, b.activation_bytes);
    const int id = add_collective(b, plan, Category::tp, name, group[0], {deps[i]});
    out[i] = id == kNone ? deps[i] : id;
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
  return out;
}

}  // namespace

Tasks forward_attn(StepBuild& b, int r, int mb, int li, const Tasks& in) {
  const LayerPlan& L = b.layers[li];
  auto t = compute_all(b, r, L.category, label("F", mb, li, "attn"), L.attn.forward_seconds(), L.attn.flops_f, in);
  return L.two_blocks ? tp_all_reduce(b, r, label("F", mb, li, "attn tp"), t) : t;
}

Tasks forward_dispatch(StepBuild& b, int r, int mb, int li, const Tasks& in) {
  if (!b.layers[li].moe) return in;
  return all_to_all(b, r, true, b.dispatch_bytes, label("F", mb, li, "dispatch"), in);
}

Tasks forward_mlp(StepBuild& b, int r, int mb, int li, const Tasks& in) {
  const LayerPlan& L = b.layers[li];
  if (!L.two_blocks) return in;
  auto t = compute_all(b, r, L.mlp_category(), label("F", mb, li, "mlp"), L.mlp.forward_seconds(), L.mlp.flops_f, in,
                       L.routed.forward_seconds());
  return tp_all_reduce(b, r, label("F", mb, li, "mlp tp"), t);
}

Tasks forward_combine(StepBuild& b, int r, int mb, int li, const Tasks& in) {
  if (!b.layers[li].moe) return in;
  return all_to_all(b, r, false, b.combine_bytes, label("F", mb, li, "combine"), in);
}

// Full recomputation re-runs a transformer layer's forward before its backward,
// with that forward's communication: the tensor-parallel all-reduces and the MoE
// dispatch and combine. The re-run compute is in the backward blocks' seconds
// (layer_plan), so its communication is chained ahead of the layer's backward.
Tasks recompute_forward_communication(StepBuild& b, int r, int mb, int li, const Tasks& in) {
  const LayerPlan& L = b.layers[li];
  if (!b.workload.training.recompute.full || !L.two_blocks) return in;
  Tasks t = tp_all_reduce(b, r, label("R", mb, li, "attn tp"), in);
  if (L.moe) {
    t = all_to_all(b, r, true, b.dispatch_bytes, label("R", mb, li, "dispatch"), t);
    t = all_to_all(b, r, false, b.combine_bytes, label("R", mb, li, "combine"), t);
  }
  return tp_all_reduce(b, r, label("R", mb, li, "mlp tp"), t);
}

Tasks backward_combine(StepBuild& b, int r, int mb, int li, const Tasks& in) {
  const Tasks start = recompute_forward_communication(b, r, mb, li, in);
  if (!b.layers[li].moe) return start;
  return all_to_all(b, r, true, b.dispatch_bytes, label("B", mb, li, "combine"), start);
}

Tasks backward_mlp(StepBuild& b, int r, int mb, int li, const Tasks& in, bool with_w) {
  const LayerPlan& L = b.layers[li];
  if (!L.two_blocks) return in;
  auto t = compute_all(b, r, L.mlp_category(), label("B", mb, li, "mlp"), L.mlp.backward_seconds(with_w),
                       L.mlp.flops_b + (with_w ? L.mlp.flops_w : 0), in, L.routed.backward_seconds(with_w));
  return tp_all_reduce(b, r, label("B", mb, li, "mlp tp"), t);
}

Tasks backward_dispatch(StepBuild& b, int r, int mb, int li, const Tasks& in) {
  if (!b.layers[li].moe) return in;
  return all_to_all(b, r, false, b.combine_bytes, label("B", mb, li, "dispatch"), in);
}

Tasks backward_attn(StepBuild& b, int r, int mb, int li, const Tasks& in, bool with_w) {
  const LayerPlan& L = b.layers[li];
  auto t = compute_all(b, r, L.category, label("B", mb, li, "attn"), L.attn.backward_seconds(with_w),
                       L.attn.flops_b + (with_w ? L.attn.flops_w : 0), in);
  return L.two_blocks ? tp_all_reduce(b, r, label("B", mb, li, "attn tp"), t) : t;
}

void weight_grads(StepBuild& b, int r, int mb, int li, bool mlp) {
  const LayerPlan& L = b.layers[li];
  const BlockCost& block = mlp ? L.mlp : L.attn;
  if (mlp && !L.two_blocks) return;
  if (block.w <= 0) return;
  const Category cat = mlp ? L.mlp_category() : L.category;
  compute_all(b, r, cat, label("W", mb, li, mlp ? "mlp" : "attn"), block.weight_seconds(), block.flops_w, {},
              mlp ? L.routed.weight_seconds() : TaskSeconds{});
}

}  // namespace trainsim::step
