#include "sim/calibrate/kernel_classes.hpp"

#include <fmt/format.h>

#include <initializer_list>

#include "sim/config/keys.hpp"
#include "sim/config/yaml_file.hpp"
#include "sim/config/yaml_reader.hpp"
#include "sim/calibrate/yaml_lists.hpp"

namespace trainsim::calibrate {
namespace {

const config::SchemaKey& kernel_class_file_schema() {
  // classes: a list of {name, kind, about}; libraries: a list of {library, patterns: [{match, class}]}
  static const config::SchemaKey schema = flat_schema({"name", "source", "classes", "libraries"});
  return schema;
}
const config::SchemaKey& kernel_class_entry_schema() {
  static const config::SchemaKey schema = flat_schema({"name", "kind", "about"});
  return schema;
}
const config::SchemaKey& library_entry_schema() {
  static const config::SchemaKey schema = flat_schema({"library", "patterns"});
  return schema;
}
const config::SchemaKey& pattern_entry_schema() {
  static const config::SchemaKey schema = flat_schema({"match", "class"});
  return schema;
}

bool is_class_name(const std::string& name) {
  if (name.empty()) return false;
  for (const char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

}  // namespace

KernelClassTable load_kernel_classes(const std::string& file) {
  const YAML::Node root = config::read_yaml_file(file, "a kernel-class table");
  const config::LoadContext ctx{file, "", {}, nullptr, nullptr};
  const config::Section top(ctx, root, "", kernel_class_file_schema(), root.Mark());
  (void)top.text("name");
  (void)top.text("source");
  KernelClassTable table;
  table.file = file;

  std::vector<std::string> class_names;
  for (const auto& [c, c_node] : sections_of_list(ctx, top, root, "classes", kernel_class_entry_schema())) {
    KernelClass k;
    k.name = c.text("name");
    if (!is_class_name(k.name)) c.fail_value("name", "a class name is lower-case letters, digits and _");
    if (k.name == unclassified_class) c.fail_value("name", "\"unclassified\" is what no pattern matches; not a class");
    for (const std::string& seen : class_names)
      if (seen == k.name) c.fail_value("name", "class \"" + k.name + "\" is declared twice");
    k.kind = c.choice<ClassKind>("kind", {{"compute", ClassKind::compute}, {"communication", ClassKind::communication}});
    k.about = c.text("about");
    class_names.push_back(k.name);
    table.classes.push_back(std::move(k));
  }

  for (const auto& [lib, lib_node] : sections_of_list(ctx, top, root, "libraries", library_entry_schema())) {
    const std::string library = lib.text("library");
    for (const auto& [p, p_node] : sections_of_list(ctx, lib, lib_node, "patterns", pattern_entry_schema())) {
      KernelPattern pattern;
      pattern.library = library;
      pattern.written = p.text("match");
      pattern.mark = p.value_mark("match");
      try {
        pattern.expression = std::regex(pattern.written, std::regex::ECMAScript);
      } catch (const std::regex_error& e) {
        p.fail_value("match", std::string("not a valid regular expression (ECMAScript): ") + e.what());
      }
      const std::string class_name = p.text("class");
      try {
        pattern.class_index = config::choice_index(class_name, class_names);
      } catch (const std::invalid_argument& e) {
        p.fail_value("class", std::string("not a declared class: ") + e.what());
      }
      table.patterns.push_back(std::move(pattern));
    }
  }
  return table;
}

std::optional<std::size_t> KernelClassifier::classify(const std::string& kernel_name) {
  if (const auto it = known_.find(kernel_name); it != known_.end()) return it->second;
  std::optional<std::size_t> found;
  for (const KernelPattern& p : table_->patterns) {
    if (std::regex_search(kernel_name, p.expression)) {
      found = p.class_index;
      break;
    }
  }
  known_.emplace(kernel_name, found);
  return found;
}

}  // namespace trainsim::calibrate
