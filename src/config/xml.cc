#include "config/xml.h"

#include <algorithm>
#include <charconv>
#include <functional>
#include <initializer_list>
#include <limits>
#include <memory>
#include <optional>
#include <pugixml.hpp>
#include <set>
#include <sstream>
#include <vector>

#include "base/hex.h"
#include "base/random.h"

namespace vnet::config {

namespace {

using model::Bootp;
using model::Bridge;
using model::DhcpHost;
using model::DhcpRange;
using model::Dns;
using model::DnsForwarder;
using model::DnsHost;
using model::DnsSrv;
using model::DnsTxt;
using model::ForwardMode;
using model::IpConfig;
using model::Lease;
using model::Nat;
using model::Network;
using model::Route;
using model::UnsupportedElement;

constexpr unsigned kParseFlags = pugi::parse_default;
constexpr unsigned kFormatFlags =
    pugi::format_indent | pugi::format_attribute_single_quote | pugi::format_no_declaration;

// ---------------------------------------------------------------------------------------
// Loading

// Maps byte offsets of the input text to 1-based lines and columns.
class LineIndex {
 public:
  explicit LineIndex(std::string_view text) {
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '\n') newlines_.push_back(i);
    }
  }
  int line(ptrdiff_t offset) const {
    if (offset < 0) return 0;
    return 1 + int(lineIndex(size_t(offset)));
  }
  int column(ptrdiff_t offset) const {
    if (offset < 0) return 0;
    size_t i = lineIndex(size_t(offset));
    size_t start = i == 0 ? 0 : newlines_[i - 1] + 1;
    return 1 + int(size_t(offset) - start);
  }

 private:
  size_t lineIndex(size_t offset) const {
    return size_t(std::lower_bound(newlines_.begin(), newlines_.end(), offset) - newlines_.begin());
  }
  std::vector<size_t> newlines_;
};

struct Loaded {
  pugi::xml_document doc;
  LineIndex lines;
  explicit Loaded(std::string_view text) : lines(text) {}
};

std::string hexByte(unsigned char b) {
  static constexpr char kHex[] = "0123456789abcdef";
  return std::string("0x") + kHex[b >> 4] + kHex[b & 15];
}

// The first place where `text` is not well-formed UTF-8 or holds a character that XML 1.0
// (section 2.2) does not allow: controls other than tab, LF and CR, surrogates, U+FFFE and
// U+FFFF. pugixml checks neither; libvirt (libxml2) refuses both.
struct BadChar {
  size_t offset = 0;
  std::string what;
};

