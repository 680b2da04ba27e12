#include "kernel/nft/render.h"

#include <algorithm>
#include <array>
#include <optional>

namespace vnet::kernel::nft {
namespace {

using model::ForwardMode;
using model::IpConfig;
using model::Network;

const std::string kTableRef = std::string(kFamily) + " " + std::string(kTableName);

// ---- Table skeleton -------------------------------------------------------------------

struct BaseChainSpec {
  const char* name;
  const char* hook;  // what `add chain` and `nft list` print inside the braces
};
constexpr std::array<BaseChainSpec, 4> kBaseChains{{
    {"forward", "type filter hook forward priority filter; policy accept;"},
    {"input", "type filter hook input priority filter; policy accept;"},
    {"output", "type filter hook output priority filter; policy accept;"},
    {"postrouting", "type nat hook postrouting priority srcnat; policy accept;"},
}};

enum class MapId { ForwardOif, ForwardIif, InputIif, OutputOif, Saddr4, Saddr6 };

// The dispatch maps, in the order their lookups run within each base chain.
struct MapSpec {
  MapId id;
  const char* name;
  const char* keyType;
  bool interval;
  const char* baseChain;
  const char* selector;  // the packet field looked up
  const char* comment;
};
constexpr std::array<MapSpec, 6> kMaps{{
    {MapId::ForwardOif, "forward_oif", "ifname", false, "forward", "oifname",
     "to guests: the receiving network decides first"},
    {MapId::ForwardIif, "forward_iif", "ifname", false, "forward", "iifname",
     "from guests: then the sending network"},
    {MapId::InputIif, "input_iif", "ifname", false, "input", "iifname", "from guests to the host"},
    {MapId::OutputOif, "output_oif", "ifname", false, "output", "oifname",
     "from the host to guests"},
    {MapId::Saddr4, "postrouting_saddr4", "ipv4_addr", true, "postrouting", "ip saddr",
     "source NAT of guest subnets"},
    {MapId::Saddr6, "postrouting_saddr6", "ipv6_addr", true, "postrouting", "ip6 saddr",
     "source NAT of guest subnets"},
}};

const MapSpec& mapSpec(MapId id) {
  return *std::find_if(kMaps.begin(), kMaps.end(), [id](const MapSpec& m) { return m.id == id; });
}

// ---- Per-network chains ----------------------------------------------------------------

enum class Kind { FwdOut, FwdIn, In, Out, Nat };
struct KindSpec {
  Kind kind;
  const char* suffix;
};
constexpr std::array<KindSpec, 5> kKinds{{
    {Kind::FwdOut, "_fwd_out"},
    {Kind::FwdIn, "_fwd_in"},
    {Kind::In, "_in"},
    {Kind::Out, "_out"},
    {Kind::Nat, "_nat"},
}};

std::string chainName(std::string_view networkName, Kind kind) {
  for (const auto& k : kKinds) {
    if (k.kind == kind) return chainId(networkName) + k.suffix;
  }
  return {};
}

// nft quoted strings cannot escape anything; keep comments printable and short
// (nft refuses comments over 128 bytes).
constexpr size_t kMaxComment = 128;

std::string cleanText(std::string_view s) {
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f || c == '"' || c == '\\') ? '?' : c;
  }
  return out;
}

