#pragma once
// What one pipeline schedule is: the descriptor that its file in
// sim/parallel/schedules/ returns and schedule_registry.cpp registers. Nothing
// outside those files looks at a schedule's identity; everything asks its
// descriptor (name, rules, stage count, placement, builder).
#include <optional>
#include <string>
#include <vector>

namespace trainsim {

struct PipelineSchedule;

// What a schedule's rules look at.
struct ScheduleShape {
  int pp = 1;              // pipeline ranks
  int microbatches = 1;    // per step, per pipeline
  int virtual_stages = 1;  // 1 unless the schedule reads virtual_stages
  int model_layers = 0;    // a workload's model layers; 0 for a bare schedule (trainsim schedule, validation)
  int microbatch_group = 0;  // interleaved: micro-batches per chunk group; 0 = pp (Megatron's default)
};

// A rule the shape breaks: the workload key it is about (parallelism.pp,
// parallelism.virtual_stages, parallelism.microbatch_group or training.global_batch, the key that sets the
// micro-batch count) and a message that names the schedule. A message about the
// micro-batch count says what is needed; the caller adds "; got <count>".
struct ScheduleRuleBreak {
  std::string key;
  std::string message;  // "dualpipe needs an even pp, got 15"
};

// The common case, the defaults below: one model stage per rank (pp stages,
// stage s on rank s), no rules of its own.
[[nodiscard]] int one_stage_per_rank(int pp, int virtual_stages);
[[nodiscard]] int rank_is_stage(const PipelineSchedule& s, int microbatch, int stage);
[[nodiscard]] std::optional<ScheduleRuleBreak> no_rules(const ScheduleShape& shape);

// A schedule file fills the fields its schedule needs (designated initializers)
// and leaves the rest at these defaults.
struct ScheduleDescriptor {
  std::string name;                  // canonical: reports, listings and messages print it
  std::vector<std::string> aliases;  // other accepted spellings (workload files, --schedule, validation cases)
  std::string description;           // one line, for `trainsim schedule --list`
  bool reads_virtual_stages = false;
  // Model stages for `pp` ranks (virtual_stages is 1 unless the schedule reads it).
  int (*num_stages)(int pp, int virtual_stages) = one_stage_per_rank;
  // The first rule the shape breaks, or nothing. pp >= 1 and microbatches >= 1
  // are checked before.
  std::optional<ScheduleRuleBreak> (*rules)(const ScheduleShape& shape) = no_rules;
  // Fills s.ranks (pp empty lists) from s.pp, s.microbatches, s.virtual_stages;
  // called only on a shape the rules accept.
  void (*build)(PipelineSchedule& s) = nullptr;
  // The rank that runs `stage` of `microbatch`.
  int (*rank_of)(const PipelineSchedule& s, int microbatch, int stage) = rank_is_stage;
};

}  // namespace trainsim