std::optional<BadChar> findBadCharacter(std::string_view text) {
  auto u = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  size_t i = 0;
  while (i < text.size()) {
    unsigned char b = u(i);
    if (b < 0x80) {
      if (b < 0x20 && b != '\t' && b != '\n' && b != '\r') {
        return BadChar{i, "control character " + hexByte(b) + " is not allowed in XML" +
                              (b == 0 ? " (is the file UTF-16? XML is read as UTF-8)" : "")};
      }
      ++i;
      continue;
    }
    size_t len = 0;
    uint32_t cp = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (b >= 0xC2 && b <= 0xDF) {
      len = 2;
      cp = b & 0x1F;
    } else if (b >= 0xE0 && b <= 0xEF) {
      len = 3;
      cp = b & 0x0F;
      if (b == 0xE0) lo = 0xA0;  // no overlong forms
      if (b == 0xED) hi = 0x9F;  // no surrogates
    } else if (b >= 0xF0 && b <= 0xF4) {
      len = 4;
      cp = b & 0x07;
      if (b == 0xF0) lo = 0x90;
      if (b == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
    } else {
      return BadChar{i, "invalid UTF-8 (byte " + hexByte(b) + ")"};
    }
    if (i + len > text.size()) return BadChar{i, "truncated UTF-8 sequence"};
    for (size_t k = 1; k < len; ++k) {
      unsigned char c = u(i + k);
      bool ok = k == 1 ? (c >= lo && c <= hi) : (c >= 0x80 && c <= 0xBF);
      if (!ok)
        return BadChar{i, "invalid UTF-8 (byte " + hexByte(c) + " after " + hexByte(b) + ")"};
      cp = (cp << 6) | (c & 0x3F);
    }
    if (cp == 0xFFFE || cp == 0xFFFF) {
      return BadChar{i, std::string("character U+") + (cp == 0xFFFE ? "FFFE" : "FFFF") +
                            " is not allowed in XML"};
    }
    i += len;
  }
  return std::nullopt;
}

// The elements open at `limit` (name and offset of '<'), by a light scan that skips
// comments, CDATA, processing instructions, declarations and quoted attribute values. Only
// used to explain a syntax error that pugixml reported at `limit`.
std::vector<std::pair<std::string, size_t>> openElements(std::string_view text, size_t limit) {
  std::vector<std::pair<std::string, size_t>> open;
  auto skipTo = [&](size_t from, std::string_view end) {
    size_t at = text.find(end, from);
    return at == std::string_view::npos ? text.size() : at + end.size();
  };
  auto nameAt = [&](size_t from) {
    size_t end = text.find_first_of(" \t\r\n/>", from);
    return std::string(
        text.substr(from, (end == std::string_view::npos ? text.size() : end) - from));
  };
  size_t i = 0;
  while (i < limit && i < text.size()) {
    if (text[i] != '<') {
      ++i;
      continue;
    }
    std::string_view rest = text.substr(i);
    if (rest.starts_with("<!--")) {
      i = skipTo(i + 4, "-->");
    } else if (rest.starts_with("<![CDATA[")) {
      i = skipTo(i + 9, "]]>");
    } else if (rest.starts_with("<?")) {
      i = skipTo(i + 2, "?>");
    } else if (rest.starts_with("<!")) {
      i = skipTo(i + 2, ">");
    } else if (rest.starts_with("</")) {
      i = skipTo(i + 2, ">");
      if (i > limit) break;  // the closing tag the error is about
      if (!open.empty()) open.pop_back();
    } else {
      size_t start = i;
      std::string name = nameAt(i + 1);
      char quote = 0;
      for (i += 1 + name.size(); i < text.size(); ++i) {
        char c = text[i];
        if (quote) {
          if (c == quote) quote = 0;
        } else if (c == '\'' || c == '"') {
          quote = c;
        } else if (c == '>') {
          break;
        }
      }
      if (i < text.size() && text[i - 1] != '/' && start < limit) open.emplace_back(name, start);
      ++i;
    }
  }
  return open;
}

// pugixml's description, made to say what is open or expected where that helps.
std::string describeParseError(std::string_view text, const pugi::xml_parse_result& r,
                               const LineIndex& lines, std::string_view root_name) {
  std::string at = "line " + std::to_string(lines.line(r.offset)) + ", column " +
                   std::to_string(lines.column(r.offset)) + ": ";
  auto offset = static_cast<size_t>(std::max<ptrdiff_t>(r.offset, 0));
  switch (r.status) {
    case pugi::status_no_document_element:
      return "document: no root element (expected <" + std::string(root_name) + ">)";
    case pugi::status_bad_attribute:
      return at + "malformed attribute (write name='value' or name=\"value\")";
    case pugi::status_end_element_mismatch: {
      auto open = openElements(text, offset);
      if (open.empty()) break;
      const auto& [name, start] = open.back();
      std::string element =
          "<" + name + "> (line " + std::to_string(lines.line(ptrdiff_t(start))) + ")";
      if (text.find_first_not_of(" \t\r\n", offset) == std::string_view::npos) {
        return at + "the input ends before " + element + " is closed";
      }
      size_t end = text.find_first_of(" \t\r\n>", offset);
      std::string closing(
          text.substr(offset, (end == std::string_view::npos ? text.size() : end) - offset));
      return at + "</" + closing + "> does not close " + element;
    }
    default:
      break;
  }
  return at + r.description();
}

// The first numeric character reference (section 4.1) beyond U+10FFFF, outside comments,
// CDATA sections and processing instructions (where nothing is decoded). pugixml accumulates
// the digits in 32 bits, so &#4294967361; would silently become 'A'.
std::optional<BadChar> findBadReference(std::string_view text) {
  size_t i = 0;
  auto skipPast = [&](std::string_view end) {
    const size_t e = text.find(end, i);
    i = e == std::string_view::npos ? text.size() : e + end.size();
  };
  while (i < text.size()) {
    if (text.compare(i, 4, "<!--") == 0) {
      skipPast("-->");
      continue;
    }
    if (text.compare(i, 9, "<![CDATA[") == 0) {
      skipPast("]]>");
      continue;
    }
    if (text.compare(i, 2, "<?") == 0) {
      skipPast("?>");
      continue;
    }
    if (text.compare(i, 2, "&#") != 0) {
      ++i;
      continue;
    }
    const size_t start = i;
    size_t j = i + 2;
    const bool hex = j < text.size() && text[j] == 'x';
    if (hex) ++j;
    uint32_t value = 0;  // saturates just above the limit
    size_t digits = 0;
    for (; j < text.size(); ++j, ++digits) {
      const char c = text[j];
      const int d = hex ? hexDigitValue(c) : (c >= '0' && c <= '9' ? c - '0' : -1);
      if (d < 0) break;
      value = std::min<uint32_t>(value * (hex ? 16 : 10) + uint32_t(d), 0x110000);
    }
    if (digits > 0 && j < text.size() && text[j] == ';' && value > 0x10FFFF) {
      std::string ref(text.substr(start, std::min<size_t>(j + 1 - start, 24)));
      if (j + 1 - start > 24) ref += "...";
      return BadChar{start, "character reference '" + ref + "' is beyond U+10FFFF"};
    }
    i = j;
  }
  return std::nullopt;
}

// Checks of the parsed tree, element by element:
//  - pugixml keeps a repeated attribute (<ip address='a' address='b'>) and reads the first;
//    XML forbids it (section 3.1), libvirt refuses it;
//  - a character reference is decoded by pugixml without a check: &#1; or &#99999999; would
//    put a control character or bytes that are not UTF-8 into a value, which the normalized
//    definition could not be read back from. XML allows only Char (section 2.2) there too.
Status checkTree(pugi::xml_document& doc, const LineIndex& lines) {
  struct Walker : pugi::xml_tree_walker {
    const LineIndex* lines = nullptr;
    std::optional<Error> error;
    std::vector<std::string_view> names;
    static std::string pathOf(pugi::xml_node n) {
      std::string path;
      for (pugi::xml_node p = n; p && p.type() == pugi::node_element; p = p.parent()) {
        path = std::string(p.name()) + (path.empty() ? "" : "/") + path;
      }
      return path;
    }
    void fail(pugi::xml_node at, const std::string& what) {
      pugi::xml_node element = at.type() == pugi::node_element ? at : at.parent();
      error = Error::invalid(
          model::elementLocation(pathOf(element), lines->line(element.offset_debug())) + ": " +
          what);
    }
    bool for_each(pugi::xml_node& n) override {
      if (n.type() == pugi::node_pcdata || n.type() == pugi::node_cdata) {
        if (auto bad = findBadCharacter(n.value())) {
          fail(n, "text: " + bad->what + " (from a character reference)");
          return false;
        }
        return true;
      }
      if (n.type() != pugi::node_element) return true;
      names.clear();
      for (pugi::xml_attribute a : n.attributes()) {
        names.emplace_back(a.name());
        if (auto bad = findBadCharacter(a.value())) {
          fail(n, "attribute '" + std::string(a.name()) + "': " + bad->what +
                      " (from a character reference)");
          return false;
        }
      }
      std::sort(names.begin(), names.end());
      auto twice = std::adjacent_find(names.begin(), names.end());
      if (twice == names.end()) return true;
      fail(n, "attribute '" + std::string(*twice) + "' is given twice");
      return false;
    }
  } walker;
  walker.lines = &lines;
  doc.traverse(walker);
  if (walker.error) return *walker.error;
  return Status::success();
}

Result<std::unique_ptr<Loaded>> load(std::string_view text, std::string_view root_name) {
  if (text.size() > kMaxXmlBytes) {
    return Error(ErrorCode::TooLarge, "XML of " + std::to_string(text.size()) +
                                          " bytes exceeds the limit of " +
                                          std::to_string(kMaxXmlBytes) + " bytes");
  }
  auto loaded = std::make_unique<Loaded>(text);
  auto at = [&](ptrdiff_t offset) {
    return "line " + std::to_string(loaded->lines.line(offset)) + ", column " +
           std::to_string(loaded->lines.column(offset)) + ": ";
  };
  if (auto badChar = findBadCharacter(text)) {
    return Error::invalid(at(ptrdiff_t(badChar->offset)) + badChar->what);
  }
  if (auto badRef = findBadReference(text)) {
    return Error::invalid(at(ptrdiff_t(badRef->offset)) + badRef->what);
  }
  pugi::xml_parse_result r = loaded->doc.load_buffer(
      text.data(), text.size(), kParseFlags | pugi::parse_doctype, pugi::encoding_utf8);
  if (!r) return Error::invalid(describeParseError(text, r, loaded->lines, root_name));
  for (pugi::xml_node n : loaded->doc.children()) {
    // pugixml skips DTDs and leaves entity references it does not know as text; libvirt
    // definitions never have one.
    if (n.type() == pugi::node_doctype) {
      size_t start = text.rfind("<!", size_t(std::max<ptrdiff_t>(n.offset_debug(), 0)));
      return Error::invalid(at(start == std::string_view::npos ? 0 : ptrdiff_t(start)) +
                            "a DOCTYPE is not allowed (entities would not be expanded)");
    }
  }
  if (Status s = checkTree(loaded->doc, loaded->lines); !s.ok()) return std::move(s).error();
  int roots = 0;
  for (pugi::xml_node n : loaded->doc.children()) roots += n.type() == pugi::node_element;
  pugi::xml_node root = loaded->doc.document_element();
  std::string want = "<" + std::string(root_name) + ">";
  if (!root) return Error::invalid("document: no root element (expected " + want + ")");
  std::string where = model::elementLocation(root.name(), loaded->lines.line(root.offset_debug()));
  if (root.name() != root_name) {
    return Error::invalid(where + ": the root element must be " + want + ", not <" + root.name() +
                          ">");
  }
  if (roots != 1) {
    return Error::invalid(where + ": expected exactly one root element " + want + ", found " +
                          std::to_string(roots));
  }
  return loaded;
}

// ---------------------------------------------------------------------------------------
// Attribute readers: each leaves `out` unchanged when the attribute is absent.

// One element being parsed: its node, its path for messages ("network/ip[1]") and line.
struct El {
  pugi::xml_node node;
  std::string path;
  int line = 0;
};

Error bad(const El& e, std::string_view message) {
  return Error::invalid(model::elementLocation(e.path, e.line) + ": " + std::string(message));
}

Error badValue(const El& e, const char* name, const char* value, std::string_view what) {
  return bad(e, std::string(name) + "='" + value + "' is not " + std::string(what));
}

Error missing(const El& e, const char* name) {
  return bad(e, std::string("missing attribute '") + name + "'");
}

const char* attrValue(const El& e, const char* name) {
  pugi::xml_attribute a = e.node.attribute(name);
  return a ? a.value() : nullptr;
}

Status read(const El& e, const char* name, std::string& out) {
  if (const char* v = attrValue(e, name)) out = v;
  return Status::success();
}

Status read(const El& e, const char* name, std::optional<IpAddress>& out) {
  const char* v = attrValue(e, name);
  if (!v) return Status::success();
  out = IpAddress::parse(v);
  if (!out) return badValue(e, name, v, "a valid IP address");
  return Status::success();
}

Status read(const El& e, const char* name, std::optional<Ipv4>& out) {
  const char* v = attrValue(e, name);
  if (!v) return Status::success();
  out = Ipv4::parse(v);
  if (!out) return badValue(e, name, v, "a valid IPv4 address");
  return Status::success();
}

Status read(const El& e, const char* name, std::optional<Mac>& out) {
  const char* v = attrValue(e, name);
  if (!v) return Status::success();
  out = Mac::parse(v);
  if (!out) return badValue(e, name, v, "a valid MAC address");
  return Status::success();
}

std::optional<uint64_t> parseNumber(std::string_view s, uint64_t max) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v > max) {
    return std::nullopt;
  }
  return v;
}

