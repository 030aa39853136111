// `trainsim schedule`: generate a pipeline schedule and time it without a
// network (each op takes its chunk time; cross-rank dependencies add
// --p2p-latency). Shows each rank's op order, the makespan and the bubble.
#include <fmt/format.h>

#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "sim/cli/commands.hpp"
#include "sim/config/error.hpp"
#include "sim/config/size_limits.hpp"
#include "sim/config/units.hpp"
#include "sim/parallel/schedule.hpp"
#include "sim/parallel/schedule_registry.hpp"
#include "sim/parallel/schedule_timing.hpp"

namespace trainsim::cli {
namespace {

struct ScheduleOptions {
  std::string schedule;
  int pp = 0;
  int microbatches = 0;
  int virtual_stages = 2;
  int microbatch_group = 0;
  std::string f = "1", b = "2", w = "1", fb, p2p_latency = "0";
  std::string format = "text";
  bool list = false;
};

// A time flag: a plain number of seconds ("0.5") or a number with a unit ("1ms").
double time_flag(const std::string& flag, const std::string& text) {
  try {
    return units::plain_number(text);
  } catch (const std::invalid_argument&) {
  }
  try {
    return units::time_s(text);
  } catch (const std::invalid_argument& e) {
    throw InputError({flag, 0, 0}, e.what());
  }
}

// Measured (`schedule --schedule 1f1b --pp 4 --format json`, 100,000 and 400,000 micro-batches): about 460 bytes
// and 6 us per op. 1e7 ops (4.6 GB, a minute) is a workstation's (assumption); --allow-large: 1e8.
constexpr double kBytesPerScheduleOp = 460;
constexpr double kSecondsPerScheduleOp = 6e-6;
const SizeLimit kMaxScheduleOps{1e7, 1e8};

// make_schedule's checks, each error naming the flag the user typed (make_schedule's
// own error names --schedule for all of them). A rule names a workload key; the
// flag that stands for it here is named instead.
void check_schedule_flags(const ScheduleDescriptor& kind, const ScheduleOptions& o) {
  if (o.pp < 1) throw InputError({"--pp", 0, 0}, fmt::format("must be at least 1 pipeline rank, got {}", o.pp));
  if (o.microbatches < 1)
    throw InputError({"--microbatches", 0, 0}, fmt::format("must be at least 1 micro-batch, got {}", o.microbatches));
  const int v = kind.reads_virtual_stages ? o.virtual_stages : 1;
  const int group = kind.reads_virtual_stages ? o.microbatch_group : 0;
  // Every rank's ops are built and timed: refuse, before building them, more than the size limit.
  const double ops = 3.0 * o.pp * v * o.microbatches;  // F, B, W per chunk and micro-batch
  if (ops > kMaxScheduleOps.active())
    throw InputError({"--microbatches", 0, 0},
                     fmt::format("{} ranks x {} chunks x {} micro-batches x 3 passes = {:.3g} ops, about {:.3g} GB and "
                                 "{:.3g} s (460 bytes and 6 us each); at most {:.0e} are scheduled{}",
                                 o.pp, v, o.microbatches, ops, ops * kBytesPerScheduleOp / 1e9,
                                 ops * kSecondsPerScheduleOp, kMaxScheduleOps.active(),
                                 size_limit_hint(kMaxScheduleOps)));
  const auto broken = kind.rules({o.pp, o.microbatches, v, 0, group});
  if (!broken) return;
  const std::map<std::string, std::string> flag_of_key{{"training.global_batch", "--microbatches"},
                                                        {"parallelism.pp", "--pp"},
                                                        {"parallelism.virtual_stages", "--virtual-stages"},
                                                        {"parallelism.microbatch_group", "--microbatch-group"}};
  const auto it = flag_of_key.find(broken->key);
  throw InputError({it == flag_of_key.end() ? "--schedule" : it->second, 0, 0},
                   rule_message(*broken, std::to_string(o.microbatches) + " micro-batches"));
}

std::string op_label(const PipelineSchedule& s, const PipelineOp& op) {
  // Micro-batch numbers; the stage is added when a rank holds several stages of
  // one micro-batch (more stages than ranks: interleaved, DualPipeV).
  const bool show_stage = s.num_stages > s.pp;
  auto ref = [&](ChunkRef c) {
    return show_stage ? fmt::format("{}.{}", c.microbatch, c.stage) : std::to_string(c.microbatch);
  };
  switch (op.kind) {
    case PassKind::F: return "F" + ref(op.fwd);
    case PassKind::FB: return "FB(" + ref(op.fwd) + "|" + ref(op.bwd) + ")";
    default: return pass_name(op.kind) + ref(op.bwd);
  }
}

// `trainsim schedule --list`: the registered schedules, one line each.
int list_schedules() {
  for (const ScheduleDescriptor& d : registered_schedules()) {
    std::string aliases;
    for (const std::string& a : d.aliases) aliases += (aliases.empty() ? " (also " : ", ") + a;
    std::cout << fmt::format("{:<12} {}{}\n", d.name, d.description, aliases.empty() ? "" : aliases + ")");
  }
  return 0;
}

int run_schedule(const ScheduleOptions& o) {
  if (o.list) return list_schedules();
  const ScheduleDescriptor* kind = find_schedule(o.schedule);
  if (kind == nullptr) throw InputError({"--schedule", 0, 0}, unknown_schedule_message(o.schedule));
  ChunkTimes t;
  t.f = time_flag("--f", o.f);
  t.b = time_flag("--b", o.b);
  t.w = time_flag("--w", o.w);
  t.fb = o.fb.empty() ? t.f + t.b : time_flag("--fb", o.fb);
  t.p2p_latency = time_flag("--p2p-latency", o.p2p_latency);
  if (t.f < 0 || t.b < 0 || t.w < 0 || t.fb < 0 || t.p2p_latency < 0)
    throw InputError({"--f", 0, 0}, "chunk times must be >= 0");
  if (t.b < t.w) throw InputError({"--b", 0, 0}, "--b is the full backward (input + weight) and must be >= --w");

  check_schedule_flags(*kind, o);
  PipelineSchedule s;
  try {
    s = make_schedule(*kind, o.pp, o.microbatches, o.virtual_stages, o.microbatch_group);
  } catch (const std::invalid_argument& e) {
    throw InputError({"--schedule", 0, 0}, e.what());
  }
  const ScheduleTiming timing = simulate_schedule(s, t);

  if (o.format == "json") {
    nlohmann::ordered_json j;
    j["schedule"] = s.descriptor->name;
    j["pp"] = s.pp;
    j["microbatches"] = s.microbatches;
    j["virtual_stages"] = s.virtual_stages;
    j["num_stages"] = s.num_stages;
    j["chunk_times_s"] = {{"f", t.f}, {"b", t.b}, {"w", t.w}, {"fb", t.fb}, {"p2p_latency", t.p2p_latency}};
    j["makespan"] = timing.makespan_s;
    j["bubble"] = timing.bubble_s;
    auto ranks = nlohmann::ordered_json::array();
    for (int r = 0; r < s.pp; ++r) {
      nlohmann::ordered_json rank;
      rank["rank"] = r;
      rank["busy"] = timing.ranks[r].busy_s;
      rank["idle"] = timing.ranks[r].idle_s;
      auto ops = nlohmann::ordered_json::array();
      for (std::size_t i = 0; i < s.ranks[r].size(); ++i) {
        const PipelineOp& op = s.ranks[r][i];
        nlohmann::ordered_json jo;
        jo["kind"] = pass_name(op.kind);
        // F and FB: the forward's chunk; B, W, BW: the backward's. FB adds its backward.
        const ChunkRef main = (op.kind == PassKind::F || op.kind == PassKind::FB) ? op.fwd : op.bwd;
        jo["microbatch"] = main.microbatch;
        jo["stage"] = main.stage;
        if (op.kind == PassKind::FB) {
          jo["bwd_microbatch"] = op.bwd.microbatch;
          jo["bwd_stage"] = op.bwd.stage;
        }
        jo["start"] = timing.ranks[r].ops[i].start_s;
        jo["end"] = timing.ranks[r].ops[i].end_s;
        ops.push_back(std::move(jo));
      }
      rank["ops"] = std::move(ops);
      ranks.push_back(std::move(rank));
    }
    j["ranks"] = std::move(ranks);
    std::cout << j.dump(2) << '\n';
    return 0;
  }

  std::cout << fmt::format("{} schedule: pp={} microbatches={} stages={}", s.descriptor->name, s.pp,
                           s.microbatches, s.num_stages);
  if (s.descriptor->reads_virtual_stages) std::cout << fmt::format(" virtual_stages={}", s.virtual_stages);
  std::cout << fmt::format("\nchunk times (s): f={:g} b={:g} w={:g} fb={:g} p2p_latency={:g}\n", t.f, t.b, t.w,
                           t.fb, t.p2p_latency);
  for (int r = 0; r < s.pp; ++r) {
    std::cout << fmt::format("rank {:>3} busy {:<8g} idle {:<8g}|", r, timing.ranks[r].busy_s,
                             timing.ranks[r].idle_s);
    for (const PipelineOp& op : s.ranks[r]) std::cout << ' ' << op_label(s, op);
    std::cout << '\n';
  }
  std::cout << fmt::format("makespan {:g} s\nbubble {:g} s (max over ranks of makespan - busy)\n", timing.makespan_s,
                           timing.bubble_s);
  return 0;
}

}  // namespace

void register_schedule(CLI::App& app, Action& action) {
  auto opts = std::make_shared<ScheduleOptions>();
  auto* cmd = app.add_subcommand(
      "schedule",
      "Generate a pipeline schedule and time it without a network: per-rank op order, makespan, bubble.\n"
      "Chunk times default to f=1 b=2 w=1 and fb=f+b (no overlap benefit); b is the full backward\n"
      "(input + weight), so an input-only B takes b-w. Times are seconds (0.5) or with a unit (1ms).\n"
      "A chunk time is one op: one micro-batch through one stage. With --virtual-stages v a rank holds v\n"
      "stages (model chunks of 1/(pp*v) of the layers each), so its whole forward of a micro-batch takes v*f:\n"
      "give the time of one chunk, not of the rank's layers.");
  // Required unless --list is given.
  const std::vector<CLI::Option*> required = {
      cmd->add_option("--schedule", opts->schedule, schedule_names(" | ") + " (--list describes them; required)"),
      cmd->add_option("--pp", opts->pp, "Pipeline ranks (required)"),
      cmd->add_option("--microbatches", opts->microbatches, "Micro-batches per step (required)")};
  cmd->add_option("--virtual-stages", opts->virtual_stages,
                  "Model chunks (virtual stages) per rank; --f, --b, --w, --fb are per chunk (" +
                      schedules_reading_virtual_stages() + " only; default 2)");
  cmd->add_option("--microbatch-group", opts->microbatch_group,
                  "Micro-batches per chunk group (" + schedules_reading_virtual_stages() +
                      " only; Megatron-LM microbatch_group_size_per_vp_stage; default 0 = pp)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--list", opts->list, "List the registered schedules with a line on each, and exit");
  cmd->add_option("--f", opts->f, "Forward chunk time (default 1)");
  cmd->add_option("--b", opts->b, "Full backward chunk time, input + weight (default 2)");
  cmd->add_option("--w", opts->w, "Weight-gradient chunk time (default 1)");
  cmd->add_option("--fb", opts->fb, "Overlapped forward+backward pair time (default f + b: no overlap benefit)");
  cmd->add_option("--p2p-latency", opts->p2p_latency, "Added to every cross-rank dependency (default 0)");
  cmd->add_option("--format", opts->format, "Output format (default text)")->check(CLI::IsMember({"text", "json"}));
  cmd->callback([&action, opts, required] {
    for (const CLI::Option* option : required)
      if (!opts->list && option->count() == 0) throw CLI::RequiredError(option->get_name());
    action = [opts]() -> int { return run_schedule(*opts); };
  });
}

}  // namespace trainsim::cli