// Cuts UTF-8 text to at most n bytes without splitting a character.
std::string_view cutUtf8(std::string_view s, size_t n) {
  if (s.size() <= n) return s;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

std::string quote(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}

// How forwarded traffic of one subnet is treated.
enum class Treatment { Nat, Route };

std::optional<Treatment> treatmentOf(const Network& net, const IpConfig& ip) {
  switch (net.mode) {
    case ForwardMode::Route:
      return Treatment::Route;
    case ForwardMode::Nat:
      // libvirt: an IPv6 subnet of a NAT network is routed unless <nat ipv6='yes'>.
      if (ip.family == Family::V6 && !(net.nat && net.nat->ipv6)) return Treatment::Route;
      return Treatment::Nat;
    case ForwardMode::Isolated:
    case ForwardMode::Open:
    case ForwardMode::Bridge:
      break;
  }
  return std::nullopt;
}

const char* ipKeyword(Family f) {
  return f == Family::V4 ? "ip" : "ip6";
}

std::string ports(const model::Nat& nat) {
  return nat.portStart == nat.portEnd
             ? std::to_string(nat.portStart)
             : std::to_string(nat.portStart) + "-" + std::to_string(nat.portEnd);
}

struct ChainPlan {
  Kind kind;
  std::string name;
  std::vector<std::string> rules;  // nft rule text including the comment
};

struct NetworkPlan {
  std::vector<ChainPlan> chains;
  std::vector<MapElement> elements;
};

// Appends rules to one chain, each with comment "<network>: <what>".
class RuleWriter {
 public:
  RuleWriter(const Network& net, ChainPlan& chain) : name_(cleanText(net.name)), chain_(chain) {}

  void add(std::string_view rule, std::string_view what) {
    std::string whatText = cleanText(what);
    size_t room = kMaxComment - std::min(kMaxComment - 8, whatText.size() + 2);
    std::string who(cutUtf8(name_, room));
    if (who.size() < name_.size()) who = std::string(cutUtf8(who, who.size() - 3)) + "...";
    chain_.rules.push_back(std::string(rule) + " comment " + quote(who + ": " + whatText));
  }

 private:
  std::string name_;
  ChainPlan& chain_;
};

bool hasDhcp(const Network& net, Family f) {
  return std::any_of(net.ips.begin(), net.ips.end(),
                     [f](const IpConfig& ip) { return ip.family == f && ip.hasDhcp; });
}
bool hasDns(const Network& net) {
  return !net.ips.empty() && net.dnsEnabled();
}

// Services the host offers guests on the bridge (libvirt opens the same ports).
struct HostService {
  bool (*wanted)(const Network&);
  const char* fromGuests;  // match in <id>_in
  const char* toGuests;    // match in <id>_out
  const char* what;
};
constexpr std::array<HostService, 3> kHostServices{{
    {[](const Network& n) { return hasDhcp(n, Family::V4); }, "udp dport 67", "udp dport 68",
     "DHCP"},
    {[](const Network& n) { return hasDhcp(n, Family::V6); }, "udp dport 547", "udp dport 546",
     "DHCPv6"},
    {hasDns, "meta l4proto { tcp, udp } th dport 53", "meta l4proto { tcp, udp } th sport 53",
     "DNS"},
}};

void planFwdOut(const Network& net, ChainPlan& c) {
  RuleWriter w(net, c);
  const std::string& br = net.bridge.name;
  // libvirt: -i virbr0 -o virbr0 -j ACCEPT (guest to guest through the host).
  w.add("iifname " + quote(br) + " accept", "guest to guest on " + br);
  for (const auto& ip : net.ips) {
    auto t = treatmentOf(net, ip);
    if (!t) continue;
    std::string sub = ip.cidr().network().toString();
    std::string match = net.forwardDev.empty() ? "" : "iifname " + quote(net.forwardDev) + " ";
    match += std::string(ipKeyword(ip.family)) + " daddr " + sub;
    // Permitted traffic returns so that the sending network's chain is consulted too.
    if (*t == Treatment::Nat) {
      w.add(match + " ct state established,related return", "replies to guests in " + sub);
    } else {
      w.add(match + " return", "to guests in " + sub);
    }
  }
  w.add("reject", "reject other traffic to guests");
}

void planFwdIn(const Network& net, ChainPlan& c) {
  RuleWriter w(net, c);
  for (const auto& ip : net.ips) {
    if (!treatmentOf(net, ip)) continue;
    std::string sub = ip.cidr().network().toString();
    std::string match = net.forwardDev.empty() ? "" : "oifname " + quote(net.forwardDev) + " ";
    w.add(match + ipKeyword(ip.family) + " saddr " + sub + " accept",
          "guests in " + sub + " to " + (net.forwardDev.empty() ? "outside" : net.forwardDev));
  }
  w.add("reject", "reject other traffic from guests");
}

void planHost(const Network& net, ChainPlan& c, bool fromGuests) {
  RuleWriter w(net, c);
  for (const auto& s : kHostServices) {
    if (!s.wanted(net)) continue;
    if (fromGuests) {
      w.add(std::string(s.fromGuests) + " accept", std::string(s.what) + " from guests");
    } else {
      w.add(std::string(s.toGuests) + " accept", std::string(s.what) + " replies to guests");
    }
  }
}

// libvirt's masquerade rules: no NAT to local multicast and broadcast, tcp/udp with a
// source port range, then everything else; <nat><address> turns masquerade into SNAT.
void planNatSubnet(const Network& net, const IpConfig& ip, ChainPlan& c) {
  RuleWriter w(net, c);
  const model::Nat nat = net.nat.value_or(model::Nat{});
  std::string kw = ipKeyword(ip.family);
  std::string sub = ip.cidr().network().toString();
  std::string from = kw + " saddr " + sub + " ";
  if (ip.family == Family::V4) {
    w.add(from + "ip daddr 224.0.0.0/24 return", "no NAT to local multicast");
    w.add(from + "ip daddr 255.255.255.255 return", "no NAT to broadcast");
  } else {
    w.add(from + "ip6 daddr ff02::/16 return", "no NAT to link-local multicast");
  }
  std::string match = from + kw + " daddr != " + sub + " ";
  if (!net.forwardDev.empty()) match += "oifname " + quote(net.forwardDev) + " ";

  std::string verb = "masquerade";
  std::string addr;
  if (ip.family == Family::V4 && nat.addressStart) {
    verb = "snat ip";
    addr = nat.addressStart->toString();
    if (nat.addressEnd && *nat.addressEnd != *nat.addressStart) {
      addr += "-" + nat.addressEnd->toString();
    }
  }
  std::string action = verb == "masquerade" ? "masquerade " + sub : "SNAT " + sub + " to " + addr;
  w.add(match + "meta l4proto { tcp, udp } " + verb + " to " + addr + ":" + ports(nat),
        action + " (tcp/udp ports " + ports(nat) + ")");
  w.add(match + verb + (addr.empty() ? "" : " to " + addr), action + " (other protocols)");
}

NetworkPlan plan(const Network& net) {
  NetworkPlan p;
  if (!hasRules(net)) return p;
  auto chain = [&](Kind k) -> ChainPlan& {
    p.chains.push_back({k, chainName(net.name, k), {}});
    return p.chains.back();
  };
  auto bridgeElement = [&](MapId m, const ChainPlan& c) {
    p.elements.push_back({mapSpec(m).name, quote(net.bridge.name), c.name});
  };

  planFwdOut(net, chain(Kind::FwdOut));
  bridgeElement(MapId::ForwardOif, p.chains.back());
  planFwdIn(net, chain(Kind::FwdIn));
  bridgeElement(MapId::ForwardIif, p.chains.back());
  planHost(net, chain(Kind::In), true);
  bridgeElement(MapId::InputIif, p.chains.back());
  planHost(net, chain(Kind::Out), false);
  bridgeElement(MapId::OutputOif, p.chains.back());

  std::vector<const IpConfig*> natted;
  for (const auto& ip : net.ips) {
    if (treatmentOf(net, ip) == Treatment::Nat) natted.push_back(&ip);
  }
  if (!natted.empty()) {
    ChainPlan& c = chain(Kind::Nat);
    for (const IpConfig* ip : natted) {
      planNatSubnet(net, *ip, c);
      MapId m = ip->family == Family::V4 ? MapId::Saddr4 : MapId::Saddr6;
      p.elements.push_back({mapSpec(m).name, ip->cidr().network().toString(), c.name});
    }
  }
  return p;
}

// ---- Text output -----------------------------------------------------------------------

std::string dispatchRule(const MapSpec& m) {
  return std::string(m.selector) + " vmap @" + m.name + " comment " + quote(m.comment);
}

std::string mapDecl(const MapSpec& m) {
  return std::string("type ") + m.keyType + " : verdict;" + (m.interval ? " flags interval;" : "");
}

std::string cmd(std::string_view verb, std::string_view object, std::string_view rest) {
  std::string s = std::string(verb) + " " + std::string(object) + " " + kTableRef;
  if (!rest.empty()) s += " " + std::string(rest);
  return s + "\n";
}

std::string elementText(const MapElement& e) {
  return e.key + " : jump " + e.chain;
}

// The base part without `add table`.
std::string baseBody() {
  std::string out;
  for (const auto& m : kMaps)
    out += cmd("add", "map", std::string(m.name) + " { " + mapDecl(m) + " }");
  for (const auto& c : kBaseChains) {
    out += cmd("add", "chain", std::string(c.name) + " { " + c.hook + " }");
    out += cmd("flush", "chain", c.name);
    for (const auto& m : kMaps) {
      if (std::string_view(m.baseChain) == c.name) {
        out += cmd("add", "rule", std::string(c.name) + " " + dispatchRule(m));
      }
    }
  }
  return out;
}

std::string deleteElements(const std::vector<MapElement>& elements) {
  std::string out;
  for (const auto& e : elements) out += cmd("delete", "element", e.map + " { " + e.key + " }");
  return out;
}

}  // namespace