template <typename T>
Status read(const El& e, const char* name, std::optional<T>& out) {
  static_assert(std::is_unsigned_v<T>);
  const char* v = attrValue(e, name);
  if (!v) return Status::success();
  constexpr uint64_t kMax = std::numeric_limits<T>::max();
  auto n = parseNumber(v, kMax);
  if (!n) return badValue(e, name, v, "a number in 0.." + std::to_string(kMax));
  out = T(*n);
  return Status::success();
}

// A two-valued attribute: yes/no (or on/off for <bridge stp>).
Status readBool(const El& e, const char* name, std::optional<bool>& out, const char* yes = "yes",
                const char* no = "no") {
  const char* v = attrValue(e, name);
  if (!v) return Status::success();
  std::string_view s(v);
  if (s != yes && s != no) {
    return badValue(e, name, v, std::string("'") + yes + "' or '" + no + "'");
  }
  out = s == yes;
  return Status::success();
}

Status readFlag(const El& e, const char* name, bool& out) {
  std::optional<bool> v;
  VNET_TRY(readBool(e, name, v));
  if (v) out = *v;
  return Status::success();
}

template <typename T>
Status readRequired(const El& e, const char* name, T& out) {
  std::optional<T> v;
  VNET_TRY(read(e, name, v));
  if (!v) return missing(e, name);
  out = *v;
  return Status::success();
}

