#include "doctor/traffic.h"

#include <algorithm>
#include <array>
#include <functional>
#include <map>

namespace vnet::doctor {
namespace {

using nlohmann::json;

constexpr int kMaxDepth = 16;  // nft's own limit on nested jumps
constexpr size_t kMaxPackets = 512;
constexpr int kConntrackPriority = -200;

Tri both(Tri a, Tri b) {
  if (a == Tri::Never || b == Tri::Never) return Tri::Never;
  if (a == Tri::Always && b == Tri::Always) return Tri::Always;
  return Tri::Maybe;
}

Tri negate(Tri t) {
  if (t == Tri::Always) return Tri::Never;
  if (t == Tri::Never) return Tri::Always;
  return Tri::Maybe;
}

// Any element Always: Always; all Never: Never; else Maybe.
template <typename Fn>
Tri anyOf(const std::vector<json>& elems, Fn&& match) {
  bool maybe = false;
  for (const auto& e : elems) {
    Tri t = match(e);
    if (t == Tri::Always) return Tri::Always;
    if (t == Tri::Maybe) maybe = true;
  }
  return maybe ? Tri::Maybe : Tri::Never;
}

// --- values -------------------------------------------------------------------------

std::optional<int> l4Number(const json& v) {
  if (v.is_number_integer()) return v.get<int>();
  if (!v.is_string()) return std::nullopt;
  static const std::map<std::string, int> kNames{{"icmp", 1},   {"igmp", 2},      {"tcp", 6},
                                                 {"udp", 17},   {"gre", 47},      {"esp", 50},
                                                 {"ah", 51},    {"icmpv6", 58},   {"ipv6-icmp", 58},
                                                 {"sctp", 132}, {"udplite", 136}, {"dccp", 33}};
  auto it = kNames.find(v.get<std::string>());
  if (it == kNames.end()) return std::nullopt;
  return it->second;
}

std::optional<int> portNumber(const json& v) {
  if (v.is_number_integer()) return v.get<int>();
  if (!v.is_string()) return std::nullopt;
  static const std::map<std::string, int> kServices{
      {"domain", 53}, {"bootps", 67}, {"bootpc", 68},         {"ssh", 22},           {"http", 80},
      {"https", 443}, {"ntp", 123},   {"dhcpv6-client", 546}, {"dhcpv6-server", 547}};
  auto it = kServices.find(v.get<std::string>());
  if (it == kServices.end()) return std::nullopt;
  return it->second;
}

std::optional<int> ethertype(const json& v) {
  if (v.is_number_integer()) return v.get<int>();
  if (!v.is_string()) return std::nullopt;
  static const std::map<std::string, int> kTypes{
      {"ip", 0x0800}, {"ip6", 0x86dd}, {"arp", 0x0806}, {"vlan", 0x8100}, {"8021q", 0x8100}};
  auto it = kTypes.find(v.get<std::string>());
  if (it == kTypes.end()) return std::nullopt;
  return it->second;
}

std::optional<int> nfproto(const json& v) {
  if (v.is_number_integer()) return v.get<int>();
  if (v == "ipv4") return 2;
  if (v == "ipv6") return 10;
  return std::nullopt;
}

// An address interval [lo, hi] of one family, as 16 big-endian bytes (IPv4 in the first 4).
struct Span {
  Family family = Family::V4;
  std::array<uint8_t, 16> lo{};
  std::array<uint8_t, 16> hi{};
};

std::array<uint8_t, 16> bytesOf(const IpAddress& a) {
  std::array<uint8_t, 16> b{};
  if (a.isV4()) {
    auto v = a.v4().toBytes();
    std::copy(v.begin(), v.end(), b.begin());
  } else {
    b = a.v6().bytes();
  }
  return b;
}

Span spanOf(const Cidr& c) {
  Span s;
  s.family = c.family();
  s.lo = bytesOf(c.network().address);
  s.hi = s.lo;
  const int bits = c.family() == Family::V4 ? 32 : 128;
  for (int i = std::max(c.prefix, 0); i < bits; ++i) {
    s.hi[static_cast<size_t>(i / 8)] |= static_cast<uint8_t>(0x80u >> (i % 8));
  }
  return s;
}

std::optional<Span> spanOf(const json& v) {
  if (v.is_string()) {
    auto a = IpAddress::parse(v.get<std::string>());
    if (!a) return std::nullopt;
    return spanOf(Cidr{*a, a->isV4() ? 32 : 128});
  }
  if (v.is_object() && v.contains("prefix")) {
    const auto& p = v["prefix"];
    if (!p.contains("addr") || !p["addr"].is_string() || !p.contains("len") ||
        !p["len"].is_number_integer()) {
      return std::nullopt;
    }
    auto a = IpAddress::parse(p["addr"].get<std::string>());
    if (!a) return std::nullopt;
    return spanOf(Cidr{*a, p["len"].get<int>()});
  }
  if (v.is_object() && v.contains("range") && v["range"].is_array() && v["range"].size() == 2) {
    auto a = spanOf(v["range"][0]);
    auto b = spanOf(v["range"][1]);
    if (!a || !b || a->family != b->family) return std::nullopt;
    return Span{a->family, a->lo, b->hi};
  }
  return std::nullopt;
}

// Elements of a set element wrapper ({"elem": {"val": X, ...}}) are X.
const json& unwrap(const json& e) {
  if (e.is_object() && e.contains("elem") && e["elem"].is_object() && e["elem"].contains("val")) {
    return e["elem"]["val"];
  }
  return e;
}

// --- left-hand sides ------------------------------------------------------------------

enum class Dim { Unknown, Name, Addr, Port, L4, Nfproto, Ethertype, CtState };

// What a match's left side reads from the packet.
struct Left {
  Dim dim = Dim::Unknown;
  Tri dependency = Tri::Always;     // the implied protocol dependency holds
  std::optional<std::string> name;  // Name, CtState
  std::optional<Cidr> addr;
  std::optional<int> number;  // Port, L4, Nfproto, Ethertype
};

bool isTransport(const std::string& p) {
  return p == "tcp" || p == "udp" || p == "udplite" || p == "sctp" || p == "dccp";
}

Left readLeft(const json& left, const Packet& p, const NftChain& chain) {
  Left l;
  if (!left.is_object()) return l;
  if (auto m = left.find("meta"); m != left.end() && m->is_object()) {
    const std::string key = m->value("key", "");
    auto iface = [&](const std::optional<std::string>& v) {
      l.dim = Dim::Name;
      l.name = v;
      if (v && v->empty()) l.dependency = Tri::Never;  // no such device here: the rule breaks
    };
    if (key == "iifname" || key == "iif") {
      iface(p.iif);
    } else if (key == "oifname" || key == "oif") {
      iface(p.oif);
    } else if ((key == "ibrname" || key == "ibridgename") && p.bridged) {
      iface(p.iif && p.iif->empty() ? p.iif : std::optional<std::string>(p.bridge));
    } else if ((key == "obrname" || key == "obridgename") && p.bridged) {
      iface(p.oif && p.oif->empty() ? p.oif : std::optional<std::string>(p.bridge));
    } else if (key == "l4proto") {
      l.dim = Dim::L4;
      if (p.l4) l.number = l4Number(*p.l4);
    } else if (key == "nfproto" && !p.bridged) {
      l.dim = Dim::Nfproto;
      l.number = p.family == Family::V4 ? 2 : 10;
    } else if (key == "protocol") {
      l.dim = Dim::Ethertype;
      l.number = p.family == Family::V4 ? 0x0800 : 0x86dd;
    }
    return l;
  }
  if (auto pl = left.find("payload"); pl != left.end() && pl->is_object()) {
    if (!pl->contains("protocol") || !pl->contains("field")) return l;  // raw payload
    const std::string proto = pl->value("protocol", "");
    const std::string field = pl->value("field", "");
    const bool v4 = p.family == Family::V4;
    if (proto == "ip") {
      l.dependency = v4 ? Tri::Always : Tri::Never;
    } else if (proto == "ip6") {
      l.dependency = v4 ? Tri::Never : Tri::Always;
    } else if (isTransport(proto)) {
      l.dependency = !p.l4 ? Tri::Maybe : *p.l4 == proto ? Tri::Always : Tri::Never;
    } else if (proto == "th") {
      l.dependency = !p.l4 ? Tri::Maybe : isTransport(*p.l4) ? Tri::Always : Tri::Never;
    } else if (proto == "icmp") {
      l.dependency = !v4               ? Tri::Never
                     : !p.l4           ? Tri::Maybe
                     : *p.l4 == "icmp" ? Tri::Always
                                       : Tri::Never;
    } else if (proto == "icmpv6") {
      l.dependency = v4                     ? Tri::Never
                     : !p.l4                ? Tri::Maybe
                     : *p.l4 == "ipv6-icmp" ? Tri::Always
                                            : Tri::Never;
    } else if (proto == "arp") {
      l.dependency = Tri::Never;  // the packets are IP
    } else if (proto != "ether") {
      l.dependency = Tri::Maybe;
    }
    if ((proto == "ip" || proto == "ip6") && (field == "saddr" || field == "daddr")) {
      l.dim = Dim::Addr;
      l.addr = field == "saddr" ? p.saddr : p.daddr;
    } else if ((proto == "ip" && field == "protocol") || (proto == "ip6" && field == "nexthdr")) {
      l.dim = Dim::L4;
      if (p.l4) l.number = l4Number(*p.l4);
    } else if ((isTransport(proto) || proto == "th") && (field == "sport" || field == "dport")) {
      l.dim = Dim::Port;
      const auto& port = field == "sport" ? p.sport : p.dport;
      if (port) l.number = *port;
    } else if (proto == "ether" && field == "type") {
      l.dim = Dim::Ethertype;
      l.number = p.family == Family::V4 ? 0x0800 : 0x86dd;
    }
    return l;
  }
  if (auto ct = left.find("ct"); ct != left.end() && ct->is_object()) {
    if (ct->value("key", "") == "state" && !ct->contains("dir")) {
      l.dim = Dim::CtState;
      // Chains that run before conntrack (and bridge chains) cannot rely on a state.
      const bool known = !p.bridged && chain.prio > kConntrackPriority;
      if (known) l.name = p.ct;
    }
  }
  return l;
}

// --- right-hand sides -----------------------------------------------------------------

bool nameMatches(const std::string& name, const std::string& pattern) {
  if (pattern.size() >= 2 && pattern.compare(pattern.size() - 2, 2, "\\*") == 0) {
    return name == pattern.substr(0, pattern.size() - 2) + "*";
  }
  if (!pattern.empty() && pattern.back() == '*') {
    return name.compare(0, pattern.size() - 1, pattern, 0, pattern.size() - 1) == 0;
  }
  return name == pattern;
}

// Whether the packet's value (in `l`) equals the single element `e`.
Tri elementMatch(const Left& l, const json& raw) {
  const json& e = unwrap(raw);
  switch (l.dim) {
    case Dim::Name:
    case Dim::CtState: {
      if (!e.is_string()) return Tri::Maybe;
      if (!l.name) {
        return l.dim == Dim::Name && e.get<std::string>() == "*" ? Tri::Always : Tri::Maybe;
      }
      return nameMatches(*l.name, e.get<std::string>()) ? Tri::Always : Tri::Never;
    }
    case Dim::Addr: {
      auto s = spanOf(e);
      if (!s) return Tri::Maybe;
      if (!l.addr) {
        // Any address of the family (the protocol dependency checked the family).
        const IpAddress zero = s->family == Family::V4 ? IpAddress(Ipv4()) : IpAddress(Ipv6());
        const Span all = spanOf(Cidr{zero, 0});
        return s->lo == all.lo && s->hi == all.hi ? Tri::Always : Tri::Maybe;
      }
      if (l.addr->family() != s->family) return Tri::Never;
      const Span a = spanOf(*l.addr);
      if (s->lo <= a.lo && a.hi <= s->hi) return Tri::Always;
      if (a.hi < s->lo || s->hi < a.lo) return Tri::Never;
      return Tri::Maybe;
    }
    case Dim::Port: {
      std::optional<int> lo, hi;
      if (e.is_object() && e.contains("range") && e["range"].is_array() && e["range"].size() == 2) {
        lo = portNumber(e["range"][0]);
        hi = portNumber(e["range"][1]);
      } else {
        lo = hi = portNumber(e);
      }
      if (!lo || !hi || !l.number) return Tri::Maybe;
      return *lo <= *l.number && *l.number <= *hi ? Tri::Always : Tri::Never;
    }
    case Dim::L4:
    case Dim::Nfproto:
    case Dim::Ethertype: {
      std::optional<int> v = l.dim == Dim::L4        ? l4Number(e)
                             : l.dim == Dim::Nfproto ? nfproto(e)
                                                     : ethertype(e);
      if (!v || !l.number) return Tri::Maybe;
      return *v == *l.number ? Tri::Always : Tri::Never;
    }
    case Dim::Unknown:
      break;
  }
  return Tri::Maybe;
}

// The elements a right-hand side stands for; nullopt when it cannot be resolved.
std::optional<std::vector<json>> elementsOf(const json& right, const Ruleset& rs,
                                            const NftChain& chain) {
  if (right.is_string() && !right.get<std::string>().empty() &&
      right.get<std::string>()[0] == '@') {
    const NftSet* set = rs.findSet(chain.family, chain.table, right.get<std::string>().substr(1));
    if (!set || set->isMap || !set->elems.is_array()) return std::nullopt;
    return std::vector<json>(set->elems.begin(), set->elems.end());
  }
  if (right.is_object() && right.contains("set")) {
    const json& s = right["set"];
    if (s.is_array()) return std::vector<json>(s.begin(), s.end());
    return std::vector<json>{s};
  }
  if (right.is_array()) return std::vector<json>(right.begin(), right.end());
  return std::vector<json>{right};
}

Tri evalMatch(const json& m, const Ruleset& rs, const NftChain& chain, const Packet& p) {
  if (!m.is_object() || !m.contains("left") || !m.contains("right")) return Tri::Maybe;
  const Left l = readLeft(m["left"], p, chain);
  if (l.dependency == Tri::Never) return Tri::Never;
  if (l.dim == Dim::Unknown) return Tri::Maybe;
  const std::string op = m.value("op", "==");
  Tri t = Tri::Maybe;
  if (op == "==" || op == "!=" || op == "in") {
    auto elems = elementsOf(m["right"], rs, chain);
    if (elems) t = anyOf(*elems, [&](const json& e) { return elementMatch(l, e); });
    if (op == "!=") t = negate(t);
  } else if (l.dim == Dim::Port && l.number &&
             (op == "<" || op == ">" || op == "<=" || op == ">=")) {
    if (auto v = portNumber(m["right"])) {
      const int a = *l.number;
      const bool r = op == "<" ? a < *v : op == ">" ? a > *v : op == "<=" ? a <= *v : a >= *v;
      t = r ? Tri::Always : Tri::Never;
    }
  }
  return both(l.dependency, t);
}

// --- rules ----------------------------------------------------------------------------

struct Verdict {
  enum Kind { None, Accept, Drop, Return, Continue, Jump, Goto, Queue, Unknown } kind = None;
  std::string target;  // Jump, Goto
  std::string label;   // "drop", "reject", "queue", ...
};

std::optional<Verdict> verdictOf(const json& stmt) {
  if (!stmt.is_object() || stmt.size() != 1) return std::nullopt;
  const std::string key = stmt.begin().key();
  const json& val = stmt.begin().value();
  if (key == "accept") return Verdict{Verdict::Accept, "", key};
  if (key == "drop" || key == "reject") return Verdict{Verdict::Drop, "", key};
  if (key == "return") return Verdict{Verdict::Return, "", key};
  if (key == "continue") return Verdict{Verdict::Continue, "", key};
  if (key == "queue") return Verdict{Verdict::Queue, "", key};
  if (key == "jump" || key == "goto") {
    std::string target = val.is_object() ? val.value("target", "") : "";
    return Verdict{key == "jump" ? Verdict::Jump : Verdict::Goto, target, key + " " + target};
  }
  // NAT statements end the chain like an accept.
  if (key == "snat" || key == "dnat" || key == "masquerade" || key == "redirect" ||
      key == "tproxy") {
    return Verdict{Verdict::Accept, "", key};
  }
  return std::nullopt;
}

// Statements that neither match nor decide.
bool isPassive(const std::string& key) {
  static const char* const kPassive[] = {
      "counter", "log",       "mangle",     "notrack",        "set",     "map",  "dup",
      "meter",   "ct helper", "ct timeout", "ct expectation", "secmark", "flow", "comment"};
  return std::find(std::begin(kPassive), std::end(kPassive), key) != std::end(kPassive);
}

// One possible outcome of a rule: under condition `when`, verdict `v`.
struct Branch {
  Tri when;
  Verdict v;
};

std::vector<Branch> evalRule(const NftRule& rule, const Ruleset& rs, const NftChain& chain,
                             const Packet& p) {
  Tri cond = Tri::Always;
  std::vector<Branch> out;
  if (!rule.expr.is_array()) return {{Tri::Maybe, {Verdict::Unknown, "", "an unreadable rule"}}};
  for (const auto& stmt : rule.expr) {
    if (cond == Tri::Never) return {};
    if (!stmt.is_object() || stmt.empty()) {
      cond = both(cond, Tri::Maybe);
      continue;
    }
    const std::string key = stmt.begin().key();
    const json& val = stmt.begin().value();
    if (key == "match") {
      cond = both(cond, evalMatch(val, rs, chain, p));
    } else if (auto v = verdictOf(stmt)) {
      out.push_back({cond, *v});
      return out;
    } else if (key == "vmap") {
      if (!val.is_object() || !val.contains("key") || !val.contains("data")) {
        out.push_back({both(cond, Tri::Maybe), {Verdict::Unknown, "", "verdict map"}});
        return out;
      }
      const Left l = readLeft(val["key"], p, chain);
      std::vector<json> elems;
      const json& data = val["data"];
      if (data.is_string() && data.get<std::string>().rfind('@', 0) == 0) {
        const NftSet* map =
            rs.findSet(chain.family, chain.table, data.get<std::string>().substr(1));
        if (map && map->elems.is_array())
          elems.assign(map->elems.begin(), map->elems.end());
        else
          return {{both(cond, Tri::Maybe),
                   {Verdict::Unknown, "", "verdict map " + data.get<std::string>()}}};
      } else if (data.is_object() && data.contains("set") && data["set"].is_array()) {
        elems.assign(data["set"].begin(), data["set"].end());
      }
      for (const auto& e : elems) {
        if (!e.is_array() || e.size() != 2) continue;
        Tri keyMatch = l.dependency == Tri::Never ? Tri::Never
                       : l.dim == Dim::Unknown    ? Tri::Maybe
                                                  : both(l.dependency, elementMatch(l, e[0]));
        auto verdict = verdictOf(e[1]);
        if (!verdict) verdict = Verdict{Verdict::Unknown, "", "verdict map element"};
        out.push_back({both(cond, keyMatch), *verdict});
      }
      return out;
    } else if (key == "xt") {
      // iptables-nft compat expressions: targets named like verdicts decide, the rest is unknown.
      const std::string type = val.is_object() ? val.value("type", "") : "";
      const std::string name = val.is_object() ? val.value("name", "") : "";
      if (type == "target") {
        if (name == "REJECT" || name == "DROP") return {{cond, {Verdict::Drop, "", name}}};
        if (name == "ACCEPT") return {{cond, {Verdict::Accept, "", name}}};
        if (name == "MASQUERADE" || name == "SNAT" || name == "DNAT" || name == "REDIRECT") {
          return {{cond, {Verdict::Accept, "", name}}};
        }
        if (name != "LOG" && name != "MARK" && name != "CONNMARK" && name != "TCPMSS" &&
            name != "CHECKSUM" && name != "CT") {
          return {{cond, {Verdict::Unknown, "", "xt target " + name}}};
        }
      } else {
        cond = both(cond, Tri::Maybe);
      }
    } else if (!isPassive(key)) {
      cond = both(cond, Tri::Maybe);  // limit, quota, fib, socket, ... : may or may not hold
    }
  }
  return out;
}

// --- walking --------------------------------------------------------------------------

struct Fates {
  bool accept = false;
  bool drop = false;
  bool ret = false;  // back to the caller (for a base chain: its policy)
};

class Walker {
 public:
  Walker(const Ruleset& rs, const Packet& p, std::vector<DropSource>& sources)
      : rs_(rs), p_(p), sources_(sources) {}

