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

// ---- The fixed part of the table ------------------------------------------------------

enum class SetId {
  Guests,
  GuestPairs,
  Dhcp4,
  Dhcp6,
  Dns,
  Replies4,
  Replies4Dev,
  Inbound4,
  Inbound4Dev,
  Outbound4,
  Outbound4Dev,
  NatLocal4,
  Masq4,
  Masq4Dev,
  Replies6,
  Replies6Dev,
  Inbound6,
  Inbound6Dev,
  Outbound6,
  Outbound6Dev,
  NatLocal6,
  Masq6,
  Masq6Dev,
  NatCustom,
};

struct SetSpec {
  SetId id;
  const char* name;
  const char* type;  // `type` of the declaration, verdict maps included ("ifname : verdict")
  bool interval;
  const char* comment;
};
// In declaration order, which is also `nft list` order.
constexpr std::array<SetSpec, 24> kSets{{
    {SetId::Guests, "guests", "ifname", false, "bridges of nat, route and isolated networks"},
    {SetId::GuestPairs, "guest_pairs", "ifname . ifname", false, "bridge . same bridge"},
    {SetId::Dhcp4, "dhcp4", "ifname", false, "bridges with a DHCP server"},
    {SetId::Dhcp6, "dhcp6", "ifname", false, "bridges with a DHCPv6 server"},
    {SetId::Dns, "dns", "ifname", false, "bridges with a DNS server"},
    {SetId::Replies4, "replies4", "ifname . ipv4_addr", true, "nat: bridge . guest subnet"},
    {SetId::Replies4Dev, "replies4_dev", "ifname . ipv4_addr . ifname", true,
     "nat: bridge . guest subnet . forward dev"},
    {SetId::Inbound4, "inbound4", "ifname . ipv4_addr", true, "route: bridge . guest subnet"},
    {SetId::Inbound4Dev, "inbound4_dev", "ifname . ipv4_addr . ifname", true,
     "route: bridge . guest subnet . forward dev"},
    {SetId::Outbound4, "outbound4", "ifname . ipv4_addr", true,
     "nat, route: bridge . guest subnet"},
    {SetId::Outbound4Dev, "outbound4_dev", "ifname . ipv4_addr . ifname", true,
     "nat, route: bridge . guest subnet . forward dev"},
    {SetId::NatLocal4, "nat_local4", "ifname . ipv4_addr . ipv4_addr", true,
     "nat: bridge . guest subnet . same subnet"},
    {SetId::Masq4, "masq4", "ifname . ipv4_addr", true, "nat: bridge . guest subnet"},
    {SetId::Masq4Dev, "masq4_dev", "ifname . ipv4_addr . ifname", true,
     "nat: bridge . guest subnet . forward dev"},
    {SetId::Replies6, "replies6", "ifname . ipv6_addr", true, "nat: bridge . guest subnet"},
    {SetId::Replies6Dev, "replies6_dev", "ifname . ipv6_addr . ifname", true,
     "nat: bridge . guest subnet . forward dev"},
    {SetId::Inbound6, "inbound6", "ifname . ipv6_addr", true, "route: bridge . guest subnet"},
    {SetId::Inbound6Dev, "inbound6_dev", "ifname . ipv6_addr . ifname", true,
     "route: bridge . guest subnet . forward dev"},
    {SetId::Outbound6, "outbound6", "ifname . ipv6_addr", true,
     "nat, route: bridge . guest subnet"},
    {SetId::Outbound6Dev, "outbound6_dev", "ifname . ipv6_addr . ifname", true,
     "nat, route: bridge . guest subnet . forward dev"},
    {SetId::NatLocal6, "nat_local6", "ifname . ipv6_addr . ipv6_addr", true,
     "nat: bridge . guest subnet . same subnet"},
    {SetId::Masq6, "masq6", "ifname . ipv6_addr", true, "nat: bridge . guest subnet"},
    {SetId::Masq6Dev, "masq6_dev", "ifname . ipv6_addr . ifname", true,
     "nat: bridge . guest subnet . forward dev"},
    {SetId::NatCustom, "nat_custom", "ifname : verdict", false,
     "bridge : chain of a network whose <nat> sets addresses or ports"},
}};

