// Step program builder: schedule × layers × blocks → a DAG of tasks per GPU.
// This file assembles the chunk passes each pipeline rank's schedule runs, adds
// the pipeline edges between them and calls the data-parallel part; the parts
// are step_build (the plan: layer_plan, stage_partition, representatives),
// step_tasks (task primitives), layer_passes (one pass over one layer) and
// data_parallel (gradient collectives and optimizer).
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
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>

#include "sim/parallel/data_parallel.hpp"
#include "sim/parallel/layer_passes.hpp"
#include "sim/parallel/step_build.hpp"
#include "sim/parallel/step_tasks.hpp"

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
    case Category::cp: return "cp";
  }
  return "?";
}

bool is_communication(Category c) {
  return c == Category::pp || c == Category::ep || c == Category::tp || c == Category::dp || c == Category::cp;
}

int gpu_of(const ParallelismSpec& p, int pp_rank, int dp_index, int tp_index, int cp_index) {
  return ((pp_rank * p.dp + dp_index) * p.cp + cp_index) * p.tp + tp_index;
}

int replicas_per_rank(const ParallelismSpec& p) { return p.dp * p.cp; }

namespace {
constexpr std::size_t kMaxGraphIndex = std::numeric_limits<std::uint32_t>::max();
}  // namespace

TransferList::TransferList(std::vector<parallel::Transfer> transfers)
    : list_(transfers.empty() ? nullptr
                              : std::make_shared<const std::vector<parallel::Transfer>>(std::move(transfers))) {}

TransferList::TransferList(std::initializer_list<parallel::Transfer> transfers)
    : TransferList(std::vector<parallel::Transfer>(transfers)) {}

TransferList::TransferList(std::shared_ptr<const std::vector<parallel::Transfer>> shared)
    : list_(shared && !shared->empty() ? std::move(shared) : nullptr) {}

TaskName::TaskName(std::string text)
    : text_(text.empty() ? nullptr : std::make_shared<const std::string>(std::move(text))) {}

TaskName::TaskName(const char* text) : TaskName(std::string(text)) {}

const std::string& TaskName::none() {
  static const std::string empty;
  return empty;
}

const std::vector<parallel::Transfer>& TransferList::none() {
  static const std::vector<parallel::Transfer> none;
  return none;
}

void involved_gpus(const StepTask& t, std::vector<int>& gpus) {
  gpus.assign(1, t.gpu);
  for (const auto& tr : t.transfers) gpus.insert(gpus.end(), {tr.src_gpu, tr.dst_gpu});
  std::sort(gpus.begin(), gpus.end());
  gpus.erase(std::unique(gpus.begin(), gpus.end()), gpus.end());
}

namespace {

std::size_t hash_of(const std::vector<parallel::Transfer>& transfers) {
  std::size_t h = transfers.size();
  auto mix = [&h](std::uint64_t x) { h ^= x + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2); };
  for (const auto& t : transfers) {
    mix(static_cast<std::uint32_t>(t.src_gpu) | (static_cast<std::uint64_t>(static_cast<std::uint32_t>(t.dst_gpu)) << 32));
    std::uint64_t bits = 0;
    static_assert(sizeof bits == sizeof t.bytes);
    std::memcpy(&bits, &t.bytes, sizeof bits);
    mix(bits);
  }
  return h;
}

bool same_transfers(const std::vector<parallel::Transfer>& a, const std::vector<parallel::Transfer>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
    return x.src_gpu == y.src_gpu && x.dst_gpu == y.dst_gpu && x.bytes == y.bytes;
  });
}

}  // namespace