std::string chainId(std::string_view networkName) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < networkName.size(); ++i) {
    auto u = static_cast<unsigned char>(networkName[i]);
    bool keep = (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9' && i > 0);
    if (keep) {
      out += static_cast<char>(u);
    } else {
      out += '_';
      out += kHex[u >> 4];
      out += kHex[u & 0xF];
    }
  }
  return out;
}

std::vector<std::string> possibleChains(std::string_view networkName) {
  std::vector<std::string> out;
  for (const auto& k : kKinds) out.push_back(chainName(networkName, k.kind));
  return out;
}

bool hasRules(const Network& net) {
  return net.mode != ForwardMode::Open && net.mode != ForwardMode::Bridge;
}

Status checkRenderable(const Network& net) {
  if (!hasRules(net)) return Status::success();
  auto ifnameOk = [](std::string_view s) {
    return !s.empty() && s.size() <= 15 && std::all_of(s.begin(), s.end(), [](char c) {
      return c > ' ' && c < 0x7f && c != '"' && c != '\\' && c != '/';
    });
  };
  if (!ifnameOk(net.bridge.name)) {
    return Error::invalid("network '" + net.name + "': bridge name '" + net.bridge.name +
                          "' is not a usable interface name");
  }
  if (!net.forwardDev.empty() && !ifnameOk(net.forwardDev)) {
    return Error::invalid("network '" + net.name + "': forward dev '" + net.forwardDev +
                          "' is not a usable interface name");
  }
  return Status::success();
}

