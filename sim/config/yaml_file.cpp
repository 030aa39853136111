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

// Old Mac line ends (CR alone): yaml-cpp reads such a file as one line, a comment
// when it starts with one ("empty file"). Read as line ends, so positions count them.
std::string normalize_line_ends(std::string text) {
  for (size_t i = 0; i < text.size(); ++i)
    if (text[i] == '\r' && (i + 1 == text.size() || text[i + 1] != '\n')) text[i] = '\n';
  return text;
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

// How a YAML tag was written: yaml-cpp hands `!!float` on as its full name.
std::string written_tag(const std::string& tag) {
  const std::string core = "tag:yaml.org,2002:";
  return tag.rfind(core, 0) == 0 ? "!!" + tag.substr(core.size()) : tag;
}

// Notes where each document starts and where its root node is. Used instead of
// YAML::LoadAll, which loops forever (allocating) on a stray ',' outside a flow
// collection: yaml-cpp 0.7 then yields an empty document without consuming the
// token, again and again (found by tests/fuzz; case tests/bad-inputs/c-stray-comma.yaml).
// Also refuses, before yaml-cpp builds a node, what the loaders would read wrongly:
// an explicit tag (`!!binary`, `!!float` on a count: the loaders read the text and
// would ignore it) and nesting deeper than kMaxYamlDepth (yaml-cpp's own limit of
// 2000 reports "bad file" without saying why).
struct DocumentMarks : YAML::EventHandler {
  DocumentMarks(std::string file_, bool positions_, const std::string& text_)
      : file(std::move(file_)), positions(positions_), text(text_) {}
  std::string file;
  bool positions;            // errors with LINE:COL (a file), or without (a --set value)
  const std::string& text;  // what the parser reads: a node's mark is an offset into it
  int depth = 0;
  std::vector<YAML::Mark> starts, roots;
  void OnDocumentStart(const YAML::Mark& m) override { starts.push_back(m); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& m, YAML::anchor_t) override { root(m); }
  void OnAlias(const YAML::Mark& m, YAML::anchor_t) override { root(m); }
  void OnScalar(const YAML::Mark& m, const std::string& tag, YAML::anchor_t, const std::string&) override {
    node(m, tag);
  }
  void OnSequenceStart(const YAML::Mark& m, const std::string& tag, YAML::anchor_t, YAML::EmitterStyle::value) override {
    open(m, tag);
  }
  void OnSequenceEnd() override { --depth; }
  void OnMapStart(const YAML::Mark& m, const std::string& tag, YAML::anchor_t, YAML::EmitterStyle::value) override {
    open(m, tag);
  }
  void OnMapEnd() override { --depth; }
  void root(const YAML::Mark& m) {
    if (roots.size() < starts.size()) roots.push_back(m);
  }
  // "?" is a plain node, "!" a quoted scalar or the non-specific tag `!`: yaml-cpp 0.7 gives both "!", events
  // and Node::Tag() alike, but a node's mark is its first token, so a written `!` (after an anchor, if any)
  // is told apart from an opening quote by the text there.
  void node(const YAML::Mark& m, const std::string& tag) {
    root(m);
    if (tag == "!" && written_non_specific_tag(m)) fail(m, "YAML tag \"!\" is not accepted; write the value without a tag");
    if (tag != "?" && tag != "!" && !tag.empty())
      fail(m, "YAML tag \"" + printable(written_tag(tag)) + "\" is not accepted; write the value without a tag");
  }
  [[nodiscard]] bool written_non_specific_tag(const YAML::Mark& m) const {
    if (m.pos < 0) return false;
    std::size_t at = static_cast<std::size_t>(m.pos);
    if (at < text.size() && text[at] == '&') {  // an anchor first: `&a ! value`
      while (at < text.size() && text[at] != ' ' && text[at] != '\t' && text[at] != '\n') ++at;
      while (at < text.size() && (text[at] == ' ' || text[at] == '\t')) ++at;
    }
    return at < text.size() && text[at] == '!';
  }
  void open(const YAML::Mark& m, const std::string& tag) {
    node(m, tag);
    if (++depth > kMaxYamlDepth)
      fail(m, "nested deeper than " + std::to_string(kMaxYamlDepth) + " maps and lists; no trainsim file nests so deep");
  }
  [[noreturn]] void fail(const YAML::Mark& m, const std::string& message) const {
    if (!positions || m.line < 0) throw InputError({file, 0, 0}, message);
    throw InputError({file, m.line + 1, m.column + 1}, message);
  }
};

}  // namespace

std::string read_text_file(const std::string& path) {
  // Stat before open: opening a FIFO without a writer blocks for ever, and reading a
  // device such as /dev/zero never ends.
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!ec && std::filesystem::is_directory(status)) throw InputError({path, 0, 0}, "cannot read: is a directory");
  if (!ec && std::filesystem::exists(status) && !std::filesystem::is_regular_file(status))
    throw InputError({path, 0, 0}, "cannot read: not a regular file (a device, FIFO or socket)");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError({path, 0, 0}, std::string("cannot read: ") + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw InputError({path, 0, 0}, "cannot read: I/O error");
  return text.str();
}

YAML::Node load_yaml_value(const std::string& text, const std::string& origin) {
  try {
    std::istringstream in(text);
    YAML::Parser parser(in);
    DocumentMarks marks(origin, false, text);
    while (marks.starts.size() < 2 && parser.HandleNextDocument(marks)) {
    }
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw InputError({origin, 0, 0}, "malformed value: " + printable(e.msg));
  }
}

YAML::Node read_yaml_file(const std::string& file, const std::string& what) {
  const std::string text = normalize_line_ends(read_text_file(file));
  check_text(file, text);
  YAML::Node doc;
  try {
    // At most three documents: enough to tell one from several, and a parser
    // stuck on a token (two documents starting at the same place) from both.
    std::istringstream in(text);
    YAML::Parser parser(in);
    DocumentMarks marks(file, true, text);
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
