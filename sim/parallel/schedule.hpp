#pragma once
// Pipeline schedules: for each pipeline rank, the ordered list of chunk
// operations (forward, backward, weight-gradient) it runs in one step.
// Pure data, no SimGrid. The dependency rules between operations are given by
// dependencies(); the no-network timing in schedule_timing.hpp and the step
// simulator both execute a schedule by those rules.
//
// Generators (see schedule.cpp for the per-schedule notes):
//   gpipe        all forwards, then all full backwards            stages = pp
//   one_f_one_b  PipeDream-flush 1F1B                             stages = pp
//   interleaved  Megatron interleaved 1F1B, v virtual stages      stages = pp*v
//   zb_h1        zero-bubble H1: B split into B (input) + W       stages = pp
//   dualpipe     DeepSeek DualPipe, micro-batches from both ends  stages = pp
//   dualpipev    DualPipeV ("cut-in-half" V shape)                stages = 2*pp
#include <string>
#include <vector>

#include "sim/config/spec.hpp"

namespace trainsim {

// F forward; B backward for the inputs only; W backward for the weights;
// BW full backward (B and W together); FB an overlapped forward of one chunk
// and full backward of another (DualPipe), both complete at its end.
enum class PassKind { F, B, W, BW, FB };

// One model chunk of one micro-batch. `stage` is the model-stage index
// 0..num_stages-1 in the order the micro-batch's forward traverses them.
struct ChunkRef {
  int microbatch = -1;
  int stage = -1;
  friend bool operator==(const ChunkRef&, const ChunkRef&) = default;
};

// F uses fwd; B, W and BW use bwd; FB uses both.
struct PipelineOp {
  PassKind kind = PassKind::F;
  ChunkRef fwd;
  ChunkRef bwd;
};

struct PipelineSchedule {
  Schedule kind = Schedule::one_f_one_b;
  int pp = 0;            // pipeline ranks
  int microbatches = 0;  // per step, per pipeline
  int num_stages = 0;    // model stages: pp, pp*v (interleaved) or 2*pp (DualPipeV)
  int virtual_stages = 1;
  std::vector<std::vector<PipelineOp>> ranks;  // ranks[r] = ops of rank r, in order
};

// Builds the schedule; throws std::invalid_argument when the combination is not
// allowed: pp >= 1, microbatches >= 1 everywhere; 1F1B and ZB-H1 need
// microbatches >= pp; interleaved needs virtual_stages >= 2 and microbatches a
// multiple of pp (Megatron's rule); DualPipe needs pp even and microbatches even
// and >= 2*pp (dualpipe.py); DualPipeV needs microbatches even and >= 2*pp.
// virtual_stages is read only for the interleaved schedule.
[[nodiscard]] PipelineSchedule make_schedule(Schedule kind, int pp, int microbatches,
                                             int virtual_stages = 1);

// The workload's schedule at a global batch of `global_batch` sequences; a schedule
// rule the batch or parallelism breaks is an InputError at parallelism.schedule.
[[nodiscard]] PipelineSchedule workload_schedule(const WorkloadSpec& workload, int global_batch);

// The rank that runs `stage` of `microbatch` (see the placement in schedule.cpp).
[[nodiscard]] int rank_of(const PipelineSchedule& s, int microbatch, int stage);

// Position of an op: schedule.ranks[rank][index].
struct OpIndex {
  int rank = -1;
  int index = -1;
  friend bool operator==(const OpIndex&, const OpIndex&) = default;
};

// `after` may start only when `before` has ended (plus any transfer time when
// they are on different ranks). The rules:
//   forward of (mb, s)   after the forward of (mb, s-1);
//   backward of (mb, s)  after the backward of (mb, s+1) and the forward of (mb, s)
//                        (for the last stage, the forward of (mb, s) yields the loss);
//   W of (mb, s)         after the B of (mb, s).
// "The forward of" is the F or FB op that holds it; "the backward of" is the B,
// BW or FB op that holds it. Ops of one rank also run in list order, which is
// not repeated here. Listed per `after` op in rank then index order; each
// `after` has at most two entries.
struct OpDependency {
  OpIndex before;
  OpIndex after;
  bool cross_rank = false;  // before.rank != after.rank: a pipeline send/recv
};
[[nodiscard]] std::vector<OpDependency> dependencies(const PipelineSchedule& s);

// Throws std::logic_error unless every micro-batch runs exactly one forward and
// one backward per stage on rank_of(), a W follows every input-only B (and
// only those), and no other op is present. For tests and the step simulator.
void check_schedule(const PipelineSchedule& s);

// Names: "gpipe", "1f1b", "interleaved", "zb-h1", "dualpipe", "dualpipev".
[[nodiscard]] const char* schedule_name(Schedule kind);
// Accepts those names (and "zbh1", "zb1p", "one_f_one_b", "zb_h1"); throws
// std::invalid_argument otherwise.
[[nodiscard]] Schedule schedule_from_name(const std::string& name);
[[nodiscard]] const char* pass_name(PassKind kind);  // "F", "B", "W", "BW", "FB"

}  // namespace trainsim