  Fates walk(const NftChain& c, std::vector<std::string> via, int depth) {
    via.push_back(c.name);
    Fates f;
    if (depth > kMaxDepth) {
      sources_.push_back({via, nullptr, "jumps nested too deep to follow", false});
      return Fates{true, true, true};
    }
    for (const auto& rule : c.rules) {
      bool stop = false;
      for (const Branch& b : evalRule(rule, rs_, c, p_)) {
        if (b.when == Tri::Never) continue;
        const bool always = b.when == Tri::Always;
        switch (b.v.kind) {
          case Verdict::None:
          case Verdict::Continue:
            break;
          case Verdict::Accept:
            f.accept = true;
            stop = stop || always;
            break;
          case Verdict::Drop:
            f.drop = true;
            sources_.push_back({via, &rule, b.v.label, always});
            stop = stop || always;
            break;
          case Verdict::Queue:
            f.drop = f.accept = true;
            sources_.push_back(
                {via, &rule, "queue (dropped when no program reads the queue)", false});
            stop = stop || always;
            break;
          case Verdict::Return:
            f.ret = true;
            stop = stop || always;
            break;
          case Verdict::Jump:
          case Verdict::Goto: {
            const NftChain* target = rs_.findChain(c.family, c.table, b.v.target);
            Fates sub = target ? walk(*target, via, depth + 1) : Fates{true, true, true};
            f.accept = f.accept || sub.accept;
            f.drop = f.drop || sub.drop;
            if (b.v.kind == Verdict::Goto) {
              f.ret = f.ret || sub.ret;
              stop = stop || always;
            } else {
              stop = stop || (always && !sub.ret);
            }
            break;
          }
          case Verdict::Unknown:
            f.accept = f.drop = true;
            sources_.push_back({via, &rule, b.v.label + " (not understood)", false});
            break;
        }
      }
      if (stop) return f;
    }
    f.ret = true;
    return f;
  }