TaskId StepGraphDraft::add_task(StepTask task) {
  if (tasks.size() >= kMaxGraphIndex) throw std::length_error("step program: more than 2^32 - 1 tasks");
  if (const auto& list = task.transfers.shared()) {
    const std::size_t h = hash_of(*list);
    bool found = false;
    for (auto [it, end] = transfer_lists.equal_range(h); it != end; ++it)
      if (it->second == list || same_transfers(*it->second, *list)) {
        task.transfers = TransferList(it->second);
        found = true;
        break;
      }
    if (!found) transfer_lists.emplace(h, list);
  }
  if (const auto& name = task.name.shared()) {
    const auto [it, added] = names.emplace(std::string_view(*name), name);
    if (!added) task.name = TaskName(it->second);
  }
  tasks.push_back(std::move(task));
  return static_cast<TaskId>(tasks.size() - 1);
}

void StepGraphDraft::add_edge(std::size_t before, std::size_t after) {
  if (edges.size() >= kMaxGraphIndex) throw std::length_error("step program: more than 2^32 - 1 dependencies");
  edges.emplace_back(static_cast<TaskId>(before), static_cast<TaskId>(after));
}

StepGraph make_step_graph(StepGraphDraft&& draft) {
  const auto n = static_cast<TaskId>(draft.tasks.size());
  StepGraph g{StepTopology(boost::edges_are_unsorted_multi_pass, draft.edges.begin(), draft.edges.end(), n),
              std::move(draft.tasks)};
  draft.edges = {};
  draft.tasks = {};
  draft.transfer_lists = {};
  draft.names = {};
  return g;
}

int gpu_of(const ParallelismSpec& p, int pp_rank, int replica, int tp_index) {
  return gpu_of(p, pp_rank, replica / p.cp, tp_index, replica % p.cp);
}

