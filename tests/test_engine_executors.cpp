// Issue 14: the actor-based executor (one SimGrid actor per GPU) against today's maestro
// executor, the reference: the same program must give the same step time, every task
// the same start and end, every GPU the same energy and every link the same bytes; or,
// where flows that start at one instant share links, results inside the band the
// reference itself spans when those flows start in other orders.
// Each run is a child process (one SimGrid engine per process).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "sim/engine/step_executor.hpp"
#include "sim/parallel/step_program.hpp"
#include "sim/run/process_pool.hpp"
#include "sim/run/simulate_run.hpp"
#include "tests/support.hpp"

namespace test_engine_executors {

using namespace trainsim;

namespace {

struct Outcome {
  double makespan = 0;
  std::vector<double> start, end;  // by task
  std::vector<double> energy_j;    // by simulated GPU
  std::vector<double> link_bytes;  // audited links: index, bytes, peak load, in turn
};

// Runs `program` on `cluster` with `executor` in a child process.
// flow_order_seed: ExecuteOptions' (reference only).
Outcome run(const ClusterSpec& cluster, const StepProgram& program, engine::Executor executor, bool audit_links,
            std::uint64_t flow_order_seed = 0) {
  const std::size_t n = num_vertices(program.graph);
  const auto numbers = run_isolated([&] {
    const auto x = engine::execute_step(
        cluster, program, {.audit_links = audit_links, .executor = executor, .flow_order_seed = flow_order_seed});
    std::vector<double> out{x.makespan_s, static_cast<double>(x.gpu_energy_j.size())};
    for (const auto& t : x.tasks) out.insert(out.end(), {t.start_s, t.end_s});
    out.insert(out.end(), x.gpu_energy_j.begin(), x.gpu_energy_j.end());
    for (const auto& l : x.links) out.insert(out.end(), {static_cast<double>(l.link), l.bytes, l.peak_load_bytes_per_s});
    return out;
  });
  REQUIRE(numbers.size() >= 2 + 2 * n);
  Outcome o;
  o.makespan = numbers[0];
  const auto gpus = static_cast<std::size_t>(numbers[1]);
  for (std::size_t v = 0; v < n; ++v) {
    o.start.push_back(numbers[2 + 2 * v]);
    o.end.push_back(numbers[3 + 2 * v]);
  }
  const auto energy_at = static_cast<long>(2 + 2 * n);
  o.energy_j.assign(numbers.begin() + energy_at, numbers.begin() + energy_at + static_cast<long>(gpus));
  o.link_bytes.assign(numbers.begin() + energy_at + static_cast<long>(gpus), numbers.end());
  return o;
}

// Both executors on one program: equal to the last bits a different clock origin moves.
void require_same(const ClusterSpec& cluster, const StepProgram& program, bool audit_links) {
  const Outcome ref = run(cluster, program, engine::Executor::reference, audit_links);
  const Outcome act = run(cluster, program, engine::Executor::actors, audit_links);
  REQUIRE(ref.makespan > 0);
  REQUIRE(act.makespan == Approx(ref.makespan).epsilon(1e-12));
  REQUIRE(act.start.size() == ref.start.size());
  for (std::size_t v = 0; v < ref.start.size(); ++v) {
    INFO("task " << v << " " << program.graph[v].name);
    REQUIRE(act.start[v] == Approx(ref.start[v]).epsilon(1e-12).margin(1e-15));
    REQUIRE(act.end[v] == Approx(ref.end[v]).epsilon(1e-12).margin(1e-15));
  }
  REQUIRE(act.energy_j.size() == ref.energy_j.size());
  for (std::size_t g = 0; g < ref.energy_j.size(); ++g) REQUIRE(act.energy_j[g] == Approx(ref.energy_j[g]).epsilon(1e-12));
  // Links: the same links are audited. Their bytes and peaks come from SimGrid's
  // link-load plugin, which samples each link's load at flow events; the actors start
  // the flows of one instant over several scheduling rounds, so its samples differ
  // (on the hand-made program up to 7.6 % on one link, the plugin's known gap against
  // the bytes routed being up to 3.4 % under the reference, see test_invariants.cpp):
  // reported, not asserted.
  REQUIRE(act.link_bytes.size() == ref.link_bytes.size());
  double worst = 0;
  for (std::size_t i = 0; i < ref.link_bytes.size(); i += 3) {
    REQUIRE(act.link_bytes[i] == ref.link_bytes[i]);
    worst = std::max(worst, std::abs(act.link_bytes[i + 1] / ref.link_bytes[i + 1] - 1));
  }
  if (!ref.link_bytes.empty()) WARN("link bytes (plugin), actors vs reference: max relative gap " << worst);
}

StepTask compute(const std::string& name, int gpu, double seconds, double seconds_sm_shared = 0) {
  StepTask t;
  t.name = name;
  t.category = Category::mlp;
  t.gpu = gpu;
  t.seconds = seconds;
  t.seconds_sm_shared = seconds_sm_shared;
  return t;
}


std::size_t add(StepProgram& p, StepTask t) { return test::add_task(p, std::move(t)); }
using test::all_to_all;
using test::transfer;


// 16 GPUs on 2 nodes: computes slowed by communication SMs, all-to-alls that start while
// they run (so compute rates change mid-task), successors on other GPUs (doorbells),
// a pipeline chain across the nodes, and a self transfer that moves nothing.
StepProgram crossing_program() {
  const int gpus = 16;
  StepProgram p;
  p.num_gpus = gpus;
  for (int g = 0; g < gpus; ++g) p.simulated_gpus.push_back(g);
  std::vector<std::size_t> first(gpus), second(gpus), last(gpus);
  for (int g = 0; g < gpus; ++g) first[g] = add(p, compute("a" + std::to_string(g), g, 0.01 + 0.001 * g, 0.0125 + 0.0012 * g));
  const auto a2a = add(p, transfer("a2a", all_to_all(gpus, 0, 20e6)));
  test::add_dependency(p, first[0], a2a);  // starts while GPUs 1-15 still compute
  for (int g = 0; g < gpus; ++g) {
    second[g] = add(p, compute("b" + std::to_string(g), g, 0.004, 0.005));
    test::add_dependency(p, a2a, second[g]);
  }
  std::size_t prev = second[0];
  for (int g = 0; g + 1 < gpus; ++g) {
    const auto send = add(p, transfer("p" + std::to_string(g), {{g, g + 1, 50e6 + 1e6 * g}, {g, g, 1e6}}));
    test::add_dependency(p, prev, send);
    test::add_dependency(p, second[g + 1], send);
    last[g + 1] = add(p, compute("c" + std::to_string(g + 1), g + 1, 0.002, 0.003));
    test::add_dependency(p, send, last[g + 1]);
    prev = last[g + 1];
  }
  const auto a2a2 = add(p, transfer("a2a-again", all_to_all(8, 8, 5e6)));
  for (int g = 1; g < gpus; ++g) test::add_dependency(p, last[g], a2a2);
  // Runs beside the second all-to-all on GPU 3 (outside it): its own rate, no replacement.
  const auto tail = add(p, compute("tail", 3, 0.003, 0.004));
  test::add_dependency(p, last[15], tail);
  return p;
}

const std::vector<std::string> kCut128 = {"nodes=16",          "model.layers=6", "model.moe.first_dense_layers=1",
                                          "parallelism.pp=2",  "parallelism.dp=64", "training.global_batch=256",
                                          "training.batch_ramp.start=256"};

void require_same_full_step(std::vector<std::string> sets) {
  const auto c = test::load_default_case(sets);
  const auto program = build_step_program(c.cluster, c.workload, c.workload.training.global_batch, Fidelity::full);
  REQUIRE(program.simulated_gpus.size() == 128);
  require_same(c.cluster, program, false);
}

}  // namespace

// The reference in program order and with each task's flows started in `orders` other
// orders; every number of `act` must lie between the lowest and the highest the reference
// gives, and the band must be real (some number of the reference moves with the order).
void require_inside_start_order_band(const ClusterSpec& cluster, const StepProgram& program, const Outcome& act,
                                     int orders) {
  std::vector<Outcome> refs{run(cluster, program, engine::Executor::reference, false)};
  for (int seed = 1; seed <= orders; ++seed)
    refs.push_back(run(cluster, program, engine::Executor::reference, false, static_cast<std::uint64_t>(seed)));
  bool band = false;
  auto inside = [&](double value, auto of) {
    double lo = of(refs.front()), hi = lo;
    for (const Outcome& r : refs) {
      lo = std::min(lo, of(r));
      hi = std::max(hi, of(r));
    }
    band = band || hi > lo;
    const double slack = 1e-12 * std::max(std::abs(lo), std::abs(hi)) + 1e-15;
    REQUIRE(value >= lo - slack);
    REQUIRE(value <= hi + slack);
  };
  inside(act.makespan, [](const Outcome& o) { return o.makespan; });
  for (std::size_t v = 0; v < act.start.size(); ++v) {
    INFO("task " << v << " " << program.graph[v].name);
    inside(act.start[v], [v](const Outcome& o) { return o.start[v]; });
    inside(act.end[v], [v](const Outcome& o) { return o.end[v]; });
  }
  for (std::size_t g = 0; g < act.energy_j.size(); ++g)
    inside(act.energy_j[g], [g](const Outcome& o) { return o.energy_j[g]; });
  REQUIRE(band);
}

TEST_CASE("engine executors: a hand-made program with comm-SM rate changes and doorbells: the actors inside the "
          "reference's start-order band",
          "[engine][executors]") {
  // Unequal all-to-alls on shared links: flows that start at one instant end in an order
  // that depends on the order SimGrid 3.32 was given them (over 40 orders of each task's
  // flows the reference's step takes four values, 60.22 to 60.78 ms, and the first
  // all-to-all's end 16.78 to 17.33 ms; so did the reference before compute tasks became
  // timers). The actors create flows over scheduling rounds, in actor order, so they are
  // held to that band, not to one order's bits (the DeepSeek-V3 cuts below are).
  const StepProgram p = crossing_program();
  const ClusterSpec cluster = test::h800_like_cluster(2);
  const Outcome act = run(cluster, p, engine::Executor::actors, true);
  require_inside_start_order_band(cluster, p, act, 32);
  // And its shape is what the program says: the first all-to-all starts when a0 ends,
  // each b starts when it ends, and the chain runs in order.
  REQUIRE(act.start[16] == Approx(0.01).epsilon(1e-9));
  for (std::size_t g = 0; g < 16; ++g) REQUIRE(act.start[17 + g] == act.end[16]);
  // GPU 0's flows to the other node all cross its NIC (40 GB/s as simulated): a lower bound.
  double off_node_bytes = 0;
  for (const auto& f : p.graph[16].transfers)
    if (f.src_gpu == 0 && f.dst_gpu >= 8) off_node_bytes += f.bytes;
  REQUIRE(act.end[16] - act.start[16] >= off_node_bytes / 40e9);
}

TEST_CASE("engine executors: a lone flow ends at its closed form under the actors", "[engine][executors]") {
  // compute 1 ms on GPU 0, then 16 MB from GPU 0 to GPU 9 (another node: NVLink, NIC,
  // leaf switch, NIC, NVLink... per the route), then 1 ms on GPU 9.
  StepProgram p;
  p.num_gpus = 16;
  p.simulated_gpus = {0, 9};
  const auto a = add(p, compute("a", 0, 1e-3));
  const auto t = add(p, transfer("t", {{0, 9, 16e6}}));
  const auto b = add(p, compute("b", 9, 1e-3));
  test::add_dependency(p, a, t);
  test::add_dependency(p, t, b);
  const ClusterSpec cluster = test::h800_like_cluster(2);
  const auto numbers = run_isolated([&] {
    const auto x = engine::execute_step(cluster, p, {.executor = engine::Executor::actors});
    const auto& sim = engine::Simulator::get();
    return std::vector<double>{x.makespan_s, x.tasks[t].start_s, x.tasks[t].end_s, sim.route_latency_s(0, 9),
                               sim.route_bandwidth_bytes_per_s(0, 9)};
  });
  const double latency = numbers[3], bandwidth = numbers[4];
  REQUIRE(bandwidth == Approx(40e9));  // the NIC at 80 % of 50 GB/s
  REQUIRE(numbers[1] == Approx(1e-3).epsilon(1e-12));
  REQUIRE(numbers[2] == Approx(1e-3 + latency + 16e6 / bandwidth).epsilon(1e-9));
  REQUIRE(numbers[0] == Approx(2e-3 + latency + 16e6 / bandwidth).epsilon(1e-9));
}

TEST_CASE("engine executors: the 128-GPU DeepSeek-V3 cut in full fidelity runs alike on both",
          "[engine][executors]") {
  require_same_full_step(kCut128);
}

TEST_CASE("engine executors: an oversubscribed 4 to 1 fat-tree (shared uplinks) in full fidelity runs alike on both",
          "[engine][executors]") {
  auto sets = kCut128;
  sets.insert(sets.end(), {"network.fabric=fat-tree", "network.planes=1", "network.oversubscription=4"});
  require_same_full_step(sets);
}

TEST_CASE("engine executors: TRAINSIM_EXECUTOR picks the executor, and refuses another name", "[engine][executors]") {
  const std::string args =
      "run --format json --ramp-points 0 --set cluster.nodes=16 --set workload.model.layers=6 "
      "--set workload.model.moe.first_dense_layers=1 --set workload.parallelism.pp=2 --set workload.parallelism.dp=64 "
      "--set workload.training.global_batch=256 --set workload.training.batch_ramp.start=256";
  // Standard output only where the outputs are compared: under AddressSanitizer the actors'
  // stack switches make ASan print a warning on stderr.
  auto with = [&](const std::string& executor, const std::string& redirect = " 2>/dev/null") {
    return test::run_command("cd '" + std::string(TRAINSIM_SOURCE_DIR) + "' && TRAINSIM_EXECUTOR=" + executor + " '" +
                             test::trainsim_exe() + "' " + args + redirect);
  };
  const auto reference = with("reference");
  const auto actors = with("actors");
  REQUIRE(reference.status == 0);
  REQUIRE(actors.status == 0);
  REQUIRE(actors.output == reference.output);
  const auto bad = with("fast", " 2>&1");
  REQUIRE(bad.status != 0);
  REQUIRE(bad.output.find("TRAINSIM_EXECUTOR=fast: expected actors or reference") != std::string::npos);
}

// Sets TRAINSIM_EXECUTOR (empty optional: unsets it) for one scope, then restores it.
struct ExecutorEnv {
  std::optional<std::string> before;
  explicit ExecutorEnv(const std::optional<std::string>& value) {
    if (const char* old = std::getenv("TRAINSIM_EXECUTOR")) before = old;
    if (value)
      setenv("TRAINSIM_EXECUTOR", value->c_str(), 1);
    else
      unsetenv("TRAINSIM_EXECUTOR");
  }
  ~ExecutorEnv() {
    if (before)
      setenv("TRAINSIM_EXECUTOR", before->c_str(), 1);
    else
      unsetenv("TRAINSIM_EXECUTOR");
  }
  ExecutorEnv(const ExecutorEnv&) = delete;
  ExecutorEnv& operator=(const ExecutorEnv&) = delete;
};

TEST_CASE("engine executors: the actors run full fidelity and the reference symmetric unless TRAINSIM_EXECUTOR says",
          "[engine][executors]") {
  {
    const ExecutorEnv unset(std::nullopt);
    REQUIRE(engine::default_executor(Fidelity::full) == engine::Executor::actors);
    REQUIRE(engine::default_executor(Fidelity::symmetric) == engine::Executor::reference);
  }
  {
    const ExecutorEnv reference(std::string("reference"));
    REQUIRE(engine::default_executor(Fidelity::full) == engine::Executor::reference);
  }
  {
    const ExecutorEnv actors(std::string("actors"));
    REQUIRE(engine::default_executor(Fidelity::symmetric) == engine::Executor::actors);
  }
}

TEST_CASE("engine executors: the full-fidelity cost estimate follows the executor and network model that run",
          "[engine][executors]") {
  MemoryEstimate need;
  need.bytes = 1e9;
  need.tasks = 1e6;
  need.transfers = 1e7;
  const auto balanced = test::load_default_case({}).workload;
  const auto skewed = test::load_default_case({"model.moe.routing=zipf", "model.moe.zipf_exponent=1.0"}).workload;
  const double growth = 1e7 / 3.21e6;
  const auto per_pair = engine::NetworkModel::per_pair, bundled = engine::NetworkModel::bundled;
  {
    const ExecutorEnv unset(std::nullopt);
    // Per-pair flows: the actors, 3.55 s at 3.21e6 flows, as flows^1.34.
    const RunCostEstimate cost = estimate_full_fidelity_cost(need, balanced, per_pair);
    REQUIRE(cost.cpu_s == Approx(3.55 * std::pow(growth, 1.34)).epsilon(1e-12));
    REQUIRE(cost.peak_bytes == Approx(1e9).epsilon(1e-12));
    // Bundled, balanced all-to-alls: bundles on the reference, 0.230 s plus 0.357 s per
    // 3.21e6 flows plus 0.00373 s per (3.21e6 flows)^2 (SimGrid's list walk and solver).
    REQUIRE(estimate_full_fidelity_cost(need, balanced, bundled).cpu_s ==
            Approx(0.230 + 0.357 * growth + 0.00373 * growth * growth).epsilon(1e-12));
    // Bundled, skewed: few bundles, the actors as with per-pair flows.
    REQUIRE(estimate_full_fidelity_cost(need, skewed, bundled).cpu_s == Approx(cost.cpu_s).epsilon(1e-12));
  }
  {
    const ExecutorEnv reference(std::string("reference"));  // 2.42 s at 3.21e6 flows, as flows^1.74
    REQUIRE(estimate_full_fidelity_cost(need, balanced, per_pair).cpu_s ==
            Approx(2.42 * std::pow(growth, 1.74)).epsilon(1e-12));
    REQUIRE(estimate_full_fidelity_cost(need, balanced, bundled).cpu_s ==
            Approx(0.230 + 0.357 * growth + 0.00373 * growth * growth).epsilon(1e-12));
  }
  {
    const ExecutorEnv actors(std::string("actors"));  // bundles on the actors: not measured; as per-pair
    REQUIRE(estimate_full_fidelity_cost(need, balanced, bundled).cpu_s ==
            Approx(3.55 * std::pow(growth, 1.34)).epsilon(1e-12));
  }
}

TEST_CASE("engine executors: a progress report comes in order and ends with every task done",
          "[engine][executors]") {
  const auto c = test::load_default_case(kCut128);
  const ClusterSpec& cluster = c.cluster;
  const StepProgram p = build_step_program(cluster, c.workload, c.workload.training.global_batch, Fidelity::full);
  const auto tasks = static_cast<double>(num_vertices(p.graph));
  const auto numbers = run_isolated([&] {
    std::vector<double> reports;  // done, total, simulated seconds: per report
    engine::set_progress_report([&reports](double simulated_s, std::size_t done, std::size_t total) {
      reports.insert(reports.end(), {static_cast<double>(done), static_cast<double>(total), simulated_s});
    });
    const auto x = engine::execute_step(cluster, p);
    engine::set_progress_report({});
    reports.push_back(x.makespan_s);
    return reports;
  });
  REQUIRE(numbers.size() >= 4);
  const std::size_t last = numbers.size() - 4;
  REQUIRE(numbers[last] == tasks);      // the final report: every task done
  REQUIRE(numbers[last + 1] == tasks);
  REQUIRE(numbers[last + 2] == numbers.back());  // at the step's end
  for (std::size_t i = 0; i < last; i += 3) {
    REQUIRE(numbers[i] < tasks);  // earlier ones: part done, in order
    REQUIRE(numbers[i + 2] <= numbers.back());
    if (i > 0) REQUIRE(numbers[i] >= numbers[i - 3]);
  }
}

TEST_CASE("engine executors: run prints its estimate and progress on a terminal only", "[engine][executors]") {
  const auto [piped, on_terminal] = test::run_trainsim_off_and_on_terminal(
      "run --format json --ramp-points 0 --fidelity full --allow-oversubscribed-memory " + test::kCut128Sets);
  REQUIRE(piped.status == 0);
  REQUIRE(piped.output.find("trainsim:") == std::string::npos);
  REQUIRE(on_terminal.status == 0);
  REQUIRE(on_terminal.output.find("trainsim: full fidelity, 128 GPUs:") != std::string::npos);
  REQUIRE(on_terminal.output.find("CPU-s and") != std::string::npos);
}

}  // namespace test_engine_executors
