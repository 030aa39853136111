// trainsim net COLLECTIVE: one collective on the simulated network, NCCL-tests style.
// Ranks are the first N GPUs in order (node by node); --groups G runs G groups of N
// ranks side by side (group g = GPUs [g·N, (g+1)·N)).
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <limits>
#include <numeric>
#include <optional>
#include <stdexcept>

#include "sim/cli/commands.hpp"
#include "sim/config/error.hpp"
#include "sim/config/load.hpp"
#include "sim/config/units.hpp"
#include "sim/engine/platform.hpp"
#include "sim/engine/transfers.hpp"
#include "sim/model/cost_model.hpp"
#include "sim/parallel/collective_registry.hpp"
#include "sim/parallel/collectives.hpp"
#include "sim/parallel/moe_routing.hpp"
#include "sim/parallel/moe_routing_registry.hpp"

namespace trainsim::cli {
namespace {

constexpr double kGB = 1e9;  // GB/s as NCCL-tests and DeepEP print them

struct NetOptions {
  ConfigOptions config;
  std::string collective;
  std::string algorithm;  // empty: the collective's default
  bool list = false;
  int ranks = 8;
  int groups = 1;
  std::string size = "1GiB";
  std::optional<int> tokens, hidden, top_k, experts, max_nodes;
  std::optional<Precision> dispatch_precision, combine_precision;
  std::optional<std::string> routing;
  std::optional<double> zipf_exponent;
  std::optional<unsigned> seed;
  bool build_only = false;
};

SourceMark flag(const std::string& name) { return {"--" + name, 0, 0}; }

// A byte count in decimal units (1 kB = 1000 B, 1 MB = 1e6 B, 1 GB = 1e9 B), the
// convention of the GB/s figures beside it: "1.07 GB".
std::string readable_bytes(double bytes) {
  static constexpr std::pair<double, const char*> kUnits[] = {{1e12, "TB"}, {1e9, "GB"}, {1e6, "MB"}, {1e3, "kB"}};
  for (const auto& [scale, unit] : kUnits)
    if (bytes >= scale) return fmt::format("{:.3g} {}", bytes / scale, unit);
  return fmt::format("{:.0f} B", bytes);
}

// The first of `flags` the user typed, else --ranks: with no MoE flag typed, the
// workload's values broke a rule only through the EP group size --ranks sets.
SourceMark typed_flag(std::initializer_list<std::pair<const char*, bool>> flags) {
  for (const auto& [name, typed] : flags)
    if (typed) return flag(name);
  return flag("ranks");
}

// route_tokens' rules on the MoE flags, each error naming the flag that was typed
// (route_tokens' own error would name --ranks for all of them).
void check_routing_flags(const NetOptions& o, const parallel::MoeRoutingParams& p, int hidden) {
  if (p.ranks % p.ranks_per_node != 0)
    throw InputError(flag("ranks"), fmt::format("{} ranks must be a multiple of the {} GPUs per node (ranks are taken node by node)",
                                                p.ranks, p.ranks_per_node));
  if (p.tokens < 1)
    throw InputError(typed_flag({{"tokens", o.tokens.has_value()}}), fmt::format("must be at least 1 token per rank, got {}", p.tokens));
  if (hidden < 1) throw InputError(typed_flag({{"hidden", o.hidden.has_value()}}), fmt::format("must be at least 1, got {}", hidden));
  if (p.top_k < 1) throw InputError(typed_flag({{"top-k", o.top_k.has_value()}}), fmt::format("must be at least 1, got {}", p.top_k));
  if (p.experts < 1 || p.experts % p.ranks != 0)
    throw InputError(typed_flag({{"experts", o.experts.has_value()}}),
                     fmt::format("{} routed experts must be a positive multiple of the {} ranks", p.experts, p.ranks));
  if (p.top_k > p.experts)
    throw InputError(typed_flag({{"top-k", o.top_k.has_value()}, {"experts", o.experts.has_value()}}),
                     fmt::format("top-k {} exceeds the {} routed experts", p.top_k, p.experts));
  if (p.max_nodes < 0)
    throw InputError(flag("max-nodes"), fmt::format("must be at least 0 (0: no limit), got {}", p.max_nodes));
}

// The registered collectives and routing kinds, for `trainsim net --list`.
int list_collectives() {
  std::cout << "collectives (trainsim net COLLECTIVE; --algorithm picks a variant, the first is the default):\n";
  for (const parallel::CollectiveKind& k : parallel::collective_kinds()) {
    std::cout << fmt::format("  {:<15}{:<20}{}\n", k.name, fmt::format("{}", fmt::join(k.algorithms, ", ")),
                             k.description);
  }
  std::cout << "MoE routing kinds (--routing, model.moe.routing):\n";
  for (const parallel::MoeRoutingKind* k : parallel::moe_routing_kinds())
    std::cout << fmt::format("  {:<15}{}\n", k->name, k->description);
  return 0;
}

// A MoE flag on a collective that routes no tokens would be ignored: refused, naming the first one typed.
void refuse_moe_flags(const NetOptions& o) {
  const std::pair<const char*, bool> moe_flags[] = {
      {"tokens", o.tokens.has_value()},         {"hidden", o.hidden.has_value()},
      {"top-k", o.top_k.has_value()},           {"experts", o.experts.has_value()},
      {"max-nodes", o.max_nodes.has_value()},   {"dispatch-precision", o.dispatch_precision.has_value()},
      {"combine-precision", o.combine_precision.has_value()}, {"routing", o.routing.has_value()},
      {"zipf-exponent", o.zipf_exponent.has_value()},         {"seed", o.seed.has_value()}};
  std::vector<std::string> routed;
  for (const parallel::CollectiveKind& k : parallel::collective_kinds())
    if (k.routed) routed.push_back(k.name);
  for (const auto& [name, typed] : moe_flags)
    if (typed)
      throw InputError(flag(name), fmt::format("applies only to the MoE collectives ({}); {} routes no tokens and "
                                               "would ignore it",
                                               fmt::join(routed, ", "), o.collective));
}

int run_net(const NetOptions& o) {
  if (o.list) return list_collectives();
  const parallel::CollectiveKind& kind = parallel::collective_named(o.collective, {"collective", 0, 0});
  if (!kind.routed) refuse_moe_flags(o);
  if (o.routing) (void)parallel::moe_routing_named(*o.routing, flag("routing"));
  // Only a MoE collective reads the workload (its routing defaults).
  const auto overrides = kind.routed ? parse_overrides(o.config.set_args)
                                     : overrides_read_by(o.config, "net " + o.collective, FilesRead::cluster);
  const ClusterSpec cluster = load_checked_cluster(o.config.cluster_path, overrides);
  const int gpus = cluster.num_gpus();

  if (o.build_only) {
    const auto t0 = std::chrono::steady_clock::now();
    auto& sim = engine::Simulator::create(cluster);
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::cout << fmt::format("platform: {} GPUs, {} directed links, built in {:.3f} s (wall)\n", sim.num_gpus(),
                             sim.num_links(), wall);
    return 0;
  }

  if (o.ranks < 2) throw InputError(flag("ranks"), "needs at least 2 ranks");
  if (o.groups < 1) throw InputError(flag("groups"), "needs at least 1 group");
  if (static_cast<long long>(o.ranks) * o.groups > gpus)
    throw InputError(flag("ranks"), fmt::format("{} groups of {} ranks need {} GPUs; the cluster has {}", o.groups,
                                                o.ranks, static_cast<long long>(o.ranks) * o.groups, gpus));
  double bytes = 0;
  try {
    bytes = units::memory_bytes(o.size);
  } catch (const std::invalid_argument& e) {
    throw InputError(flag("size"), e.what());
  }
  // At least one byte (a zero-size collective prints 0 GB/s), at most 10 TB per rank (beyond any GPU's memory).
  if (!(bytes >= 1 && bytes <= 1e13))
    throw InputError(flag("size"), "must be in [1 B, 10 TB] per rank, got " + o.size);
  const bool moe = kind.routed;
  const std::string algorithm = parallel::collective_algorithm(kind, o.algorithm, flag("algorithm"));

  // MoE routing: defaults from the workload, explicit flags win.
  std::optional<parallel::MoeRouting> routing;
  double token_bytes = 0;
  parallel::MoeRoutingParams params;
  int hidden = 0;
  if (moe) {
    const WorkloadSpec workload = load_checked_workload(o.config.workload_path, overrides);
    params = parallel::routing_params(workload, cluster.node.gpus);
    hidden = workload.model.hidden;
    params.ranks = o.ranks;
    params.ranks_per_node = std::min(cluster.node.gpus, o.ranks);
    if (o.tokens) params.tokens = *o.tokens;
    if (o.hidden) hidden = *o.hidden;
    if (o.top_k) params.top_k = *o.top_k;
    if (o.experts) params.experts = *o.experts;
    if (o.max_nodes) params.max_nodes = *o.max_nodes;
    if (o.routing) params.routing = *o.routing;
    if (o.zipf_exponent) params.zipf_exponent = *o.zipf_exponent;
    if (o.seed) params.seed = *o.seed;
    check_routing_flags(o, params, hidden);
    try {
      routing = parallel::route_tokens(params);
    } catch (const std::invalid_argument& e) {
      throw InputError(typed_flag({{"top-k", o.top_k.has_value()}, {"max-nodes", o.max_nodes.has_value()}}), e.what());
    }
    token_bytes = o.collective == "dispatch"
                      ? all_to_all_bytes_per_token(hidden, o.dispatch_precision.value_or(workload.training.dispatch),
                                                   AllToAllLeg::dispatch, workload.training.fp8_scale_group)
                      : all_to_all_bytes_per_token(hidden, o.combine_precision.value_or(workload.training.combine),
                                                   AllToAllLeg::combine, workload.training.fp8_scale_group);
  }

  const parallel::CollectiveRequest request{algorithm, cluster.node.gpus, bytes, routing ? &*routing : nullptr,
                                            token_bytes};
  std::vector<parallel::CollectivePlan> plans;
  for (int g = 0; g < o.groups; ++g) {
    std::vector<int> group(static_cast<std::size_t>(o.ranks));
    std::iota(group.begin(), group.end(), g * o.ranks);
    try {
      plans.push_back(kind.plan(group, request));
    } catch (const std::invalid_argument& e) {
      throw InputError(flag("ranks"), e.what());
    }
  }
  const auto plan = parallel::side_by_side(plans);

  auto& sim = engine::Simulator::create(cluster);
  const auto timing = engine::run_plan(sim, plan);
  const double t = timing.seconds;
  const auto load = engine::busiest_link(sim, plan, timing);
  const double total = plan.total_bytes();
  double received = 0;
  for (const auto& [gpu, b] : plan.bytes_received_by_gpu()) received += b;
  const double algbw = t > 0 ? plan.payload_bytes / t : 0;
  const double busbw = algbw * plan.bus_factor;
  std::optional<engine::PortBytes> ports;
  if (moe) ports = engine::busiest_ports(sim, plan);

  if (o.config.format == "json") {
    nlohmann::json j;
    j["collective"] = o.collective;
    j["algorithm"] = algorithm;
    j["cluster"] = cluster.name;
    j["fabric"] = cluster.network.fabric;
    j["ranks"] = o.ranks;
    j["groups"] = o.groups;
    j["size_bytes"] = plan.payload_bytes;
    j["time_s"] = t;
    j["algbw_GBps"] = algbw / kGB;
    j["busbw_GBps"] = busbw / kGB;
    j["bytes_sent"] = total;
    j["bytes_received"] = received;
    j["transfers"] = plan.transfer_count();
    j["phases"] = plan.phases.size();
    j["busiest_link"] = {{"kind", to_string(load.kind)}, {"utilisation", load.utilisation}};
    if (moe) {
      j["tokens"] = params.tokens;
      j["hidden"] = hidden;
      j["top_k"] = params.top_k;
      j["experts"] = params.experts;
      j["max_nodes"] = params.max_nodes;
      j["routing"] = params.routing;
      j["bytes_per_token"] = token_bytes;
      j["rdma_GBps"] = ports->nic_bytes / t / kGB;
      j["nvlink_GBps"] = ports->nvlink_bytes / t / kGB;
    }
    std::cout << j.dump(2) << '\n';
    return 0;
  }
  std::cout << fmt::format("{} ({}) on {} [{}]: {} ranks x {} group(s), {} transfers in {} phase(s)\n", o.collective,
                           algorithm, cluster.name, cluster.network.fabric, o.ranks, o.groups,
                           plan.transfer_count(), plan.phases.size());
  if (moe)
    std::cout << fmt::format("  tokens {} per rank, hidden {}, top-{} of {} experts, max {} nodes, {} routing, {} per token copy\n",
                             params.tokens, hidden, params.top_k, params.experts, params.max_nodes,
                             params.routing, readable_bytes(token_bytes));
  std::cout << fmt::format("  size (S)        {} per rank ({:.0f} B)\n", readable_bytes(plan.payload_bytes),
                           plan.payload_bytes);
  std::cout << fmt::format("  time            {:.3f} us\n", t * 1e6);
  std::cout << fmt::format("  algbw           {:.2f} GB/s\n", algbw / kGB);
  std::cout << fmt::format("  busbw           {:.2f} GB/s\n", busbw / kGB);
  std::cout << fmt::format("  bytes sent      {} (received {}), all ranks\n", readable_bytes(total),
                           readable_bytes(received));
  if (moe) {
    std::cout << fmt::format("  rdma_GBps       {:.2f} GB/s (busiest NIC)\n", ports->nic_bytes / t / kGB);
    std::cout << fmt::format("  nvlink_GBps     {:.2f} GB/s (busiest NVLink port)\n", ports->nvlink_bytes / t / kGB);
  }
  std::cout << fmt::format("  busiest link    {} at {:.1f}% of its bandwidth\n", to_string(load.kind),
                           100 * load.utilisation);
  return 0;
}

}  // namespace

void register_net(CLI::App& app, Action& action) {
  auto opts = std::make_shared<NetOptions>();
  auto* cmd = app.add_subcommand("net", "Simulate one collective on the cluster network (NCCL-tests style)");
  cmd->add_option("collective", opts->collective,
                  fmt::format("Collective: {} (see --list)", fmt::join(parallel::collective_names(), ", ")));
  cmd->add_flag("--list", opts->list, "List the collectives, their algorithms and the MoE routing kinds");
  add_config_options(*cmd, opts->config, {"text", "json"});
  cmd->add_option("--ranks", opts->ranks,
                  "Ranks per group: the first N GPUs, node by node (p2p: first → last) (default 8)");
  cmd->add_option("--groups", opts->groups, "Groups of N ranks running side by side (default 1)");
  cmd->add_option("--size", opts->size,
                  "S with a unit (e.g. 1GiB, 256MB): NCCL-tests size (default 1GiB); printed in decimal units "
                  "(1 GB = 1e9 B), like the GB/s figures");
  cmd->add_option("--algorithm", opts->algorithm, "Algorithm variant of the collective (see --list; default: its first)");
  cmd->add_option("--tokens", opts->tokens, "MoE: tokens per rank (default: the workload's micro-batch tokens)");
  cmd->add_option("--hidden", opts->hidden, "MoE: hidden size (default: the workload's model.hidden)");
  cmd->add_option("--top-k", opts->top_k, "MoE: routed experts per token (default: the workload's)");
  cmd->add_option("--experts", opts->experts, "MoE: routed experts in the EP group (default: the workload's)");
  cmd->add_option("--max-nodes", opts->max_nodes, "MoE: node limit per token (0 = none; default: the workload's)");
  with_names(cmd->add_option("--dispatch-precision", opts->dispatch_precision,
                             "MoE: dispatch payload precision (default: the workload's)"),
             precision_names());
  with_names(cmd->add_option("--combine-precision", opts->combine_precision,
                             "MoE: combine payload precision (default: the workload's)"),
             precision_names());
  cmd->add_option("--routing", opts->routing,
                  fmt::format("MoE: routing kind, {} (see --list; default: the workload's)", fmt::join(parallel::moe_routing_names(), ", ")));
  cmd->add_option("--zipf-exponent", opts->zipf_exponent, "MoE: Zipf exponent of expert popularity (default: the workload's)");
  cmd->add_option("--seed", opts->seed, "MoE: seed of the zipf routing (default: the workload's)")
      ->check(seed_value(std::numeric_limits<unsigned>::max()));
  // Hidden: build the platform and exit (platform build benchmark).
  cmd->add_flag("--build-only", opts->build_only, "")->group("");
  cmd->callback([&action, opts] {
    if (!opts->list && opts->collective.empty()) throw CLI::RequiredError("collective");
    action = [opts]() -> int { return run_net(*opts); };
  });
}

}  // namespace trainsim::cli