Status readFamily(const El& e, Family& family, bool& written) {
  const char* v = attrValue(e, "family");
  if (!v) return Status::success();
  std::string_view s(v);
  if (s != "ipv4" && s != "ipv6") return badValue(e, "family", v, "'ipv4' or 'ipv6'");
  family = s == "ipv4" ? Family::V4 : Family::V6;
  written = true;
  return Status::success();
}

// prefix= or netmask= (IPv4 only); neither gives the classful (IPv4) or /64 (IPv6) default.
Status readPrefix(const El& e, const IpAddress& address, int& prefix, bool& netmask_form) {
  const char* mask = attrValue(e, "netmask");
  const char* p = attrValue(e, "prefix");
  if (mask && p) return bad(e, "netmask and prefix are mutually exclusive");
  if (p) {
    auto len = parseNumber(p, 128);
    if (!len) return badValue(e, "prefix", p, "a prefix length in 0..128");
    prefix = int(*len);
  } else if (mask) {
    auto m = Ipv4::parse(mask);
    auto len = m ? m->maskToPrefix() : std::nullopt;
    if (!len) return badValue(e, "netmask", mask, "a valid IPv4 netmask");
    if (!address.isV4()) return bad(e, "netmask is only allowed for IPv4; use prefix");
    prefix = *len;
    netmask_form = true;
  } else if (address.isV4()) {
    uint32_t first = address.v4().toUint() >> 24;
    prefix = first < 128 ? 8 : first < 192 ? 16 : 24;
  } else {
    prefix = 64;
  }
  return Status::success();
}

// pugixml output in libvirt's style: "<a/>" rather than "<a />", and carriage returns in
// text escaped (a raw CR would read back as a newline). Expects no CDATA in `printed`.
std::string tidy(const std::string& printed) {
  std::string out;
  out.reserve(printed.size());
  bool in_tag = false, in_quote = false;
  for (size_t i = 0; i < printed.size(); ++i) {
    char c = printed[i];
    if (!in_tag) {
      in_tag = c == '<';
      if (c == '\r') {
        out += "&#13;";
        continue;
      }
    } else if (c == '\'') {
      in_quote = !in_quote;
    } else if (!in_quote) {
      if (c == '>') in_tag = false;
      if (c == ' ' && printed.compare(i, 3, " />") == 0) continue;
    }
    out += c;
  }
  return out;
}

// Replaces CDATA sections under `n` by equivalent text nodes (see tidy()).
void cdataToText(pugi::xml_node n) {
  std::vector<pugi::xml_node> cdata;
  struct Collector : pugi::xml_tree_walker {
    std::vector<pugi::xml_node>* out;
    bool for_each(pugi::xml_node& node) override {
      if (node.type() == pugi::node_cdata) out->push_back(node);
      return true;
    }
  } collector;
  collector.out = &cdata;
  n.traverse(collector);
  for (pugi::xml_node c : cdata) {
    c.parent().insert_child_before(pugi::node_pcdata, c).set_value(c.value());
    c.parent().remove_child(c);
  }
}

// Concatenated text of the element's own text and CDATA children.
std::string textOf(pugi::xml_node n) {
  std::string s;
  for (pugi::xml_node c : n.children()) {
    if (c.type() == pugi::node_pcdata || c.type() == pugi::node_cdata) s += c.value();
  }
  return s;
}

// ---------------------------------------------------------------------------------------
// Kept (unsupported) elements

// Collects the namespace prefixes used by element and attribute names of a subtree.
class PrefixCollector : public pugi::xml_tree_walker {
 public:
  std::set<std::string> prefixes;
  void add(std::string_view name) {
    size_t colon = name.find(':');
    if (colon == std::string_view::npos) return;
    std::string prefix(name.substr(0, colon));
    if (prefix != "xml" && prefix != "xmlns") prefixes.insert(prefix);
  }
  void addNode(pugi::xml_node n) {
    add(n.name());
    for (pugi::xml_attribute a : n.attributes()) add(a.name());
  }
  bool for_each(pugi::xml_node& n) override {
    if (n.type() == pugi::node_element) addNode(n);
    return true;
  }
};

// The element as standalone XML: prefixes declared on its ancestors are declared on it.
std::string serializeKept(pugi::xml_node n) {
  pugi::xml_document tmp;
  pugi::xml_node copy = tmp.append_copy(n);
  PrefixCollector collector;
  collector.addNode(n);
  n.traverse(collector);
  for (const std::string& prefix : collector.prefixes) {
    std::string decl = "xmlns:" + prefix;
    if (copy.attribute(decl.c_str())) continue;
    for (pugi::xml_node a = n.parent(); a; a = a.parent()) {
      if (pugi::xml_attribute d = a.attribute(decl.c_str())) {
        copy.append_attribute(decl.c_str()).set_value(d.value());
        break;
      }
    }
  }
  cdataToText(copy);
  std::ostringstream os;
  copy.print(os, "", pugi::format_raw | pugi::format_attribute_single_quote, pugi::encoding_utf8);
  return tidy(os.str());
}

// ---------------------------------------------------------------------------------------
// Parsing

struct ChildRule {
  const char* name;
  bool repeated;  // path gets an index: ip[1], ip[2]
  std::function<Status(const El&)> parse;
};

class Parser {
 public:
  // Unknown children of container elements go to `kept` (ignored when null).
  Parser(const LineIndex& lines, std::vector<UnsupportedElement>* kept)
      : lines_(lines), kept_(kept) {}

  El root(pugi::xml_node n) const { return element(n, n.name()); }

