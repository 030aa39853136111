// Building a schedule from its registered descriptor, and the dependency rules
// every schedule runs by: the timing follows from them, never from a formula.
#include "sim/parallel/schedule.hpp"

#include <map>
#include <stdexcept>
#include <string>
#include <tuple>

#include "sim/parallel/schedule_registry.hpp"

namespace trainsim {
namespace {

[[noreturn]] void reject(const std::string& msg) { throw std::invalid_argument(msg); }

}  // namespace

PipelineSchedule make_schedule(const ScheduleDescriptor& schedule, int pp, int microbatches, int virtual_stages,
                               int microbatch_group) {
  const std::string& name = schedule.name;
  if (pp < 1) reject(name + ": pipeline size must be >= 1 (pp=" + std::to_string(pp) + ")");
  if (microbatches < 1)
    reject(name + ": micro-batches must be >= 1 (got " + std::to_string(microbatches) + ")");
  const int v = schedule.reads_virtual_stages ? virtual_stages : 1;
  const int group = schedule.reads_virtual_stages ? microbatch_group : 0;
  if (const auto broken = schedule.rules({pp, microbatches, v, 0, group}))
    reject(rule_message(*broken, std::to_string(microbatches) + " micro-batches"));
  PipelineSchedule s;
  s.descriptor = &schedule;
  s.pp = pp;
  s.microbatches = microbatches;
  s.virtual_stages = v;
  s.microbatch_group = group;
  s.num_stages = schedule.num_stages(pp, v);
  s.ranks.assign(pp, {});
  schedule.build(s);
  return s;
}

PipelineSchedule make_schedule(std::string_view name, int pp, int microbatches, int virtual_stages,
                               int microbatch_group) {
  return make_schedule(schedule_named(name), pp, microbatches, virtual_stages, microbatch_group);
}

int rank_of(const PipelineSchedule& s, int microbatch, int stage) {
  return s.descriptor->rank_of(s, microbatch, stage);
}

const std::string& schedule_name(std::string_view name_or_alias) { return schedule_named(name_or_alias).name; }

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

}  // namespace trainsim
