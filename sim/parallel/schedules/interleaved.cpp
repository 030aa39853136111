// Interleaved 1F1B (Narayanan et al. SC'21; Megatron-LM's
// forward_backward_pipelining_with_interleaving): rank r holds model stages
// c*pp + r for chunks c = 0..v-1. Virtual micro-batch k (0..m*v-1) runs chunk
// (k mod pp*v) / pp of micro-batch (k / (pp*v))*pp + k mod pp; backwards visit
// the chunks in reverse. Warm-up is (pp-r-1)*2 + (v-1)*pp forwards (all of them
// when m == pp), then one forward and one backward alternate.
#include <algorithm>

#include "sim/parallel/schedules/common.hpp"

namespace trainsim::schedules {
namespace {

constexpr char kName[] = "interleaved";

void build(PipelineSchedule& s) {
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

int num_stages(int pp, int virtual_stages) { return pp * virtual_stages; }

int rank_of(const PipelineSchedule& s, int /*microbatch*/, int stage) { return stage % s.pp; }

// Megatron's rules: at least two chunks per rank, micro-batches a multiple of pp;
// a workload's model needs a layer for every chunk.
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
  if (shape.microbatches % shape.pp != 0)
    return ScheduleRuleBreak{"training.global_batch", std::string(kName) + " needs a multiple of pp = " +
                                                          std::to_string(shape.pp) + " micro-batches"};
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