  Status network(const El& e, Network& net) const {
    net.line = e.line;
    return children(
        e,
        {{"name", false,
          [&](const El& c) -> Status {
            net.name = textOf(c.node);
            net.nameLine = c.line;
            return Status::success();
          }},
         {"uuid", false,
          [&](const El& c) -> Status {
            net.uuid = textOf(c.node);
            if (!isUuid(net.uuid)) return bad(c, "'" + net.uuid + "' is not a valid UUID");
            return Status::success();
          }},
         {"title", false,
          [&](const El& c) -> Status {
            net.title = textOf(c.node);
            return Status::success();
          }},
         {"description", false,
          [&](const El& c) -> Status {
            net.description = textOf(c.node);
            return Status::success();
          }},
         {"forward", false, [&](const El& c) { return forward(c, net); }},
         {"bridge", false, [&](const El& c) { return bridge(c, net.bridge); }},
         {"mac", false,
          [&](const El& c) -> Status {
            net.macLine = c.line;
            Mac mac;
            VNET_TRY(readRequired(c, "address", mac));
            net.mac = mac;
            return Status::success();
          }},
         {"mtu", false,
          [&](const El& c) -> Status {
            net.mtuLine = c.line;
            unsigned size = 0;
            VNET_TRY(readRequired(c, "size", size));
            net.mtu = size;
            return Status::success();
          }},
         {"domain", false,
          [&](const El& c) -> Status {
            net.domain.emplace().line = c.line;
            VNET_TRY(read(c, "name", net.domain->name));
            return readFlag(c, "localOnly", net.domain->localOnly);
          }},
         {"dns", false, [&](const El& c) { return dns(c, net.dnsElement.emplace()); }},
         {"ip", true, [&](const El& c) { return ip(c, net.ips.emplace_back()); }},
         {"route", true, [&](const El& c) { return route(c, net.routes.emplace_back()); }}},
        true);
  }

  Status dhcpHost(const El& e, DhcpHost& h) const {
    h.line = e.line;
    VNET_TRY(read(e, "mac", h.mac));
    VNET_TRY(read(e, "id", h.id));
    VNET_TRY(read(e, "name", h.name));
    VNET_TRY(read(e, "ip", h.ip));
    return children(e, {leaseRule(h.lease)});
  }

  Status range(const El& e, DhcpRange& r) const {
    r.line = e.line;
    VNET_TRY(readRequired(e, "start", r.start));
    VNET_TRY(readRequired(e, "end", r.end));
    return children(e, {leaseRule(r.lease)});
  }

  Status dnsHost(const El& e, DnsHost& h) const {
    h.line = e.line;
    VNET_TRY(readRequired(e, "ip", h.ip));
    return children(e, {{"hostname", true, [&](const El& c) -> Status {
                           h.hostnames.push_back(textOf(c.node));
                           return Status::success();
                         }}});
  }

  Status srv(const El& e, DnsSrv& s) const {
    s.line = e.line;
    VNET_TRY(read(e, "service", s.service));
    VNET_TRY(read(e, "protocol", s.protocol));
    VNET_TRY(read(e, "domain", s.domain));
    VNET_TRY(read(e, "target", s.target));
    VNET_TRY(read(e, "port", s.port));
    VNET_TRY(read(e, "priority", s.priority));
    return read(e, "weight", s.weight);
  }

  Status txt(const El& e, DnsTxt& t) const {
    t.line = e.line;
    VNET_TRY(read(e, "name", t.name));
    return read(e, "value", t.value);
  }

 private:
  El element(pugi::xml_node n, std::string path) const {
    return El{n, std::move(path), lines_.line(n.offset_debug())};
  }

  // Parses the element children of `parent` by rule; a second singleton is an error,
  // unknown children are kept when `keep_unknown` (and ignored otherwise).
  Status children(const El& parent, std::initializer_list<ChildRule> rules,
                  bool keep_unknown = false) const {
    std::vector<int> counts(rules.size(), 0);
    for (pugi::xml_node n = parent.node.first_child(); n; n = n.next_sibling()) {
      if (n.type() != pugi::node_element) continue;
      std::string_view name = n.name();
      auto rule = std::find_if(rules.begin(), rules.end(),
                               [&](const ChildRule& r) { return name == r.name; });
      if (rule == rules.end()) {
        if (keep_unknown) keep(parent, n);
        continue;
      }
      int count = ++counts[size_t(rule - rules.begin())];
      std::string path = parent.path + "/" + rule->name;
      if (rule->repeated) path += "[" + std::to_string(count) + "]";
      El child = element(n, std::move(path));
      if (!rule->repeated && count > 1) {
        return bad(child, std::string("duplicate <") + rule->name + ">");
      }
      VNET_TRY(rule->parse(child));
    }
    return Status::success();
  }

  void keep(const El& parent, pugi::xml_node n) const {
    if (!kept_) return;
    kept_->push_back(UnsupportedElement{parent.path + "/" + n.name(), serializeKept(n),
                                        lines_.line(n.offset_debug())});
  }

  ChildRule leaseRule(std::optional<Lease>& lease) const {
    return {"lease", false, [&lease](const El& c) -> Status {
              Lease& l = lease.emplace();
              VNET_TRY(readRequired(c, "expiry", l.expiry));
              return read(c, "unit", l.unit);
            }};
  }

  Status forward(const El& e, Network& net) const {
    net.hasForwardElement = true;
    net.forwardLine = e.line;
    if (const char* mode = attrValue(e, "mode")) {
      auto known = model::parseForwardMode(mode);
      if (known) {
        net.mode = *known;
      } else if (isKeptForwardMode(mode)) {
        net.mode = ForwardMode::Isolated;
        net.forwardModeOther = mode;
      } else {
        return badValue(e, "mode", mode,
                        "a known forward mode (nat, route, open, bridge, none; kept but not "
                        "started: passthrough, private, vepa, hostdev)");
      }
    } else {
      net.mode = ForwardMode::Nat;  // libvirt: <forward/> without mode is NAT
    }
    VNET_TRY(read(e, "dev", net.forwardDev));
    return children(e, {{"nat", false, [&](const El& c) { return nat(c, net.nat.emplace()); }}},
                    true);
  }

