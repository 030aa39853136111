#include "sim/studies/dollar_cost.hpp"

#include <fmt/format.h>

#include "sim/parallel/memory.hpp"

namespace trainsim {

RunCost run_cost(const StepResult& r, const ClusterSpec& cluster) {
  const PricingSpec& p = cluster.pricing;
  // The run's identity and totals as simulated; the rest is priced below.
  RunCost c{.cluster_name = r.cluster_name,
            .workload_name = r.workload_name,
            .num_gpus = r.num_gpus,
            .total_tokens = r.total_tokens,
            .total_gpu_hours = r.total_gpu_hours,
            .total_days = r.total_days,
            .gpu_hour_usd = p.gpu_hour_usd,
            .rental_usd = r.total_gpu_hours * p.gpu_hour_usd};
  if (!r.memory.ranks.empty() && !r.memory.fits()) c.memory_does_not_fit = memory_verdict(r.memory);

  // energy_mwh already includes the PUE (facility energy).
  c.energy_mwh = r.energy_mwh;
  c.pue = p.pue;
  c.electricity_usd_per_kwh = p.electricity_usd_per_kwh;
  c.electricity_usd = r.energy_mwh * 1000 * p.electricity_usd_per_kwh;

  c.capex_per_gpu_usd = p.capex_per_gpu_usd;
  c.capex_per_endpoint_usd = p.capex_per_endpoint_usd;
  c.amortization_years = p.amortization_years;
  c.ownership_given = p.capex_per_gpu_usd > 0 && p.amortization_years > 0;
  c.gpu_busy_fraction = r.gpu_busy_fraction;
  c.power_idle_w = cluster.gpu.power_idle_w;
  c.power_busy_w = cluster.gpu.power_busy_w;
  // The engine's power model: idle power all the time, busy power while computing.
  c.mean_gpu_power_w = c.power_idle_w + (c.power_busy_w - c.power_idle_w) * r.gpu_busy_fraction;
  c.power_per_gpu_hour_usd = c.mean_gpu_power_w / 1000 * p.pue * p.electricity_usd_per_kwh;  // kW × 1 h × $/kWh
  if (c.ownership_given) {
    c.capex_per_gpu_hour_usd = (p.capex_per_gpu_usd + p.capex_per_endpoint_usd) / (p.amortization_years * kHoursPerYear);
    c.owned_per_gpu_hour_usd = c.capex_per_gpu_hour_usd + c.power_per_gpu_hour_usd;
    c.owned_run_usd = c.owned_per_gpu_hour_usd * r.total_gpu_hours;
  }
  return c;
}

std::string to_text(const RunCost& c) {
  std::string s;
  s += fmt::format("trainsim cost: {} on {} ({} GPUs), {:.4g}T tokens: {:.0f} GPU-hours, {:.1f} days\n\n",
                   c.workload_name, c.cluster_name, c.num_gpus, c.total_tokens / 1e12, c.total_gpu_hours, c.total_days);
  if (!c.memory_does_not_fit.empty()) s += fmt::format("  !! DOES NOT FIT IN GPU MEMORY: {}\n\n", c.memory_does_not_fit);
  s += "  rental\n";
  s += fmt::format("    price                          {:>14.2f} $ per GPU-hour\n", c.gpu_hour_usd);
  s += fmt::format("    run                            {:>14.3f} M$\n\n", c.rental_usd / 1e6);
  s += "  energy (GPUs only, from the simulated power states; facility = x PUE)\n";
  s += fmt::format("    energy of the run              {:>14.1f} MWh (PUE {:.2f})\n", c.energy_mwh, c.pue);
  s += fmt::format("    electricity price              {:>14.3f} $ per kWh\n", c.electricity_usd_per_kwh);
  s += fmt::format("    electricity                    {:>14.3f} M$\n\n", c.electricity_usd / 1e6);
  s += "  ownership\n";
  if (!c.ownership_given) {
    s += "    not given (pricing.capex_per_gpu_usd and pricing.amortization_years are needed)\n";
    return s;
  }
  s += fmt::format("    capex per GPU + per endpoint   {:>14.0f} $ + {:.0f} $, amortized over {:.3g} years\n",
                   c.capex_per_gpu_usd, c.capex_per_endpoint_usd, c.amortization_years);
  s += fmt::format("    capex per GPU-hour             {:>14.4f} $\n", c.capex_per_gpu_hour_usd);
  s += fmt::format("    mean GPU power                 {:>14.0f} W = {:.0f} + ({:.0f} - {:.0f}) x busy {:.3f}\n",
                   c.mean_gpu_power_w, c.power_idle_w, c.power_busy_w, c.power_idle_w, c.gpu_busy_fraction);
  s += fmt::format("    power per GPU-hour             {:>14.4f} $ (x PUE {:.2f} x {:.3f} $/kWh)\n",
                   c.power_per_gpu_hour_usd, c.pue, c.electricity_usd_per_kwh);
  s += fmt::format("    owned GPU-hour                 {:>14.4f} $ ({:.0f} % of the rental price)\n",
                   c.owned_per_gpu_hour_usd,
                   c.gpu_hour_usd > 0 ? 100 * c.owned_per_gpu_hour_usd / c.gpu_hour_usd : 0.0);
  s += fmt::format("    run on an owned cluster        {:>14.3f} M$\n", c.owned_run_usd / 1e6);
  s += "\n  assumptions: the owned cluster is fully used over its amortization life (each owned hour is charged "
       "to some run; at utilization u the capex share is divided by u); the step's busy fraction holds for the "
       "whole run; hosts, NICs and switches draw no power in this view.\n";
  return s;
}

nlohmann::ordered_json to_json(const RunCost& c) {
  nlohmann::ordered_json j = {{"cluster", c.cluster_name},
                              {"workload", c.workload_name},
                              {"num_gpus", c.num_gpus},
                              {"total_tokens", c.total_tokens},
                              {"total_gpu_hours", c.total_gpu_hours},
                              {"total_days", c.total_days},
                              {"fits_memory", c.memory_does_not_fit.empty()}};
  j["rental"] = {{"gpu_hour_usd", c.gpu_hour_usd}, {"run_usd", c.rental_usd}};
  j["energy"] = {{"energy_mwh", c.energy_mwh},
                 {"pue", c.pue},
                 {"electricity_usd_per_kwh", c.electricity_usd_per_kwh},
                 {"electricity_usd", c.electricity_usd}};
  if (c.ownership_given)
    j["ownership"] = {{"capex_per_gpu_usd", c.capex_per_gpu_usd},
                      {"capex_per_endpoint_usd", c.capex_per_endpoint_usd},
                      {"amortization_years", c.amortization_years},
                      {"capex_per_gpu_hour_usd", c.capex_per_gpu_hour_usd},
                      {"gpu_busy_fraction", c.gpu_busy_fraction},
                      {"mean_gpu_power_w", c.mean_gpu_power_w},
                      {"power_per_gpu_hour_usd", c.power_per_gpu_hour_usd},
                      {"owned_per_gpu_hour_usd", c.owned_per_gpu_hour_usd},
                      {"owned_run_usd", c.owned_run_usd},
                      {"assumption", "fully used over the amortization life; step busy fraction for the whole run"}};
  else
    j["ownership"] = nullptr;
  return j;
}

}  // namespace trainsim
