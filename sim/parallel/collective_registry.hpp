#pragma once
// The collectives `trainsim net COLLECTIVE` can run, registered by name: each with
// its algorithm variants and a plan builder of one signature. The plans themselves
// are the functions of collectives.hpp. To add a collective: its plan function plus
// its line in collective_registry.cpp.
#include <string>
#include <string_view>
#include <vector>

#include "sim/config/error.hpp"
#include "sim/parallel/collectives.hpp"
#include "sim/parallel/moe_routing.hpp"

namespace trainsim::parallel {

// What a plan builder gets for one group of ranks.
struct CollectiveRequest {
  std::string algorithm;                 // one of the collective's algorithms
  int gpus_per_node = 0;
  double bytes = 0;                      // S, NCCL-tests size (non-MoE collectives)
  const MoeRouting* routing = nullptr;   // routed collectives: the group's token routing
  double bytes_per_token = 0;            // routed collectives: one token copy
};

struct CollectiveKind {
  const char* name = "";
  const char* description = "";       // one line, for `trainsim net --list`
  std::vector<std::string> algorithms;  // the first is the default; --algorithm picks another
  bool routed = false;                  // moves MoE tokens: needs a routing (dispatch, combine)
  // `group`: the GPU of each rank, node by node.
  CollectivePlan (*plan)(const std::vector<int>& group, const CollectiveRequest& request) = nullptr;
};

// In registration order.
[[nodiscard]] const std::vector<CollectiveKind>& collective_kinds();
[[nodiscard]] std::vector<std::string> collective_names();
// InputError at `where` naming the registered collectives ("did you mean") when unknown.
[[nodiscard]] const CollectiveKind& collective_named(const std::string& name, const SourceMark& where);
// The algorithm to run: `asked` when the collective has it, its default when `asked` is
// empty; else InputError at `where` saying which collectives have it.
[[nodiscard]] std::string collective_algorithm(const CollectiveKind& kind, const std::string& asked,
                                               const SourceMark& where);

}  // namespace trainsim::parallel
