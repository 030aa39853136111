// The schedule's phases per pipeline rank (see schedule_phases.hpp).
#include "sim/report/schedule_phases.hpp"

#include <algorithm>
#include <map>
#include <utility>

namespace trainsim {
namespace {

using Interval = std::pair<double, double>;

// Length of the union of `intervals` inside [from, to).
double covered(std::vector<Interval> intervals, double from, double to) {
  std::sort(intervals.begin(), intervals.end());
  double sum = 0, reach = from;
  for (auto [a, b] : intervals) {
    a = std::max(a, reach);
    b = std::min(b, to);
    if (b > a) {
      sum += b - a;
      reach = b;
    }
  }
  return sum;
}

bool has_backward(TaskPass p) { return p == TaskPass::B || p == TaskPass::BW || p == TaskPass::FB; }
bool has_forward(TaskPass p) { return p == TaskPass::F || p == TaskPass::FB; }

// One pipeline op as executed on the GPU: its pass and its tasks' span.
struct OpSpan {
  TaskPass pass = TaskPass::none;
  double start = 0, end = 0;
};

RankPhases phases_of(int rank, int gpu, const std::map<int, OpSpan>& op_spans, const std::vector<Interval>& compute,
                     const std::vector<Interval>& optimizer, const std::vector<Interval>& dp, double step) {
  RankPhases out;
  out.rank = rank;
  out.gpu = gpu;
  std::vector<OpSpan> ops;
  for (const auto& [index, span] : op_spans) ops.push_back(span);
  const int n = static_cast<int>(ops.size());
  int first_bwd = n, last_fwd = -1, last_bwd = -1;
  double pipeline_end = 0;
  for (int i = 0; i < n; ++i) {
    if (has_backward(ops[i].pass) && first_bwd == n) first_bwd = i;
    if (has_forward(ops[i].pass)) last_fwd = i;
    if (has_backward(ops[i].pass)) last_bwd = i;
    pipeline_end = std::max(pipeline_end, ops[i].end);
  }
  auto is_pair = [&](int f) {  // a forward then a B/BW right after it
    return f >= 0 && f + 1 < n && ops[f].pass == TaskPass::F &&
           (ops[f + 1].pass == TaskPass::B || ops[f + 1].pass == TaskPass::BW);
  };
  const bool alternates = last_fwd > first_bwd;  // forwards after the first backward
  int steady_first = first_bwd;
  if (alternates && is_pair(first_bwd - 1)) steady_first = first_bwd - 1;
  int steady_last = last_fwd;
  if (alternates && is_pair(last_fwd)) steady_last = last_fwd + 1;

  const double a = steady_first < n ? ops[steady_first].start : pipeline_end;
  const double b = std::max(a, steady_last >= 0 && first_bwd < n ? ops[steady_last].end : a);
  const double c = std::max(b, last_bwd >= 0 ? ops[last_bwd].end : b);
  const double d = std::max(c, pipeline_end);
  auto idle = [&](double from, double to) { return (to - from) - covered(compute, from, to); };
  out.warmup_s = a;
  out.warmup_idle_s = idle(0, a);
  out.steady_s = b - a;
  out.steady_idle_s = idle(a, b);
  out.cooldown_s = c - b;
  out.cooldown_idle_s = idle(b, c);
  out.weight_tail_s = d - c;
  out.weight_tail_idle_s = idle(c, d);
  out.optimizer_s = covered(optimizer, d, step);
  std::vector<Interval> busy = optimizer;
  busy.insert(busy.end(), dp.begin(), dp.end());
  out.exposed_dp_s = covered(busy, d, step) - out.optimizer_s;
  out.end_idle_s = (step - d) - out.optimizer_s - out.exposed_dp_s;
  return out;
}

}  // namespace

SchedulePhases schedule_phases(const ParallelismSpec& p, const StepProgram& program,
                               const engine::StepExecution& execution) {
  // The GPU that stands for each rank: its lowest simulated GPU.
  const int per_rank = p.dp * p.tp;
  std::map<int, int> gpu_of_rank;
  for (int gpu : program.simulated_gpus) {
    auto [it, fresh] = gpu_of_rank.emplace(gpu / per_rank, gpu);
    if (!fresh) it->second = std::min(it->second, gpu);
  }
  std::map<int, int> rank_of_gpu;
  for (const auto& [rank, gpu] : gpu_of_rank) rank_of_gpu[gpu] = rank;

  struct Tasks {
    std::map<int, OpSpan> ops;
    std::vector<Interval> compute, optimizer, dp;
  };
  std::map<int, Tasks> of_gpu;
  const auto& g = program.graph;
  for (std::size_t v = 0; v < num_vertices(g); ++v) {
    const StepTask& t = g[v];
    const engine::TaskRecord& rec = execution.tasks[v];
    const Interval span{rec.start_s, rec.end_s};
    if (t.category == Category::dp) {
      // A collective counts for every representative GPU it moves bytes for.
      for (const auto& tr : t.transfers)
        for (int gpu : {tr.src_gpu, tr.dst_gpu})
          if (rank_of_gpu.count(gpu)) of_gpu[gpu].dp.push_back(span);
      continue;
    }
    if (!rank_of_gpu.count(t.gpu)) continue;
    Tasks& mine = of_gpu[t.gpu];
    if (!t.is_transfer()) (t.pass == TaskPass::optimizer ? mine.optimizer : mine.compute).push_back(span);
    if (t.pipeline_op < 0 || t.is_transfer()) continue;
    auto [it, fresh] = mine.ops.emplace(t.pipeline_op, OpSpan{t.pass, rec.start_s, rec.end_s});
    if (!fresh) {
      it->second.start = std::min(it->second.start, rec.start_s);
      it->second.end = std::max(it->second.end, rec.end_s);
    }
  }
  SchedulePhases out;
  for (const auto& [rank, gpu] : gpu_of_rank) {
    const Tasks& mine = of_gpu[gpu];
    out.ranks.push_back(phases_of(rank, gpu, mine.ops, mine.compute, mine.optimizer, mine.dp, execution.makespan_s));
  }
  const double tolerance = 1e-9 * execution.makespan_s;  // ranks that end together: the lowest
  for (std::size_t i = 1; i < out.ranks.size(); ++i)
    if (out.ranks[i].end_idle_s < out.ranks[out.critical_rank].end_idle_s - tolerance)
      out.critical_rank = static_cast<int>(i);
  if (!out.ranks.empty()) out.critical_rank = out.ranks[out.critical_rank].rank;
  return out;
}

}  // namespace trainsim
