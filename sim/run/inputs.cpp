#include "sim/run/inputs.hpp"

#include <stdexcept>
#include <string_view>

#include <fmt/format.h>

#include "sim/calibrate/step_calibration.hpp"
#include "sim/config/size_limits.hpp"
#include "sim/parallel/data_parallel.hpp"
#include "sim/parallel/moe_routing.hpp"
#include "sim/parallel/moe_routing_registry.hpp"
#include "sim/parallel/schedule.hpp"
#include "sim/topology/fabric_registry.hpp"
#include "sim/topology/fabrics/fabric_parts.hpp"

namespace trainsim {

ClusterSpec load_checked_cluster(const std::string& path, const std::vector<Override>& overrides) {
  ClusterSpec cluster = load_cluster(path, overrides);
  check_fabric(cluster);
  // The fabric's sizes, as the graph builder checks and computes them: an odd switch radix, or one
  // that cannot hold the GPUs, is refused here (check and run alike), not when the graph is built.
  try {
    fabric_parts::check_sizes(cluster);
    (void)fabric_named(cluster.network.fabric).shape(cluster);
  } catch (const std::invalid_argument& e) {
    std::string_view why = e.what();
    if (why.rfind("topology: ", 0) == 0) why.remove_prefix(10);
    throw InputError(cluster_mark(cluster, "network.switch_radix"), "network.switch_radix: " + std::string(why));
  }
  return cluster;
}

namespace {

// A symmetric step simulates one pipeline: every layer (MTP modules, embedding and head included) once per
// micro-batch and pass. Measured on the default case (`run --ramp-points 0`, 120 and 480 micro-batches x 64
// layers): about 15 KB and 0.5 ms per layer and micro-batch. Above a million (about 15 GB and 10 minutes;
// assumption: what a workstation holds) a step is refused before anything is built; the default case is 7,680.
// --allow-large raises it to 1e8 (1.5 TB, 14 hours: a big machine's memory), far below int overflow.
constexpr double kBytesPerLayerPass = 15e3;
constexpr double kSecondsPerLayerPass = 0.5e-3;
const SizeLimit kMaxLayerMicroBatches{1e6, 1e8};

void check_workload_size(const WorkloadSpec& w) {
  const double layers = static_cast<double>(w.model.layers) + w.model.mtp_depth + 2;
  const double micro_batches = static_cast<double>(w.training.global_batch) /
                               (static_cast<double>(w.parallelism.dp) * w.training.micro_batch);
  const double work = layers * micro_batches;
  if (work <= kMaxLayerMicroBatches.active()) return;
  const std::string figures =
      fmt::format("{} layers + {} MTP + 2 (embedding, head) = {:.0f} layers x {:.0f} micro-batches (global_batch {} / "
                  "(dp {} x micro_batch {})) = {:.3g} layer passes per pipeline, about {:.3g} GB and {:.3g} hours "
                  "(15 KB and 0.5 ms each); at most {:.0e} can be simulated{}",
                  w.model.layers, w.model.mtp_depth, layers, micro_batches, w.training.global_batch,
                  w.parallelism.dp, w.training.micro_batch, work, work * kBytesPerLayerPass / 1e9,
                  work * kSecondsPerLayerPass / 3600, kMaxLayerMicroBatches.active(),
                  size_limit_hint(kMaxLayerMicroBatches));
  // Name the larger factor's key: the layers (or MTP modules), else the batch.
  const char* key = "training.global_batch";
  if (layers > micro_batches) key = w.model.mtp_depth > w.model.layers ? "model.mtp_depth" : "model.layers";
  throw InputError(w.mark_of(key), std::string(key) + ": " + figures);
}

}  // namespace

WorkloadSpec load_checked_workload(const std::string& path, const std::vector<Override>& overrides) {
  WorkloadSpec workload = load_workload(path, overrides);
  check_workload_size(workload);  // first: the checks below build per-layer and per-micro-batch tables
  parallel::check_moe_routing(workload);
  check_workload_schedule(workload);
  check_workload_zero(workload);
  return workload;
}

Inputs load_inputs(const std::string& cluster_path, const std::string& workload_path,
                   const std::vector<Override>& overrides) {
  Inputs in{load_checked_cluster(cluster_path, overrides), load_checked_workload(workload_path, overrides)};
  check_workload_fits_cluster(in.workload, in.cluster);
  // Backstop: the routing's rules that run applies to each micro-batch, checked here, so that a layout the
  // routing cannot serve is an input error of check and run alike, never an internal error of run.
  if (in.workload.model.moe) {
    try {
      // No tokens: the same checks without the draw (a Zipf draw of a micro-batch takes seconds).
      parallel::MoeRoutingParams params = parallel::routing_params(in.workload, in.cluster.node.gpus);
      params.tokens = 0;
      (void)parallel::route_tokens(params);
    } catch (const std::invalid_argument& e) {
      throw InputError(in.workload.mark_of("model.moe.top_k"), std::string("model.moe: ") + e.what());
    }
  }
  (void)calibrate::load_step_calibration(in.cluster, in.workload);  // its files' errors at check time
  return in;
}

}  // namespace trainsim
