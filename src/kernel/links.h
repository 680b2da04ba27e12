// kernel::Links: the narrow netlink edge. Every verb is one kernel operation (or a
// small fixed sequence) named after what it does; real implementation in
// kernel/netlink (libnl-route), a recording fake in testing/.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/ip.h"

namespace vnet::kernel {

struct LinkInfo {
  int ifindex = 0;
  std::string name;
  std::string kind;  // rtnl link kind: "bridge", "tun", "veth", "" for physical, ...
  Mac mac;
  unsigned mtu = 0;
  bool up = false;      // IFF_UP
  bool lowerUp = true;  // IFF_LOWER_UP: carrier (false shows as NO-CARRIER in `ip link`)
  int masterIndex = 0;  // ifindex of the bridge this link is enslaved to, 0 if none
};

struct RouteInfo {
  Cidr destination;    // network form (host bits zero)
  std::string device;  // outgoing interface name ("" when unknown)
  std::optional<IpAddress> gateway;
  unsigned metric = 0;
};

// "10.0.0.0/8 via 192.168.122.2 dev vnbr0 metric 5", as `ip route` words it.
inline std::string describeRoute(const RouteInfo& r) {
  std::string s = r.destination.toString();
  if (r.gateway) s += " via " + r.gateway->toString();
  if (!r.device.empty()) s += " dev " + r.device;
  if (r.metric != 0) s += " metric " + std::to_string(r.metric);
  return s;
}

struct BridgeSpec {
  std::string name;
  std::optional<Mac> mac;
  std::optional<unsigned> mtu;
  bool stp = true;
  unsigned forwardDelaySeconds = 0;
};

struct TapSpec {
  std::string name;
  Mac mac;                        // host-side MAC
  std::optional<unsigned> owner;  // uid allowed to open the tap
  std::optional<unsigned> mtu;
  std::string master;  // bridge to enslave to
};

struct VethSpec {
  std::string hostName;  // host end, enslaved to master
  Mac hostMac;
  std::string peerName;  // name inside the target netns
  Mac peerMac;
  std::string netnsPath;  // path to the target netns (e.g. /run/netns/guest1)
  std::optional<unsigned> mtu;
  std::string master;
};

class Links {
 public:
  virtual ~Links() = default;

  // The link named `name`, or nullopt when there is none.
  virtual Result<std::optional<LinkInfo>> findLink(const std::string& name) = 0;
  virtual Result<std::vector<LinkInfo>> listLinks() = 0;
  // Ports enslaved to a bridge.
  virtual Result<std::vector<LinkInfo>> bridgePorts(const std::string& bridge) = 0;

  virtual Status addBridge(const BridgeSpec& spec) = 0;
  virtual Status deleteLink(const std::string& name) = 0;
  virtual Status setUp(const std::string& name, bool up) = 0;
  virtual Status setMaster(const std::string& name, const std::string& master) = 0;

  virtual Status addAddress(const std::string& dev, const Cidr& address) = 0;
  virtual Status deleteAddress(const std::string& dev, const Cidr& address) = 0;
  virtual Result<std::vector<Cidr>> addresses(const std::string& dev) = 0;

  // Routes in the main table (all families).
  virtual Result<std::vector<RouteInfo>> routes() = 0;
  // The routes of routes() whose destination overlaps `subnet`, default routes excepted.
  // Implementations may answer without listing the whole table.
  virtual Result<std::vector<RouteInfo>> routesOverlapping(const Cidr& subnet) {
    auto all = routes();
    if (!all) return std::move(all).error();
    std::vector<RouteInfo> out;
    for (auto& r : *all) {
      if (r.destination.prefix > 0 && r.destination.overlaps(subnet)) out.push_back(std::move(r));
    }
    return out;
  }
  virtual Status addRoute(const RouteInfo& route) = 0;
  virtual Status deleteRoute(const RouteInfo& route) = 0;

  // A persistent tap (IFF_TAP|IFF_NO_PI|IFF_VNET_HDR, TUNSETPERSIST), enslaved and up.
  virtual Status addTap(const TapSpec& spec) = 0;
  // A veth pair: host end enslaved to spec.master and up, peer moved into the netns.
  virtual Status addVeth(const VethSpec& spec) = 0;

  // Writes a /proc/sys value, e.g. ("net/ipv6/conf/vnbr0/disable_ipv6", "1").
  virtual Status setSysctl(const std::string& path, const std::string& value) = 0;
  virtual Result<std::string> getSysctl(const std::string& path) = 0;
};

}  // namespace vnet::kernel