namespace step {
namespace {

Tasks placeholder_deps(const StepBuild& b) { return Tasks(b.reps.replicas.size(), kNone); }

// A chain's entry is the first task it creates: the one that must wait for the
// pipeline neighbour's transfer. Steps that create nothing (the all-to-all of a
// dense layer, the MLP of an embedding) pass the placeholders through; a step
// that creates several (a block and its TP collective, ring steps) notes its
// first in b.chain_start.
void note_entry(StepBuild& b, Tasks& entry, const Tasks& cur) {
  if (entry.empty() && !cur.empty() && cur.front() != kNone) entry = b.chain_start.empty() ? cur : b.chain_start;
  b.chain_start.clear();
}

// Runs a chunk's forward over its stage's layers. Returns entry/exit per replica.
ChunkEnds forward_chunk(StepBuild& b, int r, ChunkRef c) {
  ChunkEnds e;
  Tasks cur = placeholder_deps(b);
  for (int li : b.stage_layers[c.stage]) {
    gather_layer_params(b, r, c.microbatch, li, PassKind::F);
    cur = forward_attn(b, r, c.microbatch, li, cur);
    note_entry(b, e.entry, cur);
    cur = forward_dispatch(b, r, c.microbatch, li, cur);
    cur = forward_mlp(b, r, c.microbatch, li, cur);
    cur = forward_combine(b, r, c.microbatch, li, cur);
  }
  e.exit = cur;
  return e;
}

// Backward (input gradients, plus weight gradients when with_w) in reverse layer order.
ChunkEnds backward_chunk(StepBuild& b, int r, ChunkRef c, bool with_w) {
  ChunkEnds e;
  Tasks cur = placeholder_deps(b);
  const auto& ls = b.stage_layers[c.stage];
  for (auto it = ls.rbegin(); it != ls.rend(); ++it) {
    const int li = *it;
    gather_layer_params(b, r, c.microbatch, li, PassKind::B);
    cur = backward_combine(b, r, c.microbatch, li, cur);
    note_entry(b, e.entry, cur);
    cur = backward_mlp(b, r, c.microbatch, li, cur, with_w);
    note_entry(b, e.entry, cur);
    cur = backward_dispatch(b, r, c.microbatch, li, cur);
    cur = backward_attn(b, r, c.microbatch, li, cur, with_w);
    note_entry(b, e.entry, cur);
    if (with_w) reduce_layer_gradients(b, r, c.microbatch, li);
  }
  e.exit = cur;
  return e;
}

// DualPipe F&B: forward layer k interleaved with backward layer n-1-k in the
// DeepSeek-V3 Fig. 4 order (see the file comment).
void fb_pair(StepBuild& b, int r, ChunkRef f, ChunkRef bw) {
  ChunkEnds ef, eb;
  const auto& fl = b.stage_layers[f.stage];
  const auto& bl = b.stage_layers[bw.stage];
  const int slots = static_cast<int>(std::max(fl.size(), bl.size()));
  Tasks fcur = placeholder_deps(b), bcur = placeholder_deps(b);
  for (int k = 0; k < slots; ++k) {
    const int fi = k < static_cast<int>(fl.size()) ? fl[k] : kNone;
    const int bk = static_cast<int>(bl.size()) - 1 - k;
    const int bi = bk >= 0 ? bl[bk] : kNone;
    if (bi != kNone) {
      bcur = backward_combine(b, r, bw.microbatch, bi, bcur);
      note_entry(b, eb.entry, bcur);
    }
    if (fi != kNone) {
      gather_layer_params(b, r, f.microbatch, fi, PassKind::F);
      fcur = forward_attn(b, r, f.microbatch, fi, fcur);
      note_entry(b, ef.entry, fcur);
      fcur = forward_dispatch(b, r, f.microbatch, fi, fcur);
    }
    if (bi != kNone) {
      gather_layer_params(b, r, bw.microbatch, bi, PassKind::B);
      bcur = backward_mlp(b, r, bw.microbatch, bi, bcur, false);
      note_entry(b, eb.entry, bcur);
      weight_grads(b, r, bw.microbatch, bi, true);
      bcur = backward_dispatch(b, r, bw.microbatch, bi, bcur);
    }
    if (fi != kNone) {
      fcur = forward_mlp(b, r, f.microbatch, fi, fcur);
      fcur = forward_combine(b, r, f.microbatch, fi, fcur);
    }
    if (bi != kNone) {
      bcur = backward_attn(b, r, bw.microbatch, bi, bcur, false);
      note_entry(b, eb.entry, bcur);
      weight_grads(b, r, bw.microbatch, bi, false);
      reduce_layer_gradients(b, r, bw.microbatch, bi);
    }
  }
  ef.exit = fcur;
  eb.exit = bcur;
  b.ends[{1, f.microbatch, f.stage}] = ef;
  b.ends[{0, bw.microbatch, bw.stage}] = eb;
}

// The last compute task of rank r, per replica.
Tasks last_compute(const StepBuild& b, int r) {
  Tasks t;
  for (int d : b.reps.replicas) t.push_back(b.last[gpu_of(b.p, r, d, 0)][0]);
  return t;
}

TaskPass pass_of(PassKind kind) {
  switch (kind) {
    case PassKind::F: return TaskPass::F;
    case PassKind::B: return TaskPass::B;
    case PassKind::W: return TaskPass::W;
    case PassKind::BW: return TaskPass::BW;
    case PassKind::FB: return TaskPass::FB;
  }
  return TaskPass::none;
}

// Op `index` of rank r's schedule; its tasks carry its pass and index.
void emit_op(StepBuild& b, int r, int index, const PipelineOp& op) {
  b.pass = pass_of(op.kind);
  b.pipeline_op = index;
  switch (op.kind) {
    case PassKind::F: b.ends[{1, op.fwd.microbatch, op.fwd.stage}] = forward_chunk(b, r, op.fwd); break;
    case PassKind::B: b.ends[{0, op.bwd.microbatch, op.bwd.stage}] = backward_chunk(b, r, op.bwd, false); break;
    case PassKind::BW: b.ends[{0, op.bwd.microbatch, op.bwd.stage}] = backward_chunk(b, r, op.bwd, true); break;
    case PassKind::W: {
      const auto& ls = b.stage_layers[op.bwd.stage];
      for (auto it = ls.rbegin(); it != ls.rend(); ++it) {
        weight_grads(b, r, op.bwd.microbatch, *it, true);
        weight_grads(b, r, op.bwd.microbatch, *it, false);
        reduce_layer_gradients(b, r, op.bwd.microbatch, *it);
      }
      break;
    }
    case PassKind::FB: fb_pair(b, r, op.fwd, op.bwd); break;
  }
  if (op.kind != PassKind::F) b.last_bwd[{r, op.bwd.stage}] = last_compute(b, r);
  b.pass = TaskPass::none;
  b.pipeline_op = -1;
}

// ---- pipeline edges ----------------------------------------------------------
// `after` waits for `before`: directly on the same rank, through a transfer of
// one micro-batch's activations between ranks.
void connect(StepBuild& b, const Tasks& before, int before_rank, const Tasks& after, int after_rank,
             const std::string& name) {
  for (std::size_t i = 0; i < b.reps.replicas.size(); ++i) {
    if (before[i] == kNone || after[i] == kNone) continue;
    if (before_rank == after_rank) {
      b.draft.add_edge(before[i], after[i]);
      continue;
    }
    const int src = gpu_of(b.p, before_rank, b.reps.replicas[i], 0);
    const int dst = gpu_of(b.p, after_rank, b.reps.replicas[i], 0);
    StepTask t;
    t.name = name;
    t.category = Category::pp;
    t.gpu = src;
    t.transfers = {{src, dst, b.activation_bytes / b.p.tp}};
    const int id = add_task(b, std::move(t), {before[i]});
    b.draft.add_edge(id, after[i]);
  }
}

void link_pipeline(StepBuild& b) {
  const PipelineSchedule& sched = b.schedule;
  const int S = sched.num_stages;
  for (int mb = 0; mb < b.microbatches; ++mb)
    for (int s = 0; s < S; ++s) {
      const int here = rank_of(sched, mb, s);
      const auto& f = b.ends.at({1, mb, s});
      const auto& bw = b.ends.at({0, mb, s});
      if (s > 0) {
        const auto& prev = b.ends.at({1, mb, s - 1});
        connect(b, prev.exit, rank_of(sched, mb, s - 1), f.entry, here,
                "pp F mb" + std::to_string(mb) + " s" + std::to_string(s));
      }
      if (s + 1 < S) {
        const auto& next = b.ends.at({0, mb, s + 1});
        connect(b, next.exit, rank_of(sched, mb, s + 1), bw.entry, here,
                "pp B mb" + std::to_string(mb) + " s" + std::to_string(s));
      }
      connect(b, f.exit, here, bw.entry, here, "");  // backward after its own forward
    }
}

}  // namespace
}  // namespace step

