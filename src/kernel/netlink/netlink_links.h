// NetlinkLinks: kernel::Links for the network namespace it was created in, over one
// rtnetlink socket (libnl-route-3). Taps are made through /dev/net/tun, sysctls are
// files under /proc/sys. No program is ever run.
//
// Errors carry the kernel's errno and read like strerror, with what was being done in
// front: "adding address 192.168.122.1/24 to vnbr0: File exists". When the kernel sent
// an extended-ack text it is appended in parentheses.
//
// Not thread-safe: one caller at a time. The netlink socket belongs to the network
// namespace of the thread that called makeNetlinkLinks(); /proc/sys is resolved in the
// namespace of the calling thread, so call every verb from threads of that namespace.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "kernel/links.h"

struct nl_msg;
struct nl_sock;
struct rtnl_link;

namespace vnet::kernel {
namespace nl {
struct ErrorCapture;
}  // namespace nl

class NetlinkLinks final : public Links {
 public:
  ~NetlinkLinks() override;
  NetlinkLinks(const NetlinkLinks&) = delete;
  NetlinkLinks& operator=(const NetlinkLinks&) = delete;

  Result<std::optional<LinkInfo>> findLink(const std::string& name) override;
  Result<std::vector<LinkInfo>> listLinks() override;
  Result<std::vector<LinkInfo>> bridgePorts(const std::string& bridge) override;

  // Creates the bridge down, with STP and forward delay set through IFLA_INFO_DATA.
  // With STP on, the kernel raises a forward delay below 2 s to 2 s (as with sysfs).
  Status addBridge(const BridgeSpec& spec) override;
  Status deleteLink(const std::string& name) override;
  Status setUp(const std::string& name, bool up) override;
  // An empty master detaches the link from its bridge.
  Status setMaster(const std::string& name, const std::string& master) override;

  // IPv4 addresses get the subnet's broadcast address; IPv6 addresses are added with
  // IFA_F_NODAD so that they are usable at once (the daemon owns the subnet).
  Status addAddress(const std::string& dev, const Cidr& address) override;
  Status deleteAddress(const std::string& dev, const Cidr& address) override;
  Result<std::vector<Cidr>> addresses(const std::string& dev) override;

  // Unicast routes of the main table, both families; multipath routes report their
  // first next hop. Device names are resolved only for the routes returned.
  Result<std::vector<RouteInfo>> routes() override;
  Result<std::vector<RouteInfo>> routesOverlapping(const Cidr& subnet) override;
  // Adds with protocol "static"; metric 0 means the kernel's default for the family.
  Status addRoute(const RouteInfo& route) override;
  // Matches any protocol; an empty device, absent gateway or metric 0 match any.
  Status deleteRoute(const RouteInfo& route) override;

  // For taps and veths a zero MAC lets the kernel pick a random one.
  //
  // Fails with EEXIST when any link of that name exists (never attaches to an existing
  // tap). A failure after creation deletes the tap again.
  Status addTap(const TapSpec& spec) override;
  // Creates the pair in one request with the peer born inside spec.netnsPath, named,
  // addressed and sized there; then brings the peer up through a netlink socket opened
  // in that namespace (by a short-lived thread; the caller's thread never moves).
  // A failure after creation deletes the pair again.
  Status addVeth(const VethSpec& spec) override;

  // `path` is relative to /proc/sys and may not contain "..".
  Status setSysctl(const std::string& path, const std::string& value) override;
  // The value without its trailing newline.
  Result<std::string> getSysctl(const std::string& path) override;

 private:
  struct SockDeleter {
    void operator()(nl_sock* sock) const;
  };
  using SockPtr = std::unique_ptr<nl_sock, SockDeleter>;

  NetlinkLinks(SockPtr sock, std::unique_ptr<nl::ErrorCapture> capture);
  // A NetlinkLinks for the namespace `netnsFd` (-1: the calling thread's).
  static Result<std::unique_ptr<NetlinkLinks>> connect(int netnsFd);
  friend Result<std::unique_ptr<Links>> makeNetlinkLinks();

  // Runs one libnl call returning 0 or a negative libnl code; a failure becomes an
  // Error with the kernel's errno (strerror text) and extended-ack text, if any.
  template <typename Fn>
  Status request(Fn&& fn);
  // Sends a request built by hand and waits for the kernel's ack.
  Status send(nl_msg* msg);
  // The ifindex of `name`; ENODEV ("No such device") when there is none.
  Result<int> ifindexOf(const std::string& name);
  // Applies `change` (a fresh rtnl_link the callee fills in) to the link `name`.
  Status changeLink(const std::string& name, const std::function<void(rtnl_link*)>& change);
  // Configures a link this object just created: MAC and MTU (when given), master (when
  // not empty), up. On failure deletes the link and reports both failures.
  Status finishNewLink(const std::string& name, const std::optional<Mac>& mac,
                       const std::optional<unsigned>& mtu, const std::string& master);
  // Deletes the link `name` this object created, after `cause` made it useless;
  // returns `cause`, with the deletion's failure appended if it failed too.
  Error undoNewLink(const std::string& name, Error cause);
  Status changeAddress(const std::string& dev, const Cidr& address, bool add);
  Status changeRoute(const RouteInfo& route, bool add);
  // The main-table unicast routes whose destination satisfies `keep` (one dump).
  Result<std::vector<RouteInfo>> cachedRoutes(const std::function<bool(const Cidr&)>& keep);

  SockPtr sock_;
  // Filled by the socket's error callback with the last NLMSG_ERROR.
  std::unique_ptr<nl::ErrorCapture> capture_;
};

// Opens and connects an rtnetlink socket in the calling thread's network namespace.
Result<std::unique_ptr<Links>> makeNetlinkLinks();

}  // namespace vnet::kernel