const SetSpec& setSpec(SetId id) {
  return *std::find_if(kSets.begin(), kSets.end(), [id](const SetSpec& m) { return m.id == id; });
}
bool isMap(const SetSpec& m) {
  return std::string_view(m.type).find(" : ") != std::string_view::npos;
}

struct ChainSpec {
  const char* name;
  const char* hook;                   // "" for a regular chain
  std::array<const char*, 20> rules;  // nullptr-terminated
};
// In creation order, which is also `nft list` order.
constexpr std::array<ChainSpec, 6> kChains{{
    {"forward",
     "type filter hook forward priority filter; policy accept;",
     {"iifname . oifname @guest_pairs accept comment \"guest to guest through the bridge\"",
      "oifname @guests jump to_guests comment \"to guests: the receiving network decides first\"",
      "iifname @guests jump from_guests comment \"from guests: then the sending network\""}},
    {"to_guests",
     "",
     {"oifname . ip daddr @replies4 ct state established,related return comment \"nat: replies to "
      "guests\"",
      "oifname . ip daddr . iifname @replies4_dev ct state established,related return comment "
      "\"nat: replies to guests via the forward dev\"",
      "oifname . ip daddr @inbound4 return comment \"route: traffic to guests\"",
      "oifname . ip daddr . iifname @inbound4_dev return comment \"route: traffic to guests via "
      "the forward dev\"",
      "oifname . ip6 daddr @replies6 ct state established,related return comment \"nat: replies to "
      "guests\"",
      "oifname . ip6 daddr . iifname @replies6_dev ct state established,related return comment "
      "\"nat: replies to guests via the forward dev\"",
      "oifname . ip6 daddr @inbound6 return comment \"route: traffic to guests\"",
      "oifname . ip6 daddr . iifname @inbound6_dev return comment \"route: traffic to guests via "
      "the forward dev\"",
      "reject comment \"anything else to guests\""}},
    {"from_guests",
     "",
     {"iifname . ip saddr @outbound4 accept comment \"nat, route: guests to outside\"",
      "iifname . ip saddr . oifname @outbound4_dev accept comment \"nat, route: guests out their "
      "forward dev\"",
      "iifname . ip6 saddr @outbound6 accept comment \"nat, route: guests to outside\"",
      "iifname . ip6 saddr . oifname @outbound6_dev accept comment \"nat, route: guests out their "
      "forward dev\"",
      "reject comment \"anything else from guests\""}},
    {"input",
     "type filter hook input priority filter; policy accept;",
     {"iifname @dhcp4 udp dport 67 accept comment \"DHCP from guests\"",
      "iifname @dhcp6 udp dport 547 accept comment \"DHCPv6 from guests\"",
      "iifname @dns udp dport 53 accept comment \"DNS from guests\"",
      "iifname @dns tcp dport 53 accept comment \"DNS over TCP from guests\""}},
    {"output",
     "type filter hook output priority filter; policy accept;",
     {"oifname @dhcp4 udp dport 68 accept comment \"DHCP replies to guests\"",
      "oifname @dhcp6 udp dport 546 accept comment \"DHCPv6 replies to guests\"",
      "oifname @dns udp sport 53 accept comment \"DNS replies to guests\"",
      "oifname @dns tcp sport 53 accept comment \"DNS over TCP replies to guests\""}},
    {"postrouting",
     "type nat hook postrouting priority srcnat; policy accept;",
     {"iifname vmap @nat_custom comment \"nat: networks with their own <nat> addresses or ports\"",
      "iifname . ip saddr . ip daddr @nat_local4 return comment \"nat: no NAT inside the guest "
      "subnet\"",
      "iifname . ip6 saddr . ip6 daddr @nat_local6 return comment \"nat: no NAT inside the guest "
      "subnet\"",
      "ip daddr 224.0.0.0/24 return comment \"no NAT to local multicast\"",
      "ip daddr 255.255.255.255 return comment \"no NAT to broadcast\"",
      "ip6 daddr ff02::/16 return comment \"no NAT to link-local multicast\"",
      "iifname . ip saddr @masq4 meta l4proto tcp masquerade to :1024-65535 comment \"nat: "
      "masquerade guests, tcp source ports 1024-65535\"",
      "iifname . ip saddr @masq4 meta l4proto udp masquerade to :1024-65535 comment \"nat: "
      "masquerade guests, udp source ports 1024-65535\"",
      "iifname . ip saddr @masq4 masquerade comment \"nat: masquerade guests, other protocols\"",
      "iifname . ip saddr . oifname @masq4_dev meta l4proto tcp masquerade to :1024-65535 comment "
      "\"nat: masquerade guests out their forward dev, tcp\"",
      "iifname . ip saddr . oifname @masq4_dev meta l4proto udp masquerade to :1024-65535 comment "
      "\"nat: masquerade guests out their forward dev, udp\"",
      "iifname . ip saddr . oifname @masq4_dev masquerade comment \"nat: masquerade guests out "
      "their forward dev, other protocols\"",
      "iifname . ip6 saddr @masq6 meta l4proto tcp masquerade to :1024-65535 comment \"nat: "
      "masquerade guests, tcp source ports 1024-65535\"",
      "iifname . ip6 saddr @masq6 meta l4proto udp masquerade to :1024-65535 comment \"nat: "
      "masquerade guests, udp source ports 1024-65535\"",
      "iifname . ip6 saddr @masq6 masquerade comment \"nat: masquerade guests, other protocols\"",
      "iifname . ip6 saddr . oifname @masq6_dev meta l4proto tcp masquerade to :1024-65535 comment "
      "\"nat: masquerade guests out their forward dev, tcp\"",
      "iifname . ip6 saddr . oifname @masq6_dev meta l4proto udp masquerade to :1024-65535 comment "
      "\"nat: masquerade guests out their forward dev, udp\"",
      "iifname . ip6 saddr . oifname @masq6_dev masquerade comment \"nat: masquerade guests out "
      "their forward dev, other protocols\""}},
}};

