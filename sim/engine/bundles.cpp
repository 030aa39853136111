#include "sim/engine/bundles.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include "sim/engine/simgrid_access.hpp"

namespace trainsim::engine {

std::uint64_t flow_bytes(double bytes) { return static_cast<std::uint64_t>(std::llround(std::max(bytes, 0.0))); }

Bundler::Bundler(int num_gpus)
    : families_(static_cast<std::size_t>(num_gpus)), group_head_(static_cast<std::size_t>(num_gpus), -1) {}

void Bundler::group(const StepTask& t) {
  groups_.clear();
  for (const auto& tr : t.transfers) {
    if (tr.src_gpu == tr.dst_gpu) continue;
    const std::uint64_t bytes = flow_bytes(tr.bytes);
    int& head = group_head_[static_cast<std::size_t>(tr.src_gpu)];
    int i = head;
    while (i >= 0 && groups_[static_cast<std::size_t>(i)].bytes != bytes) i = groups_[static_cast<std::size_t>(i)].next;
    if (i < 0) {
      i = static_cast<int>(groups_.size());
      groups_.push_back({tr.src_gpu, bytes, {}, head});
      head = i;
    }
    groups_[static_cast<std::size_t>(i)].dsts.push_back(tr.dst_gpu);
  }
  for (const Group& g : groups_) group_head_[static_cast<std::size_t>(g.src)] = -1;
}

const Bundler::Family& Bundler::family(int src, const std::vector<int>& dsts) {
  auto& known = families_[static_cast<std::size_t>(src)];
  for (const Family& f : known)
    if (f.dsts == dsts) return f;
  Family f{dsts, std::vector<int>(dsts.size(), -1)};
  // Members of one route latency share a bundle (its sharing penalty and delay are theirs).
  const Simulator& sim = Simulator::get();
  placed_.assign(dsts.size(), 0);
  for (std::size_t i = 0; i < dsts.size(); ++i) {
    if (placed_[i]) continue;
    const double latency = sim.route_latency_s(src, dsts[i]);
    members_.clear();
    at_.clear();
    for (std::size_t j = i; j < dsts.size(); ++j)
      if (!placed_[j] && sim.route_latency_s(src, dsts[j]) == latency) {
        placed_[j] = 1;
        members_.push_back(dsts[j]);
        at_.push_back(j);
      }
    const int e = bundle_endpoint(src, members_);
    for (const std::size_t j : at_) f.endpoint[j] = e;
  }
  if (known.size() >= kFamiliesPerGpu) {
    scratch_ = std::move(f);
    return scratch_;
  }
  known.push_back(std::move(f));
  return known.back();
}

const std::vector<SimFlow>& Bundler::flows(const StepTask& t) {
  flows_.clear();
  group(t);
  for (const Group& g : groups_) {
    const Family& f = family(g.src, g.dsts);
    std::size_t first_of = flows_.size();  // the flows of this group so far start here
    for (std::size_t i = 0; i < f.dsts.size(); ++i) {
      const int e = f.endpoint[i];
      if (e >= 0 && std::any_of(flows_.begin() + static_cast<long>(first_of), flows_.end(),
                                [e](const SimFlow& x) { return x.to == e; }))
        continue;  // its bundle is listed already
      flows_.push_back({g.src, e >= 0 ? e : f.dsts[i], g.bytes});
    }
  }
  return flows_;
}

}  // namespace trainsim::engine
