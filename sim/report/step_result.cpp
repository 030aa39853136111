#include "sim/report/step_result.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <stdexcept>

#include "sim/model/cost_model.hpp"
#include "sim/parallel/schedule.hpp"
#include "sim/report/goodput_output.hpp"

namespace trainsim {

namespace {

constexpr double kSecondsPerHour = 3600;
constexpr double kSecondsPerDay = 86400;
constexpr double kTrillion = 1e12;

// Priority of communication kinds when several are exposed at once.
int comm_rank(Category c) {
  switch (c) {
    case Category::ep: return 0;
    case Category::tp: return 1;
    case Category::pp: return 2;
    default: return 3;
  }
}

// An EP task's compute predecessors' latest end, and the latest on a GPU other than that
// one's: a GPU's peers' latest end is then one of the two. Made once per EP task, for the 64
// GPUs of its group (scanning its predecessors for each was O(group^2) per task).
struct PeerEnds {
  double first = 0;
  int first_gpu = -1;
  double second = 0;  // the latest on any GPU but first_gpu
  [[nodiscard]] double without(int gpu) const { return gpu == first_gpu ? second : first; }
};

// Every EP task's PeerEnds, by task id (ascending).
struct EpPeerEnds {
  std::vector<std::size_t> tasks;
  std::vector<PeerEnds> ends;
  [[nodiscard]] const PeerEnds& of(std::size_t v) const {
    return ends[static_cast<std::size_t>(std::lower_bound(tasks.begin(), tasks.end(), v) - tasks.begin())];
  }
};

EpPeerEnds ep_peer_ends(const StepProgram& p, const engine::StepExecution& x) {
  EpPeerEnds out;
  for (std::size_t v = 0; v < num_vertices(p.graph); ++v) {
    if (p.graph[v].category != Category::ep) continue;
    PeerEnds e;
    for (auto [it, end] = in_edges(static_cast<TaskId>(v), p.graph); it != end; ++it) {
      const std::size_t u = source(*it, p.graph);
      const StepTask& t = p.graph[u];
      if (t.is_transfer()) continue;
      const double at = x.tasks[u].end_s;
      if (at > e.first) {
        if (t.gpu != e.first_gpu) e.second = e.first;  // the old latest is on another GPU
        e.first = at;
        e.first_gpu = t.gpu;
      } else if (t.gpu != e.first_gpu) {
        e.second = std::max(e.second, at);
      }
    }
    out.tasks.push_back(v);
    out.ends.push_back(e);
  }
  return out;
}

// Interval where GPU `gpu` had finished its own part before an expert all-to-all
// but waited for slower peers of its EP group (skewed routing loads their experts
// more): from its own predecessors' end (own_end) to the last peer's compute end.
std::pair<double, double> imbalance_wait(const engine::StepExecution& x, std::size_t v, int gpu, double own_end,
                                         const EpPeerEnds& peers) {
  return {own_end, std::min(peers.of(v).without(gpu), x.tasks[v].start_s)};
}

// Per-GPU breakdown by a sweep over the GPU's task intervals: time with compute
// running goes to the compute categories (split evenly when streams overlap);
// time with only communication running is exposed communication of the
// highest-priority kind; time spent waiting for slower EP peers is imbalance
// wait; time with nothing running is bubble.
std::map<std::string, double> gpu_breakdown(const StepProgram& p, const engine::StepExecution& x,
                                            const std::vector<std::size_t>& gpu_tasks, int gpu, double makespan,
                                            const EpPeerEnds& peers, double& busy) {
  enum class Kind { compute, comm, wait };
  struct Event {
    double t;
    int delta;
    Category c;
    Kind kind;
  };
  std::vector<Event> ev;
  auto add = [&ev](double from, double to, Category c, Kind kind) {
    if (to <= from) return;
    ev.push_back({from, +1, c, kind});
    ev.push_back({to, -1, c, kind});
  };
  // The latest end of this GPU's own predecessors of each EP task in gpu_tasks (ascending
  // ids), from its own tasks' out-edges: every task on this GPU is in gpu_tasks. None
  // without EP tasks (dense models).
  std::vector<double> own_end(gpu_tasks.size(), 0.0);
  for (std::size_t u : gpu_tasks) {
    if (peers.tasks.empty() || p.graph[u].gpu != gpu) continue;
    for (auto [e, end] = out_edges(static_cast<TaskId>(u), p.graph); e != end; ++e) {
      const std::size_t w = target(*e, p.graph);
      if (p.graph[w].category != Category::ep) continue;
      const auto at = std::lower_bound(gpu_tasks.begin(), gpu_tasks.end(), w);
      if (at != gpu_tasks.end() && *at == w) {
        double& own = own_end[static_cast<std::size_t>(at - gpu_tasks.begin())];
        own = std::max(own, x.tasks[u].end_s);
      }
    }
  }
  for (std::size_t i = 0; i < gpu_tasks.size(); ++i) {
    const std::size_t v = gpu_tasks[i];
    const StepTask& t = p.graph[v];
    const auto& r = x.tasks[v];
    add(r.start_s, r.end_s, t.category, t.is_transfer() ? Kind::comm : Kind::compute);
    if (t.category == Category::ep) {
      const auto [from, to] = imbalance_wait(x, v, gpu, own_end[i], peers);
      add(from, to, t.category, Kind::wait);
    }
  }
  std::sort(ev.begin(), ev.end(), [](const Event& a, const Event& b) {
    return a.t != b.t ? a.t < b.t : a.delta < b.delta;
  });
  std::map<std::string, double> out;
  std::map<Category, int> active_compute, active_comm;
  int waiting = 0;
  double prev = 0;
  busy = 0;
  auto account = [&](double until) {
    const double dt = until - prev;
    if (dt <= 0) return;
    int n_compute = 0;
    for (auto& [c, k] : active_compute) n_compute += k > 0 ? 1 : 0;
    if (n_compute > 0) {
      busy += dt;
      for (auto& [c, k] : active_compute)
        if (k > 0) out[to_string(c)] += dt / n_compute;
      return;
    }
    const Category* best = nullptr;
    for (auto& [c, k] : active_comm)
      if (k > 0 && (!best || comm_rank(c) < comm_rank(*best))) best = &c;
    out[best ? std::string("exposed_") + to_string(*best) : waiting > 0 ? "imbalance_wait" : "bubble"] += dt;
  };
  for (const Event& e : ev) {
    account(e.t);
    prev = std::max(prev, e.t);
    if (e.kind == Kind::wait)
      waiting += e.delta;
    else
      (e.kind == Kind::compute ? active_compute : active_comm)[e.c] += e.delta;
  }
  account(makespan);
  return out;
}

nlohmann::ordered_json rank_phases_json(const RankPhases& p) {
  nlohmann::ordered_json j;
  j["rank"] = p.rank;
  for (const PhaseField& f : kPhaseFields) j[f.name] = p.*f.seconds;
  return j;
}

nlohmann::ordered_json phases_json(const SchedulePhases& phases) {
  nlohmann::ordered_json j;
  j["critical_rank"] = phases.critical_rank;
  auto ranks = nlohmann::ordered_json::array();
  for (const RankPhases& p : phases.ranks) {
    if (p.rank == phases.critical_rank) j["critical"] = rank_phases_json(p);
    ranks.push_back(rank_phases_json(p));
  }
  j["ranks"] = std::move(ranks);
  return j;
}

// One line per rank: each phase's seconds with its idle part in brackets.
std::string phases_text(const SchedulePhases& phases, double step) {
  if (phases.ranks.empty()) return "";
  std::string s = fmt::format("\n  schedule phases per pipeline rank (s; idle inside in brackets; * sets the step "
                              "time of {:.3f} s)\n",
                              step);
  s += "    rank   warm-up          steady           cool-down        W tail           optimizer  exposed dp  end "
       "idle\n";
  for (const RankPhases& p : phases.ranks)
    s += fmt::format("    {:>3}{} {:>7.3f} ({:>6.3f}) {:>7.3f} ({:>6.3f}) {:>7.3f} ({:>6.3f}) {:>7.3f} ({:>6.3f}) "
                     "{:>9.3f} {:>11.3f} {:>9.3f}\n",
                     p.rank, p.rank == phases.critical_rank ? '*' : ' ', p.warmup_s, p.warmup_idle_s, p.steady_s,
                     p.steady_idle_s, p.cooldown_s, p.cooldown_idle_s, p.weight_tail_s, p.weight_tail_idle_s,
                     p.optimizer_s, p.exposed_dp_s, p.end_idle_s);
  return s;
}

}  // namespace

StepResult summarize_step(const ClusterSpec& cluster, const WorkloadSpec& workload, const StepProgram& program,
                          const engine::StepExecution& execution) {
  StepResult r;
  r.cluster_name = cluster.name;
  r.workload_name = workload.model.name;
  r.schedule = schedule_name(workload.parallelism.schedule);
  r.fidelity = program.fidelity == Fidelity::full ? "full" : "symmetric";
  r.num_gpus = program.num_gpus;
  r.simulated_gpus = static_cast<int>(program.simulated_gpus.size());
  r.microbatches = program.microbatches;
  r.parallelism = workload.parallelism;
  r.tasks = num_vertices(program.graph);
  r.notes = program.notes;
  r.step_time_s = execution.makespan_s;
  r.tokens_per_step = program.tokens_per_step;
  r.tokens_per_s = r.tokens_per_step / r.step_time_s;
  const ModelCost cost = model_cost(workload);
  r.model_flops_per_token_causal = cost.flops_per_token_causal;
  r.model_flops_per_token_noncausal = cost.flops_per_token_noncausal;
  const double gpu_seconds = r.step_time_s * r.num_gpus;
  r.tflops_per_gpu_causal = cost.flops_per_token_causal * r.tokens_per_step / gpu_seconds / 1e12;
  r.tflops_per_gpu_noncausal = cost.flops_per_token_noncausal * r.tokens_per_step / gpu_seconds / 1e12;
  r.mfu_causal = r.tflops_per_gpu_causal * 1e12 / cluster.gpu.peak_flops_bf16;
  r.mfu_noncausal = r.tflops_per_gpu_noncausal * 1e12 / cluster.gpu.peak_flops_bf16;
  r.gpu_hours_per_trillion_tokens = gpu_seconds / kSecondsPerHour * kTrillion / r.tokens_per_step;
  r.days_per_trillion_tokens = r.step_time_s * kTrillion / r.tokens_per_step / kSecondsPerDay;

  // Tasks bucketed by GPU once: the sweep per GPU then reads only its own.
  // A transfer task counts on every simulated GPU it moves bytes for (an all-to-all
  // is one task for its whole EP group), a compute task on its own GPU.
  std::map<int, std::vector<std::size_t>> tasks_of_gpu;
  for (int gpu : program.simulated_gpus) tasks_of_gpu[gpu];
  std::vector<int> involved;
  for (std::size_t v = 0; v < num_vertices(program.graph); ++v) {
    involved_gpus(program.graph[v], involved);
    for (int gpu : involved)
      if (auto it = tasks_of_gpu.find(gpu); it != tasks_of_gpu.end()) it->second.push_back(v);
  }
  double busy_sum = 0;
  const EpPeerEnds peers = ep_peer_ends(program, execution);
  for (int gpu : program.simulated_gpus) {
    double busy = 0;
    for (const auto& [k, v] : gpu_breakdown(program, execution, tasks_of_gpu[gpu], gpu, r.step_time_s, peers, busy))
      r.breakdown[k] += v;
    busy_sum += busy;
  }
  const double n = std::max<std::size_t>(1, program.simulated_gpus.size());
  for (auto& [k, v] : r.breakdown) v /= n;
  for (const char* k : {"attention", "mlp", "embedding_head", "mtp", "optimizer", "exposed_ep", "exposed_pp",
                        "exposed_tp", "exposed_dp", "bubble", "imbalance_wait"})
    r.breakdown.try_emplace(k, 0.0);
  if (workload.parallelism.cp > 1) r.breakdown.try_emplace("exposed_cp", 0.0);  // the ring-attention transfers
  r.gpu_busy_fraction = busy_sum / n / r.step_time_s;
  r.gpu_power_w = execution.mean_gpu_power_w();
  r.phases = schedule_phases(workload.parallelism, program, execution);
  return r;
}

void integrate_run(StepResult& r, const ClusterSpec& cluster, const WorkloadSpec& workload) {
  // Per token: seconds of the step, and GPU joules (all GPUs at the step's mean power).
  struct PerToken {
    double seconds = 0, joules = 0;
  };
  const PerToken full{r.step_time_s / r.tokens_per_step, r.gpu_power_w * r.num_gpus * r.step_time_s / r.tokens_per_step};
  PerToken run;
  const double tokens = workload.training.tokens;
  double ramp_tokens = 0;
  if (workload.training.batch_ramp && !r.ramp.empty()) {
    ramp_tokens = std::min(tokens, workload.training.batch_ramp->over_tokens);
    // Batch grows linearly with tokens; per-token time and energy interpolated between
    // the simulated batch sizes, integrated by the trapezoid rule on a fine grid.
    const int b0 = workload.training.batch_ramp->start_sequences;
    const int b1 = workload.training.global_batch;
    auto point = [&](const RampPoint& p) {
      return PerToken{p.seconds_per_token, p.gpu_power_w * r.num_gpus * p.seconds_per_token};
    };
    auto at = [&](double batch) {
      const auto& pts = r.ramp;
      if (batch <= pts.front().global_batch) return point(pts.front());
      for (std::size_t i = 1; i < pts.size(); ++i)
        if (batch <= pts[i].global_batch) {
          const double f = (batch - pts[i - 1].global_batch) / (pts[i].global_batch - pts[i - 1].global_batch);
          const PerToken a = point(pts[i - 1]), b = point(pts[i]);
          return PerToken{a.seconds + f * (b.seconds - a.seconds), a.joules + f * (b.joules - a.joules)};
        }
      return full;
    };
    const int steps = 1000;
    const double full_ramp = workload.training.batch_ramp->over_tokens;
    for (int i = 0; i < steps; ++i) {
      const double x0 = ramp_tokens * i / steps, x1 = ramp_tokens * (i + 1) / steps;
      const PerToken s0 = at(b0 + (b1 - b0) * x0 / full_ramp), s1 = at(b0 + (b1 - b0) * x1 / full_ramp);
      run.seconds += (x1 - x0) * (s0.seconds + s1.seconds) / 2;
      run.joules += (x1 - x0) * (s0.joules + s1.joules) / 2;
    }
  }
  run.seconds += (tokens - ramp_tokens) * full.seconds;
  run.joules += (tokens - ramp_tokens) * full.joules;
  r.total_tokens = tokens;
  r.total_days = run.seconds / kSecondsPerDay;
  r.total_gpu_hours = run.seconds * r.num_gpus / kSecondsPerHour;
  r.cost_usd = r.total_gpu_hours * cluster.pricing.gpu_hour_usd;
  // Energy: the GPUs' energy from SimGrid's host-energy plugin (idle power all the
  // time, busy power while computing), × PUE for the facility. Hosts, NICs and
  // switches are not in it (see README, Fidelity).
  r.energy_mwh = run.joules / 3.6e9 * cluster.pricing.pue;  // J → MWh
}

namespace {

// The parts of a rank's memory, in report order: key, text label, bytes.
struct MemoryPart {
  const char* key;
  const char* label;
  double bytes;
};
std::vector<MemoryPart> memory_parts(const RankMemory& m) {
  return {{"weights", "weights", m.weights},
          {"gradients", "gradients", m.gradients},
          {"optimizer_states", "optimizer states", m.optimizer_states},
          {"activations", "activations", m.activations},
          {"pipeline_buffers", "pipeline buffers", m.pipeline_buffers},
          {"comm_buffers", "comm buffers", m.comm_buffers},
          {"reserved", "framework reserve", m.reserved}};
}

nlohmann::ordered_json rank_memory_json(const RankMemory& m) {
  nlohmann::ordered_json j;
  j["rank"] = m.rank;
  j["stages"] = m.stages;
  for (const MemoryPart& part : memory_parts(m)) j[part.key] = part.bytes;
  j["chunks_in_flight"] = m.chunks_in_flight;
  j["total"] = m.total();
  return j;
}

}  // namespace

nlohmann::ordered_json memory_json(const GpuMemory& m) {
  nlohmann::ordered_json j;
  j["hbm_bytes"] = m.hbm_bytes;
  j["fits"] = m.fits();
  j["largest_rank"] = m.largest_rank;
  j["largest"] = m.ranks.empty() ? nlohmann::ordered_json::object() : rank_memory_json(m.largest());
  auto ranks = nlohmann::ordered_json::array();
  for (const RankMemory& r : m.ranks) ranks.push_back(rank_memory_json(r));
  j["by_rank"] = ranks;
  return j;
}

std::string memory_text(const GpuMemory& m) {
  if (m.ranks.empty()) return "";
  std::string s;
  if (!m.fits()) s += fmt::format("  !! DOES NOT FIT IN GPU MEMORY: {}\n\n", memory_verdict(m));
  const RankMemory& big = m.largest();
  s += fmt::format("  per-GPU memory, peak HBM (largest: rank {} of {}, stages", big.rank, m.ranks.size());
  for (int stage : big.stages) s += fmt::format(" {}", stage);
  s += ")\n";
  for (const MemoryPart& part : memory_parts(big)) {
    s += fmt::format("    {:<18} {:>10.2f} GB", part.label, part.bytes / 1e9);
    if (std::string(part.key) == "activations") s += fmt::format("  ({} micro-batch chunks in flight)", big.chunks_in_flight);
    s += "\n";
  }
  s += fmt::format("    {:<18} {:>10.2f} GB  of {:.4g} GB HBM: {}\n", "total", big.total() / 1e9, m.hbm_bytes / 1e9,
                   m.fits() ? "fits" : "DOES NOT FIT");
  s += "    by rank (GB):";
  for (const RankMemory& r : m.ranks) s += fmt::format(" {}:{:.1f}", r.rank, r.total() / 1e9);
  return s + "\n";
}

void require_finite(const nlohmann::ordered_json& j, const std::string& path) {
  if (j.is_number_float() && !std::isfinite(j.get<double>()))
    throw std::logic_error("non-finite " + (path.empty() ? std::string("figure") : path) + " in the output");
  if (j.is_object())
    for (const auto& [key, value] : j.items()) require_finite(value, path.empty() ? key : path + "." + key);
  if (j.is_array())
    for (std::size_t i = 0; i < j.size(); ++i) require_finite(j[i], path + "[" + std::to_string(i) + "]");
}

nlohmann::ordered_json to_json(const StepResult& r) {
  nlohmann::ordered_json j;
  j["cluster"] = r.cluster_name;
  j["workload"] = r.workload_name;
  j["num_gpus"] = r.num_gpus;
  j["parallelism"] = {{"pp", r.parallelism.pp}, {"ep", r.parallelism.ep}, {"dp", r.parallelism.dp},
                      {"tp", r.parallelism.tp}, {"zero", r.parallelism.zero}, {"comm_sms", r.parallelism.comm_sms}};
  j["schedule"] = r.schedule;
  j["fidelity"] = r.fidelity;
  j["microbatches"] = r.microbatches;
  j["step_time_s"] = r.step_time_s;
  j["tokens_per_step"] = r.tokens_per_step;
  j["tokens_per_s"] = r.tokens_per_s;
  j["tflops_per_gpu"] = r.tflops_per_gpu_causal;
  j["tflops_per_gpu_causal"] = r.tflops_per_gpu_causal;
  j["tflops_per_gpu_noncausal"] = r.tflops_per_gpu_noncausal;
  j["mfu"] = r.mfu_causal;
  j["mfu_causal"] = r.mfu_causal;
  j["mfu_noncausal"] = r.mfu_noncausal;
  j["gpu_hours_per_trillion_tokens"] = r.gpu_hours_per_trillion_tokens;
  j["days_per_trillion_tokens"] = r.days_per_trillion_tokens;
  j["total_tokens"] = r.total_tokens;
  j["total_gpu_hours"] = r.total_gpu_hours;
  j["total_days"] = r.total_days;
  j["cost_usd"] = r.cost_usd;
  j["energy_mwh"] = r.energy_mwh;
  j["gpu_busy_fraction"] = r.gpu_busy_fraction;
  j["gpu_power_w"] = r.gpu_power_w;
  j["breakdown"] = r.breakdown;
  j["memory"] = memory_json(r.memory);
  j["schedule_phases"] = phases_json(r.phases);
  auto ramp = nlohmann::ordered_json::array();
  for (const auto& p : r.ramp)
    ramp.push_back({{"global_batch", p.global_batch}, {"simulated_batch", p.simulated_batch},
                    {"step_time_s", p.step_time_s}, {"seconds_per_token", p.seconds_per_token},
                    {"gpu_power_w", p.gpu_power_w}});
  j["batch_ramp"] = ramp;
  j["simulated_gpus"] = r.simulated_gpus;
  j["tasks"] = r.tasks;
  j["notes"] = r.notes;
  if (r.goodput) j["goodput"] = goodput_json(*r.goodput);
  if (r.stragglers)
    j["stragglers"] = {{"pacing_gpu", r.stragglers->pacing_gpu},
                       {"pacing_speed", r.stragglers->pacing_speed},
                       {"nominal_step_time_s", r.stragglers->nominal_step_s},
                       {"slowdown", r.stragglers->slowdown}};
  require_finite(j, "");
  return j;
}

namespace {

// The breakdown's terms in report order (compute, then exposed communication, then
// waiting and idle), with what each is; a key not listed here follows, under its key.
struct BreakdownTerm {
  const char* key;
  const char* label;
};
constexpr BreakdownTerm kBreakdownTerms[] = {
    {"attention", "attention blocks (compute)"},
    {"mlp", "MLP / experts (compute)"},
    {"embedding_head", "embedding and head (compute)"},
    {"mtp", "MTP modules (compute)"},
    {"optimizer", "optimizer step (compute)"},
    {"exposed_ep", "exposed EP all-to-all"},
    {"exposed_tp", "exposed TP collectives"},
    {"exposed_cp", "exposed CP ring transfers"},
    {"exposed_pp", "exposed PP send/receive"},
    {"exposed_dp", "exposed DP collectives"},
    {"imbalance_wait", "waiting for slower EP peers"},
    {"bubble", "pipeline bubble (idle)"},
};

std::string breakdown_line(const std::string& label, double seconds, double step) {
  return fmt::format("    {:<30} {:>10.3f} s  {:>6.1f} %\n", label, seconds, 100 * seconds / step);
}

// Every non-zero term in report order, then the sum (the step time).
std::string breakdown_text(const std::map<std::string, double>& breakdown, double step) {
  std::string s = "\n  breakdown of the step (mean per GPU; seconds and % of the step time)\n";
  std::set<std::string> shown;
  double sum = 0;
  for (const BreakdownTerm& term : kBreakdownTerms)
    if (auto it = breakdown.find(term.key); it != breakdown.end()) {
      shown.insert(term.key);
      sum += it->second;
      if (it->second > 0) s += breakdown_line(term.label, it->second, step);
    }
  for (const auto& [key, seconds] : breakdown)
    if (!shown.count(key)) {
      sum += seconds;
      if (seconds > 0) s += breakdown_line(key, seconds, step);
    }
  return s + breakdown_line("total", sum, step);
}

}  // namespace

std::string to_text(const StepResult& r) {
  (void)to_json(r);  // every figure finite, or an internal error naming it
  std::string s;
  s += fmt::format("trainsim run: {} on {} ({} GPUs; pp {} ep {} dp {} tp {}; {}; {} micro-batches; {} fidelity)\n\n",
                   r.workload_name, r.cluster_name, r.num_gpus, r.parallelism.pp, r.parallelism.ep, r.parallelism.dp,
                   r.parallelism.tp, r.schedule, r.microbatches, r.fidelity);
  s += fmt::format("  step time                   {:>12.3f} s   ({:.3g} tokens per step)\n", r.step_time_s,
                   r.tokens_per_step);
  s += fmt::format("  throughput                  {:>12.0f} tokens/s\n", r.tokens_per_s);
  s += fmt::format("  model TFLOP/s per GPU       {:>12.1f} causal, {:.1f} non-causal\n", r.tflops_per_gpu_causal,
                   r.tflops_per_gpu_noncausal);
  s += fmt::format("  MFU (dense BF16 peak)       {:>12.1f} % causal, {:.1f} % non-causal\n", 100 * r.mfu_causal,
                   100 * r.mfu_noncausal);
  s += fmt::format("  GPU-hours per 1T tokens     {:>12.0f}\n", r.gpu_hours_per_trillion_tokens);
  s += fmt::format("  days per 1T tokens          {:>12.2f}   (on {} GPUs)\n", r.days_per_trillion_tokens, r.num_gpus);
  s += fmt::format("  whole run ({:.4g}T tokens)  {:>12.0f} GPU-hours, {:.1f} days, ${:.3f}M, {:.0f} MWh\n",
                   r.total_tokens / 1e12, r.total_gpu_hours, r.total_days, r.cost_usd / 1e6, r.energy_mwh);
  if (!r.memory.ranks.empty()) s += "\n" + memory_text(r.memory);
  s += breakdown_text(r.breakdown, r.step_time_s);
  s += phases_text(r.phases, r.step_time_s);
  if (!r.ramp.empty()) {
    s += "\n  batch ramp (per-token time integrated over the ramp)\n";
    for (const auto& p : r.ramp)
      s += fmt::format("    batch {:>6} (simulated {:>6})  step {:>8.3f} s  {:.3e} s/token\n", p.global_batch,
                       p.simulated_batch, p.step_time_s, p.seconds_per_token);
  }
  if (r.goodput) s += goodput_text(*r.goodput);
  if (r.stragglers)
    s += fmt::format("\n  stragglers: step {:.3f} s against {:.3f} s at nominal speed (slowdown {:.4f}); paced by GPU "
                     "{} at speed {:g}\n",
                     r.step_time_s, r.stragglers->nominal_step_s, r.stragglers->slowdown, r.stragglers->pacing_gpu,
                     r.stragglers->pacing_speed);
  for (const auto& n : r.notes) s += "\n  note: " + n + "\n";
  return s;
}

std::string to_csv(const StepResult& r) {
  (void)to_json(r);  // every figure finite, or an internal error naming it
  std::string header = "cluster,workload,num_gpus,schedule,fidelity,step_time_s,tokens_per_step,tokens_per_s,"
                       "tflops_per_gpu,mfu,gpu_hours_per_trillion_tokens,days_per_trillion_tokens,total_gpu_hours,"
                       "total_days,cost_usd,energy_mwh";
  std::string row = fmt::format("{},{},{},{},{},{:.9g},{:.9g},{:.9g},{:.9g},{:.9g},{:.9g},{:.9g},{:.9g},{:.9g},{:.9g},{:.9g}",
                                r.cluster_name, r.workload_name, r.num_gpus, r.schedule, r.fidelity, r.step_time_s,
                                r.tokens_per_step, r.tokens_per_s, r.tflops_per_gpu_causal, r.mfu_causal,
                                r.gpu_hours_per_trillion_tokens, r.days_per_trillion_tokens, r.total_gpu_hours,
                                r.total_days, r.cost_usd, r.energy_mwh);
  for (const auto& [k, v] : r.breakdown) {
    header += ",breakdown." + k;
    row += fmt::format(",{:.9g}", v);
  }
  if (!r.memory.ranks.empty()) {
    const RankMemory& big = r.memory.largest();
    header += ",memory.hbm_bytes,memory.fits,memory.largest_rank";
    row += fmt::format(",{:.9g},{},{}", r.memory.hbm_bytes, r.memory.fits() ? "true" : "false", big.rank);
    for (const MemoryPart& part : memory_parts(big)) {
      header += std::string(",memory.largest.") + part.key;
      row += fmt::format(",{:.9g}", part.bytes);
    }
    header += ",memory.largest.total";
    row += fmt::format(",{:.9g}", big.total());
  }
  if (r.goodput) {
    const auto [columns, values] = goodput_csv(*r.goodput);
    header += columns;
    row += values;
  }
  return header + "\n" + row + "\n";
}

namespace {

// One slice of the trace in whole nanoseconds: Perfetto reads the JSON's microseconds
// into integer nanoseconds, so slices are placed on tracks in the unit it compares in.
struct TraceSlice {
  std::size_t task;
  long long start_ns, end_ns;
};

// Groups of tracks on a GPU, in display order: what runs there and why it is separate.
struct TrackGroup {
  const char* name;  // lane 0's name; later lanes get " 2", " 3"...
  int first_tid;
};
constexpr TrackGroup kTrackGroups[] = {{"compute", 0}, {"compute aux", 1000}, {"communication", 2000}};

int track_group_of(const StepTask& t) {
  if (t.is_transfer()) return 2;
  return t.stream == Stream::compute_aux ? 1 : 0;
}

// Greedy lanes: each slice, by start time, on the first lane whose last slice has
// ended, so slices on one track never overlap (an "X" slice must nest or be disjoint).
std::vector<int> assign_lanes(const std::vector<TraceSlice>& slices) {
  std::vector<std::size_t> order(slices.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return slices[a].start_ns != slices[b].start_ns ? slices[a].start_ns < slices[b].start_ns
                                                    : slices[a].end_ns > slices[b].end_ns;
  });
  std::vector<long long> lane_end;
  std::vector<int> lane(slices.size(), 0);
  for (std::size_t i : order) {
    std::size_t l = 0;
    while (l < lane_end.size() && lane_end[l] > slices[i].start_ns) ++l;
    if (l == lane_end.size()) lane_end.push_back(0);
    lane_end[l] = slices[i].end_ns;
    lane[i] = static_cast<int>(l);
  }
  return lane;
}

}  // namespace

