#include "sim/report/goodput_output.hpp"

#include <fmt/format.h>

namespace trainsim {

namespace {

nlohmann::ordered_json percentiles_json(const reliability::Percentiles& p) {
  return {{"mean", p.mean}, {"p5", p.p5}, {"p50", p.p50}, {"p95", p.p95}};
}

// Time lost by cause, in the order of a restart: key, text label, mean seconds.
struct Cause {
  const char* key;
  const char* label;
  double seconds;
};
std::vector<Cause> causes(const reliability::GoodputReport& g) {
  return {{"checkpoint", "checkpoint stalls", g.checkpoint_s}, {"lost_work", "lost work", g.lost_work_s},
          {"detection", "detection", g.detection_s},           {"replace_wait", "waiting for a node", g.replace_wait_s},
          {"restart", "restart", g.restart_s},                 {"checkpoint_load", "checkpoint load", g.load_s}};
}

}  // namespace

nlohmann::ordered_json goodput_json(const reliability::GoodputReport& g) {
  const reliability::CheckpointCost& ck = g.checkpoint;
  nlohmann::ordered_json j = {
      {"seeds", g.seeds},
      {"job_mtbf_s", g.job_mtbf_s},
      {"interruptions_per_day", g.interruptions_per_day},
      {"checkpoint",
       {{"bytes", ck.bytes}, {"bytes_per_gpu", ck.bytes_per_gpu}, {"bytes_per_node", ck.bytes_per_node},
        {"write_s", ck.write_s}, {"read_s", ck.read_s}, {"snapshot_s", ck.snapshot_s}, {"stall_s", ck.stall_s},
        {"asynchronous", ck.asynchronous}}},
      {"steps", g.steps},
      {"interval_steps", g.interval_steps},
      {"interval_searched", g.interval_searched},
      {"optimal_interval_steps", g.optimal_interval_steps},
      {"optimal_interval_s", g.optimal_interval_s},
      {"young_daly_interval_s", g.young_daly_s},
      {"ideal_days", g.ideal_days},
      {"days", percentiles_json(g.days)},
      {"gpu_hours", percentiles_json(g.gpu_hours)},
      {"days_per_trillion_tokens", percentiles_json(g.days_per_trillion_tokens)},
      {"gpu_hours_per_trillion_tokens", percentiles_json(g.gpu_hours_per_trillion_tokens)},
      {"goodput", percentiles_json(g.goodput)},
  };
  j["interruptions"] = g.interruptions;
  nlohmann::ordered_json by;
  for (std::size_t i = 0; i < g.components.size(); ++i) by[g.components[i].name] = g.interruptions_by_component[i];
  j["interruptions_by_component"] = by;
  nlohmann::ordered_json lost;
  lost["useful"] = g.useful_s;
  for (const Cause& c : causes(g)) lost[c.key] = c.seconds;
  j["time_by_cause_s"] = lost;
  auto curve = nlohmann::ordered_json::array();
  for (const reliability::IntervalPoint& p : g.interval_curve)
    curve.push_back({{"interval_steps", p.interval_steps}, {"interval_s", p.interval_s}, {"goodput", p.goodput},
                     {"days_per_trillion_tokens", p.days_per_trillion_tokens}});
  j["interval_curve"] = curve;
  j["notes"] = g.notes;
  return j;
}

std::string goodput_text(const reliability::GoodputReport& g) {
  std::string s = fmt::format("\n  with failures ({} seeds; reliability section of the cluster)\n", g.seeds);
  s += fmt::format("    interruptions          {:>12.2f} per day of running (job MTBF {:.2f} h); {:.1f} per run\n",
                   g.interruptions_per_day, g.job_mtbf_s / 3600, g.interruptions);
  s += fmt::format("    checkpoint             {:>12.1f} GB ({:.2f} GB per GPU); write {:.1f} s, load {:.1f} s, "
                   "stall {:.1f} s ({})\n",
                   g.checkpoint.bytes / 1e9, g.checkpoint.bytes_per_gpu / 1e9, g.checkpoint.write_s,
                   g.checkpoint.read_s, g.checkpoint.stall_s, g.checkpoint.asynchronous ? "asynchronous" : "blocking");
  s += fmt::format("    checkpoint interval    {:>12} steps ({})", g.interval_steps,
                   g.interval_searched ? "searched" : "given");
  s += fmt::format("; optimum {} steps = {:.0f} s, Young/Daly sqrt(2 C MTBF) = {:.0f} s\n", g.optimal_interval_steps,
                   g.optimal_interval_s, g.young_daly_s);
  s += fmt::format("    whole run              {:>12.1f} days (p5 {:.1f}, p50 {:.1f}, p95 {:.1f}); ideal {:.1f}\n",
                   g.days.mean, g.days.p5, g.days.p50, g.days.p95, g.ideal_days);
  s += fmt::format("    GPU-hours              {:>12.0f} (p5 {:.0f}, p50 {:.0f}, p95 {:.0f})\n", g.gpu_hours.mean,
                   g.gpu_hours.p5, g.gpu_hours.p50, g.gpu_hours.p95);
  s += fmt::format("    per 1T tokens          {:>12.2f} days, {:.0f} GPU-hours (p95 {:.2f} days)\n",
                   g.days_per_trillion_tokens.mean, g.gpu_hours_per_trillion_tokens.mean,
                   g.days_per_trillion_tokens.p95);
  s += fmt::format("    goodput                {:>12.1f} % (p5 {:.1f} %, p95 {:.1f} %)\n", 100 * g.goodput.mean,
                   100 * g.goodput.p5, 100 * g.goodput.p95);
  s += "    time lost by cause (mean, hours):";
  for (const Cause& c : causes(g)) s += fmt::format(" {} {:.1f};", c.label, c.seconds / 3600);
  s += "\n";
  s += "    against the interval:";
  for (const reliability::IntervalPoint& p : g.interval_curve)
    s += fmt::format(" {:.0f} s {:.1f} %;", p.interval_s, 100 * p.goodput);
  s += "\n";
  for (const auto& n : g.notes) s += "    note: " + n + "\n";
  return s;
}

std::pair<std::string, std::string> goodput_csv(const reliability::GoodputReport& g) {
  std::string header, row;
  const auto add = [&](const std::string& key, double v) {
    header += ",goodput." + key;
    row += fmt::format(",{:.9g}", v);
  };
  add("interval_steps", static_cast<double>(g.interval_steps));
  add("optimal_interval_s", g.optimal_interval_s);
  add("young_daly_interval_s", g.young_daly_s);
  add("interruptions", g.interruptions);
  for (const auto& [key, p] : {std::pair{"days", &g.days}, {"gpu_hours", &g.gpu_hours},
                               {"days_per_trillion_tokens", &g.days_per_trillion_tokens},
                               {"gpu_hours_per_trillion_tokens", &g.gpu_hours_per_trillion_tokens},
                               {"goodput", &g.goodput}}) {
    add(std::string(key) + ".mean", p->mean);
    add(std::string(key) + ".p5", p->p5);
    add(std::string(key) + ".p50", p->p50);
    add(std::string(key) + ".p95", p->p95);
  }
  for (const Cause& c : causes(g)) add(std::string("lost_s.") + c.key, c.seconds);
  return {header, row};
}

}  // namespace trainsim
