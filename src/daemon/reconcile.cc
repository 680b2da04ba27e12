#include "daemon/reconcile.h"

#include <algorithm>

namespace vnet::daemon {
namespace {

bool hasFamily(const model::Network& net, Family f) {
  return std::any_of(net.ips.begin(), net.ips.end(),
                     [f](const model::IpConfig& ip) { return ip.family == f; });
}

std::string confPath(Family f, const std::string& dev, const char* key) {
  return std::string(f == Family::V4 ? "net/ipv4/conf/" : "net/ipv6/conf/") + dev + "/" + key;
}

// "net/ipv4/ip_forward" -> "net.ipv4.ip_forward", as sysctl(8) names it.
std::string dotted(std::string path) {
  std::replace(path.begin(), path.end(), '/', '.');
  return path;
}

bool sameRoute(const kernel::RouteInfo& a, const kernel::RouteInfo& b) {
  return a.destination == b.destination && a.device == b.device && a.gateway == b.gateway;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> bridgeSysctls(const model::Network& net) {
  const std::string& br = net.bridge.name;
  if (hasFamily(net, Family::V6)) {
    return {{confPath(Family::V6, br, "accept_ra"), "0"},
            {confPath(Family::V6, br, "autoconf"), "0"},
            {confPath(Family::V6, br, "disable_ipv6"), "0"}};
  }
  return {{confPath(Family::V6, br, "disable_ipv6"), "1"}};
}

kernel::RouteInfo toRouteInfo(const model::Route& r, const std::string& dev) {
  kernel::RouteInfo ri;
  ri.destination = Cidr{r.address, r.prefix}.network();
  ri.device = dev;
  ri.gateway = r.gateway;
  ri.metric = r.metric.value_or(0);
  return ri;
}

bool needsForwarding(const model::Network& net, Family f) {
  if (!net.forwards()) return false;
  return f == Family::V4 || hasFamily(net, Family::V6);
}

std::vector<LinkFinding> diffLinks(const model::Network& net, const LinkObservation& have) {
  using Fix = LinkFinding::Fix;
  std::vector<LinkFinding> out;
  if (net.mode == model::ForwardMode::Bridge) return out;
  const std::string& br = net.bridge.name;
  if (!have.bridge) {
    out.push_back({Fix::CreateBridge, "bridge " + br + " is gone", br, {}, {}, {}});
    return out;
  }
  if (have.bridge->kind != "bridge") {
    std::string kind = have.bridge->kind.empty() ? "device" : have.bridge->kind;
    out.push_back({Fix::None, br + " is no longer a bridge (kind '" + kind + "')", br, {}, {}, {}});
    return out;
  }
  for (const auto& [path, want] : bridgeSysctls(net)) {
    auto it = have.sysctls.find(path);
    if (it == have.sysctls.end() || it->second == want) continue;
    out.push_back({Fix::SetSysctl, dotted(path) + " is " + it->second, path, want, {}, {}});
  }
  for (const auto& ip : net.ips) {
    const Cidr c = ip.cidr();
    if (std::find(have.addresses.begin(), have.addresses.end(), c) != have.addresses.end())
      continue;
    out.push_back(
        {Fix::AddAddress, "address " + c.toString() + " is missing on " + br, br, {}, c, {}});
  }
  if (!have.bridge->up) out.push_back({Fix::SetUp, "bridge " + br + " is down", br, {}, {}, {}});
  for (const auto& r : net.routes) {
    kernel::RouteInfo want = toRouteInfo(r, br);
    bool present = std::any_of(have.routes.begin(), have.routes.end(),
                               [&](const kernel::RouteInfo& h) { return sameRoute(h, want); });
    // A route via a gateway needs the bridge up; it was just found down, so the route is
    // surely gone (the kernel drops routes of a device going down).
    if (!present) {
      out.push_back({Fix::AddRoute,
                     "route " + kernel::describeRoute(want) + " is missing",
                     br,
                     {},
                     {},
                     want});
    }
  }
  for (const auto& p : have.ports) {
    if (p.masterIndex == have.bridge->ifindex) continue;
    out.push_back({Fix::AttachPort, "port " + p.name + " is not on " + br, p.name, {}, {}, {}});
  }
  return out;
}

std::string describeFix(const model::Network& net, const LinkFinding& f) {
  using Fix = LinkFinding::Fix;
  const std::string& br = net.bridge.name;
  switch (f.fix) {
    case Fix::CreateBridge:
      return "recreated " + br + " with its addresses" + (net.routes.empty() ? "" : " and routes");
    case Fix::SetSysctl:
      return "set " + dotted(f.name) + " to " + f.value;
    case Fix::AddAddress:
      return "added " + f.address.toString() + " to " + br;
    case Fix::SetUp:
      return "set " + br + " up";
    case Fix::AddRoute:
      return "added route " + kernel::describeRoute(f.route);
    case Fix::AttachPort:
      return "attached " + f.name + " to " + br;
    case Fix::None:
      break;
  }
  return "nothing (cannot repair)";
}

std::vector<SysctlFinding> diffForwarding(bool v4, bool v6,
                                          const std::map<std::string, std::string>& have) {
  std::vector<SysctlFinding> out;
  auto check = [&](bool needed, const char* path) {
    if (!needed) return;
    auto it = have.find(path);
    if (it == have.end() || it->second == "1") return;
    out.push_back({path, "1", dotted(path) + " is " + it->second});
  };
  check(v4, kIpv4Forward);
  check(v6, kIpv6Forward);
  return out;
}

}  // namespace vnet::daemon
