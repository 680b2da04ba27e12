#include "doctor/ruleset.h"

#include <map>
#include <tuple>

namespace vnet::doctor {
namespace {

using nlohmann::json;
using RuleKey = std::tuple<std::string, std::string, std::string, uint64_t>;

std::string unquote(std::string s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') return s.substr(1, s.size() - 2);
  return s;
}

// Rule texts of the `nft -a list ruleset` listing by (family, table, chain, handle). The
// listing nests "table F T {", "chain C {", "set S {" blocks; rule lines inside a chain
// end with " # handle N".
std::map<RuleKey, std::string> ruleTexts(std::string_view text) {
  std::map<RuleKey, std::string> out;
  std::string family, table, chain;
  int depth = 0;
  int chainDepth = -1;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string line(text.substr(pos, end - pos));
    pos = end + 1;
    size_t first = line.find_first_not_of(" \t");
    if (first == std::string::npos) continue;
    line.erase(0, first);
    std::string body = line;
    std::optional<uint64_t> handle;
    if (size_t h = line.rfind(" # handle "); h != std::string::npos) {
      try {
        handle = std::stoull(line.substr(h + 10));
      } catch (const std::exception&) {
      }
      body = line.substr(0, h);
    }
    if (body == "}") {
      if (depth == chainDepth) {
        chain.clear();
        chainDepth = -1;
      }
      if (depth > 0) --depth;
      continue;
    }
    const bool opens = !body.empty() && body.back() == '{';
    if (opens) {
      std::string head = body.substr(0, body.size() - 1);
      while (!head.empty() && head.back() == ' ') head.pop_back();
      ++depth;
      if (head.rfind("table ", 0) == 0) {
        std::string rest = head.substr(6);
        size_t sp = rest.find(' ');
        family = sp == std::string::npos ? "ip" : rest.substr(0, sp);
        table = unquote(sp == std::string::npos ? rest : rest.substr(sp + 1));
      } else if (head.rfind("chain ", 0) == 0) {
        chain = unquote(head.substr(6));
        chainDepth = depth;
      }
      continue;
    }
    if (!chain.empty() && depth == chainDepth && handle) {
      out[RuleKey{family, table, chain, *handle}] = body;
    }
  }
  return out;
}

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

std::string NftChain::ref() const {
  return family + " " + table + " " + name;
}

std::string NftChain::header() const {
  if (!isBase()) return "regular chain";
  return "type " + type + " hook " + hook + " priority " + std::to_string(prio) + "; policy " +
         policy + ";";
}

const NftChain* Ruleset::findChain(std::string_view family, std::string_view table,
                                   std::string_view name) const {
  for (const auto& c : chains) {
    if (c.family == family && c.table == table && c.name == name) return &c;
  }
  return nullptr;
}

const NftSet* Ruleset::findSet(std::string_view family, std::string_view table,
                               std::string_view name) const {
  for (const auto& s : sets) {
    if (s.family == family && s.table == table && s.name == name) return &s;
  }
  return nullptr;
}

Result<Ruleset> parseRuleset(std::string_view jsonText, std::string_view text) {
  json doc = json::parse(jsonText, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("nftables") ||
      !doc["nftables"].is_array()) {
    return Error("the ruleset listing is not nft JSON");
  }
  const auto texts = ruleTexts(text);
  Ruleset rs;
  std::map<std::tuple<std::string, std::string, std::string>, size_t> chainIndex;
  std::vector<json> rules;
  for (const auto& item : doc["nftables"]) {
    if (!item.is_object()) continue;
    if (auto c = item.find("chain"); c != item.end() && c->is_object()) {
      NftChain ch;
      ch.family = str(*c, "family");
      ch.table = str(*c, "table");
      ch.name = str(*c, "name");
      ch.type = str(*c, "type");
      ch.hook = str(*c, "hook");
      if (auto p = c->find("prio"); p != c->end() && p->is_number_integer())
        ch.prio = p->get<int>();
      ch.policy = str(*c, "policy");
      if (ch.isBase() && ch.policy.empty()) ch.policy = "accept";
      chainIndex[{ch.family, ch.table, ch.name}] = rs.chains.size();
      rs.chains.push_back(std::move(ch));
    } else if (auto r = item.find("rule"); r != item.end() && r->is_object()) {
      rules.push_back(*r);
    } else {
      for (const char* kind : {"set", "map"}) {
        auto s = item.find(kind);
        if (s == item.end() || !s->is_object()) continue;
        NftSet set;
        set.family = str(*s, "family");
        set.table = str(*s, "table");
        set.name = str(*s, "name");
        set.isMap = std::string(kind) == "map";
        if (auto e = s->find("elem"); e != s->end() && e->is_array()) set.elems = *e;
        rs.sets.push_back(std::move(set));
      }
    }
  }
  for (const auto& r : rules) {
    auto it = chainIndex.find({str(r, "family"), str(r, "table"), str(r, "chain")});
    if (it == chainIndex.end()) continue;
    NftRule rule;
    if (auto h = r.find("handle"); h != r.end() && h->is_number_integer()) {
      rule.handle = h->get<uint64_t>();
    }
    if (auto e = r.find("expr"); e != r.end() && e->is_array())
      rule.expr = *e;
    else
      rule.expr = json::array();
    const NftChain& ch = rs.chains[it->second];
    if (auto t = texts.find(RuleKey{ch.family, ch.table, ch.name, rule.handle}); t != texts.end()) {
      rule.text = t->second;
    }
    rs.chains[it->second].rules.push_back(std::move(rule));
  }
  return rs;
}

}  // namespace vnet::doctor