  Status nat(const El& e, Nat& n) const {
    n.line = e.line;
    VNET_TRY(readFlag(e, "ipv6", n.ipv6));
    return children(e,
                    {{"address", false,
                      [&](const El& c) -> Status {
                        Ipv4 start, end;
                        VNET_TRY(readRequired(c, "start", start));
                        VNET_TRY(readRequired(c, "end", end));
                        n.addressStart = start;
                        n.addressEnd = end;
                        return Status::success();
                      }},
                     {"port", false,
                      [&](const El& c) -> Status {
                        VNET_TRY(readRequired(c, "start", n.portStart));
                        VNET_TRY(readRequired(c, "end", n.portEnd));
                        n.portsSet = true;
                        return Status::success();
                      }}},
                    true);
  }

  Status bridge(const El& e, Bridge& b) const {
    b.line = e.line;
    VNET_TRY(read(e, "name", b.name));
    std::optional<bool> stp;
    VNET_TRY(readBool(e, "stp", stp, "on", "off"));
    b.stp = stp.value_or(true);
    std::optional<unsigned> delay;
    VNET_TRY(read(e, "delay", delay));
    b.delay = delay.value_or(0);
    return Status::success();
  }

  Status dns(const El& e, Dns& d) const {
    d.line = e.line;
    VNET_TRY(readBool(e, "enable", d.enable));
    VNET_TRY(readBool(e, "forwardPlainNames", d.forwardPlainNames));
    return children(
        e,
        {{"forwarder", true,
          [&](const El& c) -> Status {
            DnsForwarder& f = d.forwarders.emplace_back();
            f.line = c.line;
            VNET_TRY(read(c, "addr", f.addr));
            VNET_TRY(read(c, "port", f.port));
            return read(c, "domain", f.domain);
          }},
         {"host", true, [&](const El& c) { return dnsHost(c, d.hosts.emplace_back()); }},
         {"srv", true, [&](const El& c) { return srv(c, d.srvs.emplace_back()); }},
         {"txt", true, [&](const El& c) { return txt(c, d.txts.emplace_back()); }}},
        true);
  }

  Status ip(const El& e, IpConfig& cfg) const {
    cfg.line = e.line;
    VNET_TRY(readRequired(e, "address", cfg.address));
    cfg.family = cfg.address.family();
    VNET_TRY(readFamily(e, cfg.family, cfg.familyWritten));
    VNET_TRY(readPrefix(e, cfg.address, cfg.prefix, cfg.netmaskForm));
    VNET_TRY(readFlag(e, "localPtr", cfg.localPtr));
    return children(e,
                    {{"dhcp", false,
                      [&](const El& c) {
                        cfg.hasDhcp = true;
                        cfg.dhcpLine = c.line;
                        return dhcp(c, cfg);
                      }}},
                    true);
  }

  Status dhcp(const El& e, IpConfig& cfg) const {
    return children(
        e,
        {{"range", true, [&](const El& c) { return range(c, cfg.ranges.emplace_back()); }},
         {"host", true, [&](const El& c) { return dhcpHost(c, cfg.hosts.emplace_back()); }},
         {"bootp", false,
          [&](const El& c) -> Status {
            Bootp& b = cfg.bootp.emplace();
            b.line = c.line;
            VNET_TRY(read(c, "file", b.file));
            return read(c, "server", b.server);
          }}},
        true);
  }

  Status route(const El& e, Route& r) const {
    r.line = e.line;
    VNET_TRY(readRequired(e, "address", r.address));
    r.family = r.address.family();
    VNET_TRY(readFamily(e, r.family, r.familyWritten));
    bool netmask_form = false;
    VNET_TRY(readPrefix(e, r.address, r.prefix, netmask_form));
    VNET_TRY(readRequired(e, "gateway", r.gateway));
    return read(e, "metric", r.metric);
  }

  const LineIndex& lines_;
  std::vector<UnsupportedElement>* kept_;
};

template <typename T, typename Fn>
Result<T> parseFragment(std::string_view xml, std::string_view root, Fn parse) {
  auto loaded = load(xml, root);
  if (!loaded) return std::move(loaded).error();
  Parser parser((*loaded)->lines, nullptr);
  T out;
  VNET_TRY(parse(parser, parser.root((*loaded)->doc.document_element()), out));
  return out;
}

// ---------------------------------------------------------------------------------------
// Formatting

bool loadSingleElement(pugi::xml_document& doc, std::string_view xml) {
  if (!doc.load_buffer(xml.data(), xml.size(), kParseFlags, pugi::encoding_utf8)) return false;
  int elements = 0;
  for (pugi::xml_node n : doc.children()) elements += n.type() == pugi::node_element;
  return elements == 1;
}

void setAttr(pugi::xml_node n, const char* name, const std::string& value) {
  n.append_attribute(name).set_value(value.c_str());
}

void setAttrIfAny(pugi::xml_node n, const char* name, const std::string& value) {
  if (!value.empty()) setAttr(n, name, value);
}

template <typename T>
void setNumberIf(pugi::xml_node n, const char* name, const std::optional<T>& v) {
  if (v) setAttr(n, name, std::to_string(*v));
}

void setYesNo(pugi::xml_node n, const char* name, bool v) {
  setAttr(n, name, v ? "yes" : "no");
}

std::string print(const pugi::xml_node& n) {
  std::ostringstream os;
  n.print(os, "  ", kFormatFlags, pugi::encoding_utf8);
  return tidy(os.str());
}

void writeLease(pugi::xml_node parent, const std::optional<Lease>& lease) {
  if (!lease) return;
  pugi::xml_node n = parent.append_child("lease");
  setAttr(n, "expiry", std::to_string(lease->expiry));
  setAttr(n, "unit", lease->unit);
}

void writeRange(pugi::xml_node parent, const DhcpRange& r) {
  pugi::xml_node n = parent.append_child("range");
  setAttr(n, "start", r.start.toString());
  setAttr(n, "end", r.end.toString());
  writeLease(n, r.lease);
}

