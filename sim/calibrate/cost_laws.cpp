#include "sim/calibrate/cost_laws.hpp"

#include <fmt/format.h>

#include <cmath>
#include <initializer_list>

#include "sim/config/keys.hpp"
#include "sim/config/units.hpp"
#include "sim/config/yaml_file.hpp"
#include "sim/config/yaml_reader.hpp"
#include "sim/calibrate/yaml_lists.hpp"

namespace trainsim::calibrate {
namespace {

const config::SchemaKey& laws_file_schema() {
  static const config::SchemaKey schema =
      flat_schema({"name", "gpu", "source", "sms_total", "launch_gap", "model_error_default", "laws", "provenance", "fit"});
  return schema;
}
const config::SchemaKey& law_entry_schema() {
  static const config::SchemaKey schema = flat_schema(
      {"class", "law", "peak", "sms", "tile_m", "tile_n", "e_max", "k_half", "fixed", "bandwidth", "efficiency", "about", "held"});
  return schema;
}

const config::Range law_positive{0, false};
const config::Range law_non_negative{0, true};
const config::Range law_unit_fraction{0, false, 1, true};

}  // namespace

const char* to_string(LawForm f) {
  static constexpr const char* names[] = {"gemm", "memory", "attention"};
  return names[static_cast<int>(f)];
}

double wave_factor(const CostLaw& law, double m, double n) {
  const double tiles = std::ceil(m / law.tile_m) * std::ceil(n / law.tile_n);
  if (tiles <= 0) return 1;
  const double waves = std::ceil(tiles / law.sms);
  return tiles / (waves * law.sms);
}

double kernel_seconds(const CostLaw& law, const KernelShape& shape) {
  switch (law.form) {
    case LawForm::gemm: {
      const double flops = 2 * shape.m * shape.n * shape.k;
      if (flops <= 0) return 0;
      const double efficiency = law.e_max * shape.k / (shape.k + law.k_half);
      return flops / (law.peak_flops * efficiency * wave_factor(law, shape.m, shape.n));
    }
    case LawForm::memory: return law.fixed_s + shape.bytes / law.bandwidth;
    case LawForm::attention: return shape.flops / (law.peak_flops * law.efficiency);
  }
  return 0;
}

const CostLaw* CostLawTable::find(const std::string& class_name) const {
  for (const CostLaw& law : laws)
    if (law.class_name == class_name) return &law;
  return nullptr;
}

CostLawTable load_cost_laws(const std::string& file, const KernelClassTable& classes) {
  const YAML::Node root = config::read_yaml_file(file, "a cost-law table");
  const config::LoadContext ctx{file, "", {}, nullptr, nullptr};
  const config::Section top(ctx, root, "", laws_file_schema(), root.Mark());
  CostLawTable table{.file = file, .name = top.text("name"), .gpu = top.text("gpu"), .source = top.text("source"), .laws = {}, .marks = {}};
  const int sms_total = top.integer("sms_total", config::Range{1, true, 1024, true});
  table.sms_total = sms_total;
  table.launch_gap_s = top.number_or("launch_gap", units::time_s, law_non_negative, 0);
  if (top.has("model_error_default")) {
    const config::Section s(ctx, root["model_error_default"], "model_error_default", flat_schema({"low", "high", "about"}),
                            root["model_error_default"].Mark());
    ModelErrorDefault d{s.number("low", units::plain_number, law_unit_fraction),
                        s.number("high", units::plain_number, config::Range{1, true}), s.text("about")};
    if (d.about.empty()) s.fail_value("about", "say where the range comes from (an assumption, argued)");
    table.model_error_default = d;
  }

  for (const auto& [s, s_node] : sections_of_list(ctx, top, root, "laws", law_entry_schema())) {
    CostLaw law;
    law.class_name = s.text("class");
    bool known = false;
    for (const KernelClass& c : classes.classes)
      if (c.name == law.class_name) {
        known = true;
        if (c.kind != ClassKind::compute) s.fail_value("class", "a communication class has no compute cost law");
      }
    if (!known) s.fail_value("class", "not a class of " + classes.file);
    if (table.find(law.class_name) != nullptr) s.fail_value("class", "class \"" + law.class_name + "\" has two laws");
    law.form = s.choice<LawForm>("law", {{"gemm", LawForm::gemm}, {"memory", LawForm::memory}, {"attention", LawForm::attention}});
    if (law.form != LawForm::memory) {
      law.sms = s.integer_or("sms", config::Range{1, true, static_cast<double>(sms_total), true}, sms_total);
      law.peak_flops = s.number("peak", units::flops_per_s, law_positive) * law.sms / sms_total;
    } else {
      for (const char* key : {"peak", "sms", "tile_m", "tile_n", "e_max", "k_half", "efficiency"})
        if (s.has(key)) s.fail_key(key, "a memory law reads fixed and bandwidth only");
    }
    if (law.form == LawForm::gemm) {
      law.tile_m = s.number_or("tile_m", units::plain_number, law_positive, 128);
      law.tile_n = s.number_or("tile_n", units::plain_number, law_positive, 128);
      law.e_max = s.number_or("e_max", units::plain_number, law_unit_fraction, 1);
      law.k_half = s.number_or("k_half", units::plain_number, law_non_negative, 0);
    } else {
      for (const char* key : {"tile_m", "tile_n", "e_max", "k_half"})
        if (s.has(key)) s.fail_key(key, std::string("only a gemm law reads ") + key);
    }
    if (law.form == LawForm::memory) {
      law.fixed_s = s.number_or("fixed", units::time_s, law_non_negative, 0);
      law.bandwidth = s.number_or("bandwidth", units::bandwidth_bytes_per_s, law_positive, 1e12);
    } else {
      for (const char* key : {"fixed", "bandwidth"})
        if (s.has(key)) s.fail_key(key, "only a memory law reads fixed and bandwidth");
    }
    if (law.form == LawForm::attention)
      law.efficiency = s.number_or("efficiency", units::plain_number, law_unit_fraction, 1);
    else if (s.has("efficiency"))
      s.fail_key("efficiency", "only an attention law reads efficiency");
    if (s.has("about")) (void)s.text("about");
    if (s.has("held")) {
      law.held = s.text("held");
      // A held law states every parameter its form reads: nothing is left to a fit.
      const std::vector<const char*> needed = law.form == LawForm::gemm     ? std::vector<const char*>{"e_max", "k_half"}
                                              : law.form == LawForm::memory ? std::vector<const char*>{"fixed", "bandwidth"}
                                                                            : std::vector<const char*>{"efficiency"};
      for (const char* key : needed)
        if (!s.has(key)) s.fail_key("held", std::string("a held law must give ") + key);
    }
    table.marks[law.class_name] = s.value_mark("class");
    table.laws.push_back(law);
  }
  return table;
}

}  // namespace trainsim::calibrate
