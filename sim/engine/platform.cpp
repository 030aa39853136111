// The SimGrid platform, built in code from the cluster graph (never from XML).
//
// Routing choice. SimGrid 3.32's stock zones either store routes (Full/Floyd: an N×N
// table, 16,384² entries at full scale), search them (Dijkstra: slow, cached tables), or
// impose their own wiring (FatTreeZone: one fat-tree, no multi-plane fabric with NVLink
// forwarding between planes, no rails). The installed kernel header
// simgrid/kernel/routing/NetZoneImpl.hpp lets a subclass answer `get_local_route`, so the
// platform is ONE flat zone (GraphZone) holding a host per GPU and two links per graph
// edge (one per direction: full duplex), whose routes are computed on the fly by the
// topology's deterministic up–down route() in O(hops). Memory is O(GPUs + edges), and
// the routes are exactly those the rest of trainsim reasons about. Switches need no
// SimGrid object: a route is a list of links, and a switch's traversal latency is folded
// into the link that leaves it.
//
// Network model: an ideal fluid model. SimGrid's default (LV08) models TCP over
// Ethernet (bandwidth factor 0.97, latency factor 13.01, TCP window bound, cross
// traffic of acknowledgements); NVLink and InfiniBand RDMA have none of that. So:
// network/model:CM02 (max-min sharing, a flow costs latency + bytes / rate),
// network/crosstraffic:0, network/TCP-gamma:0 (no window bound), network/weight-S:0
// (no extra per-link RTT penalty in the sharing), and the bandwidth/latency factors from
// network.bandwidth_factor / latency_factor (default 1). CM02 still weighs a flow's share
// by its path latency; where flows of unequal latency share a saturated link the link
// stays saturated, so the collective's end time is unchanged.
//
// Achievable bandwidth: a link's SimGrid bandwidth = graph bandwidth × efficiency:
// node.nvlink_efficiency on NVLink edges (H800: ~160 of 200 GB/s), network.nic_efficiency
// on the NIC attachment, NIC cable and switch-to-switch edges (InfiniBand: ~40 of 50 GB/s).
#include "sim/engine/platform.hpp"

#include <simgrid/kernel/routing/NetPoint.hpp>
#include <simgrid/kernel/routing/NetZoneImpl.hpp>
#include <fmt/format.h>
#include <simgrid/plugins/load.h>
#include <simgrid/s4u.hpp>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>
#include <unordered_map>

#include "sim/engine/bundles.hpp"
#include "sim/engine/disjoint_sets.hpp"
#include "sim/engine/route_cache.hpp"
#include "sim/engine/simgrid_access.hpp"

namespace trainsim::engine {
namespace sgr = simgrid::kernel::routing;

// Bundles (the bundled network model, step_executor.hpp). A transfer task's flows that
// carry equal bytes over routes of equal latency (an all-to-all's flows of one hop kind, a
// ring step's flows) run as ONE SimGrid flow from one member's GPU to a bundle endpoint, a
// host whose route from that GPU lists every member's links, a link that m members cross
// m times. SimGrid's max-min solver then gives the bundle, on that link, an element of
// weight m (lmm::System::expand adds to the element a repeated link already has): m
// shares of the bundle's rate, exactly what m flows of that latency would take there, and
// the bundle's sharing penalty is the members' common latency, as each member's would be.
// So a bundle takes what its members would take as long as they would all move at one
// rate; what it cannot do is let some members run faster than the slowest (measured
// against per-pair flows: tests/test_engine_cross_traffic.cpp).
// A GPU has a fixed number of endpoints (hosts must exist before SimGrid seals the
// platform); an endpoint is given a list of members once and keeps it.
struct Bundle {
  int src = -1;                   // the GPU its SimGrid flow leaves from; -1: unused
  std::vector<FlowEnds> members;  // its flows, in order
  std::vector<LinkIndex> links;   // every member's route, one after the other
  double latency_s = 0;           // every member's route latency
};

struct Simulator::Impl {
  // Built in place: ClusterGraph::edges holds Boost edge descriptors that point into the
  // graph's own edge storage, so a copied or assigned ClusterGraph would dangle.
  Impl(const ClusterSpec& s, const PlatformOptions& o) : spec(s), options(o), graph(build_cluster_graph(s)) {}
  ClusterSpec spec;
  PlatformOptions options;
  ClusterGraph graph;
  // Filled on demand as SimGrid and the link audits ask (route_cache.hpp); mutable: the
  // zone and route_links() answer through const references.
  mutable RouteCache routes{graph};
  simgrid::s4u::Engine* engine = nullptr;  // owned by SimGrid for the whole process
  std::vector<simgrid::s4u::Host*> hosts;  // by GPU
  std::vector<simgrid::s4u::Link*> links;  // by LinkIndex
  std::vector<simgrid::kernel::resource::StandardLinkImpl*> link_impls;  // by LinkIndex: what a route lists
  std::vector<double> bandwidth_bytes_per_s;
  std::vector<double> latency_s;
  std::vector<std::uint32_t> link_region;  // by LinkIndex: see Simulator::link_region
  std::uint32_t num_regions = 0;
  std::vector<int> gpu_by_netpoint;        // netpoint id → GPU, or num_gpus + bundle slot
  // Bundled network model: slot g·slots_per_gpu + k is GPU g's k-th bundle endpoint.
  int slots_per_gpu = 0;
  std::vector<simgrid::s4u::Host*> bundle_hosts;  // by slot
  std::vector<Bundle> bundles;                    // by slot; src -1 while unused
  std::unordered_map<std::uint64_t, std::vector<int>> slots_by_members;  // members' hash → slots given them
};

namespace {

Simulator* g_simulator = nullptr;
bool g_simulations_refused = false;

// The whole platform as one zone whose routes come from the topology's route().
class GraphZone final : public sgr::NetZoneImpl {
 public:
  GraphZone(const std::string& name, const Simulator::Impl& impl) : NetZoneImpl(name), impl_(impl) {}

