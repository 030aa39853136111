#pragma once
// Pipeline schedules: for each pipeline rank, the ordered list of chunk
// operations (forward, backward, weight-gradient) it runs in one step.
// Pure data, no SimGrid. The dependency rules between operations are given by
// dependencies(); the no-network timing in schedule_timing.hpp and the step
// simulator both execute a schedule by those rules.
//
// The schedules themselves (gpipe, 1f1b, interleaved, zb-h1, dualpipe,
// dualpipev, naive) are one file each in sim/parallel/schedules/, registered in
// schedule_registry.cpp; `trainsim schedule --list` describes them.
#include <string>
#include <string_view>
#include <vector>

#include "sim/config/spec.hpp"
#include "sim/parallel/schedule_descriptor.hpp"

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
  const ScheduleDescriptor* descriptor = nullptr;  // the registered schedule that built it
  int pp = 0;            // pipeline ranks
  int microbatches = 0;  // per step, per pipeline
  int num_stages = 0;    // model stages: pp, pp*v (interleaved) or 2*pp (DualPipeV)
  int virtual_stages = 1;
  int microbatch_group = 0;  // interleaved: micro-batches per chunk group; 0 = pp
  std::vector<std::vector<PipelineOp>> ranks;  // ranks[r] = ops of rank r, in order
};

// Builds the schedule; throws std::invalid_argument when pp < 1, microbatches < 1
// or the schedule's rules refuse the shape (the message names the rule).
// virtual_stages and microbatch_group are read only by the schedules that say
// so (interleaved).
[[nodiscard]] PipelineSchedule make_schedule(const ScheduleDescriptor& schedule, int pp, int microbatches,
                                             int virtual_stages = 1, int microbatch_group = 0);
// The same by name or alias; an unknown name is a std::invalid_argument too.
[[nodiscard]] PipelineSchedule make_schedule(std::string_view name, int pp, int microbatches,
                                             int virtual_stages = 1, int microbatch_group = 0);

// The workload's schedule (parallelism.schedule, a name or alias); an unknown
// name is an InputError at the value as written.
[[nodiscard]] const ScheduleDescriptor& schedule_of(const WorkloadSpec& workload);

// The schedule checks of a loaded workload: a registered name, virtual_stages
// only where the schedule reads it, and the schedule's rules at the full batch.
// Errors are InputErrors at the key a rule names (FILE:LINE:COL: message). Run
// it wherever a workload is loaded for use, before check_workload_fits_cluster.
void check_workload_schedule(const WorkloadSpec& workload);

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

// The canonical name of a registered name or alias ("zb1p" -> "zb-h1"), as
// reports print it; throws std::invalid_argument on an unknown one.
[[nodiscard]] const std::string& schedule_name(std::string_view name_or_alias);
[[nodiscard]] const char* pass_name(PassKind kind);  // "F", "B", "W", "BW", "FB"

}  // namespace trainsim
