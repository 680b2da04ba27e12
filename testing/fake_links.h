// FakeLinks: an in-memory kernel behind kernel::Links, for unit tests of code that
// drives links (the daemon's NetworkInstance, port handling).
//
// It models what callers depend on: links with ifindex/kind/MAC/MTU/up/master,
// addresses, the main routing table (connected routes appear for addresses of links
// that are up, like the kernel's proto-kernel routes), veth peers by netns, and
// sysctls. Failures carry the errno and strerror text the kernel would give:
// EEXIST for a duplicate link or address, ENODEV for an unknown link, EADDRNOTAVAIL
// for a missing address, ESRCH for a missing route, ENOENT for an unknown sysctl.
//
// Every call is recorded as one line (see calls()); failures can be injected per verb
// and name, or for the Nth call from now, so that rollback paths can be tested.
// Not thread-safe.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "kernel/links.h"

namespace vnet::testing {

class FakeLinks : public kernel::Links {
 public:
  // What the fake knows about one link beyond LinkInfo.
  struct Link {
    kernel::LinkInfo info;
    std::vector<Cidr> addresses;
    // Set for links created through addBridge/addTap/addVeth.
    std::optional<kernel::BridgeSpec> bridge;
    std::optional<kernel::TapSpec> tap;
    std::optional<kernel::VethSpec> veth;
  };

  // Starts with "lo" (ifindex 1, up, 127.0.0.1/8 and ::1/128), as a fresh netns has.
  FakeLinks();

  // --- Links ---
  Result<std::optional<kernel::LinkInfo>> findLink(const std::string& name) override;
  Result<std::vector<kernel::LinkInfo>> listLinks() override;
  Result<std::vector<kernel::LinkInfo>> bridgePorts(const std::string& bridge) override;
  // Links created without a MAC (or with a zero one) get 02:00:00:00:<ifindex as 2
  // bytes>; without an MTU, 1500.
  Status addBridge(const kernel::BridgeSpec& spec) override;
  // Also removes the link's routes, its per-device sysctls (".../conf/<name>/...") and,
  // for a veth, its peer; ports of a deleted bridge lose their master.
  Status deleteLink(const std::string& name) override;
  Status setUp(const std::string& name, bool up) override;
  // EOPNOTSUPP when master is not a bridge (kind "bridge").
  Status setMaster(const std::string& name, const std::string& master) override;
  Status addAddress(const std::string& dev, const Cidr& address) override;
  Status deleteAddress(const std::string& dev, const Cidr& address) override;
  Result<std::vector<Cidr>> addresses(const std::string& dev) override;
  // Connected routes (links that are up, by address; metric 0 for IPv4, 256 for IPv6)
  // followed by added routes in the order they were added.
  Result<std::vector<kernel::RouteInfo>> routes() override;
  // EINVAL when the destination has host bits set; EEXIST for the same destination
  // and metric.
  Status addRoute(const kernel::RouteInfo& route) override;
  // Removes the first added route matching like the real one (empty device, absent
  // gateway and metric 0 match any).
  Status deleteRoute(const kernel::RouteInfo& route) override;
  // Checks everything first, so a failing call changes nothing.
  Status addTap(const kernel::TapSpec& spec) override;
  Status addVeth(const kernel::VethSpec& spec) override;
  // Creates the key if it does not exist (the fake cannot know the kernel's keys).
  Status setSysctl(const std::string& path, const std::string& value) override;
  Result<std::string> getSysctl(const std::string& path) override;

  // --- Recording ---
  // Every call in order, one line each, e.g. "addBridge vnbr0",
  // "addAddress vnbr0 192.168.122.1/24", "setUp vnbr0 up", "setMaster vnet0 vnbr0",
  // "setMaster vnet0 nomaster", "addRoute 10.0.0.0/8 via 192.168.122.2 dev vnbr0 metric 5",
  // "addTap vnet0", "addVeth vnh0 peer eth0", "setSysctl net/ipv4/ip_forward 1",
  // "getSysctl net/ipv4/ip_forward", "findLink vnbr0", "listLinks", "routes".
  // Calls that failed (injected or not) are recorded too.
  const std::vector<std::string>& calls() const { return calls_; }
  // calls() without the read-only verbs (findLink, listLinks, bridgePorts, addresses,
  // routes, getSysctl).
  std::vector<std::string> mutatingCalls() const;
  void clearCalls() { calls_.clear(); }

  // --- Failure injection ---
  // Every call of `verb` whose subject is `name` fails with `error` until
  // clearFailures(); an empty name matches every subject. The subject is the first
  // name of the call line: the link for link verbs, the device for address verbs, the
  // route's device for route verbs, the host name for addVeth, the path for sysctls.
  void failOn(std::string verb, std::string name, Error error);
  // The n-th call from now (1 = the next call) fails with `error`, once.
  void failNthCall(size_t n, Error error);
  void clearFailures();

  // --- State, for setting up and checking tests ---
  // Adds a link as if something else had created it (e.g. "eth0"); ifindex and, when
  // zero, MAC are assigned. Returns its ifindex.
  int addExternalLink(kernel::LinkInfo info);
  // The link named `name`, or nullptr.
  const Link* link(const std::string& name) const;
  // Veth peers by netns path: peer name -> the spec that created it.
  const std::map<std::string, std::map<std::string, kernel::VethSpec>>& vethPeers() const {
    return peers_;
  }
  const std::map<std::string, std::string>& sysctls() const { return sysctls_; }

 private:
  struct Failure {
    std::string verb;
    std::string name;
    Error error;
  };

  // Records the call line and returns the injected failure for it, if any.
  Status record(const std::string& verb, const std::string& subject, const std::string& line);
  Link* find(const std::string& name);
  Result<Link*> require(const std::string& name);
  // A new link with the next ifindex; caller checked the name is free and valid.
  Link& create(const std::string& name, const std::string& kind, const std::optional<Mac>& mac,
               const std::optional<unsigned>& mtu);
  void remove(const std::string& name);

  std::map<std::string, Link> links_;
  std::vector<kernel::RouteInfo> routes_;
  std::map<std::string, std::map<std::string, kernel::VethSpec>> peers_;
  std::map<std::string, std::string> sysctls_;
  int nextIndex_ = 1;

  std::vector<std::string> calls_;
  std::vector<Failure> failures_;
  // Injected one-shot failures: remaining calls before it fires (1 = the next call).
  std::vector<std::pair<size_t, Error>> countdowns_;
};

}  // namespace vnet::testing
