// Pipeline schedule generators. Each returns, per rank, the ordered ops; the
// timing follows from the dependency rules (dependencies()), never from a formula.
#include "sim/parallel/schedule.hpp"

#include "sim/config/error.hpp"

#include <deque>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <tuple>

namespace trainsim {
namespace {

[[noreturn]] void reject(const std::string& msg) { throw std::invalid_argument(msg); }

PipelineOp op_f(ChunkRef c) { return {PassKind::F, c, {}}; }
PipelineOp op_b(PassKind k, ChunkRef c) { return {k, {}, c}; }
PipelineOp op_fb(ChunkRef f, ChunkRef b) { return {PassKind::FB, f, b}; }

// GPipe: every forward, then every full backward, micro-batches in order.
void build_gpipe(PipelineSchedule& s) {
  for (int r = 0; r < s.pp; ++r) {
    auto& ops = s.ranks[r];
    for (int mb = 0; mb < s.microbatches; ++mb) ops.push_back(op_f({mb, r}));
    for (int mb = 0; mb < s.microbatches; ++mb) ops.push_back(op_b(PassKind::BW, {mb, r}));
  }
}

// 1F1B (PipeDream-flush): rank r runs pp-r-1 warm-up forwards, then alternates
// one forward and one full backward, then drains the remaining backwards.
void build_1f1b(PipelineSchedule& s) {
  const int m = s.microbatches;
  for (int r = 0; r < s.pp; ++r) {
    auto& ops = s.ranks[r];
    const int warmup = std::min(s.pp - r - 1, m);
    for (int mb = 0; mb < warmup; ++mb) ops.push_back(op_f({mb, r}));
    for (int k = 0; k < m - warmup; ++k) {
      ops.push_back(op_f({warmup + k, r}));
      ops.push_back(op_b(PassKind::BW, {k, r}));
    }
    for (int mb = m - warmup; mb < m; ++mb) ops.push_back(op_b(PassKind::BW, {mb, r}));
  }
}

// ZB-H1 (Qi et al., "Zero Bubble Pipeline Parallelism", ICLR 2024, §2.1): the
// 1F1B order with each backward split into B (input gradient, on the critical
// path) and W (weight gradient). Rank r postpones its W passes by r, so every
// rank holds pp micro-batches in flight (forward done, W not yet) like 1F1B's
// first rank, and the B chain runs upstream at b - w per stage; in the drain each
// B is followed by one postponed W (filling the wait for the next gradient) and
// the last r W run at the end.
void build_zb_h1(PipelineSchedule& s) {
  const int m = s.microbatches;
  for (int r = 0; r < s.pp; ++r) {
    auto& ops = s.ranks[r];
    const int warmup = std::min(s.pp - r - 1, m);
    std::deque<ChunkRef> pending_w;
    auto backward = [&](int mb) {
      ops.push_back(op_b(PassKind::B, {mb, r}));
      pending_w.push_back({mb, r});
    };
    auto weight = [&] {
      ops.push_back(op_b(PassKind::W, pending_w.front()));
      pending_w.pop_front();
    };
    for (int mb = 0; mb < warmup; ++mb) ops.push_back(op_f({mb, r}));
    for (int k = 0; k < m - warmup; ++k) {
      ops.push_back(op_f({warmup + k, r}));
      backward(k);
      if (static_cast<int>(pending_w.size()) > r) weight();
    }
    for (int mb = m - warmup; mb < m; ++mb) {
      backward(mb);
      weight();
    }
    while (!pending_w.empty()) weight();
  }
}

// Interleaved 1F1B (Narayanan et al. SC'21; Megatron-LM's
// forward_backward_pipelining_with_interleaving): rank r holds model stages
// c*pp + r for chunks c = 0..v-1. Virtual micro-batch k (0..m*v-1) runs chunk
// (k mod pp*v) / pp of micro-batch (k / (pp*v))*pp + k mod pp; backwards visit
// the chunks in reverse. Warm-up is (pp-r-1)*2 + (v-1)*pp forwards (all of them
// when m == pp), then one forward and one backward alternate.
void build_interleaved(PipelineSchedule& s) {
  const int pp = s.pp, v = s.virtual_stages, m = s.microbatches;
  const int total = m * v;
  auto microbatch_of = [&](int k) { return (k / (pp * v)) * pp + k % pp; };
  auto chunk_of = [&](int k, bool forward) {
    const int c = (k % (pp * v)) / pp;
    return forward ? c : v - 1 - c;
  };
  for (int r = 0; r < pp; ++r) {
    auto& ops = s.ranks[r];
    auto fwd = [&](int k) { ops.push_back(op_f({microbatch_of(k), chunk_of(k, true) * pp + r})); };
    auto bwd = [&](int k) {
      ops.push_back(op_b(PassKind::BW, {microbatch_of(k), chunk_of(k, false) * pp + r}));
    };
    const int warmup = (m == pp) ? total : std::min((pp - r - 1) * 2 + (v - 1) * pp, total);
    for (int k = 0; k < warmup; ++k) fwd(k);
    for (int k = 0; k < total - warmup; ++k) {
      fwd(warmup + k);
      bwd(k);
    }
    for (int k = total - warmup; k < total; ++k) bwd(k);
  }
}

// The eight phases of DeepSeek's DualPipe (dualpipe.py, DualPipe.step) for one
// rank; DualPipeV (dualpipev.py) has the same phases with other counts. A rank
// holds two chunks, "phase 0" and "phase 1"; chunk(phase, i) is the i-th
// micro-batch that passes through that chunk (forwards and backwards both visit
// a chunk's micro-batches in order). q is the number of ranks in one arm of the
// pipeline (DualPipe: pp/2, DualPipeV: pp), h the rank's position along the arm
// (DualPipe: min(r, pp-1-r), DualPipeV: r), per_phase the micro-batches per
// chunk (DualPipe: N/2, DualPipeV: N). Input-only backwards ("zero bubble") push
// their W on a FIFO queue popped by the W steps, as WeightGradStore does.
void build_dual_rank(std::vector<PipelineOp>& ops, int q, int h, int per_phase,
                     const std::function<ChunkRef(int, int)>& chunk) {
  int next_f[2] = {0, 0};
  int next_b[2] = {0, 0};
  std::deque<ChunkRef> pending_w;
  auto fwd = [&](int phase) { return chunk(phase, next_f[phase]++); };
  auto bwd = [&](int phase) { return chunk(phase, next_b[phase]++); };
  auto forward = [&](int phase) { ops.push_back(op_f(fwd(phase))); };
  auto backward = [&](int phase, bool zero_bubble) {
    const ChunkRef c = bwd(phase);
    ops.push_back(op_b(zero_bubble ? PassKind::B : PassKind::BW, c));
    if (zero_bubble) pending_w.push_back(c);
  };
  auto weight = [&] {
    if (pending_w.empty()) throw std::logic_error("dualpipe: W step with no pending weight gradient");
    ops.push_back(op_b(PassKind::W, pending_w.front()));
    pending_w.pop_front();
  };
  auto overlapped = [&](int f_phase, int b_phase) {
    const ChunkRef f = fwd(f_phase);
    const ChunkRef b = bwd(b_phase);
    ops.push_back(op_fb(f, b));
  };

  // 1: nF0
  for (int i = 0; i < (q - h - 1) * 2; ++i) forward(0);
  // 2: n(F0 F1)
  for (int i = 0; i < h + 1; ++i) {
    forward(0);
    forward(1);
  }
  // 3: n(B1 W1 F1), zero bubble
  for (int i = 0; i < q - h - 1; ++i) {
    backward(1, true);
    weight();
    forward(1);
  }
  // 4: main loop, n(F0&B1, F1&B0). The rank at the turn of the pipeline
  // (h = q-1) runs its first F0 and B1 apart: dualpipe.py does not overlap them
  // "to further reduce bubble size".
  const int main_steps = per_phase - 2 * q + h + 1;
  for (int i = 0; i < main_steps; ++i) {
    if (i == 0 && h == q - 1) {
      forward(0);
      backward(1, false);
    } else {
      overlapped(0, 1);
    }
    overlapped(1, 0);
  }
  // 5: n(B1, F1&B0)
  for (int i = 0; i < q - h - 1; ++i) {
    backward(1, false);
    overlapped(1, 0);
  }
  // 6: n(B1 B0), switching to zero bubble halfway
  const int steps6 = h + 1;
  bool zero_bubble = false;
  for (int i = 0; i < steps6; ++i) {
    if (i == steps6 / 2 && h % 2 == 1) zero_bubble = true;
    backward(1, zero_bubble);
    if (i == steps6 / 2 && h % 2 == 0) zero_bubble = true;
    backward(0, zero_bubble);
  }
  // 7: n(W B0), zero bubble
  for (int i = 0; i < q - h - 1; ++i) {
    weight();
    backward(0, true);
  }
  // 8: nW
  for (int i = 0; i < h + 1; ++i) weight();
  if (!pending_w.empty()) throw std::logic_error("dualpipe: weight gradients left over");
}

// DualPipe: micro-batches 0..N/2-1 enter at rank 0 and run stage s on rank s;
// N/2..N-1 enter at rank pp-1 and run stage s on rank pp-1-s. Phase 0 of a rank
// is the direction in which it sits in the first half of the pipeline (stage
// h = min(r, pp-1-r)), phase 1 the other (stage pp-1-h).
void build_dualpipe(PipelineSchedule& s) {
  const int pp = s.pp, half = s.microbatches / 2;
  for (int r = 0; r < pp; ++r) {
    const int h = std::min(r, pp - 1 - r);
    const bool first_half = r < pp / 2;
    auto chunk = [=](int phase, int i) {
      const bool down = (phase == 0) == first_half;  // direction entering at rank 0
      const int mb = down ? i : half + i;
      const int stage = phase == 0 ? h : pp - 1 - h;
      return ChunkRef{mb, stage};
    };
    build_dual_rank(s.ranks[r], pp / 2, h, half, chunk);
  }
}

// DualPipeV: one direction, 2*pp stages in a V: stage s < pp on rank s, stage
// s >= pp on rank 2*pp-1-s. Phase 0 of rank r is stage r, phase 1 stage 2pp-1-r.
void build_dualpipev(PipelineSchedule& s) {
  const int pp = s.pp;
  for (int r = 0; r < pp; ++r) {
    auto chunk = [=](int phase, int i) { return ChunkRef{i, phase == 0 ? r : 2 * pp - 1 - r}; };
    build_dual_rank(s.ranks[r], pp, r, s.microbatches, chunk);
  }
}

std::string counts(int pp, int m) {
  return "pp=" + std::to_string(pp) + ", microbatches=" + std::to_string(m);
}

}  // namespace

PipelineSchedule make_schedule(Schedule kind, int pp, int microbatches, int virtual_stages) {
  const std::string name = schedule_name(kind);
  if (pp < 1) reject(name + ": pipeline size must be >= 1 (pp=" + std::to_string(pp) + ")");
  if (microbatches < 1)
    reject(name + ": micro-batches must be >= 1 (got " + std::to_string(microbatches) + ")");
  PipelineSchedule s;
  s.kind = kind;
  s.pp = pp;
  s.microbatches = microbatches;
  s.virtual_stages = 1;
  s.num_stages = pp;
  switch (kind) {
    case Schedule::gpipe:
      break;
    case Schedule::one_f_one_b:
    case Schedule::zb_h1:
      if (microbatches < pp)
        reject(name + " needs micro-batches >= pp (" + counts(pp, microbatches) + ")");
      break;
    case Schedule::interleaved:
      if (virtual_stages < 2)
        reject("interleaved needs virtual stages >= 2 (got " + std::to_string(virtual_stages) + ")");
      if (microbatches % pp != 0)
        reject("interleaved needs micro-batches a multiple of pp (" + counts(pp, microbatches) + ")");
      s.virtual_stages = virtual_stages;
      s.num_stages = pp * virtual_stages;
      break;
    case Schedule::dualpipe:
      if (pp % 2 != 0) reject("dualpipe needs an even pp (pp=" + std::to_string(pp) + ")");
      if (microbatches % 2 != 0 || microbatches < 2 * pp)
        reject("dualpipe needs even micro-batches >= 2*pp (" + counts(pp, microbatches) + ")");
      break;
    case Schedule::dualpipev:
      if (microbatches % 2 != 0 || microbatches < 2 * pp)
        reject("dualpipev needs even micro-batches >= 2*pp (" + counts(pp, microbatches) + ")");
      s.num_stages = 2 * pp;
      break;
  }
  s.ranks.assign(pp, {});
  switch (kind) {
    case Schedule::gpipe: build_gpipe(s); break;
    case Schedule::one_f_one_b: build_1f1b(s); break;
    case Schedule::zb_h1: build_zb_h1(s); break;
    case Schedule::interleaved: build_interleaved(s); break;
    case Schedule::dualpipe: build_dualpipe(s); break;
    case Schedule::dualpipev: build_dualpipev(s); break;
  }
  return s;
}

int rank_of(const PipelineSchedule& s, int microbatch, int stage) {
  switch (s.kind) {
    case Schedule::interleaved: return stage % s.pp;
    case Schedule::dualpipe: return microbatch < s.microbatches / 2 ? stage : s.pp - 1 - stage;
    case Schedule::dualpipev: return stage < s.pp ? stage : 2 * s.pp - 1 - stage;
    default: return stage;
  }
}

namespace {

// Where each chunk's forward, backward and W ops sit.
struct OpLocations {
  std::map<std::pair<int, int>, OpIndex> forward, backward, weight;
};

OpLocations locate(const PipelineSchedule& s) {
  OpLocations loc;
  auto put = [](std::map<std::pair<int, int>, OpIndex>& m, ChunkRef c, OpIndex at, const char* what) {
    if (!m.emplace(std::pair{c.microbatch, c.stage}, at).second)
      throw std::logic_error(std::string("schedule: two ") + what + " ops for micro-batch " +
                             std::to_string(c.microbatch) + " stage " + std::to_string(c.stage));
  };
  for (int r = 0; r < static_cast<int>(s.ranks.size()); ++r) {
    for (int i = 0; i < static_cast<int>(s.ranks[r].size()); ++i) {
      const PipelineOp& op = s.ranks[r][i];
      const OpIndex at{r, i};
      switch (op.kind) {
        case PassKind::F: put(loc.forward, op.fwd, at, "forward"); break;
        case PassKind::B:
        case PassKind::BW: put(loc.backward, op.bwd, at, "backward"); break;
        case PassKind::W: put(loc.weight, op.bwd, at, "W"); break;
        case PassKind::FB:
          put(loc.forward, op.fwd, at, "forward");
          put(loc.backward, op.bwd, at, "backward");
          break;
      }
    }
  }
  return loc;
}

}  // namespace

std::vector<OpDependency> dependencies(const PipelineSchedule& s) {
  const OpLocations loc = locate(s);
  std::vector<OpDependency> deps;
  auto need = [&](const std::map<std::pair<int, int>, OpIndex>& m, ChunkRef c, OpIndex after,
                  const char* what) {
    auto it = m.find({c.microbatch, c.stage});
    if (it == m.end())
      throw std::logic_error(std::string("schedule: no ") + what + " op for micro-batch " +
                             std::to_string(c.microbatch) + " stage " + std::to_string(c.stage));
    if (it->second == after) return;  // an FB whose two halves are the same chunk cannot happen
    deps.push_back({it->second, after, it->second.rank != after.rank});
  };
  for (int r = 0; r < static_cast<int>(s.ranks.size()); ++r) {
    for (int i = 0; i < static_cast<int>(s.ranks[r].size()); ++i) {
      const PipelineOp& op = s.ranks[r][i];
      const OpIndex at{r, i};
      const bool has_fwd = op.kind == PassKind::F || op.kind == PassKind::FB;
      const bool has_bwd = op.kind == PassKind::B || op.kind == PassKind::BW || op.kind == PassKind::FB;
      if (has_fwd && op.fwd.stage > 0) need(loc.forward, {op.fwd.microbatch, op.fwd.stage - 1}, at, "forward");
      if (has_bwd) {
        if (op.bwd.stage + 1 < s.num_stages)
          need(loc.backward, {op.bwd.microbatch, op.bwd.stage + 1}, at, "backward");
        need(loc.forward, op.bwd, at, "forward");
      }
      if (op.kind == PassKind::W) need(loc.backward, op.bwd, at, "backward");
    }
  }
  return deps;
}

void check_schedule(const PipelineSchedule& s) {
  auto fail = [](const std::string& msg) { throw std::logic_error("schedule: " + msg); };
  if (static_cast<int>(s.ranks.size()) != s.pp) fail("rank count differs from pp");
  const OpLocations loc = locate(s);
  const auto expected = static_cast<std::size_t>(s.microbatches) * static_cast<std::size_t>(s.num_stages);
  if (loc.forward.size() != expected) fail("wrong number of forwards");
  if (loc.backward.size() != expected) fail("wrong number of backwards");
  for (int mb = 0; mb < s.microbatches; ++mb) {
    for (int st = 0; st < s.num_stages; ++st) {
      const int r = rank_of(s, mb, st);
      auto f = loc.forward.find({mb, st});
      auto b = loc.backward.find({mb, st});
      if (f == loc.forward.end() || b == loc.backward.end())
        fail("missing pass of micro-batch " + std::to_string(mb) + " stage " + std::to_string(st));
      if (f->second.rank != r || b->second.rank != r)
        fail("micro-batch " + std::to_string(mb) + " stage " + std::to_string(st) + " on the wrong rank");
      const bool split = s.ranks[r][b->second.index].kind == PassKind::B;
      auto w = loc.weight.find({mb, st});
      if (split != (w != loc.weight.end()))
        fail("W present without an input-only B, or missing after one (micro-batch " +
             std::to_string(mb) + " stage " + std::to_string(st) + ")");
      if (split && w->second.rank != r) fail("W on the wrong rank");
    }
  }
  if (loc.weight.size() > expected) fail("too many W ops");
}

const char* schedule_name(Schedule kind) { return to_string(kind); }  // one spelling: spec.cpp

Schedule schedule_from_name(const std::string& name) {
  static const std::map<std::string, Schedule> names = {
      {"gpipe", Schedule::gpipe},         {"1f1b", Schedule::one_f_one_b},
      {"one_f_one_b", Schedule::one_f_one_b}, {"interleaved", Schedule::interleaved},
      {"zb-h1", Schedule::zb_h1},         {"zb_h1", Schedule::zb_h1},
      {"zbh1", Schedule::zb_h1},          {"zb1p", Schedule::zb_h1},
      {"dualpipe", Schedule::dualpipe},   {"dualpipev", Schedule::dualpipev}};
  auto it = names.find(name);
  if (it == names.end())
    throw std::invalid_argument("unknown schedule '" + name +
                                "' (expected gpipe, 1f1b, interleaved, zb-h1, dualpipe or dualpipev)");
  return it->second;
}

const char* pass_name(PassKind kind) {
  switch (kind) {
    case PassKind::F: return "F";
    case PassKind::B: return "B";
    case PassKind::W: return "W";
    case PassKind::BW: return "BW";
    case PassKind::FB: return "FB";
  }
  return "?";
}

PipelineSchedule workload_schedule(const WorkloadSpec& w, int global_batch) {
  const ParallelismSpec& p = w.parallelism;
  const int microbatches = global_batch / (p.dp * w.training.micro_batch);
  try {
    return make_schedule(p.schedule, p.pp, microbatches, p.virtual_stages);
  } catch (const std::invalid_argument& e) {
    throw InputError(w.mark_of("parallelism.schedule"),
                     std::string(e.what()) + " (global batch " + std::to_string(global_batch) + " sequences = " +
                         std::to_string(microbatches) + " micro-batches per pipeline)");
  }
}

}  // namespace trainsim