std::string to_chrome_trace(const StepProgram& program, const engine::StepExecution& x) {
  const auto& g = program.graph;
  // Slices per (GPU, track group); tasks shorter than a nanosecond are left out (a
  // zero-length slice draws nothing and some viewers mis-nest it) and counted in otherData.
  std::map<std::pair<int, int>, std::vector<TraceSlice>> groups;
  std::size_t dropped = 0;
  for (std::size_t v = 0; v < num_vertices(g); ++v) {
    const StepTask& t = g[v];
    const long long start = std::llround(x.tasks[v].start_s * 1e9), end = std::llround(x.tasks[v].end_s * 1e9);
    if (end <= start) {
      ++dropped;
      continue;
    }
    groups[{t.gpu, track_group_of(t)}].push_back({v, start, end});
  }
  nlohmann::ordered_json events = nlohmann::ordered_json::array();
  nlohmann::ordered_json slices = nlohmann::ordered_json::array();
  std::set<int> named_gpus;
  for (const auto& [key, group] : groups) {
    const auto [gpu, group_index] = key;
    if (named_gpus.insert(gpu).second) {
      events.push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", gpu}, {"tid", 0},
                        {"args", {{"name", fmt::format("GPU {}", gpu)}}}});
      events.push_back({{"name", "process_sort_index"}, {"ph", "M"}, {"pid", gpu}, {"tid", 0},
                        {"args", {{"sort_index", gpu}}}});
    }
    const TrackGroup& tg = kTrackGroups[group_index];
    const std::vector<int> lane = assign_lanes(group);
    const int lanes = group.empty() ? 0 : *std::max_element(lane.begin(), lane.end()) + 1;
    for (int l = 0; l < lanes; ++l) {
      const int tid = tg.first_tid + l;
      events.push_back({{"name", "thread_name"}, {"ph", "M"}, {"pid", gpu}, {"tid", tid},
                        {"args", {{"name", l == 0 ? std::string(tg.name) : fmt::format("{} {}", tg.name, l + 1)}}}});
      events.push_back({{"name", "thread_sort_index"}, {"ph", "M"}, {"pid", gpu}, {"tid", tid},
                        {"args", {{"sort_index", tid}}}});
    }
    for (std::size_t i = 0; i < group.size(); ++i) {
      const StepTask& t = g[group[i].task];
      slices.push_back({{"name", t.name}, {"cat", to_string(t.category)}, {"ph", "X"}, {"pid", gpu},
                        {"tid", tg.first_tid + lane[i]}, {"ts", static_cast<double>(group[i].start_ns) / 1e3},
                        {"dur", static_cast<double>(group[i].end_ns - group[i].start_ns) / 1e3}});
    }
  }
  for (auto& e : slices) events.push_back(std::move(e));
  nlohmann::ordered_json j;
  j["traceEvents"] = events;
  j["displayTimeUnit"] = "ms";
  j["otherData"] = {{"tracks", "concurrent tasks of one stream are drawn on extra tracks (communication 2, 3, ...)"},
                    {"zero_length_tasks_left_out", dropped}};
  require_finite(j, "trace");
  return j.dump();
}

}  // namespace trainsim