void writeDhcpHost(pugi::xml_node parent, const DhcpHost& h) {
  pugi::xml_node n = parent.append_child("host");
  if (h.mac) setAttr(n, "mac", h.mac->toString());
  setAttrIfAny(n, "id", h.id);
  setAttrIfAny(n, "name", h.name);
  if (h.ip) setAttr(n, "ip", h.ip->toString());
  writeLease(n, h.lease);
}

void writeDnsHost(pugi::xml_node parent, const DnsHost& h) {
  pugi::xml_node n = parent.append_child("host");
  setAttr(n, "ip", h.ip.toString());
  for (const std::string& name : h.hostnames) n.append_child("hostname").text().set(name.c_str());
}

void writeSrv(pugi::xml_node parent, const DnsSrv& s) {
  pugi::xml_node n = parent.append_child("srv");
  setAttrIfAny(n, "service", s.service);
  setAttrIfAny(n, "protocol", s.protocol);
  setAttrIfAny(n, "domain", s.domain);
  setAttrIfAny(n, "target", s.target);
  setNumberIf(n, "port", s.port);
  setNumberIf(n, "priority", s.priority);
  setNumberIf(n, "weight", s.weight);
}

void writeTxt(pugi::xml_node parent, const DnsTxt& t) {
  pugi::xml_node n = parent.append_child("txt");
  setAttr(n, "name", t.name);
  setAttrIfAny(n, "value", t.value);
}

// Places kept elements under the emitted element whose path is their parent path.
class KeptWriter {
 public:
  explicit KeptWriter(const std::vector<UnsupportedElement>& kept)
      : kept_(kept), done_(kept.size(), false) {}

  bool has(std::string_view parent_path) const {
    return std::any_of(kept_.begin(), kept_.end(),
                       [&](const auto& k) { return parentOf(k.path) == parent_path; });
  }
  void append(pugi::xml_node parent, std::string_view parent_path) {
    for (size_t i = 0; i < kept_.size(); ++i) {
      if (done_[i] || parentOf(kept_[i].path) != parent_path) continue;
      appendSnippet(parent, kept_[i].xml);
      done_[i] = true;
    }
  }
  // Kept elements whose parent was not emitted go to the top level.
  void appendRest(pugi::xml_node root) {
    for (size_t i = 0; i < kept_.size(); ++i) {
      if (!done_[i]) appendSnippet(root, kept_[i].xml);
    }
  }

 private:
  static std::string_view parentOf(std::string_view path) {
    size_t slash = path.rfind('/');
    return slash == std::string_view::npos ? std::string_view() : path.substr(0, slash);
  }
  // Snippets that are not exactly one well-formed element are dropped.
  static void appendSnippet(pugi::xml_node parent, const std::string& xml) {
    pugi::xml_document tmp;
    if (loadSingleElement(tmp, xml)) cdataToText(parent.append_copy(tmp.document_element()));
  }

  const std::vector<UnsupportedElement>& kept_;
  std::vector<bool> done_;
};

void writeForward(pugi::xml_node root, const Network& net, KeptWriter& kept) {
  const char* path = "network/forward";
  if (net.mode == ForwardMode::Isolated && net.forwardModeOther.empty() && net.forwardDev.empty() &&
      !net.nat && !kept.has(path)) {
    return;
  }
  pugi::xml_node fwd = root.append_child("forward");
  setAttr(fwd, "mode",
          net.forwardModeOther.empty() ? model::forwardModeName(net.mode) : net.forwardModeOther);
  setAttrIfAny(fwd, "dev", net.forwardDev);
  if (net.nat) {
    const Nat& nat = *net.nat;
    pugi::xml_node n = fwd.append_child("nat");
    if (nat.ipv6) setYesNo(n, "ipv6", true);
    if (nat.addressStart || nat.addressEnd) {
      pugi::xml_node a = n.append_child("address");
      if (nat.addressStart) setAttr(a, "start", nat.addressStart->toString());
      if (nat.addressEnd) setAttr(a, "end", nat.addressEnd->toString());
    }
    if (nat.portsSet || nat.portStart != Nat{}.portStart || nat.portEnd != Nat{}.portEnd) {
      pugi::xml_node p = n.append_child("port");
      setAttr(p, "start", std::to_string(nat.portStart));
      setAttr(p, "end", std::to_string(nat.portEnd));
    }
    kept.append(n, "network/forward/nat");
  }
  kept.append(fwd, path);
}

void writeBridge(pugi::xml_node root, const Network& net) {
  const Bridge& b = net.bridge;
  if (b.name.empty() && b.line == 0 && b.stp && b.delay == 0) return;
  pugi::xml_node n = root.append_child("bridge");
  setAttrIfAny(n, "name", b.name);
  if (net.mode == ForwardMode::Bridge && b.stp && b.delay == 0) return;
  setAttr(n, "stp", b.stp ? "on" : "off");
  setAttr(n, "delay", std::to_string(b.delay));
}

void writeDns(pugi::xml_node root, const Dns& dns, KeptWriter& kept) {
  pugi::xml_node n = root.append_child("dns");
  if (dns.enable) setYesNo(n, "enable", *dns.enable);
  if (dns.forwardPlainNames) setYesNo(n, "forwardPlainNames", *dns.forwardPlainNames);
  for (const DnsForwarder& f : dns.forwarders) {
    pugi::xml_node c = n.append_child("forwarder");
    if (f.addr) setAttr(c, "addr", f.addr->toString());
    setNumberIf(c, "port", f.port);
    setAttrIfAny(c, "domain", f.domain);
  }
  for (const DnsTxt& t : dns.txts) writeTxt(n, t);
  for (const DnsSrv& s : dns.srvs) writeSrv(n, s);
  for (const DnsHost& h : dns.hosts) writeDnsHost(n, h);
  kept.append(n, "network/dns");
}

