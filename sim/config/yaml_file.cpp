#include "sim/config/yaml_file.hpp"

#include <yaml-cpp/eventhandler.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "sim/config/error.hpp"
#include "sim/config/yaml_reader.hpp"

namespace trainsim::config {
namespace {

std::string read_text(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw InputError({path, 0, 0}, "cannot read: is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError({path, 0, 0}, std::string("cannot read: ") + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw InputError({path, 0, 0}, "cannot read: I/O error");
  return text.str();
}

// Refuses what yaml-cpp would accept silently or report obscurely.
void check_text(const std::string& file, const std::string& text) {
  int line = 1, column = 1;
  bool at_indent = true;  // still in the leading whitespace of the line
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\0') throw InputError({file, line, column}, "not a text file (NUL byte); expected YAML");
    if (c == '\n') {
      ++line, column = 1, at_indent = true;
      continue;
    }
    if (at_indent && c == '\t') {
      // A tab in the indentation of a line that holds something (not only a comment).
      size_t j = i;
      while (j < text.size() && (text[j] == ' ' || text[j] == '\t')) ++j;
      if (j < text.size() && text[j] != '\n' && text[j] != '\r' && text[j] != '#')
        throw InputError({file, line, column}, "tab character in indentation; YAML indents with spaces");
    }
    if (c != ' ' && c != '\t') at_indent = false;
    ++column;
  }
}

// Notes where each document starts and where its root node is. Used instead of
// YAML::LoadAll, which loops forever (allocating) on a stray ',' outside a flow
// collection: yaml-cpp 0.7 then yields an empty document without consuming the
// token, again and again (found by tests/fuzz; case tests/bad-inputs/c-stray-comma.yaml).
struct DocumentMarks : YAML::EventHandler {
  std::vector<YAML::Mark> starts, roots;
  void OnDocumentStart(const YAML::Mark& m) override { starts.push_back(m); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& m, YAML::anchor_t) override { root(m); }
  void OnAlias(const YAML::Mark& m, YAML::anchor_t) override { root(m); }
  void OnScalar(const YAML::Mark& m, const std::string&, YAML::anchor_t, const std::string&) override { root(m); }
  void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    root(m);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    root(m);
  }
  void OnMapEnd() override {}
  void root(const YAML::Mark& m) {
    if (roots.size() < starts.size()) roots.push_back(m);
  }
};

}  // namespace

YAML::Node read_yaml_file(const std::string& file, const std::string& what) {
  const std::string text = read_text(file);
  check_text(file, text);
  YAML::Node doc;
  try {
    // At most three documents: enough to tell one from several, and a parser
    // stuck on a token (two documents starting at the same place) from both.
    std::istringstream in(text);
    YAML::Parser parser(in);
    DocumentMarks marks;
    while (marks.starts.size() < 3 && parser.HandleNextDocument(marks)) {
      const size_t n = marks.starts.size();
      if (n >= 2 && marks.starts[n - 1].pos == marks.starts[n - 2].pos) {
        const YAML::Mark m = marks.starts[n - 1];
        const std::string token = m.pos >= 0 && static_cast<size_t>(m.pos) < text.size() ? text.substr(m.pos, 1) : "";
        throw InputError({file, m.line + 1, m.column + 1}, "malformed YAML: unexpected \"" + printable(token) + "\"");
      }
    }
    if (marks.starts.size() > 1) {
      const YAML::Mark m = marks.roots.size() > 1 ? marks.roots[1] : marks.starts[1];
      throw InputError({file, m.line + 1, m.column + 1}, "more than one YAML document; expected only " + what);
    }
    doc = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    const int line = e.mark.line < 0 ? 0 : e.mark.line + 1;
    throw InputError({file, line, e.mark.column + 1}, "malformed YAML: " + printable(e.msg));
  }
  if (doc.IsNull()) throw InputError({file, 0, 0}, "empty file; expected " + what);
  if (!doc.IsMap()) {
    const YAML::Mark m = doc.Mark();
    throw InputError({file, m.line + 1, m.column + 1},
                     "expected " + what + " (a map of keys), got " + (doc.IsSequence() ? "a list" : "a value"));
  }
  return doc;
}

}  // namespace trainsim::config
