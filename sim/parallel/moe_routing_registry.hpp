#pragma once
// The MoE routing kinds (model.moe.routing, `trainsim net --routing`), registered by
// name: how the experts' popularity is drawn and tokens are routed. Each kind is one
// file (moe_routing_<name>.cpp) plus its line in moe_routing_registry.cpp.
#include <string>
#include <string_view>
#include <vector>

#include "sim/config/error.hpp"
#include "sim/config/spec.hpp"
#include "sim/parallel/moe_routing.hpp"

namespace trainsim::parallel {

struct MoeRoutingKind {
  const char* name = "";
  const char* description = "";  // one line, for `trainsim net --list`
  bool uses_zipf_exponent = false;  // model.moe.zipf_exponent: required when true, refused otherwise
  // Routes over `nodes` nodes, at most `max_nodes` per token (parameters already validated).
  MoeRouting (*route)(const MoeRoutingParams& params, int nodes, int max_nodes) = nullptr;
};

// In registration order.
[[nodiscard]] const std::vector<const MoeRoutingKind*>& moe_routing_kinds();
[[nodiscard]] std::vector<std::string> moe_routing_names();
[[nodiscard]] const MoeRoutingKind* find_moe_routing(std::string_view name);  // nullptr when unknown
// InputError at `where` naming the registered kinds ("did you mean") when unknown.
[[nodiscard]] const MoeRoutingKind& moe_routing_named(const std::string& name, const SourceMark& where);

// model.moe.routing is registered and model.moe.zipf_exponent is written exactly when
// the kind uses it; else InputError at the key. Run after load_workload.
void check_moe_routing(const WorkloadSpec& workload);

}  // namespace trainsim::parallel