// ---- Per-network objects ---------------------------------------------------------------

constexpr std::string_view kNatChainSuffix = "_nat";

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

// A <nat> with addresses or a port range other than libvirt's default gets a chain of its
// own; every other NAT network shares the fixed masquerade rules.
bool customNat(const Network& net) {
  if (!net.nat) return false;
  const model::Nat& n = *net.nat;
  return n.addressStart.has_value() || n.portStart != model::Nat{}.portStart ||
         n.portEnd != model::Nat{}.portEnd;
}

struct ChainPlan {
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

// The rules of a custom-NAT network's own chain for one subnet: libvirt's masquerade rules
// (no NAT to local multicast and broadcast, tcp/udp with the source port range, then
// everything else); <nat><address> turns masquerade into SNAT.
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
  for (const char* proto : {"tcp", "udp"}) {
    w.add(match + "meta l4proto " + proto + " " + verb + " to " + addr + ":" + ports(nat),
          action + " (" + proto + " ports " + ports(nat) + ")");
  }
  w.add(match + verb + (addr.empty() ? "" : " to " + addr), action + " (other protocols)");
}

NetworkPlan plan(const Network& net) {
  NetworkPlan p;
  if (!hasRules(net)) return p;
  const std::string owner = chainId(net.name);
  const std::string br = quote(net.bridge.name);
  const bool viaDev = !net.forwardDev.empty();
  const std::string dev = viaDev ? " . " + quote(net.forwardDev) : "";
  auto element = [&](SetId set, std::string key) {
    p.elements.push_back({setSpec(set).name, std::move(key), "", owner});
  };
  auto byFamily = [](Family f, SetId v4, SetId v6) { return f == Family::V4 ? v4 : v6; };

  element(SetId::Guests, br);
  element(SetId::GuestPairs, br + " . " + br);
  if (hasDhcp(net, Family::V4)) element(SetId::Dhcp4, br);
  if (hasDhcp(net, Family::V6)) element(SetId::Dhcp6, br);
  if (hasDns(net)) element(SetId::Dns, br);

  const bool custom = customNat(net);
  for (const auto& ip : net.ips) {
    auto t = treatmentOf(net, ip);
    if (!t) continue;
    const Family f = ip.family;
    const std::string sub = ip.cidr().network().toString();
    const std::string key = br + " . " + sub;
    if (*t == Treatment::Nat) {
      element(viaDev ? byFamily(f, SetId::Replies4Dev, SetId::Replies6Dev)
                     : byFamily(f, SetId::Replies4, SetId::Replies6),
              key + dev);
    } else {
      element(viaDev ? byFamily(f, SetId::Inbound4Dev, SetId::Inbound6Dev)
                     : byFamily(f, SetId::Inbound4, SetId::Inbound6),
              key + dev);
    }
    element(viaDev ? byFamily(f, SetId::Outbound4Dev, SetId::Outbound6Dev)
                   : byFamily(f, SetId::Outbound4, SetId::Outbound6),
            key + dev);
    if (*t == Treatment::Nat && !custom) {
      element(byFamily(f, SetId::NatLocal4, SetId::NatLocal6), key + " . " + sub);
      element(viaDev ? byFamily(f, SetId::Masq4Dev, SetId::Masq6Dev)
                     : byFamily(f, SetId::Masq4, SetId::Masq6),
              key + dev);
    }
  }

  if (custom) {
    ChainPlan c{owner + std::string(kNatChainSuffix), {}};
    for (const auto& ip : net.ips) {
      if (treatmentOf(net, ip) == Treatment::Nat) planNatSubnet(net, ip, c);
    }
    if (!c.rules.empty()) {
      p.elements.push_back({setSpec(SetId::NatCustom).name, br, c.name, owner});
      p.chains.push_back(std::move(c));
    }
  }
  return p;
}