 private:
  const Ruleset& rs_;
  const Packet& p_;
  std::vector<DropSource>& sources_;
};

bool isNameListed(const std::optional<std::vector<std::string>>& l) {
  return l.has_value() && !l->empty();
}

}  // namespace

std::string describe(const Packet& p) {
  std::string s;
  auto add = [&s](const std::string& part) {
    if (!s.empty()) s += ' ';
    s += part;
  };
  if (p.ct) add(*p.ct);
  add(p.l4 ? *p.l4 : std::string(p.family == Family::V4 ? "ipv4" : "ipv6"));
  if (p.saddr || p.daddr) {
    add((p.saddr ? p.saddr->toString() : std::string("any")) + " -> " +
        (p.daddr ? p.daddr->toString() : std::string("any")));
  }
  if (p.sport) add("sport " + std::to_string(*p.sport));
  if (p.dport) add("dport " + std::to_string(*p.dport));
  if (p.iif && !p.iif->empty()) add("in " + *p.iif);
  if (p.oif && !p.oif->empty()) add("out " + *p.oif);
  return s;
}

bool chainSees(const NftChain& chain, const Traffic& t) {
  if (!chain.isBase()) return false;
  if (std::find(t.hooks.begin(), t.hooks.end(), chain.hook) == t.hooks.end()) return false;
  if (t.bridged) return chain.family == "bridge";
  if (chain.family == "inet") return true;
  if (chain.family == "ip") return t.family == Family::V4;
  if (chain.family == "ip6") return t.family == Family::V6;
  return false;
}

std::vector<Packet> packetsAt(const Traffic& t, const NftChain& chain) {
  // Interfaces the hook has: none on the way out at prerouting/input, none on the way in
  // at output.
  std::optional<std::vector<std::string>> iif = t.iif, oif = t.oif;
  const std::string& hook = chain.hook;
  if (hook == "prerouting" || hook == "input") oif = std::vector<std::string>{};
  if (hook == "output") iif = std::vector<std::string>{};

  using Opt = std::optional<std::string>;
  auto names = [](const std::optional<std::vector<std::string>>& l) -> std::vector<Opt> {
    if (!l) return {std::nullopt};
    if (l->empty()) return {Opt("")};
    return std::vector<Opt>(l->begin(), l->end());
  };
  auto addrs = [](const std::vector<Cidr>& l) {
    std::vector<std::optional<Cidr>> out(l.begin(), l.end());
    if (out.empty()) out.push_back(std::nullopt);
    return out;
  };
  auto ports = [](const std::optional<std::vector<uint16_t>>& l) {
    std::vector<std::optional<uint16_t>> out;
    if (l) out.assign(l->begin(), l->end());
    if (out.empty()) out.push_back(std::nullopt);
    return out;
  };
  std::vector<Opt> states;
  for (const auto& s : t.ct) {
    if (chain.type == "nat" && s != "new") continue;  // nat chains see new connections only
    states.push_back(s);
  }
  if (t.ct.empty()) states.push_back(std::nullopt);
  if (states.empty()) return {};
  std::vector<Opt> l4s =
      t.l4 ? std::vector<Opt>(t.l4->begin(), t.l4->end()) : std::vector<Opt>{std::nullopt};

  auto iifs = names(iif), oifs = names(oif);
  auto saddrs = addrs(t.saddr), daddrs = addrs(t.daddr);
  auto sports = ports(t.sport), dports = ports(t.dport);
  auto count = [&] {
    return iifs.size() * oifs.size() * saddrs.size() * daddrs.size() * sports.size() *
           dports.size() * states.size() * l4s.size();
  };
  // Too many combinations: interface lists (bridge ports) become "any" first.
  if (count() > kMaxPackets && isNameListed(iif)) iifs = {std::nullopt};
  if (count() > kMaxPackets && isNameListed(oif)) oifs = {std::nullopt};
  if (count() > kMaxPackets) saddrs = daddrs = {std::nullopt};

  std::vector<Packet> out;
  for (const auto& i : iifs)
    for (const auto& o : oifs)
      for (const auto& sa : saddrs)
        for (const auto& da : daddrs)
          for (const auto& sp : sports)
            for (const auto& dp : dports)
              for (const auto& st : states)
                for (const auto& l4 : l4s) {
                  Packet p;
                  p.family = t.family;
                  p.bridged = t.bridged;
                  p.bridge = t.bridge;
                  p.iif = i;
                  p.oif = o;
                  p.saddr = sa;
                  p.daddr = da;
                  p.sport = sp;
                  p.dport = dp;
                  p.ct = st;
                  p.l4 = l4;
                  out.push_back(std::move(p));
                }
  return out;
}

ChainVerdict evaluate(const Ruleset& rs, const NftChain& base, const Packet& p) {
  ChainVerdict v;
  Walker w(rs, p, v.sources);
  Fates f = w.walk(base, {}, 0);
  bool accept = f.accept, drop = f.drop;
  if (f.ret) {
    if (base.policy == "drop") {
      drop = true;
      v.sources.push_back({{base.name}, nullptr, "policy drop", !f.accept && !f.drop});
    } else {
      accept = true;
    }
  }
  v.mayDrop = drop;
  v.dropsAll = drop && !accept;
  return v;
}

}  // namespace vnet::doctor