StepProgram build_step_program(const ClusterSpec& cluster, const WorkloadSpec& workload, int global_batch_sequences,
                               Fidelity fidelity) {
  step::StepBuild b(cluster, workload, fidelity);
  step::plan_step(b, global_batch_sequences);
  StepProgram& program = b.program;
  const ParallelismSpec& p = workload.parallelism;
  program.num_gpus = cluster.num_gpus();
  program.microbatches = b.microbatches;
  program.tokens_per_step =
      static_cast<double>(b.microbatches) * p.dp * workload.training.micro_batch * workload.training.seq_len;
  program.stage_layers = b.stage_layers;
  program.fidelity = fidelity;
  program.simulated_gpus = b.reps.gpus;
  program.notes = b.reps.notes;
  program.pacing_gpu = b.speeds.pacing_gpu;
  program.pacing_speed = b.speeds.pacing_speed;
  b.last.assign(cluster.num_gpus(), {step::kNone, step::kNone, step::kNone});

  for (int r = 0; r < p.pp; ++r)
    for (std::size_t i = 0; i < b.schedule.ranks[r].size(); ++i)
      step::emit_op(b, r, static_cast<int>(i), b.schedule.ranks[r][i]);
  step::link_pipeline(b);
  step::emit_data_parallel(b);
  b.program.graph = make_step_graph(std::move(b.draft));
  return std::move(b.program);
}

}  // namespace trainsim