// ---- Text output -----------------------------------------------------------------------

std::string cmd(std::string_view verb, std::string_view object, std::string_view rest) {
  std::string s = std::string(verb) + " " + std::string(object) + " " + kTableRef;
  if (!rest.empty()) s += " " + std::string(rest);
  return s + "\n";
}

// The element as `add element` and `nft list` write it: key, comment, then the verdict.
std::string elementText(const MapElement& e) {
  std::string s = e.key + " comment " + quote(e.owner);
  if (!e.chain.empty()) s += " : jump " + e.chain;
  return s;
}

std::string setDecl(const SetSpec& m) {
  return std::string("type ") + m.type + ";" + (m.interval ? " flags interval;" : "") +
         " comment " + quote(m.comment) + ";";
}

// The fixed part without `add table`.
std::string baseBody() {
  std::string out;
  for (const auto& m : kSets) {
    out += cmd("add", isMap(m) ? "map" : "set", std::string(m.name) + " { " + setDecl(m) + " }");
  }
  for (const auto& c : kChains) {
    std::string hook = *c.hook ? std::string(" { ") + c.hook + " }" : "";
    out += cmd("add", "chain", c.name + hook);
  }
  for (const auto& c : kChains) {
    out += cmd("flush", "chain", c.name);
    for (const char* r : c.rules) {
      if (r) out += cmd("add", "rule", std::string(c.name) + " " + r);
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

bool isFixedChain(std::string_view chain) {
  return std::any_of(kChains.begin(), kChains.end(),
                     [chain](const ChainSpec& c) { return chain == c.name; });
}

std::vector<std::string> possibleChains(std::string_view networkName) {
  return {chainId(networkName) + std::string(kNatChainSuffix)};
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
  // The id is every element's comment (nft allows 128 bytes) and a chain name prefix.
  if (size_t n = chainId(net.name).size(); n + kNatChainSuffix.size() > kMaxComment) {
    return Error::invalid("network '" + net.name +
                          "': name too long for the firewall table (its id has " +
                          std::to_string(n) + " bytes, at most " +
                          std::to_string(kMaxComment - kNatChainSuffix.size()) + ")");
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

std::string renderAddNetwork(const Network& net, const NetworkObjects& replacing, bool withBase) {
  NetworkPlan p = plan(net);
  std::string out = withBase ? renderBase() : std::string();
  // An old element is deleted unless the plan has it exactly (key, owner and verdict): one
  // whose key stays but whose verdict changes is deleted and added again, because `add`
  // keeps an existing key's old verdict.
  std::vector<MapElement> stale;
  for (const auto& old : replacing.elements) {
    bool kept = std::find(p.elements.begin(), p.elements.end(), old) != p.elements.end();
    if (!kept) stale.push_back(old);
  }
  out += deleteElements(stale);
  for (const auto& old : replacing.chains) {
    bool kept = std::any_of(p.chains.begin(), p.chains.end(),
                            [&](const ChainPlan& c) { return c.name == old; });
    if (!kept) out += cmd("delete", "chain", old);
  }
  for (const auto& c : p.chains) {
    out += cmd("add", "chain", c.name);
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
  for (const auto& m : kSets) {
    std::string b =
        std::string("\t") + (isMap(m) ? "map " : "set ") + m.name + " {\n\t\ttype " + m.type + "\n";
    if (m.interval) b += "\t\tflags interval\n";
    b += "\t\tcomment " + quote(m.comment) + "\n";
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
  for (const auto& c : kChains) {
    std::vector<std::string> rules;
    for (const char* r : c.rules) {
      if (r) rules.push_back(r);
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

namespace vnet::kernel::nft {

std::vector<RuleView> rulesUsedBy(std::string_view listing, const model::Network& net) {
  std::vector<std::string> sets;
  for (const auto& e : objectsOf(net).elements) sets.push_back(e.map);
  if (sets.empty()) return {};
  auto trim = [](std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
      s.remove_suffix(1);
    return s;
  };
  std::vector<RuleView> out;
  std::string chain;
  std::string hook;
  bool custom = false;  // inside a network's own chain: only `net`'s is shown
  const std::vector<std::string> own = objectsOf(net).chains;
  size_t pos = 0;
  while (pos < listing.size()) {
    size_t end = listing.find('\n', pos);
    if (end == std::string_view::npos) end = listing.size();
    std::string_view line = trim(listing.substr(pos, end - pos));
    pos = end + 1;
    if (line.rfind("chain ", 0) == 0 && line.size() > 8 && line.substr(line.size() - 2) == " {") {
      chain = std::string(line.substr(6, line.size() - 8));
      hook.clear();
      custom = !isFixedChain(chain);
      continue;
    }
    if (line == "}" || line.empty()) {
      if (line == "}") chain.clear();
      continue;
    }
    if (chain.empty()) continue;
    if (line.rfind("type ", 0) == 0 && line.find(" hook ") != std::string_view::npos) {
      hook = std::string(line);
      continue;
    }
    if (custom && std::find(own.begin(), own.end(), chain) == own.end()) continue;
    std::string_view text = line;
    std::string_view comment;
    if (size_t c = line.find(" comment \""); c != std::string_view::npos) {
      text = line.substr(0, c);
      comment = line.substr(c + 10);
      if (!comment.empty() && comment.back() == '"') comment.remove_suffix(1);
    }
    bool wanted = true;
    if (size_t at = text.find('@'); at != std::string_view::npos) {
      size_t stop = text.find(' ', at);
      std::string set(text.substr(
          at + 1, stop == std::string_view::npos ? std::string_view::npos : stop - at - 1));
      wanted = std::find(sets.begin(), sets.end(), set) != sets.end();
    } else if (chain == "input" || chain == "output") {
      wanted = false;
    } else if (chain == "postrouting") {
      // The multicast/broadcast exceptions of the family the network masquerades.
      const char* masq = text.rfind("ip6 ", 0) == 0 ? "masq6" : "masq4";
      wanted = std::any_of(sets.begin(), sets.end(),
                           [masq](const std::string& s) { return s.rfind(masq, 0) == 0; });
    }
    if (wanted) out.push_back({chain, hook, std::string(text), std::string(comment)});
  }
  return out;
}

}  // namespace vnet::kernel::nft
