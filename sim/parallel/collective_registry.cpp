#include "sim/parallel/collective_registry.hpp"

#include <algorithm>

#include "sim/config/registry.hpp"

namespace trainsim::parallel {

namespace {

bool hierarchical(const CollectiveRequest& r) { return r.algorithm == "hierarchical"; }

std::string and_list(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i)
    out += (i == 0 ? "" : i + 1 == names.size() ? " and " : ", ") + names[i];
  return out;
}

}  // namespace

const std::vector<CollectiveKind>& collective_kinds() {
  using G = const std::vector<int>&;
  using R = const CollectiveRequest&;
  static const std::vector<CollectiveKind> kinds = {
      {"p2p", "one transfer from the first rank to the last", {"direct"}, false,
       [](G g, R r) { return point_to_point(g.front(), g.back(), r.bytes); }},
      {"allreduce", "all-reduce of S bytes", {"ring", "hierarchical"}, false,
       [](G g, R r) {
         return hierarchical(r) ? hierarchical_all_reduce(g, r.gpus_per_node, r.bytes) : ring_all_reduce(g, r.bytes);
       }},
      {"reducescatter", "reduce-scatter of an S-byte input", {"ring", "hierarchical"}, false,
       [](G g, R r) {
         return hierarchical(r) ? hierarchical_reduce_scatter(g, r.gpus_per_node, r.bytes)
                                : ring_reduce_scatter(g, r.bytes);
       }},
      {"allgather", "all-gather of an S-byte output", {"ring", "hierarchical"}, false,
       [](G g, R r) {
         return hierarchical(r) ? hierarchical_all_gather(g, r.gpus_per_node, r.bytes) : ring_all_gather(g, r.bytes);
       }},
      {"alltoall", "every rank sends S/n bytes to every rank at once", {"direct"}, false,
       [](G g, R r) { return direct_all_to_all(g, r.bytes); }},
      {"dispatch", "MoE dispatch of routed tokens, DeepEP two hops (IB then NVLink)", {"deepep-two-hop"}, true,
       [](G g, R r) { return moe_dispatch(g, *r.routing, r.bytes_per_token); }},
      {"combine", "MoE combine, the reverse of dispatch", {"deepep-two-hop"}, true,
       [](G g, R r) { return moe_combine(g, *r.routing, r.bytes_per_token); }},
  };
  return kinds;
}

std::vector<std::string> collective_names() { return config::names_of(collective_kinds()); }

const CollectiveKind& collective_named(const std::string& name, const SourceMark& where) {
  return config::named(collective_kinds(), name, where);
}

std::string collective_algorithm(const CollectiveKind& kind, const std::string& asked, const SourceMark& where) {
  if (asked.empty()) return kind.algorithms.front();
  if (std::find(kind.algorithms.begin(), kind.algorithms.end(), asked) != kind.algorithms.end()) return asked;
  std::vector<std::string> having;
  std::vector<std::string> known;
  for (const CollectiveKind& k : collective_kinds()) {
    if (std::find(k.algorithms.begin(), k.algorithms.end(), asked) != k.algorithms.end()) having.emplace_back(k.name);
    for (const auto& a : k.algorithms)
      if (std::find(known.begin(), known.end(), a) == known.end()) known.push_back(a);
  }
  if (having.empty()) throw InputError(where, config::expected_one_of(asked, known));
  throw InputError(where, asked + " applies to " + and_list(having));
}

}  // namespace trainsim::parallel