void writePrefix(pugi::xml_node n, const IpAddress& address, int prefix, bool netmask_form) {
  if (netmask_form && address.isV4() && prefix >= 0 && prefix <= 32) {
    setAttr(n, "netmask", Ipv4::mask(prefix).toString());
  } else {
    setAttr(n, "prefix", std::to_string(prefix));
  }
}

void writeIp(pugi::xml_node root, const IpConfig& ip, size_t index, KeptWriter& kept) {
  std::string path = "network/ip[" + std::to_string(index + 1) + "]";
  pugi::xml_node n = root.append_child("ip");
  if (ip.familyWritten || ip.family == Family::V6) setAttr(n, "family", familyName(ip.family));
  setAttr(n, "address", ip.address.toString());
  writePrefix(n, ip.address, ip.prefix, ip.netmaskForm);
  if (ip.localPtr) setYesNo(n, "localPtr", true);
  std::string dhcp_path = path + "/dhcp";
  if (ip.hasDhcp || !ip.ranges.empty() || !ip.hosts.empty() || ip.bootp || kept.has(dhcp_path)) {
    pugi::xml_node d = n.append_child("dhcp");
    for (const DhcpRange& r : ip.ranges) writeRange(d, r);
    for (const DhcpHost& h : ip.hosts) writeDhcpHost(d, h);
    if (ip.bootp) {
      pugi::xml_node b = d.append_child("bootp");
      setAttrIfAny(b, "file", ip.bootp->file);
      if (ip.bootp->server) setAttr(b, "server", ip.bootp->server->toString());
    }
    kept.append(d, dhcp_path);
  }
  kept.append(n, path);
}

void writeRoute(pugi::xml_node root, const Route& r) {
  pugi::xml_node n = root.append_child("route");
  if (r.familyWritten || r.family == Family::V6) setAttr(n, "family", familyName(r.family));
  setAttr(n, "address", r.address.toString());
  writePrefix(n, r.address, r.prefix, false);
  setAttr(n, "gateway", r.gateway.toString());
  setNumberIf(n, "metric", r.metric);
}

void writeTextChild(pugi::xml_node root, const char* name, const std::string& text) {
  if (!text.empty()) root.append_child(name).text().set(text.c_str());
}

template <typename T, typename Fn>
std::string formatFragment(const T& value, Fn write) {
  pugi::xml_document doc;
  write(pugi::xml_node(doc), value);
  return print(doc);
}

}  // namespace

Result<Network> parseNetworkXml(std::string_view xml) {
  auto loaded = load(xml, "network");
  if (!loaded) return std::move(loaded).error();
  Network net;
  Parser parser((*loaded)->lines, &net.unsupported);
  VNET_TRY(parser.network(parser.root((*loaded)->doc.document_element()), net));
  return net;
}

std::string formatNetworkXml(const Network& net) {
  pugi::xml_document doc;
  pugi::xml_node root = doc.append_child("network");
  KeptWriter kept(net.unsupported);
  writeTextChild(root, "name", net.name);
  writeTextChild(root, "uuid", net.uuid);
  writeTextChild(root, "title", net.title);
  writeTextChild(root, "description", net.description);
  writeForward(root, net, kept);
  writeBridge(root, net);
  if (net.mac) setAttr(root.append_child("mac"), "address", net.mac->toString());
  if (net.mtu) setAttr(root.append_child("mtu"), "size", std::to_string(*net.mtu));
  if (net.domain) {
    pugi::xml_node d = root.append_child("domain");
    setAttrIfAny(d, "name", net.domain->name);
    if (net.domain->localOnly) setYesNo(d, "localOnly", true);
  }
  if (net.dnsElement) writeDns(root, *net.dnsElement, kept);
  for (size_t i = 0; i < net.ips.size(); ++i) writeIp(root, net.ips[i], i, kept);
  for (const Route& r : net.routes) writeRoute(root, r);
  kept.append(root, "network");
  kept.appendRest(root);
  return print(doc);
}

Result<DhcpHost> parseDhcpHostXml(std::string_view xml) {
  return parseFragment<DhcpHost>(
      xml, "host", [](const Parser& p, const El& e, DhcpHost& out) { return p.dhcpHost(e, out); });
}

Result<DhcpRange> parseDhcpRangeXml(std::string_view xml) {
  return parseFragment<DhcpRange>(
      xml, "range", [](const Parser& p, const El& e, DhcpRange& out) { return p.range(e, out); });
}

Result<DnsHost> parseDnsHostXml(std::string_view xml) {
  return parseFragment<DnsHost>(
      xml, "host", [](const Parser& p, const El& e, DnsHost& out) { return p.dnsHost(e, out); });
}

Result<DnsSrv> parseDnsSrvXml(std::string_view xml) {
  return parseFragment<DnsSrv>(
      xml, "srv", [](const Parser& p, const El& e, DnsSrv& out) { return p.srv(e, out); });
}

Result<DnsTxt> parseDnsTxtXml(std::string_view xml) {
  return parseFragment<DnsTxt>(
      xml, "txt", [](const Parser& p, const El& e, DnsTxt& out) { return p.txt(e, out); });
}

bool isKeptForwardMode(std::string_view mode) {
  return mode == "passthrough" || mode == "private" || mode == "vepa" || mode == "hostdev";
}

bool isSingleXmlElement(std::string_view xml) {
  pugi::xml_document doc;
  return loadSingleElement(doc, xml);
}

std::string formatDhcpHostXml(const DhcpHost& host) {
  return formatFragment(host, writeDhcpHost);
}
std::string formatDhcpRangeXml(const DhcpRange& range) {
  return formatFragment(range, writeRange);
}
std::string formatDnsHostXml(const DnsHost& host) {
  return formatFragment(host, writeDnsHost);
}
std::string formatDnsSrvXml(const DnsSrv& srv) {
  return formatFragment(srv, writeSrv);
}
std::string formatDnsTxtXml(const DnsTxt& txt) {
  return formatFragment(txt, writeTxt);
}

}  // namespace vnet::config
