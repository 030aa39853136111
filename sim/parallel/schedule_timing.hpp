#pragma once
// Timing of a pipeline schedule without a network model: each rank runs its ops
// in order; an op starts when its rank is free and the ops it depends on
// (dependencies() in schedule.hpp) have ended, plus p2p_latency_s for a
// dependency on another rank. Deterministic; no SimGrid.
#include <vector>

#include "sim/parallel/schedule.hpp"

namespace trainsim {

// Durations of one chunk's passes, seconds. b is the FULL backward (input and
// weight gradients), as in the DualPipe README's table: an input-only B takes
// b - w, a BW takes b, a W takes w, an FB takes fb (its forward and its backward
// both complete at its end).
struct ChunkTimes {
  double f = 0;
  double b = 0;
  double w = 0;
  double fb = 0;
  double p2p_latency = 0;  // added to every cross-rank dependency

  [[nodiscard]] double duration_s(PassKind kind) const;
};

struct OpTiming {
  double start_s = 0;
  double end_s = 0;
};

struct RankTiming {
  double busy_s = 0;  // sum of the op durations
  double idle_s = 0;  // makespan - busy
  std::vector<OpTiming> ops;  // parallel to schedule.ranks[r]
};

struct ScheduleTiming {
  double makespan_s = 0;  // end of the last op (the first op starts at 0)
  // Pipeline bubble: max over ranks of (makespan - busy), i.e. the idle time of
  // the most idle rank between the step's start and the end of its last rank.
  double bubble_s = 0;
  std::vector<RankTiming> ranks;
};

// Throws std::invalid_argument for a negative time (or b < w) and
// std::logic_error if the schedule deadlocks (an op waits on one that its rank
// can only reach later).
[[nodiscard]] ScheduleTiming simulate_schedule(const PipelineSchedule& s, const ChunkTimes& t);

}  // namespace trainsim
