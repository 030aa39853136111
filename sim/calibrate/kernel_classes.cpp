#include "sim/calibrate/kernel_classes.hpp"

#include <fmt/format.h>

#include <initializer_list>

#include "sim/config/keys.hpp"
#include "sim/config/yaml_file.hpp"
#include "sim/config/yaml_reader.hpp"

namespace trainsim::calibrate {
namespace {

// A map whose keys all take values (a list or a scalar): no nested sections.
config::SchemaKey keys_schema(std::initializer_list<const char*> keys) {
  config::SchemaKey schema;
  for (const char* key : keys) schema.children.push_back({key, {}});
  return schema;
}
const config::SchemaKey& kernel_class_file_schema() {
  // classes: a list of {name, kind, about}; libraries: a list of {library, patterns: [{match, class}]}
  static const config::SchemaKey schema = keys_schema({"name", "source", "classes", "libraries"});
  return schema;
}
const config::SchemaKey& kernel_class_entry_schema() {
  static const config::SchemaKey schema = keys_schema({"name", "kind", "about"});
  return schema;
}
const config::SchemaKey& library_entry_schema() {
  static const config::SchemaKey schema = keys_schema({"library", "patterns"});
  return schema;
}
const config::SchemaKey& pattern_entry_schema() {
  static const config::SchemaKey schema = keys_schema({"match", "class"});
  return schema;
}

// The list under `key` of `owner`, each element a map read as a Section named `path[i]`.
std::vector<config::Section> list_of_maps(const config::LoadContext& ctx, const config::Section& owner,
                                          const YAML::Node& node, const std::string& key,
                                          const config::SchemaKey& schema) {
  const YAML::Node list = node[key];
  if (!list.IsSequence() || list.size() == 0) owner.fail_value(key, "expected a non-empty list of maps");
  std::vector<config::Section> items;
  const std::string path = config::join_path(owner.path(), key);
  for (std::size_t i = 0; i < list.size(); ++i)
    items.emplace_back(ctx, list[i], fmt::format("{}[{}]", path, i), schema, list[i].Mark());
  return items;
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
  for (const config::Section& c : list_of_maps(ctx, top, root, "classes", kernel_class_entry_schema())) {
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

  const YAML::Node libraries = root["libraries"];
  const auto library_sections = list_of_maps(ctx, top, root, "libraries", library_entry_schema());
  for (std::size_t l = 0; l < library_sections.size(); ++l) {
    const config::Section& lib = library_sections[l];
    const std::string library = lib.text("library");
    for (const config::Section& p : list_of_maps(ctx, lib, libraries[l], "patterns", pattern_entry_schema())) {
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
