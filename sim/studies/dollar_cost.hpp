#pragma once
// `trainsim cost`: what a simulated run costs — rented GPU-hours, energy and its
// electricity bill, and the same run on an owned cluster (capex amortized over
// the cluster's life plus power). Pure arithmetic on a StepResult and the
// cluster's pricing section; every input is sourced or marked in the YAML.
#include <nlohmann/json.hpp>
#include <string>

#include "sim/config/spec.hpp"
#include "sim/report/step_result.hpp"

namespace trainsim {

struct RunCost {
  std::string cluster_name, workload_name;
  int num_gpus = 0;
  double total_tokens = 0;
  double total_gpu_hours = 0;
  double total_days = 0;
  // Rental.
  double gpu_hour_usd = 0;
  double rental_usd = 0;                 // total_gpu_hours × gpu_hour_usd
  // Energy of the run (GPUs, facility incl. PUE, from the simulation).
  double energy_mwh = 0;
  double pue = 1;
  double electricity_usd_per_kwh = 0;
  double electricity_usd = 0;            // energy_mwh × 1000 × price
  // Ownership (given = capex and amortization_years present in the pricing section).
  bool ownership_given = false;
  double capex_per_gpu_usd = 0, capex_per_endpoint_usd = 0, amortization_years = 0;
  double capex_per_gpu_hour_usd = 0;     // (capex per GPU + per endpoint) / (years × hours per year)
  double gpu_busy_fraction = 0;          // mean over the simulated step (assumption: the whole run)
  double power_idle_w = 0, power_busy_w = 0;
  double mean_gpu_power_w = 0;           // idle + (busy − idle) × busy fraction
  double power_per_gpu_hour_usd = 0;     // mean power × PUE × price
  double owned_per_gpu_hour_usd = 0;     // capex + power per owned GPU-hour
  double owned_run_usd = 0;              // owned_per_gpu_hour_usd × total_gpu_hours
  // The run's per-GPU memory verdict when its largest rank exceeds the HBM
  // ("rank 0 needs 86.8 GB of 80 GB HBM"); empty when it fits.
  std::string memory_does_not_fit{};
};

// Hours in a year of 365.25 days (amortization is in years).
inline constexpr double kHoursPerYear = 8766.0;

[[nodiscard]] RunCost run_cost(const StepResult& result, const ClusterSpec& cluster);

[[nodiscard]] std::string to_text(const RunCost& c);
[[nodiscard]] nlohmann::ordered_json to_json(const RunCost& c);

}  // namespace trainsim
