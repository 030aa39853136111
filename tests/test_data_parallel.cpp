// ZeRO-1 data parallelism in the step program (sim/parallel/data_parallel.cpp):
// the bytes of the gradient reduce-scatters and parameter all-gathers of a small
// DualPipe case against a count by hand, where the expert shards travel, and the
// optimizer's byte counts read from the workload file.
#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <vector>

#include "sim/config/load.hpp"
#include "sim/model/cost_model.hpp"
#include "sim/parallel/data_parallel.hpp"
#include "sim/parallel/schedule.hpp"
#include "sim/parallel/step_program.hpp"

using namespace trainsim;

namespace {

const std::string kRoot = TRAINSIM_SOURCE_DIR;

// DeepSeek-V3's recipe cut to 128 GPUs (16 nodes of 8): DualPipe over pp 2, dp 64,
// EP 32 (4 nodes), so each pipeline rank has two EP groups; 6 layers, 4 micro-batches.
std::vector<std::string> small_dualpipe_sets(std::vector<std::string> more = {}) {
  std::vector<std::string> sets = {"nodes=16",          "model.layers=6",           "model.moe.first_dense_layers=1",
                                   "parallelism.pp=2",  "parallelism.dp=64",        "parallelism.ep=32",
                                   "training.global_batch=256", "training.batch_ramp.start=256"};
  sets.insert(sets.end(), more.begin(), more.end());
  return sets;
}

struct Case {
  ClusterSpec cluster;
  WorkloadSpec workload;
};

Case load_case(const std::vector<std::string>& sets) {
  const auto o = parse_overrides(sets);
  Case c{load_cluster(kRoot + "/topologies/h800-2048.yaml", o), load_workload(kRoot + "/workloads/deepseek-v3.yaml", o)};
  check_workload_schedule(c.workload);
  check_workload_fits_cluster(c.workload, c.cluster);
  return c;
}

// The data-parallel collectives a task belongs to, by the task's name.
enum class Kind { dense_rs, expert_rs, dense_ag, expert_ag, other };
Kind kind_of(const std::string& name) {
  auto starts = [&](const char* prefix) { return name.rfind(prefix, 0) == 0; };
  if (starts("dp reduce-scatter")) return Kind::dense_rs;
  if (starts("dp expert reduce-scatter")) return Kind::expert_rs;
  if (starts("dp all-gather")) return Kind::dense_ag;
  if (starts("dp expert all-gather")) return Kind::expert_ag;
  return Kind::other;
}

}  // namespace

TEST_CASE("data parallel: gradient and AdamW byte counts come from training.optimizer", "[step][dp][config]") {
  // training.optimizer.gradient_bytes halves every gradient reduce-scatter when 4 → 2.
  auto rs_bytes = [](const std::vector<std::string>& more) {
    const Case c = load_case(small_dualpipe_sets(more));
    const StepProgram program =
        build_step_program(c.cluster, c.workload, c.workload.training.global_batch, Fidelity::full);
    double bytes = 0;
    for (std::size_t v = 0; v < boost::num_vertices(program.graph); ++v) {
      const StepTask& t = program.graph[v];
      const Kind k = kind_of(t.name);
      if (t.category == Category::dp && (k == Kind::dense_rs || k == Kind::expert_rs))
        for (const auto& tr : t.transfers) bytes += tr.bytes;
    }
    return bytes;
  };
  const double fp32 = rs_bytes({});
  const double bf16 = rs_bytes({"training.optimizer.gradient_bytes=2"});
  CHECK(bf16 == Approx(fp32 / 2).epsilon(1e-12));

  const Case c = load_case(small_dualpipe_sets());
  const OptimizerSpec& o = c.workload.training.optimizer;
  CHECK(o.gradient_bytes == 4);       // DeepSeek-V3 §3.3.3: FP32 gradients
  CHECK(o.master_weight_bytes == 4);  // FP32 master weights
  CHECK(o.moment_bytes == 2);         // BF16 AdamW moments
  CHECK(o.parameter_bytes == 2);      // BF16 working weights
  // AdamW reads gradient, master weight and both moments; writes master weight, both
  // moments and the working weight: 4 + 4 + 2·2 + 4 + 2·2 + 2 = 22 bytes per parameter.
  CHECK(step::adamw_bytes_per_param(o) == 22);
}

TEST_CASE("data parallel: the FP8 scale group comes from training.precision.fp8_scale_group", "[dp][config]") {
  const Case dflt = load_case(small_dualpipe_sets());
  CHECK(dflt.workload.training.fp8_scale_group == 128);  // DeepSeek-V3 §3.3.2: 1×128 tiles
  CHECK(dispatch_bytes_per_token_per_copy(dflt.workload) == 7168 + 56 * 4);
  const Case c = load_case(small_dualpipe_sets({"training.precision.fp8_scale_group=64"}));
  CHECK(dispatch_bytes_per_token_per_copy(c.workload) == 7168 + 112 * 4);
}
