// The pure half of drift repair and adoption: what the kernel has for a started network
// (an observation) compared with what its definition asks for, giving what to fix. No I/O:
// Datapath observes and applies (daemon/datapath.h), the Manager decides when.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/ip.h"
#include "kernel/links.h"
#include "model/network.h"

namespace vnet::daemon {

// The sysctls a network's bridge must have (libvirt's: no IPv6 at all without an IPv6
// <ip>, else no router advertisements and no autoconfiguration), as (path, value).
std::vector<std::pair<std::string, std::string>> bridgeSysctls(const model::Network& net);

// A <route> of the network as the kernel lists it, on device `dev`.
kernel::RouteInfo toRouteInfo(const model::Route& r, const std::string& dev);

// What the kernel has for one network's links.
struct LinkObservation {
  std::optional<kernel::LinkInfo> bridge;  // nullopt: no link of the bridge's name
  std::vector<Cidr> addresses;             // on the bridge
  std::vector<kernel::RouteInfo> routes;   // main table; read only for networks with <route>s
  // Values of bridgeSysctls(net) paths as read; a path that could not be read is absent.
  std::map<std::string, std::string> sysctls;
  std::vector<kernel::LinkInfo> ports;  // the network's known ports that still exist
};

// One difference and the step that removes it.
struct LinkFinding {
  enum class Fix {
    CreateBridge,  // everything of the bridge is redone (Datapath::startLinks)
    SetSysctl,     // name = path, value
    AddAddress,    // address
    SetUp,         // the bridge
    AddRoute,      // route
    AttachPort,    // name = port
    None,          // cannot be repaired (reported only)
  };
  Fix fix = Fix::None;
  std::string found;  // what is wrong, e.g. "bridge vnbr0 is down"
  std::string name;
  std::string value;
  Cidr address;
  kernel::RouteInfo route;
};

// The differences, in the order their fixes must run: bridge, sysctls, addresses, link up,
// routes, ports. A missing bridge gives CreateBridge alone (ports are compared again once
// it exists). Bridge-mode networks (a bridge that is not ours) never differ.
std::vector<LinkFinding> diffLinks(const model::Network& net, const LinkObservation& have);

// What the fix did, e.g. "set vnbr0 up".
std::string describeFix(const model::Network& net, const LinkFinding& f);

// Host-wide forwarding: (path, value) pairs networks need on, "1".
struct SysctlFinding {
  std::string path;
  std::string want;
  std::string found;  // e.g. "net.ipv4.ip_forward is 0"
};
// `have`: path -> value as read (absent: unreadable, then not reported).
std::vector<SysctlFinding> diffForwarding(bool v4, bool v6,
                                          const std::map<std::string, std::string>& have);
// The paths diffForwarding looks at.
inline constexpr const char* kIpv4Forward = "net/ipv4/ip_forward";
inline constexpr const char* kIpv6Forward = "net/ipv6/conf/all/forwarding";

// True when the network needs IPv4 / IPv6 forwarding (nat, route, open with an <ip> of
// that family).
bool needsForwarding(const model::Network& net, Family f);

}  // namespace vnet::daemon
