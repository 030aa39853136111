#include "sim/parallel/schedule_timing.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace trainsim {

double ChunkTimes::duration_s(PassKind kind) const {
  switch (kind) {
    case PassKind::F: return f;
    case PassKind::B: return b - w;
    case PassKind::W: return w;
    case PassKind::BW: return b;
    case PassKind::FB: return fb;
  }
  return 0;
}

ScheduleTiming simulate_schedule(const PipelineSchedule& s, const ChunkTimes& t) {
  if (t.f < 0 || t.b < 0 || t.w < 0 || t.fb < 0 || t.p2p_latency < 0)
    throw std::invalid_argument("chunk times must be >= 0");
  if (t.b < t.w) throw std::invalid_argument("chunk times: b (full backward) must be >= w");

  const int pp = static_cast<int>(s.ranks.size());
  // Incoming dependencies per op.
  std::vector<std::vector<std::vector<OpDependency>>> incoming(pp);
  for (int r = 0; r < pp; ++r) incoming[r].resize(s.ranks[r].size());
  for (const OpDependency& d : dependencies(s)) incoming[d.after.rank][d.after.index].push_back(d);

  ScheduleTiming out;
  out.ranks.resize(pp);
  std::vector<std::vector<bool>> done(pp);
  for (int r = 0; r < pp; ++r) {
    out.ranks[r].ops.resize(s.ranks[r].size());
    done[r].assign(s.ranks[r].size(), false);
  }
  std::vector<std::size_t> next(pp, 0);
  std::vector<double> free_at(pp, 0.0);

  // Sweep the ranks, advancing each as far as its dependencies allow, until
  // every op has run. Every op's start is fixed by already-known end times, so
  // the sweep order cannot change the result.
  bool progress = true;
  std::size_t remaining = 0;
  for (const auto& ops : s.ranks) remaining += ops.size();
  while (remaining > 0) {
    if (!progress) {
      for (int r = 0; r < pp; ++r)
        if (next[r] < s.ranks[r].size())
          throw std::logic_error("schedule deadlocks: rank " + std::to_string(r) + " op " +
                                 std::to_string(next[r]) + " (" + pass_name(s.ranks[r][next[r]].kind) +
                                 ") waits forever");
    }
    progress = false;
    for (int r = 0; r < pp; ++r) {
      while (next[r] < s.ranks[r].size()) {
        const std::size_t i = next[r];
        double ready = free_at[r];
        bool blocked = false;
        for (const OpDependency& d : incoming[r][i]) {
          if (!done[d.before.rank][d.before.index]) {
            blocked = true;
            break;
          }
          const double end = out.ranks[d.before.rank].ops[d.before.index].end_s;
          ready = std::max(ready, end + (d.cross_rank ? t.p2p_latency : 0.0));
        }
        if (blocked) break;
        const double dur = t.duration_s(s.ranks[r][i].kind);
        out.ranks[r].ops[i] = {ready, ready + dur};
        out.ranks[r].busy_s += dur;
        free_at[r] = ready + dur;
        done[r][i] = true;
        ++next[r];
        --remaining;
        progress = true;
      }
    }
  }
  for (int r = 0; r < pp; ++r) out.makespan_s = std::max(out.makespan_s, free_at[r]);
  for (auto& rk : out.ranks) {
    rk.idle_s = out.makespan_s - rk.busy_s;
    out.bubble_s = std::max(out.bubble_s, rk.idle_s);
  }
  return out;
}

}  // namespace trainsim
