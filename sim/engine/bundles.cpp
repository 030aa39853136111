#include "sim/engine/bundles.hpp"

#include <algorithm>
#include <cmath>

#include "sim/engine/platform.hpp"

namespace trainsim::engine {

std::uint64_t flow_bytes(double bytes) { return static_cast<std::uint64_t>(std::llround(std::max(bytes, 0.0))); }

const std::vector<SimFlow>& Bundler::flows(const StepTask& t) {
  const auto* list = t.transfers.shared().get();
  if (list == nullptr) return none_;
  auto it = by_list_.find(list);
  if (it == by_list_.end()) it = by_list_.emplace(list, group(*list)).first;
  return it->second;
}

std::vector<SimFlow> Bundler::group(const std::vector<parallel::Transfer>& transfers) {
  if (transfers.size() == 1) {  // nothing to bundle (a pipeline transfer)
    const auto& tr = transfers.front();
    if (tr.src_gpu == tr.dst_gpu) return {};
    return {{tr.src_gpu, tr.dst_gpu, flow_bytes(tr.bytes)}};
  }
  const Simulator& sim = Simulator::get();
  // A bundle's members lie in one region: a part of the fabric (Simulator::link_region:
  // one plane's NICs and switches, one node's NVSwitch), or parts the task's flows join
  // (a flow over NVLink then a plane joins the two). So a bundle never joins parts of
  // SimGrid's sharing problem that the task's flows keep apart: the max-min solver redoes
  // a whole connected part at each event, and bundles over every plane made the
  // 16,384-GPU step one part (perf: 84 % of its CPU in that walk).
  joined_.reset(sim.num_regions());
  first_region_.clear();
  for (const auto& tr : transfers) {
    if (tr.src_gpu == tr.dst_gpu) continue;
    const auto route = sim.route_links(tr.src_gpu, tr.dst_gpu);
    first_region_.push_back(sim.link_region(route.front()));
    for (std::size_t i = 1; i < route.size(); ++i) joined_.join(first_region_.back(), sim.link_region(route[i]));
  }
  groups_.clear();
  group_of_.clear();
  std::size_t flow = 0;
  for (const auto& tr : transfers) {
    if (tr.src_gpu == tr.dst_gpu) continue;
    const std::uint64_t bytes = flow_bytes(tr.bytes);
    const double latency = sim.route_latency_s(tr.src_gpu, tr.dst_gpu);
    const std::size_t region = joined_.find(first_region_[flow++]);
    const auto [at, added] = group_of_.try_emplace({bytes, latency, region}, groups_.size());
    if (added) groups_.push_back({bytes, {}});
    groups_[at->second].members.push_back({tr.src_gpu, tr.dst_gpu});
  }
  std::vector<SimFlow> out;
  for (const Group& g : groups_) {
    const int e = bundle_endpoint(g.members);
    if (e >= 0) {
      out.push_back({bundle_source(e), e, g.bytes});
      continue;
    }
    for (const FlowEnds& m : g.members) out.push_back({m.src, m.dst, g.bytes});
  }
  return out;
}

}  // namespace trainsim::engine
