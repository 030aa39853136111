#pragma once
// The schedule's phases on each pipeline rank, from the executed tasks (what
// each task is: StepTask::pass and pipeline_op), so a run can be held against a
// published step breakdown. On the GPU that stands for a rank, consecutive
// intervals that cover the step:
//   warmup      start → the first op of the steady part: the rank's warm-up
//               forwards (1F1B rank r: pp-1-r of them) and the wait before them;
//   steady      → the end of the last forward (or, where a forward is paired with
//               the backward right after it, 1F1B-style, that backward's end):
//               1F1B pairs or DualPipe's overlapped F&B;
//   cooldown    → the end of the last backward (B, BW or FB): the drain;
//   weight_tail → the end of the last pipeline op: W-only ops left at the end
//               (zero-bubble, DualPipe);
//   then the rest of the step, split into optimizer (its compute running),
//   exposed_dp (a data-parallel transfer of the GPU running, no optimizer) and
//   end_idle (nothing of the GPU's running: waiting for the slowest rank).
// The steady part starts with the forward right before the first backward when
// that pair is a forward then a B or BW and forwards follow (1F1B's first pair);
// otherwise with the first op holding a backward. Each pipeline phase reports its
// idle seconds: time in it with no compute task of the GPU running (bubble,
// waits for pipeline or expert transfers).
#include <vector>

#include "sim/config/spec.hpp"
#include "sim/engine/step_executor.hpp"
#include "sim/parallel/step_program.hpp"

namespace trainsim {

struct RankPhases {
  int rank = 0;
  int gpu = 0;  // the simulated GPU that stands for the rank
  double warmup_s = 0, warmup_idle_s = 0;
  double steady_s = 0, steady_idle_s = 0;
  double cooldown_s = 0, cooldown_idle_s = 0;
  double weight_tail_s = 0, weight_tail_idle_s = 0;
  double optimizer_s = 0, exposed_dp_s = 0, end_idle_s = 0;
  // All phases: equals the step time.
  [[nodiscard]] double total_s() const {
    return warmup_s + steady_s + cooldown_s + weight_tail_s + optimizer_s + exposed_dp_s + end_idle_s;
  }
};

// The phase fields by their JSON names, in output order.
struct PhaseField {
  const char* name;
  double RankPhases::*seconds;
};
inline constexpr PhaseField kPhaseFields[] = {
    {"warmup_s", &RankPhases::warmup_s},         {"warmup_idle_s", &RankPhases::warmup_idle_s},
    {"steady_s", &RankPhases::steady_s},         {"steady_idle_s", &RankPhases::steady_idle_s},
    {"cooldown_s", &RankPhases::cooldown_s},     {"cooldown_idle_s", &RankPhases::cooldown_idle_s},
    {"weight_tail_s", &RankPhases::weight_tail_s}, {"weight_tail_idle_s", &RankPhases::weight_tail_idle_s},
    {"optimizer_s", &RankPhases::optimizer_s},   {"exposed_dp_s", &RankPhases::exposed_dp_s},
    {"end_idle_s", &RankPhases::end_idle_s},
};

struct SchedulePhases {
  std::vector<RankPhases> ranks;  // by pipeline rank
  int critical_rank = 0;          // the rank that sets the step time: least end_idle (then the lowest)
};

[[nodiscard]] SchedulePhases schedule_phases(const ParallelismSpec& p, const StepProgram& program,
                                             const engine::StepExecution& execution);

}  // namespace trainsim
