// foreign-drop and br-netfilter: base chains of other tables that drop guest traffic.
#include <algorithm>
#include <map>
#include <set>

#include "doctor/checks.h"

namespace vnet::doctor {
namespace {

// Our own table: its verdicts are the ones vnetd renders (kernel/nft/render.h).
constexpr const char* kOwnFamily = "inet";
constexpr const char* kOwnTable = "vnet";

std::string quoted(const std::string& s) {
  return "\"" + s + "\"";
}

Cidr hostCidr(const IpAddress& a) {
  return Cidr{a, a.isV4() ? 32 : 128};
}

std::string nameSet(const std::vector<std::string>& names) {
  if (names.size() == 1) return quoted(names.front());
  std::string s = "{ ";
  for (size_t i = 0; i < names.size(); ++i) s += (i ? ", " : "") + quoted(names[i]);
  return s + " }";
}

std::vector<std::string> uplinksOf(const Facts& f, Family fam) {
  std::vector<std::string> out;
  for (const auto& r : f.routes) {
    if (r.destination.prefix == 0 && r.destination.family() == fam && !r.device.empty() &&
        std::find(out.begin(), out.end(), r.device) == out.end()) {
      out.push_back(r.device);
    }
  }
  return out;
}

// What one base chain does to the network's traffic classes.
struct ChainReport {
  const NftChain* chain = nullptr;
  bool brNetfilter = false;
  bool dropsAll = false;
  // Per traffic class (index into the classes): an example packet and whether it is
  // surely dropped.
  std::map<size_t, std::pair<Packet, bool>> affected;
  std::vector<DropSource> sources;
};

std::string sourceText(const NftChain& base, const DropSource& s) {
  std::string via;
  if (s.via.size() > 1) {
    via = " (reached through ";
    for (size_t i = 0; i < s.via.size(); ++i) via += (i ? " -> " : "") + s.via[i];
    via += ")";
  }
  if (!s.rule) {
    if (s.verdict == "policy drop") {
      return "the policy of chain " + base.ref() +
             " is drop, and no rule before it accepts this traffic";
    }
    return s.verdict + via;
  }
  const std::string chain = s.via.empty() ? base.name : s.via.back();
  std::string text = s.rule->text.empty() ? s.rule->expr.dump() : s.rule->text;
  return "rule " + base.family + " " + base.table + " " + chain + " handle " +
         std::to_string(s.rule->handle) + ": " + text + via;
}

bool sameSource(const DropSource& a, const DropSource& b) {
  return a.rule == b.rule && a.via == b.via && a.verdict == b.verdict;
}

bool tableHasChainPrefix(const Ruleset& rs, const NftChain& c, const std::string& prefix) {
  for (const auto& other : rs.chains) {
    if (other.family == c.family && other.table == c.table && other.name.rfind(prefix, 0) == 0)
      return true;
  }
  return false;
}

Finding toFinding(const Facts& f, const NetworkFacts& n, const ChainReport& r,
                  const std::vector<TrafficClass>& classes) {
  const NftChain& c = *r.chain;
  const std::string& br = n.def.bridge.name;
  Finding fd;
  fd.check = r.brNetfilter ? "br-netfilter" : "foreign-drop";
  fd.network = n.def.name;
  fd.severity = r.dropsAll ? Severity::Error : Severity::Warning;

  std::string what;
  for (const auto& [idx, ex] : r.affected) {
    if (r.dropsAll && !ex.second) continue;
    what += (what.empty() ? "" : "; ") + classes[idx].traffic.what;
  }
  const std::string chainName =
      "chain " + c.name + " of table " + c.family + " " + c.table + " (hook " + c.hook + ")";
  const std::string override =
      " An accept in vnet's own table (inet vnet) cannot override this: every base chain on a "
      "hook gives its own verdict, and a drop in any of them is final.";
  if (r.brNetfilter) {
    fd.what =
        "br_netfilter is on (bridge-nf-call-iptables/ip6tables = 1), so frames between "
        "guests of network '" +
        n.def.name + "' on bridge " + br +
        " also pass the IP "
        "hooks, and " +
        chainName + (r.dropsAll ? " drops them: " : " may drop them: ") + what + "." + override;
  } else if (r.dropsAll) {
    fd.what =
        chainName + " drops traffic network '" + n.def.name + "' needs: " + what + "." + override;
  } else {
    fd.what = chainName + " may drop traffic network '" + n.def.name + "' needs (" + what +
              "): the doctor could not prove it harmless (a match it cannot evaluate, or a drop "
              "that hits part of this traffic)." +
              override;
  }

  fd.evidence.push_back("chain " + c.ref() + ": " + c.header());
  std::vector<DropSource> shown;
  for (const auto& s : r.sources) {
    if (std::any_of(shown.begin(), shown.end(),
                    [&](const DropSource& o) { return sameSource(o, s); }))
      continue;
    shown.push_back(s);
    fd.evidence.push_back(sourceText(c, s));
  }
  for (const auto& [idx, ex] : r.affected) {
    fd.evidence.push_back(std::string(ex.second ? "dropped: " : "may be dropped: ") +
                          classes[idx].traffic.what + ", e.g. " + describe(ex.first));
  }
  if (r.brNetfilter) {
    for (const char* k :
         {"net/bridge/bridge-nf-call-iptables", "net/bridge/bridge-nf-call-ip6tables"}) {
      if (auto v = f.sysctl(k)) {
        std::string name = k;
        std::replace(name.begin(), name.end(), '/', '.');
        fd.evidence.push_back(name + " = " + *v);
      }
    }
  }

  // Fixes: accept the traffic at the top of that base chain (or the tool's own hook).
  const bool docker = c.family == "ip" && c.table == "filter" && c.name == "FORWARD" &&
                      f.ruleset->findChain("ip", "filter", "DOCKER-USER") != nullptr;
  const bool ufw = tableHasChainPrefix(*f.ruleset, c, "ufw-");
  if (r.brNetfilter) {
    fd.fix.push_back(
        "sysctl -w net.bridge.bridge-nf-call-iptables=0 net.bridge.bridge-nf-call-ip6tables=0 "
        "(unless something on this host needs bridged traffic filtered by iptables)");
  }
  std::set<std::string> allows;
  for (const auto& [idx, ex] : r.affected) {
    const std::string& allow = classes[idx].allow;
    if (!allows.insert(allow).second) continue;
    if (docker) {
      // Docker jumps to DOCKER-USER first thing in FORWARD and never rewrites it.
      const auto& t = classes[idx].traffic;
      if (t.iif && t.oif && !t.iif->empty() && !t.oif->empty() && t.iif->front() == br &&
          t.oif->front() == br) {
        fd.fix.push_back("iptables -I DOCKER-USER -i " + br + " -o " + br + " -j ACCEPT");
      } else if (t.iif && !t.iif->empty() && t.iif->front() == br) {
        fd.fix.push_back("iptables -I DOCKER-USER -i " + br + " -j ACCEPT");
      } else {
        fd.fix.push_back("iptables -I DOCKER-USER -o " + br +
                         " -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT");
      }
      fd.fix.push_back("  (with nft: nft insert rule ip filter DOCKER-USER " + allow + " accept)");
    } else {
      fd.fix.push_back("nft insert rule " + c.ref() + " " + allow + " accept");
    }
  }
  if (docker) {
    fd.fix.push_back("(Docker rewrites FORWARD when it restarts but leaves DOCKER-USER alone)");
  }
  if (ufw) {
    fd.fix.push_back("with ufw: ufw route allow in on " + br + "; ufw route allow out on " + br +
                     "; ufw allow in on " + br + " to any port 53; ufw allow in on " + br +
                     " to any port 67 proto udp");
  }
  for (const auto& s : shown) {
    if (!s.rule) continue;
    const std::string chain = s.via.empty() ? c.name : s.via.back();
    fd.fix.push_back("or delete the rule: nft delete rule " + c.family + " " + c.table + " " +
                     chain + " handle " + std::to_string(s.rule->handle));
  }
  return fd;
}

}  // namespace

std::vector<TrafficClass> trafficOf(const NetworkFacts& n, const std::vector<std::string>& uplinks4,
                                    const std::vector<std::string>& uplinks6, bool brNetfilter4,
                                    bool brNetfilter6) {
  const model::Network& net = n.def;
  const std::string& br = net.bridge.name;
  std::vector<TrafficClass> out;
  if (net.mode == model::ForwardMode::Bridge || br.empty()) return out;
  const std::vector<std::string> bridgeOnly{br};
  const std::vector<std::string> none;
  const bool nat = net.mode == model::ForwardMode::Nat;
  const std::string iifBr = "iifname " + quoted(br);
  const std::string oifBr = "oifname " + quoted(br);

  for (const auto& ip : net.ips) {
    const Family fam = ip.family;
    const Cidr subnet = ip.cidr().network();
    const Cidr self = hostCidr(ip.address);
    const auto& uplinks = fam == Family::V4 ? uplinks4 : uplinks6;
    std::optional<std::vector<std::string>> up;
    if (!uplinks.empty()) up = uplinks;
    auto base = [&](std::string what) {
      Traffic t;
      t.what = std::move(what);
      t.family = fam;
      t.bridge = br;
      return t;
    };
    const std::string famTag = fam == Family::V4 ? "" : " (IPv6)";

    if (net.forwards()) {
      Traffic t = base("guests' traffic to the outside" + famTag);
      t.hooks = {"prerouting", "forward", "postrouting"};
      t.iif = bridgeOnly;
      t.oif = up;
      t.saddr = {subnet};
      out.push_back({t, iifBr, false});

      Traffic in =
          base((nat ? "replies from the outside to guests" : "traffic from the outside to guests") +
               famTag);
      in.hooks = {"prerouting", "forward", "postrouting"};
      in.iif = up;
      in.oif = bridgeOnly;
      in.daddr = {subnet};
      if (nat) in.ct = {"established", "related"};
      out.push_back({in, nat ? oifBr + " ct state established,related" : oifBr, false});
    }
    if (fam == Family::V4 && ip.hasDhcp) {
      Traffic t = base("DHCP requests from guests to vnetd");
      t.hooks = {"prerouting", "input"};
      t.iif = bridgeOnly;
      t.saddr = {hostCidr(Ipv4()), subnet};
      t.daddr = {hostCidr(Ipv4(0xFFFFFFFFu)), self};
      t.l4 = std::vector<std::string>{"udp"};
      t.sport = std::vector<uint16_t>{68};
      t.dport = std::vector<uint16_t>{67};
      t.ct = {"new", "established"};
      out.push_back({t, iifBr + " udp dport 67", false});

      Traffic r = base("DHCP replies from vnetd to guests");
      r.hooks = {"output", "postrouting"};
      r.oif = bridgeOnly;
      r.saddr = {self};
      r.daddr = {hostCidr(Ipv4(0xFFFFFFFFu)), subnet};
      r.l4 = std::vector<std::string>{"udp"};
      r.sport = std::vector<uint16_t>{67};
      r.dport = std::vector<uint16_t>{68};
      r.ct = {"new", "established"};
      out.push_back({r, oifBr + " udp sport 67", false});
    }
    if (net.dnsEnabled()) {
      Traffic t = base("DNS queries from guests to vnetd" + famTag);
      t.hooks = {"prerouting", "input"};
      t.iif = bridgeOnly;
      t.saddr = {subnet};
      t.daddr = {self};
      t.l4 = std::vector<std::string>{"udp", "tcp"};
      t.dport = std::vector<uint16_t>{53};
      t.ct = {"new", "established"};
      out.push_back({t, iifBr + " meta l4proto { tcp, udp } th dport 53", false});

      Traffic r = base("DNS answers from vnetd to guests" + famTag);
      r.hooks = {"output", "postrouting"};
      r.oif = bridgeOnly;
      r.saddr = {self};
      r.daddr = {subnet};
      r.l4 = std::vector<std::string>{"udp", "tcp"};
      r.sport = std::vector<uint16_t>{53};
      r.ct = {"established"};
      out.push_back({r, oifBr + " meta l4proto { tcp, udp } th sport 53", false});
    }
    if (fam == Family::V4 ? brNetfilter4 : brNetfilter6) {
      Traffic t = base("traffic between guests" + famTag);
      t.hooks = {"prerouting", "forward", "postrouting"};
      t.iif = bridgeOnly;
      t.oif = bridgeOnly;
      t.saddr = {subnet};
      t.daddr = {subnet};
      out.push_back({t, iifBr + " " + oifBr, true});
    }
  }

  // The same traffic as bridge-family chains see it: frames between the bridge's ports and
  // the host (input/output hooks), and between ports (forward hook).
  const size_t ipClasses = out.size();
  std::optional<std::vector<std::string>> ports;
  if (!n.ports.empty()) ports = n.ports;
  const std::string portMatch =
      n.ports.empty() ? "meta ibrname " + quoted(br) : "iifname " + nameSet(n.ports);
  const std::string portOut =
      n.ports.empty() ? "meta obrname " + quoted(br) : "oifname " + nameSet(n.ports);
  for (size_t i = 0; i < ipClasses; ++i) {
    if (out[i].viaBrNetfilter) continue;
    Traffic t = out[i].traffic;
    t.bridged = true;
    t.what += " (bridge-family hooks)";
    t.ct.clear();  // bridge chains do not see conntrack states
    const bool fromGuests = t.iif && t.iif->size() == 1 && t.iif->front() == br;
    if (fromGuests) {
      t.hooks = {"prerouting", "input"};
      t.iif = ports;
      t.oif = none;
      out.push_back({t, portMatch, false});
    } else {
      t.hooks = {"output", "postrouting"};
      t.iif = none;
      t.oif = ports;
      out.push_back({t, portOut, false});
    }
  }
  for (const auto& ip : net.ips) {
    Traffic t;
    t.what = std::string("traffic between guests") + (ip.family == Family::V4 ? "" : " (IPv6)") +
             " (bridge-family hooks)";
    t.family = ip.family;
    t.bridged = true;
    t.bridge = br;
    t.hooks = {"prerouting", "forward", "postrouting"};
    t.iif = ports;
    t.oif = ports;
    t.saddr = {ip.cidr().network()};
    t.daddr = {ip.cidr().network()};
    t.ct.clear();
    out.push_back({t, portMatch, false});
  }
  return out;
}

void checkFirewall(const Facts& f, const NetworkFacts& n, std::vector<Finding>& out) {
  if (!f.ruleset || !n.active) return;
  const bool bnf4 = f.sysctl("net/bridge/bridge-nf-call-iptables").value_or("0") == "1";
  const bool bnf6 = f.sysctl("net/bridge/bridge-nf-call-ip6tables").value_or("0") == "1";
  const auto classes = trafficOf(n, uplinksOf(f, Family::V4), uplinksOf(f, Family::V6), bnf4, bnf6);
  if (classes.empty()) return;

  // One report per (base chain, check).
  std::vector<ChainReport> reports;
  for (const auto& chain : f.ruleset->chains) {
    if (!chain.isBase() || (chain.family == kOwnFamily && chain.table == kOwnTable)) continue;
    for (bool viaBnf : {false, true}) {
      ChainReport r;
      r.chain = &chain;
      r.brNetfilter = viaBnf;
      for (size_t i = 0; i < classes.size(); ++i) {
        if (classes[i].viaBrNetfilter != viaBnf || !chainSees(chain, classes[i].traffic)) continue;
        std::optional<std::pair<Packet, ChainVerdict>> worst;
        for (const Packet& p : packetsAt(classes[i].traffic, chain)) {
          ChainVerdict v = evaluate(*f.ruleset, chain, p);
          if (!v.mayDrop) continue;
          if (!worst || (v.dropsAll && !worst->second.dropsAll)) worst = std::make_pair(p, v);
          if (v.dropsAll) break;
        }
        if (!worst) continue;
        r.dropsAll = r.dropsAll || worst->second.dropsAll;
        r.affected[i] = {worst->first, worst->second.dropsAll};
        for (const auto& s : worst->second.sources) r.sources.push_back(s);
      }
      if (!r.affected.empty()) reports.push_back(std::move(r));
    }
  }
  for (const auto& r : reports) out.push_back(toFinding(f, n, r, classes));
}

}  // namespace vnet::doctor
