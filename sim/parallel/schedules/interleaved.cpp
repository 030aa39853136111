// Interleaved 1F1B (Narayanan et al. SC'21; Megatron-LM's
// forward_backward_pipelining_with_interleaving, as current Megatron-LM runs it):
// rank r holds model stages c*pp + r for chunks c = 0..v-1.
//
// The micro-batches go in groups of N = microbatch_group (Megatron's
// microbatch_group_size_per_vp_stage, default pp): groups start at 0, N, 2N, ...;
// the group whose end would reach m takes every micro-batch left (the last
// group holds m mod N of them, or N). Each group runs chunk 0 of all its
// micro-batches, then chunk 1, ..., then chunk v-1: that order, over all groups,
// is the table of virtual micro-batches k = 0..m*v-1. Forwards run the table in
// order; backwards run it in order with the chunk mirrored (v-1-c).
// Rank r runs min((pp-r-1)*2 + (v-1)*N, m*v) warm-up forwards, then one forward
// and one backward in turn, then the remaining backwards.
//
// Megatron's checks: N in [pp, m], and a last group of m mod N micro-batches is
// empty or at least pp (a smaller one waits on its own chunks: dependency
// bubbles, which Megatron refuses).
#include <algorithm>
#include <vector>

#include "sim/parallel/schedules/common.hpp"

namespace trainsim::schedules {
namespace {

constexpr char kName[] = "interleaved";

// microbatch_group 0 stands for Megatron's default, pp.
int group_size(int pp, int microbatch_group) { return microbatch_group > 0 ? microbatch_group : pp; }

// The virtual micro-batches in order: {micro-batch, chunk} (chunk in `stage`).
std::vector<ChunkRef> interleaved_table(int pp, int virtual_stages, int microbatches, int microbatch_group) {
  const int n = group_size(pp, microbatch_group);
  std::vector<ChunkRef> table;  // {micro-batch, chunk}
  for (int first = 0; first < microbatches; first += n) {
    const int end = first + n >= microbatches ? microbatches : first + n;
    for (int c = 0; c < virtual_stages; ++c)
      for (int mb = first; mb < end; ++mb) table.push_back({mb, c});
    if (end == microbatches) break;
  }
  return table;
}

void build(PipelineSchedule& s) {
  const int pp = s.pp, v = s.virtual_stages;
  const std::vector<ChunkRef> table = interleaved_table(pp, v, s.microbatches, s.microbatch_group);
  const int total = static_cast<int>(table.size());
  const int n = group_size(pp, s.microbatch_group);
  for (int r = 0; r < pp; ++r) {
    auto& ops = s.ranks[r];
    auto fwd = [&](int k) { ops.push_back(op_f({table[k].microbatch, table[k].stage * pp + r})); };
    auto bwd = [&](int k) {
      ops.push_back(op_b(PassKind::BW, {table[k].microbatch, (v - 1 - table[k].stage) * pp + r}));
    };
    const int warmup = std::min((pp - r - 1) * 2 + (v - 1) * n, total);
    for (int k = 0; k < warmup; ++k) fwd(k);
    for (int k = 0; k < total - warmup; ++k) {
      fwd(warmup + k);
      bwd(k);
    }
    for (int k = total - warmup; k < total; ++k) bwd(k);
  }
}

int num_stages(int pp, int virtual_stages) { return pp * virtual_stages; }

int rank_of(const PipelineSchedule& s, int /*microbatch*/, int stage) { return stage % s.pp; }

std::optional<ScheduleRuleBreak> rules(const ScheduleShape& shape) {
  const long long chunks = static_cast<long long>(shape.pp) * shape.virtual_stages;
  if (shape.virtual_stages < 2)
    return ScheduleRuleBreak{"parallelism.virtual_stages", std::string(kName) + " needs virtual_stages >= 2, got " +
                                                               std::to_string(shape.virtual_stages)};
  if (shape.model_layers > 0 && shape.model_layers < chunks)
    return ScheduleRuleBreak{"parallelism.virtual_stages", "pp x virtual_stages = " + std::to_string(chunks) +
                                                               " chunks but the model has " +
                                                               std::to_string(shape.model_layers) + " layers"};
  if (auto broken = at_least_pp_microbatches(kName, shape)) return broken;
  const int n = group_size(shape.pp, shape.microbatch_group);
  if (n < shape.pp)
    return ScheduleRuleBreak{"parallelism.microbatch_group",
                             std::string(kName) + " needs microbatch_group >= pp = " + std::to_string(shape.pp) +
                                 ", got " + std::to_string(n)};
  if (n > shape.microbatches)
    return ScheduleRuleBreak{"training.global_batch", std::string(kName) + " needs at least microbatch_group = " +
                                                          std::to_string(n) + " micro-batches"};
  const int last_group = shape.microbatches % n;
  if (last_group > 0 && last_group < shape.pp)
    return ScheduleRuleBreak{
        "training.global_batch",
        std::string(kName) + " needs micro-batches = a multiple of microbatch_group = " + std::to_string(n) +
            " plus 0 or at least pp = " + std::to_string(shape.pp) +
            " (a smaller last group waits on itself; set parallelism.microbatch_group, e.g. to a divisor of the "
            "micro-batch count in [pp, micro-batches])"};
  return std::nullopt;
}

}  // namespace

ScheduleDescriptor interleaved_schedule() {
  ScheduleDescriptor d = describe(kName, "interleaved 1F1B (Megatron-LM): virtual_stages model chunks per rank", build);
  d.reads_virtual_stages = true;
  d.num_stages = num_stages;
  d.rules = rules;
  d.rank_of = rank_of;
  return d;
}

}  // namespace trainsim::schedules
