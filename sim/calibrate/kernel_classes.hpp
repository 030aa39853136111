#pragma once
// The kernel-class table (topologies/calibration/kernel-classes.yaml): the classes a GPU
// kernel can belong to, and per library an ordered list of regular expressions
// (ECMAScript, std::regex, searched anywhere in the kernel's name) each naming a
// class. The first pattern that matches, in file order, classifies a kernel; a
// kernel no pattern matches is `unclassified` (reported, never dropped).
#include <cstddef>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "sim/config/error.hpp"

namespace trainsim::calibrate {

enum class ClassKind { compute, communication };

struct KernelClass {
  std::string name;
  ClassKind kind = ClassKind::compute;
  std::string about;
};

struct KernelPattern {
  std::string library;
  std::string written;  // the expression as written in the file
  std::regex expression;
  std::size_t class_index = 0;
  SourceMark mark;
};

struct KernelClassTable {
  std::string file;
  std::vector<KernelClass> classes;
  std::vector<KernelPattern> patterns;  // in matching order
};

inline constexpr const char* unclassified_class = "unclassified";

[[nodiscard]] KernelClassTable load_kernel_classes(const std::string& file);

// Classifies kernel names through the table, remembering each name's answer
// (a trace repeats a few hundred names thousands of times).
class KernelClassifier {
 public:
  explicit KernelClassifier(const KernelClassTable& table) : table_(&table) {}
  // The index of the name's class in table.classes, or nullopt when unclassified.
  [[nodiscard]] std::optional<std::size_t> classify(const std::string& kernel_name);

 private:
  const KernelClassTable* table_;
  std::map<std::string, std::optional<std::size_t>> known_;
};

}  // namespace trainsim::calibrate