  void get_local_route(const sgr::NetPoint* src, const sgr::NetPoint* dst, sgr::Route* into,
                       double* latency) override {
    const int s = impl_.gpu_by_netpoint.at(src->id());
    const int d = impl_.gpu_by_netpoint.at(dst->id());
    const int gpus = impl_.graph.num_gpus();
    if (d >= gpus) {  // a bundle: every member's links (shared ones repeated), one member's latency
      const Bundle& b = impl_.bundles.at(static_cast<std::size_t>(d - gpus));
      if (b.src != s) throw std::logic_error("GraphZone: a bundle endpoint reached from another GPU");
      into->link_list_.reserve(into->link_list_.size() + b.links.size());
      for (const LinkIndex link : b.links) into->link_list_.push_back(impl_.link_impls[link]);
      if (latency != nullptr) *latency += b.latency_s;
      return;
    }
    const auto route = impl_.routes.links(s, d);
    into->link_list_.reserve(into->link_list_.size() + route.size());
    for (const LinkIndex link : route) {
      into->link_list_.push_back(impl_.link_impls[link]);
      if (latency != nullptr) *latency += impl_.latency_s[link];
    }
  }

 private:
  const Simulator::Impl& impl_;
};

// Simulator::link_region for every directed link, numbered from 0 in link order: the
// connected parts of the graph without its GPU vertices (switches, NICs and the links
// between them), a link in the part of its end that is no GPU (its own when both are).
std::vector<std::uint32_t> switch_regions(const ClusterGraph& g, std::uint32_t& count) {
  const auto n = static_cast<std::size_t>(num_vertices(g.graph));
  auto is_gpu = [&](VertexId v) { return g.vertex(v).kind == VertexKind::gpu; };
  DisjointSets parts(n);  // over the vertices
  for (std::size_t e = 0; e < g.edges.size(); ++e)
    if (!is_gpu(g.edge_source(e)) && !is_gpu(g.edge_target(e))) parts.join(g.edge_source(e), g.edge_target(e));
  std::unordered_map<std::size_t, std::uint32_t> number;  // a part's representative (or n + edge) → region
  std::vector<std::uint32_t> region(2 * g.edges.size());
  for (std::size_t e = 0; e < g.edges.size(); ++e) {
    const VertexId a = g.edge_source(e), b = g.edge_target(e);
    const std::size_t part = !is_gpu(a) ? parts.find(a) : !is_gpu(b) ? parts.find(b) : n + e;
    region[2 * e] = region[2 * e + 1] = number.try_emplace(part, static_cast<std::uint32_t>(number.size())).first->second;
  }
  count = static_cast<std::uint32_t>(number.size());
  return region;
}

double efficiency(const ClusterSpec& spec, EdgeKind kind) {
  return kind == EdgeKind::nvlink ? spec.node.nvlink_efficiency : spec.network.nic_efficiency;
}

}  // namespace

void refuse_simulations() { g_simulations_refused = true; }

bool simulations_refused() { return g_simulations_refused; }

Simulator& Simulator::create(const ClusterSpec& spec, const PlatformOptions& options) {
  if (g_simulations_refused) throw SimulationRefused();
  if (g_simulator != nullptr) throw std::logic_error("engine::Simulator::create: SimGrid's engine exists already");
  // Never destroyed: SimGrid's engine lives until the process ends.
  g_simulator = new Simulator(spec, options);
  return *g_simulator;
}

bool Simulator::exists() { return g_simulator != nullptr; }

Simulator& Simulator::get() {
  if (g_simulator == nullptr) throw std::logic_error("engine::Simulator::get: create() was not called");
  return *g_simulator;
}

Simulator::~Simulator() = default;

Simulator::Simulator(const ClusterSpec& spec, const PlatformOptions& options)
    : impl_(std::make_unique<Impl>(spec, options)) {
  Impl& im = *impl_;

  // Quiet SimGrid's own INFO chatter (configuration changes) on stderr.
  int argc = 3;
  std::string arg0 = "trainsim", arg1 = "--log=xbt_cfg.thres:warning", arg2 = "--log=root.thres:warning";
  char* argv[] = {arg0.data(), arg1.data(), arg2.data(), nullptr};
  im.engine = new simgrid::s4u::Engine(&argc, argv);
  simgrid::s4u::Engine::set_config("network/model:CM02");
  simgrid::s4u::Engine::set_config("network/crosstraffic:0");
  simgrid::s4u::Engine::set_config("network/TCP-gamma:0");
  simgrid::s4u::Engine::set_config("network/weight-S:0");
  simgrid::s4u::Engine::set_config(fmt::format("network/bandwidth-factor:{}", spec.network.bandwidth_factor));
  simgrid::s4u::Engine::set_config(fmt::format("network/latency-factor:{}", spec.network.latency_factor));
  // The actor executor runs one actor per GPU (16,384 at most); its loop is shallow, so
  // a 512 KiB stack each instead of SimGrid's 8 MiB (address space, not memory touched).
  simgrid::s4u::Engine::set_config("contexts/stack-size:512");
  // No guard page below each actor's stack: SimGrid 3.32 mprotects one per actor, which
  // splits a memory mapping per actor, and Linux allows 65,536 mappings per process by
  // default (vm.max_map_count): 16,384 GPUs with their bundle endpoints are 82k actors,
  // and SimGrid aborted there. The actors' loop is shallow (a few frames, no recursion).
  simgrid::s4u::Engine::set_config("contexts/guard-size:0");

  // Plugins attach to hosts and links as they are created, so before the platform.
  if (options.audit_links) sg_link_load_plugin_init();
  // A GPU host is where its flows start and end, and where the actor executor's actor
  // runs; its compute stream is timed by the engine (dag_runner.hpp), not by SimGrid's
  // CPU model, and so is its energy (step_executor.cpp).

  // The first zone created becomes the root and initialises the models.
  auto* zone = new GraphZone("cluster", im);
  const ClusterGraph& g = im.graph;
  const int gpus = g.num_gpus();
  im.hosts.reserve(static_cast<std::size_t>(gpus));
  for (int gpu = 0; gpu < gpus; ++gpu) {
    auto* host = zone->create_host(g.vertex(g.gpu_vertex[static_cast<std::size_t>(gpu)]).name, std::vector<double>{1.0});
    host->seal();
    const auto id = host->get_netpoint()->id();
    if (im.gpu_by_netpoint.size() <= id) im.gpu_by_netpoint.resize(id + 1, -1);
    im.gpu_by_netpoint[id] = gpu;
    im.hosts.push_back(host);
  }
  im.slots_per_gpu = std::max(options.bundle_slots_per_gpu, 0);
  const std::size_t slots = static_cast<std::size_t>(gpus) * static_cast<std::size_t>(im.slots_per_gpu);
  im.bundles.resize(slots);
  im.bundle_hosts.reserve(slots);
  for (std::size_t slot = 0; slot < slots; ++slot) {
    auto* host = zone->create_host(fmt::format("bundle-{}", slot), std::vector<double>{1.0});
    host->seal();
    const auto id = host->get_netpoint()->id();
    if (im.gpu_by_netpoint.size() <= id) im.gpu_by_netpoint.resize(id + 1, -1);
    im.gpu_by_netpoint[id] = gpus + static_cast<int>(slot);
    im.bundle_hosts.push_back(host);
  }

  const std::size_t edges = g.edges.size();
  im.links.resize(2 * edges);
  im.bandwidth_bytes_per_s.resize(2 * edges);
  im.latency_s.resize(2 * edges);
  for (std::size_t e = 0; e < edges; ++e) {
    const EdgeProps& edge = g.edge(e);
    const double bandwidth = edge.bandwidth_bytes_per_s * efficiency(spec, edge.kind);
    const VertexId ends[2] = {g.edge_source(e), g.edge_target(e)};
    for (std::size_t dir = 0; dir < 2; ++dir) {
      const LinkIndex link = 2 * e + dir;
      // Leaving a switch costs its traversal latency (0 for GPUs, NICs, NVSwitches).
      const double latency = edge.latency_s + g.vertex(ends[dir]).latency_s;
      im.bandwidth_bytes_per_s[link] = bandwidth;
      im.latency_s[link] = latency;
      im.links[link] = zone->create_link(fmt::format("l{}", link), std::vector<double>{bandwidth});
      im.links[link]->set_latency(latency)->seal();
    }
  }
  for (const auto* link : im.links) im.link_impls.push_back(link->get_impl());
  im.link_region = switch_regions(g, im.num_regions);
  zone->get_iface()->seal();
  // Tracking must start once the platform is sealed: SimGrid 3.32 loses it when asked
  // while the link is being made (and then aborts at the link's first load update).
  if (options.audit_links)
    for (auto* link : im.links) sg_link_load_track(link);
}

const ClusterSpec& Simulator::spec() const { return impl_->spec; }
const ClusterGraph& Simulator::graph() const { return impl_->graph; }
int Simulator::num_gpus() const { return impl_->graph.num_gpus(); }
double Simulator::now_s() const { return simgrid::s4u::Engine::get_clock(); }
std::size_t Simulator::num_links() const { return impl_->links.size(); }
double Simulator::link_bandwidth_bytes_per_s(LinkIndex link) const { return impl_->bandwidth_bytes_per_s.at(link); }
double Simulator::link_latency_s(LinkIndex link) const { return impl_->latency_s.at(link); }
EdgeKind Simulator::link_kind(LinkIndex link) const { return impl_->graph.edge(link / 2).kind; }

std::vector<LinkIndex> Simulator::route_links(int src_gpu, int dst_gpu) const {
  const auto cached = impl_->routes.links(src_gpu, dst_gpu);
  return {cached.begin(), cached.end()};
}

std::uint32_t Simulator::link_region(LinkIndex link) const { return impl_->link_region.at(link); }
std::uint32_t Simulator::num_regions() const { return impl_->num_regions; }

double Simulator::route_latency_s(int src_gpu, int dst_gpu) const {
  double latency = 0;
  for (LinkIndex link : impl_->routes.links(src_gpu, dst_gpu)) latency += impl_->latency_s[link];
  return latency;
}

double Simulator::route_bandwidth_bytes_per_s(int src_gpu, int dst_gpu) const {
  double bandwidth = std::numeric_limits<double>::infinity();
  for (LinkIndex link : impl_->routes.links(src_gpu, dst_gpu))
    bandwidth = std::min(bandwidth, impl_->bandwidth_bytes_per_s[link]);
  return bandwidth;
}

std::vector<LinkIndex> Simulator::simgrid_route_links(int src_gpu, int dst_gpu) const {
  std::vector<simgrid::s4u::Link*> sg_links;
  double latency = 0;
  impl_->hosts.at(static_cast<std::size_t>(src_gpu))->route_to(impl_->hosts.at(static_cast<std::size_t>(dst_gpu)), sg_links, &latency);
  std::vector<LinkIndex> links;
  for (const auto* link : sg_links) links.push_back(std::stoul(link->get_name().substr(1)));  // named l<index>
  return links;
}

std::size_t Simulator::cached_route_pairs() const { return impl_->routes.pairs(); }
std::size_t Simulator::cached_route_bytes() const { return impl_->routes.approx_bytes(); }

const PlatformOptions& Simulator::options() const { return impl_->options; }

double Simulator::link_bytes(LinkIndex link) const {
  if (!impl_->options.audit_links) throw std::logic_error("engine::Simulator::link_bytes: links are not audited");
  return sg_link_get_cum_load(impl_->links.at(link));
}

double Simulator::link_peak_load_bytes_per_s(LinkIndex link) const {
  if (!impl_->options.audit_links)
    throw std::logic_error("engine::Simulator::link_peak_load_bytes_per_s: links are not audited");
  return sg_link_get_max_instantaneous_load(impl_->links.at(link));
}

simgrid::s4u::Host* gpu_host(int gpu) { return Simulator::get().impl().hosts.at(static_cast<std::size_t>(gpu)); }

simgrid::s4u::Host* endpoint_host(int endpoint) {
  const auto& im = Simulator::get().impl();
  const int gpus = im.graph.num_gpus();
  if (endpoint < gpus) return gpu_host(endpoint);
  return im.bundle_hosts.at(static_cast<std::size_t>(endpoint - gpus));
}

int num_endpoints() {
  const auto& im = Simulator::get().impl();
  return im.graph.num_gpus() + static_cast<int>(im.bundle_hosts.size());
}

namespace {

std::uint64_t members_hash(std::span<const FlowEnds> members) {
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a over the (source, destination) pairs
  for (const FlowEnds& m : members)
    for (const int x : {m.src, m.dst}) h = (h ^ static_cast<std::uint32_t>(x)) * 0x100000001b3ULL;
  return h;
}

}  // namespace

int bundle_endpoint(std::span<const FlowEnds> members) {
  auto& im = Simulator::get().impl();
  const int gpus = im.graph.num_gpus();
  if (im.slots_per_gpu == 0 || members.size() < 2) return -1;
  auto& given = im.slots_by_members[members_hash(members)];
  for (const int slot : given) {
    const Bundle& b = im.bundles[static_cast<std::size_t>(slot)];
    if (std::equal(b.members.begin(), b.members.end(), members.begin(), members.end())) return gpus + slot;
  }
  // A free endpoint: only for members of one latency (the bundle's penalty and delay).
  const Simulator& sim = Simulator::get();
  const double latency = sim.route_latency_s(members.front().src, members.front().dst);
  for (const FlowEnds& m : members)
    if (m.src == m.dst || m.src < 0 || m.src >= gpus || m.dst < 0 || m.dst >= gpus ||
        sim.route_latency_s(m.src, m.dst) != latency)
      return -1;
  for (const FlowEnds& owner : members) {
    const auto first = static_cast<std::size_t>(owner.src) * static_cast<std::size_t>(im.slots_per_gpu);
    for (std::size_t slot = first; slot < first + static_cast<std::size_t>(im.slots_per_gpu); ++slot) {
      Bundle& b = im.bundles[slot];
      if (b.src >= 0) continue;
      b.src = owner.src;
      b.members.assign(members.begin(), members.end());
      b.latency_s = latency;
      for (const FlowEnds& m : members) {
        const auto route = im.routes.links(m.src, m.dst);
        b.links.insert(b.links.end(), route.begin(), route.end());
      }
      given.push_back(static_cast<int>(slot));
      return gpus + static_cast<int>(slot);
    }
  }
  return -1;  // every endpoint of every member's GPU holds another list
}

int bundle_source(int endpoint) {
  const auto& im = Simulator::get().impl();
  return im.bundles.at(static_cast<std::size_t>(endpoint - im.graph.num_gpus())).src;
}


simgrid::s4u::Engine& simgrid_engine() { return *Simulator::get().impl().engine; }

namespace {
// Reaches the protected Activity::add_successor through a member pointer of a derived
// class (the derived class is never instantiated).
struct SuccessorAccess : simgrid::s4u::Activity {
  static void add(simgrid::s4u::Activity& before, const simgrid::s4u::ActivityPtr& after) {
    void (simgrid::s4u::Activity::*add_successor_fn)(simgrid::s4u::ActivityPtr) = &SuccessorAccess::add_successor;
    (before.*add_successor_fn)(after);
  }
};
}  // namespace

void add_dependency(const simgrid::s4u::ActivityPtr& before, const simgrid::s4u::ActivityPtr& after) {
  SuccessorAccess::add(*before, after);
}

std::vector<simgrid::s4u::CommPtr> make_transfers(const std::vector<parallel::Transfer>& transfers) {
  std::vector<simgrid::s4u::CommPtr> comms;
  comms.reserve(transfers.size());
  for (const auto& t : transfers) {
    if (t.src_gpu == t.dst_gpu) continue;
    auto comm = simgrid::s4u::Comm::sendto_init(gpu_host(t.src_gpu), gpu_host(t.dst_gpu));
    comm->set_payload_size(flow_bytes(t.bytes));
    comms.push_back(std::move(comm));
  }
  return comms;
}

}  // namespace trainsim::engine
