#include "sim/calibrate/recipes.hpp"

#include <fmt/format.h>

#include <initializer_list>
#include <regex>
#include <stdexcept>

#include "sim/calibrate/shape_expression.hpp"
#include "sim/config/keys.hpp"
#include "sim/config/yaml_file.hpp"
#include "sim/config/yaml_reader.hpp"
#include "sim/calibrate/yaml_lists.hpp"

namespace trainsim::calibrate {
namespace {

// Every variable an expression may name, each 1: enough to check the names and the syntax.
const ShapeVariables& any_variables() {
  static const ShapeVariables v = {{"m", 1},      {"n", 1},     {"k", 1},     {"groups", 1}, {"flops", 1},
                                   {"bytes", 1},  {"tokens", 1}, {"hidden", 1}, {"heads", 1}, {"d_qk", 1},
                                   {"d_v", 1},    {"top_k", 1}, {"intermediate", 1}, {"bytes_f", 1}, {"bytes_b", 1}, {"bytes_w", 1},
                                   {"routed", 1}};
  return v;
}

std::string checked_expression(const config::Section& s, const char* key) {
  const std::string text = s.text(key);
  try {
    (void)evaluate_shape(text, any_variables());
  } catch (const std::invalid_argument& e) {
    s.fail_value(key, e.what());
  }
  return text;
}

}  // namespace

const char* to_string(OpPass p) {
  static constexpr const char* names[] = {"F", "B", "W", "R"};
  return names[static_cast<int>(p)];
}

RecipeSet load_recipes(const std::string& file, const CostLawTable& laws) {
  const YAML::Node root = config::read_yaml_file(file, "a recipe set");
  const config::LoadContext ctx{file, "", {}, nullptr, nullptr};
  static const config::SchemaKey file_schema = flat_schema({"name", "source", "phases", "routed_rows"}),
                                 rows_schema = flat_schema({"phase", "match", "axis", "rows_per_block", "about"}),
                                 phase_schema = flat_schema({"phase", "steps"}),
                                 step_schema = flat_schema({"op", "pass", "kernels"}),
                                 kernel_schema = flat_schema({"class", "m", "n", "k", "bytes", "flops", "count", "streams", "about"});
  const config::Section top(ctx, root, "", file_schema, root.Mark());
  RecipeSet set{file, top.text("name"), top.text("source"), {}, {}};
  for (const auto& [ps, pnode] : sections_of_list(ctx, top, root, "phases", phase_schema)) {
    RecipePhase phase;
    phase.name = ps.text("phase");
    for (const RecipePhase& seen : set.phases)
      if (seen.name == phase.name) ps.fail_value("phase", "phase \"" + phase.name + "\" is listed twice");
    for (const auto& [ss, snode] : sections_of_list(ctx, ps, pnode, "steps", step_schema)) {
      RecipeStep step;
      step.op = ss.text("op");
      step.mark = ss.value_mark("op");
      step.pass = ss.choice<OpPass>("pass", {{"F", OpPass::forward},
                                             {"B", OpPass::backward_input},
                                             {"W", OpPass::backward_weight},
                                             {"R", OpPass::recompute}});
      for (const auto& [ks, knode] : sections_of_list(ctx, ss, snode, "kernels", kernel_schema)) {
        RecipeKernel kernel;
        kernel.class_name = ks.text("class");
        kernel.mark = ks.value_mark("class");
        const CostLaw* law = laws.find(kernel.class_name);
        if (law == nullptr) ks.fail_value("class", "no cost law for this class in " + laws.file);
        kernel.form = law->form;
        const std::vector<const char*> wanted = law->form == LawForm::gemm     ? std::vector<const char*>{"m", "n", "k"}
                                                : law->form == LawForm::memory ? std::vector<const char*>{"bytes"}
                                                                               : std::vector<const char*>{"flops"};
        for (const char* key : {"m", "n", "k", "bytes", "flops"}) {
          bool is_wanted = false;
          for (const char* w : wanted) is_wanted = is_wanted || std::string(w) == key;
          if (!is_wanted && ks.has(key))
            ks.fail_key(key, fmt::format("class {} has a {} law, which reads {}", kernel.class_name,
                                         to_string(law->form), fmt::join(wanted, ", ")));
        }
        for (const char* key : wanted) {
          if (!ks.has(key)) ks.fail_missing(key);
          const std::string text = checked_expression(ks, key);
          (std::string(key) == "m"       ? kernel.m
           : std::string(key) == "n"     ? kernel.n
           : std::string(key) == "k"     ? kernel.k
           : std::string(key) == "bytes" ? kernel.bytes
                                         : kernel.flops) = text;
        }
        kernel.count = ks.integer_or("count", config::Range{1, true, 1000, true}, 1);
        kernel.streams = ks.integer_or("streams", config::Range{1, true, 8, true}, 1);
        if (ks.has("about")) (void)ks.text("about");
        step.kernels.push_back(std::move(kernel));
      }
      phase.steps.push_back(std::move(step));
    }
    set.phases.push_back(std::move(phase));
  }
  if (root["routed_rows"]) {
    for (const auto& [rs, rnode] : sections_of_list(ctx, top, root, "routed_rows", rows_schema)) {
      RoutedRowsRule rule;
      rule.phase = rs.text("phase");
      bool listed = false;
      for (const RecipePhase& phase : set.phases) listed = listed || phase.name == rule.phase;
      if (!listed) rs.fail_value("phase", "phase \"" + rule.phase + "\" is not a phase of this recipe set");
      rule.match = rs.text("match");
      rule.mark = rs.value_mark("match");
      try {
        (void)std::regex(rule.match, std::regex::ECMAScript);
      } catch (const std::regex_error& e) {
        rs.fail_value("match", std::string("not a regular expression: ") + e.what());
      }
      rule.axis = rs.choice<int>("axis", {{"x", 0}, {"y", 1}, {"z", 2}});
      rule.rows_per_block = static_cast<double>(rs.integer_or("rows_per_block", config::Range{1, true, 1 << 20, true}, 1));
      if (rs.has("about")) (void)rs.text("about");
      for (const RoutedRowsRule& seen : set.routed_rows)
        if (seen.phase == rule.phase) rs.fail_value("phase", "phase \"" + rule.phase + "\" has a routed_rows rule already");
      set.routed_rows.push_back(std::move(rule));
    }
  }
  return set;
}

std::optional<double> routed_rows_in(const RecipeSet& recipes, const std::string& phase,
                                     const std::vector<KernelRecord>& kernels) {
  for (const RoutedRowsRule& rule : recipes.routed_rows) {
    if (rule.phase != phase) continue;
    const std::regex pattern(rule.match, std::regex::ECMAScript);
    for (const KernelRecord& k : kernels)
      if (k.grid && std::regex_search(k.name, pattern))
        return static_cast<double>((*k.grid)[static_cast<std::size_t>(rule.axis)]) * rule.rows_per_block;
  }
  return std::nullopt;
}

std::vector<PlannedKernel> expand_recipes(const RecipeSet& recipes, const LayerCost& layer,
                                          const WorkloadSpec& workload, const RoutedRows& rows) {
  const ModelSpec& model = workload.model;
  const AttentionSpec& a = model.attention;
  const bool mla = a.kind == AttentionKind::mla;
  ShapeVariables base = {
      {"tokens", static_cast<double>(workload.training.micro_batch) * workload.training.seq_len},
      {"hidden", model.hidden},
      {"heads", a.heads},
      {"d_qk", mla ? a.qk_nope_head_dim + a.qk_rope_head_dim : a.head_dim},
      {"d_v", mla ? a.v_head_dim : a.head_dim},
      {"top_k", model.moe ? model.moe->top_k : 0},
      {"intermediate", model.moe ? model.moe->expert_intermediate : model.ffn_intermediate},
  };
  std::vector<PlannedKernel> out;
  for (const RecipePhase& phase : recipes.phases) {
    for (const RecipeStep& step : phase.steps) {
      const OpCost* op = layer.find(step.op);
      if (op == nullptr) {
        std::string names;
        for (const OpCost& o : layer.ops) names += (names.empty() ? "" : ", ") + o.name;
        throw InputError(step.mark, fmt::format("op \"{}\" is not an op of {} of {} (its ops: {})", step.op,
                                                layer.name, model.name, names));
      }
      ShapeVariables v = base;
      const bool forward_side = step.pass == OpPass::forward || step.pass == OpPass::recompute;
      const double routed = forward_side ? rows.forward : rows.backward;
      v["m"] = op->kind == OpKind::grouped_gemm && routed > 0 ? routed : op->gemm_m;
      v["routed"] = routed > 0 ? routed : v["tokens"] * v["top_k"];
      v["n"] = op->gemm_n;
      v["k"] = op->gemm_k;
      v["groups"] = op->groups;
      v["bytes_f"] = op->bytes_fwd;
      v["bytes_b"] = op->bytes_bwd_input;
      v["bytes_w"] = op->bytes_bwd_weight;
      switch (step.pass) {
        case OpPass::forward: v["flops"] = op->flops_fwd, v["bytes"] = op->bytes_fwd; break;
        case OpPass::backward_input: v["flops"] = op->flops_bwd_input, v["bytes"] = op->bytes_bwd_input; break;
        case OpPass::backward_weight: v["flops"] = op->flops_bwd_weight, v["bytes"] = op->bytes_bwd_weight; break;
        case OpPass::recompute: v["flops"] = op->recompute_flops, v["bytes"] = op->recompute_bytes; break;
      }
      for (const RecipeKernel& rk : step.kernels) {
        auto value = [&](const std::string& text) {
          if (text.empty()) return 0.0;
          try {
            return evaluate_shape(text, v);
          } catch (const std::invalid_argument& e) {
            throw InputError(rk.mark, e.what());
          }
        };
        KernelShape shape{value(rk.m), value(rk.n), value(rk.k), value(rk.bytes), value(rk.flops)};
        if (rk.form == LawForm::gemm) shape.flops = 2 * shape.m * shape.n * shape.k;
        for (int i = 0; i < rk.count; ++i)
          out.push_back({phase.name, step.op, step.pass, rk.class_name, shape, rk.mark, rk.streams});
      }
    }
  }
  return out;
}

}  // namespace trainsim::calibrate