NetworkObjects objectsOf(const Network& net) {
  NetworkPlan p = plan(net);
  NetworkObjects o;
  for (const auto& c : p.chains) o.chains.push_back(c.name);
  o.elements = std::move(p.elements);
  return o;
}

std::string renderBase() {
  return cmd("add", "table", "") + baseBody();
}

std::string renderAddNetwork(const Network& net, const NetworkObjects& replacing) {
  NetworkPlan p = plan(net);
  std::string out = cmd("add", "table", "");
  for (const auto& c : p.chains) out += cmd("add", "chain", c.name);
  out += baseBody();
  out += deleteElements(replacing.elements);
  for (const auto& old : replacing.chains) {
    bool kept = std::any_of(p.chains.begin(), p.chains.end(),
                            [&](const ChainPlan& c) { return c.name == old; });
    if (!kept) out += cmd("delete", "chain", old);
  }
  for (const auto& c : p.chains) {
    out += cmd("flush", "chain", c.name);
    for (const auto& r : c.rules) out += cmd("add", "rule", c.name + " " + r);
  }
  for (const auto& e : p.elements) {
    out += cmd("add", "element", e.map + " { " + elementText(e) + " }");
  }
  return out;
}

std::string renderRemove(const NetworkObjects& objects) {
  std::string out = deleteElements(objects.elements);
  for (const auto& c : objects.chains) out += cmd("delete", "chain", c);
  return out;
}

std::string renderRemoveNetwork(const Network& net) {
  return renderRemove(objectsOf(net));
}

std::string renderRuleset(const std::vector<Network>& networks) {
  std::vector<NetworkPlan> plans;
  for (const auto& n : networks) plans.push_back(plan(n));

  std::vector<std::string> blocks;
  for (const auto& m : kMaps) {
    std::string b = "\tmap " + std::string(m.name) + " {\n\t\ttype " + m.keyType + " : verdict\n";
    if (m.interval) b += "\t\tflags interval\n";
    std::vector<std::string> elems;
    for (const auto& p : plans) {
      for (const auto& e : p.elements) {
        if (e.map == m.name) elems.push_back(elementText(e));
      }
    }
    for (size_t i = 0; i < elems.size(); ++i) {
      b += (i == 0 ? "\t\telements = { " : ",\n\t\t\t     ") + elems[i];
    }
    if (!elems.empty()) b += " }\n";
    blocks.push_back(b + "\t}\n");
  }
  auto chainBlock = [](std::string_view name, std::string_view hook,
                       const std::vector<std::string>& rules) {
    std::string b = "\tchain " + std::string(name) + " {\n";
    if (!hook.empty()) b += "\t\t" + std::string(hook) + "\n";
    for (const auto& r : rules) b += "\t\t" + r + "\n";
    return b + "\t}\n";
  };
  for (const auto& c : kBaseChains) {
    std::vector<std::string> rules;
    for (const auto& m : kMaps) {
      if (std::string_view(m.baseChain) == c.name) rules.push_back(dispatchRule(m));
    }
    blocks.push_back(chainBlock(c.name, c.hook, rules));
  }
  for (const auto& p : plans) {
    for (const auto& c : p.chains) blocks.push_back(chainBlock(c.name, "", c.rules));
  }

  std::string out = "table " + kTableRef + " {\n";
  for (size_t i = 0; i < blocks.size(); ++i) out += (i == 0 ? "" : "\n") + blocks[i];
  return out + "}\n";
}

}  // namespace vnet::kernel::nft
