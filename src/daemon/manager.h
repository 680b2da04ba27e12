// Manager: the daemon's registry of networks. Owns definitions (persistent in the config
// dir, transient only in state), the started state, and guest ports. Every public verb
// validates first and changes nothing on failure. Single-threaded: the event loop
// serializes all calls.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "daemon/datapath.h"
#include "daemon/definition_store.h"
#include "daemon/net_update.h"
#include "daemon/services.h"
#include "daemon/state_store.h"
#include "kernel/firewall.h"
#include "kernel/links.h"
#include "model/network.h"
#include "model/port.h"

namespace vnet::daemon {

struct NetworkStatus {
  std::string name;
  std::string uuid;
  std::string bridge;
  std::string mode;  // forwardModeName
  bool active = false;
  bool persistent = true;
  bool autostart = false;
};

struct PortRequest {
  std::string network;
  bool tap = true;  // tap for QEMU, else veth into netns
  std::string name;  // empty: next vnetN
  std::optional<Mac> mac;  // guest MAC; empty: random 52:54:00:xx:xx:xx
  std::optional<unsigned> owner;
  std::string netns;   // veth: name under /run/netns or a path
  std::string ifname;  // veth: name inside the netns (default eth0)
};

class Manager {
 public:
  Manager(kernel::Links& links, kernel::Firewall& firewall, ServiceFactory& services,
          DefinitionStore defs, StateStore state);

  // Loads definitions and state, brings networks recorded as active back (adopting what
  // the kernel still has), starts autostart networks, and defines the default network
  // when nothing is defined at all. Problems with single networks are logged, not fatal.
  Status load();

  Result<NetworkStatus> define(std::string_view xml);
  Result<NetworkStatus> create(std::string_view xml);
  Status start(const std::string& name);
  Status destroy(const std::string& name);
  Status undefine(const std::string& name);
  Status setAutostart(const std::string& name, bool on);

  // all=false: active networks only (like `virsh net-list`).
  std::vector<NetworkStatus> list(bool all) const;
  Result<NetworkStatus> status(const std::string& name) const;
  // The live definition when active (unless inactive=true), else the persistent one.
  Result<const model::Network*> definition(const std::string& name, bool inactive) const;
  Result<std::string> lookupByUuid(const std::string& uuid) const;

  // Active leases of a network (empty when it runs no DHCP server).
  Result<std::vector<LeaseInfo>> leases(const std::string& name) const;
  Result<ServiceCounters> counters(const std::string& name) const;
  // Our nftables table as `nft list table inet vnet` prints it ("" when absent).
  Result<std::string> firewallListing() { return fw_.listTable(); }
  // `virsh net-update`: edits the live network (applied without a restart, leases kept)
  // and the persistent definition. Validation failures change nothing.
  Status update(const std::string& name, const UpdateRequest& req);

  Result<model::Port> addPort(const PortRequest& req);
  Status removePort(const std::string& network, const std::string& port);
  Result<std::vector<model::Port>> ports(const std::string& network);

  // The default network's XML for a given third octet (exposed for tests).
  static std::string defaultNetworkXml(int thirdOctet);

 private:
  struct Entry {
    model::Network config;             // the persistent (or transient) definition
    std::optional<model::Network> live;  // as started
    bool persistent = true;
    bool autostart = false;
    std::unique_ptr<NetworkServices> services;  // DHCP/DNS while active
  };

  Result<model::Network> prepare(std::string_view xml, const Entry* existing) const;
  // TooLarge when the stored (normalized) form of `net` would not load again.
  static Status fitsStore(const model::Network& net);
  Status startEntry(Entry& e);
  Status startServices(Entry& e, const model::Network& net);
  // validateAgainst the other networks: their running definitions, and unless liveOnly
  // also their persistent ones.
  Status checkAgainstOthers(const model::Network& net, bool liveOnly) const;
  Entry* find(const std::string& name);
  const Entry* find(const std::string& name) const;
  NetworkStatus statusOf(const Entry& e) const;
  std::vector<std::string> usedBridges(const std::string& except) const;
  Status defineDefault();
  Result<std::string> nextPortName();

  kernel::Links& links_;
  kernel::Firewall& fw_;
  ServiceFactory& serviceFactory_;
  Datapath datapath_;
  DefinitionStore defs_;
  StateStore state_;
  std::map<std::string, Entry> nets_;
};

}  // namespace vnet::daemon
