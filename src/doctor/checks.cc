#include "doctor/checks.h"

#include <algorithm>
#include <set>

namespace vnet::doctor {
namespace {

bool hasFamily(const model::Network& n, Family fam) {
  for (const auto& ip : n.ips) {
    if (ip.family == fam) return true;
  }
  return false;
}

// Running networks in scope that forward traffic of family `fam` beyond the host.
std::vector<const NetworkFacts*> forwarding(const std::vector<const NetworkFacts*>& scope,
                                            std::optional<Family> fam) {
  std::vector<const NetworkFacts*> out;
  for (const auto* n : scope) {
    if (!n->active || !n->def.forwards()) continue;
    if (fam && !hasFamily(n->def, *fam)) continue;
    out.push_back(n);
  }
  return out;
}

std::string names(const std::vector<const NetworkFacts*>& nets) {
  std::string s;
  for (const auto* n : nets) s += (s.empty() ? "'" : ", '") + n->def.name + "'";
  return s;
}

std::string sysctlName(const std::string& path) {
  std::string s = path;
  std::replace(s.begin(), s.end(), '/', '.');
  return s;
}

std::vector<const kernel::RouteInfo*> defaultRoutes(const Facts& f, Family fam) {
  std::vector<const kernel::RouteInfo*> out;
  for (const auto& r : f.routes) {
    if (r.destination.prefix == 0 && r.destination.family() == fam) out.push_back(&r);
  }
  return out;
}

std::string linkState(const kernel::LinkInfo& l) {
  if (!l.up) return "down (administratively)";
  if (!l.lowerUp) return "up but without carrier (NO-CARRIER)";
  return "up";
}

std::string processList(const std::vector<ProcessRef>& owners, uint64_t inode) {
  if (owners.empty())
    return "a process this doctor cannot see (socket inode " + std::to_string(inode) + ")";
  std::string s;
  for (const auto& o : owners) {
    if (!s.empty()) s += ", ";
    s += (o.comm.empty() ? std::string("pid") : o.comm) + " (pid " + std::to_string(o.pid) + ")";
  }
  return s;
}

std::string endpointText(const SocketFact& s) {
  const std::string a = s.address.toString();
  return s.proto + " " + (s.address.isV6() ? "[" + a + "]" : a) +
         (s.device.empty() ? "" : "%" + s.device) + ":" + std::to_string(s.port);
}

bool ownedBySelf(const SocketFact& s, int selfPid) {
  for (const auto& o : s.owners) {
    if (o.pid == selfPid) return true;
  }
  return false;
}

bool isWildcard(const IpAddress& a) {
  return a.isV4() ? a.v4().toUint() == 0 : a.v6() == Ipv6();
}

// ::ffff:a.b.c.d for an IPv4 address.
IpAddress v4Mapped(Ipv4 a) {
  Ipv6::Bytes b{};
  b[10] = b[11] = 0xff;
  auto v = a.toBytes();
  std::copy(v.begin(), v.end(), b.begin() + 12);
  return Ipv6(b);
}

// The sockets of other processes that take (proto, port) on `address` (or on the
// wildcard of its family). A socket bound to another device never sees the bridge's packets.
std::vector<const SocketFact*> takers(const Facts& f, const std::string& proto, uint16_t port,
                                      const IpAddress& address, const std::string& bridge,
                                      bool dhcpBroadcast) {
  std::vector<const SocketFact*> out;
  for (const auto& s : f.sockets) {
    if (s.proto != proto || s.port != port || ownedBySelf(s, f.selfPid)) continue;
    if (!s.device.empty() && s.device != bridge) continue;
    bool hit = s.address == address;
    if (s.address.family() == address.family() && isWildcard(s.address)) hit = true;
    if (address.isV4() && s.address.isV6() && s.address == v4Mapped(address.v4())) hit = true;
    if (dhcpBroadcast && s.address == IpAddress(Ipv4(0xFFFFFFFFu))) hit = true;
    if (hit) out.push_back(&s);
  }
  return out;
}

void addStopFix(const std::vector<const SocketFact*>& socks, Finding& fd, const NetworkFacts& n) {
  const std::string& net = n.def.name;
  const std::string& bridge = n.def.bridge.name;
  std::set<int> pids;
  bool dnsmasq = false;
  for (const auto* s : socks) {
    for (const auto& o : s->owners) {
      if (pids.insert(o.pid).second) {
        fd.fix.push_back("stop " + (o.comm.empty() ? "it" : o.comm) + ": kill " +
                         std::to_string(o.pid) + " (or its service, e.g. systemctl stop " +
                         (o.comm.empty() ? "UNIT" : o.comm) + ")");
      }
      dnsmasq = dnsmasq || o.comm == "dnsmasq";
    }
  }
  if (pids.empty()) fd.fix.push_back("find the holder: ss -lupnt | grep -E ':(53|67) '");
  if (dnsmasq) {
    fd.fix.push_back("or keep dnsmasq off this bridge: bind-interfaces and except-interface=" +
                     bridge + " in its configuration, then restart it");
  }
  if (n.active) {
    fd.fix.push_back("then: vnetctl net-destroy " + net + " && vnetctl net-start " + net +
                     " (vnetd binds its sockets when the network starts)");
  } else {
    fd.fix.push_back("then: vnetctl net-start " + net);
  }
}

}  // namespace

void checkForwarding(const Facts& f, const std::vector<const NetworkFacts*>& scope,
                     std::vector<Finding>& out) {
  struct Knob {
    Family fam;
    const char* path;
  };
  for (const Knob k : {Knob{Family::V4, "net/ipv4/ip_forward"},
                       Knob{Family::V6, "net/ipv6/conf/all/forwarding"}}) {
    auto nets = forwarding(scope, k.fam);
    if (nets.empty()) continue;
    auto v = f.sysctl(k.path);
    if (!v || *v != "0") continue;
    Finding fd;
    fd.check = "ip-forward";
    fd.severity = Severity::Error;
    const char* famName = k.fam == Family::V4 ? "IPv4" : "IPv6";
    fd.what = std::string(famName) +
              " forwarding is off, so the host routes nothing between its "
              "interfaces: guests of " +
              names(nets) +
              " cannot reach anything beyond the host "
              "(vnetd turns it on when a network starts; something turned it off since).";
    fd.evidence.push_back(sysctlName(k.path) + " = " + *v);
    fd.fix.push_back("sysctl -w " + sysctlName(k.path) + "=1");
    fd.fix.push_back("and find what turns it off (a sysctl.d file with " + sysctlName(k.path) +
                     " = 0, a network manager, a firewall service)");
    out.push_back(std::move(fd));
  }
}

void checkDefaultRoute(const Facts& f, const std::vector<const NetworkFacts*>& scope,
                       std::vector<Finding>& out) {
  for (Family fam : {Family::V4, Family::V6}) {
    auto nets = forwarding(scope, fam);
    if (nets.empty()) continue;
    const bool v4 = fam == Family::V4;
    const std::string famName = v4 ? "IPv4" : "IPv6";
    auto defaults = defaultRoutes(f, fam);
    if (defaults.empty()) {
      Finding fd;
      fd.check = "no-default-route";
      fd.severity = v4 ? Severity::Error : Severity::Warning;
      fd.what = "The host has no " + famName + " default route: guests of " + names(nets) +
                " reach only the subnets the host has routes for, not the internet.";
      fd.evidence.push_back(std::string("no ") + (v4 ? "0.0.0.0/0" : "::/0") +
                            " route in the main routing table");
      size_t shown = 0;
      for (const auto& r : f.routes) {
        if (r.destination.family() != fam) continue;
        if (shown++ == 8) {
          fd.evidence.push_back("...");
          break;
        }
        fd.evidence.push_back("route " + kernel::describeRoute(r));
      }
      // An uplink that went down takes its routes with it: name the candidates.
      std::string downLinks;
      for (const auto& l : f.links) {
        if (l.name == "lo" || l.kind == "bridge" || l.masterIndex != 0 || (l.up && l.lowerUp))
          continue;
        fd.evidence.push_back("link " + l.name + " is " + linkState(l));
        if (downLinks.empty()) downLinks = l.name;
      }
      if (!downLinks.empty()) {
        fd.fix.push_back("if " + downLinks + " is the uplink: ip link set " + downLinks +
                         " up (the kernel removed its routes when it went down), then restore its "
                         "default route (or restart the service that manages it)");
      }
      fd.fix.push_back(std::string("add one: ip ") + (v4 ? "" : "-6 ") +
                       "route add default via GATEWAY dev UPLINK");
      out.push_back(std::move(fd));
      continue;
    }
    size_t down = 0;
    std::vector<std::pair<const kernel::RouteInfo*, const kernel::LinkInfo*>> bad;
    for (const auto* r : defaults) {
      const kernel::LinkInfo* l = f.link(r->device);
      if (l && (!l->up || !l->lowerUp)) {
        bad.push_back({r, l});
        ++down;
      }
    }
    for (const auto& [r, l] : bad) {
      Finding fd;
      fd.check = "uplink-down";
      const bool all = down == defaults.size();
      fd.severity = all ? Severity::Error : Severity::Warning;
      fd.what =
          "The uplink " + l->name + " (the device of the " + famName + " default route) is " +
          linkState(*l) + ": " +
          (all ? "guests of " + names(nets) + " cannot reach the internet."
               : "traffic that takes this default route is lost (other default routes remain).");
      fd.evidence.push_back("route " + kernel::describeRoute(*r));
      fd.evidence.push_back("link " + l->name + ": " + (l->up ? "UP" : "DOWN") +
                            (l->lowerUp ? ", LOWER_UP" : ", NO-CARRIER"));
      if (!l->up) {
        fd.fix.push_back("ip link set " + l->name + " up");
      } else {
        fd.fix.push_back("restore the carrier of " + l->name +
                         ": check the cable / the peer of a veth / the hypervisor link state");
      }
      out.push_back(std::move(fd));
    }
  }
}

void checkAcceptRa(const Facts& f, const std::vector<const NetworkFacts*>& scope,
                   std::vector<Finding>& out) {
  auto nets = forwarding(scope, std::nullopt);
  if (nets.empty()) return;
  std::set<std::string> uplinks;
  for (const auto& r : f.routes) {
    if (r.destination.prefix == 0 && !r.device.empty()) uplinks.insert(r.device);
  }
  for (const auto& dev : uplinks) {
    const std::string base = "net/ipv6/conf/" + dev + "/";
    auto ra = f.sysctl(base + "accept_ra");
    auto fwd = f.sysctl(base + "forwarding");
    auto disabled = f.sysctl(base + "disable_ipv6");
    if (!ra || !fwd || *ra != "1" || *fwd != "1" || (disabled && *disabled == "1")) continue;
    Finding fd;
    fd.check = "accept-ra";
    fd.severity = Severity::Warning;
    fd.what = "IPv6 forwarding is on for the uplink " + dev +
              " and its accept_ra is 1, which the "
              "kernel reads as \"ignore router advertisements while forwarding\": " +
              dev +
              " loses its IPv6 default route and SLAAC addresses when the ones it has expire.";
    fd.evidence.push_back(sysctlName(base + "forwarding") + " = " + *fwd);
    fd.evidence.push_back(sysctlName(base + "accept_ra") + " = " + *ra);
    fd.fix.push_back("sysctl -w " + sysctlName(base + "accept_ra") +
                     "=2 (accept RAs even when forwarding)");
    out.push_back(std::move(fd));
  }
}

void checkPorts(const Facts& f, const NetworkFacts& n, std::vector<Finding>& out) {
  const model::Network& net = n.def;
  if (net.mode == model::ForwardMode::Bridge || net.ips.empty()) return;
  const std::string& br = net.bridge.name;

  // DNS: vnetd binds udp and tcp port 53 on every address of the bridge.
  if (net.dnsEnabled()) {
    std::vector<const SocketFact*> socks;
    std::vector<std::string> addrs;
    bool tcp = false, sameUdp = false;
    for (const auto& ip : net.ips) {
      addrs.push_back(ip.address.toString());
      for (const char* proto : {"udp", "tcp"}) {
        for (const auto* s : takers(f, proto, 53, ip.address, br, false)) {
          if (std::find(socks.begin(), socks.end(), s) != socks.end()) continue;
          socks.push_back(s);
          if (s->proto == "tcp")
            tcp = true;
          else if (s->address == ip.address)
            sameUdp = true;
        }
      }
    }
    if (!socks.empty()) {
      Finding fd;
      fd.check = "port-taken";
      fd.network = net.name;
      std::string first = "binding DNS " + std::string(tcp ? "TCP" : "UDP") + " socket on " +
                          addrs.front() + " port 53: Address already in use";
      if (!n.active) {
        fd.severity = Severity::Error;
        fd.what = "Another process holds DNS port 53 where network '" + net.name +
                  "' needs it (vnetd's DNS listens on udp and tcp port 53 of " + addrs.front() +
                  "): starting the network fails with \"DNS service: " + first +
                  "\" and the start is undone" +
                  (tcp ? "."
                       : " (unless both sockets allow address reuse; then that process "
                         "may receive the guests' queries).");
      } else if (sameUdp || tcp) {
        fd.severity = Severity::Error;
        fd.what = "Another process listens on DNS port 53 of " + addrs.front() +
                  ", where vnetd "
                  "serves network '" +
                  net.name +
                  "': the kernel hands each query to only one "
                  "of the two sockets (the newest), so guests' DNS queries go to that process "
                  "instead of vnetd.";
      } else {
        fd.severity = Severity::Warning;
        fd.what = "Another process holds DNS port 53 on the wildcard address. vnetd's socket on " +
                  addrs.front() + " is more specific and gets the queries of network '" + net.name +
                  "' now, but when the network or vnetd restarts its bind may fail (\"" + first +
                  "\") and the network does not start.";
      }
      for (const auto* s : socks) {
        fd.evidence.push_back(endpointText(*s) + " is held by " + processList(s->owners, s->inode));
      }
      fd.evidence.push_back(
          std::string("network '") + net.name + "' is " + (n.active ? "running" : "not running") +
          "; its DNS needs udp and tcp " + addrs.front() + ":53 (bridge " + br + ")");
      addStopFix(socks, fd, n);
      out.push_back(std::move(fd));
    }
  }

  // DHCP: vnetd binds udp 0.0.0.0:67 with SO_BINDTODEVICE to the bridge.
  const model::IpConfig* v4 = net.ipv4();
  if (v4 && v4->hasDhcp) {
    auto socks = takers(f, "udp", 67, v4->address, br, true);
    if (!socks.empty()) {
      Finding fd;
      fd.check = "port-taken";
      fd.network = net.name;
      fd.severity = Severity::Error;
      if (!n.active) {
        fd.what = "Another process holds DHCP port 67 (udp) where network '" + net.name +
                  "' needs it: starting the network fails with \"DHCP server on " + br +
                  ": DHCP socket on " + br +
                  ": bind port 67: Address already in use\" and the "
                  "start is undone, unless both sockets allow address reuse; then both servers "
                  "get the guests' DHCP broadcasts and guests may take a lease from the other one.";
      } else {
        fd.what =
            "Another process listens on DHCP port 67 (udp) next to vnetd's DHCP server "
            "of network '" +
            net.name +
            "': the guests' DHCP broadcasts reach both, so "
            "guests may take a lease (and a router and DNS server) from that process.";
      }
      for (const auto* s : socks) {
        fd.evidence.push_back(endpointText(*s) + " is held by " + processList(s->owners, s->inode));
      }
      fd.evidence.push_back(std::string("network '") + net.name + "' is " +
                            (n.active ? "running" : "not running") +
                            "; its DHCP server binds udp 0.0.0.0:67 on bridge " + br);
      addStopFix(socks, fd, n);
      out.push_back(std::move(fd));
    }
  }
}

void checkSubnet(const Facts& f, const NetworkFacts& n, std::vector<Finding>& out) {
  const model::Network& net = n.def;
  if (net.mode == model::ForwardMode::Bridge) return;
  const std::string& br = net.bridge.name;
  for (const auto& ip : net.ips) {
    const Cidr subnet = ip.cidr().network();
    for (const auto& r : f.routes) {
      if (r.destination.prefix == 0 || r.device == br) continue;
      if (!r.destination.overlaps(subnet)) continue;
      Finding fd;
      fd.check = "subnet-collision";
      fd.network = net.name;
      fd.severity = Severity::Error;
      const std::string dev = r.device.empty() ? "another interface" : r.device;
      if (n.active) {
        fd.what = "The subnet " + subnet.toString() + " of network '" + net.name +
                  "' collides with a route on " + dev + ": the host sends traffic for " +
                  r.destination.toString() + " to " + dev +
                  " (the longer prefix wins, or the "
                  "routes compete), so replies to guests there go the wrong way.";
      } else {
        fd.what = "The subnet " + subnet.toString() + " of network '" + net.name +
                  "' collides with a route on " + dev +
                  ": vnetd refuses to start the network "
                  "(\"" +
                  subnet.toString() + " is already routed on " + dev + " (" +
                  r.destination.toString() + ")\").";
      }
      fd.evidence.push_back("route " + kernel::describeRoute(r));
      fd.evidence.push_back("network '" + net.name + "': " + ip.cidr().toString() + " on bridge " +
                            br);
      fd.fix.push_back("if the route is stale: ip route del " + r.destination.toString() +
                       (r.device.empty() ? "" : " dev " + r.device) +
                       " (or remove the address behind it)");
      fd.fix.push_back("else move the network to a free subnet: vnetctl net-edit " + net.name);
      out.push_back(std::move(fd));
    }
  }
}

void checkFeatures(const Facts& f, std::vector<Finding>& out) {
  struct Feature {
    const FeatureFact& fact;
    const char* name;
    const char* effect;
    std::vector<std::string> fix;
  };
  const Feature features[] = {
      {f.natFeature,
       "nf_tables NAT",
       "NAT networks cannot start: the batch with their masquerade rule is refused.",
       {"modprobe nft_chain_nat nft_masq (kernel config: CONFIG_NF_TABLES_INET, CONFIG_NFT_NAT, "
        "CONFIG_NFT_MASQ)"}},
      {f.bridgeFeature,
       "the bridge driver",
       "no network can start: vnetd cannot create bridges.",
       {"modprobe bridge (kernel config: CONFIG_BRIDGE)"}},
      {f.tunFeature,
       "/dev/net/tun",
       "`vnetctl port-add --tap` fails: taps for QEMU are created through /dev/net/tun.",
       {"modprobe tun",
        "if the module is loaded but the node is missing: mkdir -p /dev/net && mknod "
        "/dev/net/tun c 10 200"}},
  };
  for (const auto& ft : features) {
    if (ft.fact.present) continue;
    Finding fd;
    fd.check = "kernel-feature";
    fd.severity = Severity::Error;
    fd.what = std::string("The kernel lacks ") + ft.name + ": " + ft.effect;
    fd.evidence.push_back(ft.fact.evidence);
    fd.fix = ft.fix;
    out.push_back(std::move(fd));
  }
}

std::vector<Finding> runChecks(const Facts& f, const std::string& only) {
  std::vector<const NetworkFacts*> scope;
  for (const auto& n : f.networks) {
    if (only.empty() || n.def.name == only) scope.push_back(&n);
  }
  std::vector<Finding> out;
  if (!f.probeErrors.empty()) {
    Finding fd;
    fd.check = "probe";
    fd.severity = Severity::Warning;
    fd.what =
        "The doctor could not gather every fact; the checks that need the missing ones "
        "were skipped.";
    fd.evidence = f.probeErrors;
    fd.fix.push_back(
        "run vnetd as root (CAP_NET_ADMIN, CAP_SYS_PTRACE to see other processes' sockets)");
    out.push_back(std::move(fd));
  }
  checkForwarding(f, scope, out);
  checkDefaultRoute(f, scope, out);
  checkAcceptRa(f, scope, out);
  checkFeatures(f, out);
  for (const auto* n : scope) {
    checkPorts(f, *n, out);
    checkSubnet(f, *n, out);
    checkFirewall(f, *n, out);
  }
  sortFindings(out);
  return out;
}

}  // namespace vnet::doctor
