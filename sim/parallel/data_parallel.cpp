// Gradient collectives, optimizer and parameter all-gather (see data_parallel.hpp).
#include "sim/parallel/data_parallel.hpp"

#include <algorithm>
#include <map>
#include <string>

#include "sim/config/error.hpp"
#include "sim/parallel/schedule.hpp"
#include "sim/parallel/step_tasks.hpp"

namespace trainsim::step {

namespace {

// One stage as ZeRO sees it: the pipeline ranks that hold a copy of it and its
// parameters on one GPU of a holder.
struct StageCopies {
  std::vector<int> holders;  // pipeline ranks, sorted (DualPipe: i and pp-1-i)
  double dense = 0;          // 1/tp of the stage's parameters outside the routed experts
  double expert = 0;         // the GPU's 1/ep of the routed experts (0 without EP: counted in `dense`)
};

// The pipeline ranks that run `stage`, sorted.
std::vector<int> holders_of(const PipelineSchedule& s, int stage) {
  std::vector<int> holders;
  for (int mb = 0; mb < s.microbatches; ++mb) {
    const int h = rank_of(s, mb, stage);
    if (std::find(holders.begin(), holders.end(), h) == holders.end()) holders.push_back(h);
  }
  std::sort(holders.begin(), holders.end());
  return holders;
}

StageCopies stage_copies(const StepBuild& b, int stage) {
  StageCopies c;
  c.holders = holders_of(b.schedule, stage);
  double dense = 0, expert = 0;
  for (int li : b.stage_layers[stage])
    for (const OpCost& op : b.cost.layers[li].ops) (op.block == OpBlock::routed_experts ? expert : dense) += op.params;
  // Without EP every GPU holds all experts: they are reduced and gathered with the rest.
  c.dense = (b.p.ep > 1 ? dense : dense + expert) / b.p.tp;
  c.expert = b.p.ep > 1 ? expert / b.p.ep : 0;
  return c;
}

// One layer's parameters on one GPU, split as StageCopies splits a stage's.
StageCopies layer_share(const StepBuild& b, int li) {
  StageCopies c;
  for (const OpCost& op : b.cost.layers[li].ops)
    (op.block == OpBlock::routed_experts ? c.expert : c.dense) += op.params;
  if (b.p.ep == 1) c.dense += c.expert, c.expert = 0;
  c.dense /= b.p.tp;
  c.expert /= b.p.ep;
  return c;
}

bool holds(const StageCopies& c, int rank) {
  return std::find(c.holders.begin(), c.holders.end(), rank) != c.holders.end();
}

// The GPUs (TP index 0) of replicas first, first + step, ... on each holder
// (replicas: DP x CP ranks, which hold the same parameters),
// holder by holder. step 1: every replica, node by node as the hierarchical
// algorithms want; step ep: the expert-data-parallel peers of EP position `first`
// (the same position in every EP group), which sit on other nodes.
std::vector<int> replica_group(const ParallelismSpec& p, const std::vector<int>& holders, int first, int step) {
  std::vector<int> group;
  for (int h : holders)
    for (int k = first; k < replicas_per_rank(p); k += step) group.push_back(gpu_of(p, h, k, 0));
  return group;
}

// EP positions whose expert collectives are built: those of the simulated
// replicas (full: every position; symmetric: the representative's).
std::vector<int> expert_positions(const StepBuild& b) {
  std::vector<int> positions;
  for (int d : b.reps.replicas) positions.push_back(d % b.p.ep);
  std::sort(positions.begin(), positions.end());
  positions.erase(std::unique(positions.begin(), positions.end()), positions.end());
  return positions;
}

enum class Zero { reduce_scatter, all_gather, all_reduce };

// The ends of one ZeRO collective's parts (kNone: nothing simulated).
struct ZeroParts {
  int dense = kNone;
  std::map<int, int> expert;  // EP position → end
};

// One ZeRO collective over every copy of the stages that `holders` hold: the
// dense parameters over all replicas of all holders (hierarchical: NVLink, then
// the rails), then, on the same comm stream, the experts over each EP position's
// expert-data-parallel group (a ring across nodes). `dense_bytes` and
// `expert_bytes` are one member's buffer (S: the reduce-scatter input, the
// all-gather output). Returns the tasks that end it; `deps` when none of its
// transfers touches a simulated GPU. `parts`, when given, receives the end of
// the dense part and of each EP position's expert part.
std::vector<int> emit_zero_collective(StepBuild& b, Zero kind, const std::vector<int>& holders, double dense_bytes,
                                      double expert_bytes, const std::string& suffix, const std::vector<int>& deps,
                                      ZeroParts* parts = nullptr) {
  const ParallelismSpec& p = b.p;
  const std::string what =
      kind == Zero::reduce_scatter ? "reduce-scatter" : kind == Zero::all_gather ? "all-gather" : "all-reduce";
  const auto dense_group = replica_group(p, holders, 0, 1);
  const int node = b.cluster.node.gpus;
  const auto dense = kind == Zero::reduce_scatter ? parallel::hierarchical_reduce_scatter(dense_group, node, dense_bytes)
                     : kind == Zero::all_gather   ? parallel::hierarchical_all_gather(dense_group, node, dense_bytes)
                                                  : parallel::hierarchical_all_reduce(dense_group, node, dense_bytes);
  const int owner = gpu_of(p, holders.front(), b.reps.replicas[0], 0);
  const int dense_end = add_collective(b, dense, Category::dp, "dp " + what + suffix, owner, deps);
  std::vector<int> ends;
  if (dense_end != kNone) ends.push_back(dense_end);
  if (parts) parts->dense = dense_end;
  const std::vector<int> after = dense_end == kNone ? deps : std::vector<int>{dense_end};
  if (expert_bytes > 0)
    for (int pos : expert_positions(b)) {
      const auto group = replica_group(p, holders, pos, p.ep);
      if (group.size() < 2) continue;
      const auto plan = kind == Zero::reduce_scatter ? parallel::ring_reduce_scatter(group, expert_bytes)
                        : kind == Zero::all_gather   ? parallel::ring_all_gather(group, expert_bytes)
                                                     : parallel::ring_all_reduce(group, expert_bytes);
      const int e = add_collective(b, plan, Category::dp, "dp expert " + what + suffix,
                                   gpu_of(p, holders.front(), pos, 0), after);
      if (e != kNone) ends.push_back(e);
      if (parts) parts->expert[pos] = e;
    }
  return ends.empty() ? deps : ends;
}

// Every stage on one pipeline rank (not DualPipe's two).
bool every_stage_on_one_rank(const PipelineSchedule& s) {
  for (int stage = 0; stage < s.num_stages; ++stage)
    if (holders_of(s, stage).size() > 1) return false;
  return true;
}

[[noreturn]] void refuse_zero3(const WorkloadSpec& w) {
  throw InputError(w.mark_of("parallelism.zero"),
                   "parallelism.zero: ZeRO-3 (FSDP) is not supported with schedule " + w.parallelism.schedule +
                       ", which runs each stage on two pipeline ranks: gathering one copy's layer from the shards "
                       "of both is not a collective trainsim models; use zero 0-2 or a schedule with one rank "
                       "per stage (e.g. dualpipev)");
}

// What the ZeRO-2/3 hooks look up, filled at their first call.
StepBuild::Zero& zero_plan(StepBuild& b) {
  StepBuild::Zero& z = b.zero;
  if (z.planned) return z;
  z.planned = true;
  if (b.p.zero == 3 && !every_stage_on_one_rank(b.schedule)) refuse_zero3(b.workload);
  z.stage_of_layer.assign(b.cost.layers.size(), -1);
  for (int s = 0; s < b.schedule.num_stages; ++s) {
    for (int li : b.stage_layers[s]) z.stage_of_layer[li] = s;
    z.holders.push_back(holders_of(b.schedule, s));
  }
  for (int r = 0; r < b.p.pp; ++r)
    for (const PipelineOp& op : b.schedule.ranks[r])
      if (op.kind == PassKind::BW || op.kind == PassKind::W || op.kind == PassKind::FB)
        z.last_grads_mb[{r, op.bwd.stage}] = op.bwd.microbatch;
  if (b.p.zero == 3) z.compute_gate.assign(b.last.size(), {});
  return z;
}

// The last compute task of rank r, per replica.
Tasks last_compute_of(const StepBuild& b, int r) {
  Tasks t;
  for (int d : b.reps.replicas) t.push_back(b.last[gpu_of(b.p, r, d, 0)][0]);
  return t;
}

std::string layer_label(int li, int mb) {
  return " L" + std::to_string(li) + (mb < 0 ? "" : " mb" + std::to_string(mb));
}

}  // namespace

void gather_layer_params(StepBuild& b, int r, int mb, int li, PassKind pass) {
  if (b.p.zero != 3) return;
  StepBuild::Zero& z = zero_plan(b);
  const StageCopies share = layer_share(b, li);
  const double bytes = b.workload.training.optimizer.parameter_bytes;
  // After this rank's previous gather (one stream) and the compute that ran while it was prefetched.
  std::vector<int> deps = z.gather_chain[r];
  const Tasks& prefetch_after = z.prefetch_after[r];
  deps.insert(deps.end(), prefetch_after.begin(), prefetch_after.end());
  ZeroParts parts;
  const auto ends = emit_zero_collective(b, Zero::all_gather, {r}, share.dense * bytes, share.expert * bytes,
                                         layer_label(li, mb) + (pass == PassKind::F ? " F" : " B"), deps, &parts);
  z.gather_chain[r] = ends;
  z.prefetch_after[r] = last_compute_of(b, r);
  // Each replica waits for the dense gather and its own EP position's expert gather.
  for (int d : b.reps.replicas) {
    auto& gate = z.compute_gate[static_cast<std::size_t>(gpu_of(b.p, r, d, 0))];
    const auto expert = parts.expert.find(d % b.p.ep);
    for (int e : {parts.dense, expert == parts.expert.end() ? kNone : expert->second})
      if (e != kNone) gate.push_back(e);
  }
}

void reduce_layer_gradients(StepBuild& b, int r, int mb, int li) {
  if (b.p.zero != 2 && b.p.zero != 3) return;
  StepBuild::Zero& z = zero_plan(b);
  const int stage = z.stage_of_layer[li];
  Tasks ready = last_compute_of(b, r);
  std::vector<int> holders = {r};
  if (b.p.zero == 2) {  // once per step, when every holder has its last micro-batch's gradients
    if (mb != z.last_grads_mb.at({r, stage})) return;
    auto& got = z.grads_ready[li];
    got[r] = ready;
    holders = z.holders[stage];
    if (got.size() < holders.size()) return;
    ready.clear();
    for (const auto& [h, t] : got) ready.insert(ready.end(), t.begin(), t.end());
  }
  const StageCopies share = layer_share(b, li);
  const double bytes = b.workload.training.optimizer.gradient_bytes;
  std::vector<int> deps = z.scatter_chain[holders];
  deps.insert(deps.end(), ready.begin(), ready.end());
  const auto ends = emit_zero_collective(b, Zero::reduce_scatter, holders, share.dense * bytes, share.expert * bytes,
                                         layer_label(li, b.p.zero == 3 ? mb : -1), deps);
  z.scatter_chain[holders] = ends;
  z.stage_reduced[stage] = ends;
}

double adamw_bytes_per_param(const OptimizerSpec& o) {
  return o.gradient_bytes + 2.0 * o.master_weight_bytes + 4.0 * o.moment_bytes + o.parameter_bytes;
}

void emit_data_parallel(StepBuild& b) {
  const ParallelismSpec& p = b.p;
  const OptimizerSpec& o = b.workload.training.optimizer;
  std::vector<StageCopies> stages;
  for (int s = 0; s < b.schedule.num_stages; ++s) stages.push_back(stage_copies(b, s));

  // Gradients. A stage held by several ranks (DualPipe: ranks i and pp-1-i, two
  // copies per replica) is one set of parameters whose gradient is the sum over
  // every micro-batch, whichever copy ran it. So each stage gets ONE
  // reduce-scatter over all its copies (every replica of every holder), in which
  // every copy contributes its own full gradient buffer and receives the 1/n
  // shard of the sum that its optimizer updates. It starts once every holder has
  // finished the stage's backward. Emitting it from each holder, as before, ran
  // the same collective twice and doubled the gradient traffic.
  // ZeRO-2/3 reduce-scattered them per layer during the passes; ZeRO-0 all-reduces.
  std::vector<std::vector<int>> reduced(stages.size());
  for (std::size_t s = 0; s < stages.size(); ++s) {
    std::vector<int> deps;
    for (int h : stages[s].holders) {
      const auto& t = b.last_bwd.at({h, static_cast<int>(s)});
      deps.insert(deps.end(), t.begin(), t.end());
    }
    if (p.zero >= 2) {
      const auto it = b.zero.stage_reduced.find(static_cast<int>(s));
      reduced[s] = it == b.zero.stage_reduced.end() ? deps : it->second;
      continue;
    }
    reduced[s] = emit_zero_collective(b, p.zero == 0 ? Zero::all_reduce : Zero::reduce_scatter, stages[s].holders,
                                      stages[s].dense * o.gradient_bytes, stages[s].expert * o.gradient_bytes,
                                      " s" + std::to_string(s), deps);
  }

  // Optimizer (memory-bound AdamW) on each rank's shard: 1/n of every stage it
  // holds, n = the stage's reduce-scatter group; ZeRO-0: the whole stage.
  const int dense_replicas = replicas_per_rank(p);  // the dense reduce-scatter's group per holder: dp x cp
  const int expert_replicas = p.ep > 1 ? p.dp / p.ep : p.dp;
  std::vector<std::vector<int>> optimizer(static_cast<std::size_t>(p.pp));
  for (int r = 0; r < p.pp; ++r) {
    double shard_params = 0;
    std::vector<int> deps;
    for (std::size_t s = 0; s < stages.size(); ++s) {
      if (!holds(stages[s], r)) continue;
      const double copies = static_cast<double>(stages[s].holders.size());
      shard_params += p.zero == 0 ? stages[s].dense + stages[s].expert
                                  : stages[s].dense / (dense_replicas * copies) +
                                        stages[s].expert / (expert_replicas * copies);
      deps.insert(deps.end(), reduced[s].begin(), reduced[s].end());
    }
    const double seconds =
        shard_params * adamw_bytes_per_param(o) / (b.cluster.gpu.hbm_bytes_per_s * b.cluster.gpu.efficiency.hbm);
    for (int d : b.reps.replicas)
      optimizer[static_cast<std::size_t>(r)].push_back(
          add_compute(b, r, d, Stream::compute, Category::optimizer, "optimizer", seconds, 0, deps));
  }

  // Parameters: every GPU must end with the full working weights of every stage
  // it holds (DualPipe: two stages). The shards of a stage lie on all its copies,
  // so the all-gather runs over the same group as its reduce-scatter, with the
  // whole stage as each member's output; stages with the same holders (a rank's
  // chunks; DualPipe's pair) share one all-gather, after all their optimizers.
  // ZeRO-0 updated every parameter everywhere; ZeRO-3 gathers per layer when used.
  if (p.zero == 0 || p.zero == 3) return;
  std::map<std::vector<int>, std::vector<std::size_t>> stages_of_holders;
  for (std::size_t s = 0; s < stages.size(); ++s) stages_of_holders[stages[s].holders].push_back(s);
  for (const auto& [holders, held] : stages_of_holders) {
    double dense_bytes = 0, expert_bytes = 0;
    for (std::size_t s : held) {
      dense_bytes += stages[s].dense * o.parameter_bytes;
      expert_bytes += stages[s].expert * o.parameter_bytes;
    }
    std::vector<int> deps;
    for (int h : holders) {
      const auto& t = optimizer[static_cast<std::size_t>(h)];
      deps.insert(deps.end(), t.begin(), t.end());
    }
    emit_zero_collective(b, Zero::all_gather, holders, dense_bytes, expert_bytes, "", deps);
  }
}

}  // namespace trainsim::step

namespace trainsim {

void check_workload_zero(const WorkloadSpec& workload) {
  if (workload.parallelism.zero != 3) return;
  if (!step::every_stage_on_one_rank(workload_schedule(workload, workload.training.global_batch)))
    step::refuse_zero3(workload);
}

}  // namespace trainsim
