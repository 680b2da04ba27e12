// Manager: the daemon's registry of networks. Owns definitions (persistent in the config
// dir, transient only in state), the started state, and guest ports. Every public verb
// validates first and changes nothing on failure. Single-threaded: the event loop
// serializes all calls.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "daemon/datapath.h"
#include "daemon/definition_store.h"
#include "daemon/events.h"
#include "daemon/net_update.h"
#include "daemon/services.h"
#include "daemon/state_store.h"
#include "kernel/firewall.h"
#include "kernel/links.h"
#include "kernel/telemetry.h"
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
  bool autorepair = true;
};

// Which checks Manager::reconcile runs (drift repair).
struct ReconcileScope {
  std::set<std::string> links;  // networks whose bridge, addresses, routes, ports to check
  bool firewall = false;        // compare our table with every watched network's rules
  bool forwarding = false;      // check the host-wide forwarding sysctls
  std::string cause;            // for the log, e.g. "table inet vnet changed by nft (pid 42)"
};

struct ReconcileResult {
  int repairs = 0;   // repairs done (one per network and kind: links, firewall, forwarding)
  int failures = 0;  // repairs that failed (logged); worth trying again later
};

struct RepairStats {
  uint64_t count = 0;  // drift repairs since vnetd started
  std::string last;    // what the last one found and did ("" when none)
};

// A network drift repair watches: active, autorepair on, with a bridge of its own.
struct WatchedNetwork {
  std::string name;
  std::string bridge;
  std::vector<std::string> ports;  // its known ports (taps, veths)
};

// Told about every repair: the network and the same text as the log line.
using RepairObserver = std::function<void(const std::string& network, const std::string& what)>;

struct PortRequest {
  std::string network;
  bool tap = true;         // tap for QEMU, else veth into netns
  std::string name;        // empty: next vnetN
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
  // Drift repair on/off for one network (stored; default on). Turning it on reconciles
  // the network at once (what drifted while it was off is repaired now).
  Status setAutorepair(const std::string& name, bool on);

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
  Result<RepairStats> repairStats(const std::string& name) const;
  // `virsh net-update`: edits the live network (applied without a restart, leases kept)
  // and the persistent definition. Validation failures change nothing.
  Status update(const std::string& name, const UpdateRequest& req);

  Result<model::Port> addPort(const PortRequest& req);
  Status removePort(const std::string& network, const std::string& port);
  Result<std::vector<model::Port>> ports(const std::string& network);

  // --- Drift repair (daemon/manager_repair.cc; scheduling is daemon/repairer.h) ---
  // Compares what `scope` names with the definitions of the watched networks and repairs
  // what differs: one log line (warning) and one count per network and kind of repair,
  // and the observer is told. Networks with autorepair off are left alone.
  ReconcileResult reconcile(const ReconcileScope& scope);
  std::vector<WatchedNetwork> watched();
  // An interface vnet did not make is now on the bridge of `network` ("" when on none of
  // ours), as a link event showed (daemon/repairer.h): port.added / port.removed with kind
  // "adopted" are published when that changes, the way port-list shows such ports (for the
  // networks the Repairer watches: active, autorepair on).
  void noteAdoptedPort(const std::string& port, const std::string& network);
  // Changes whenever watched() may have changed (starts, stops, ports, autorepair).
  uint64_t generation() const { return generation_; }
  void setRepairObserver(RepairObserver observer) { onRepair_ = std::move(observer); }
  // Optional observers, set once before load(). With a bus, verbs publish network.* and
  // port.* events (lease.* come from the services). With telemetry, ports() fills in
  // the IP of guests without a lease from the bridge's neighbour table.
  void setEventBus(EventBus* bus) { events_ = bus; }
  EventBus* eventBus() const { return events_; }
  void setTelemetry(kernel::Telemetry* telemetry) { telemetry_ = telemetry; }
  kernel::Telemetry* telemetry() const { return telemetry_; }
  // Records a repair of `network` (drift repair, adoption): counts it (repairStats():
  // `vnetctl stats`, vnet_repairs_total), logs it, tells the repair observer and publishes
  // a "repair" event saying what was found and done. No-op for an unknown network.
  void recordRepair(const std::string& network, const std::string& what);

  // The default network's XML for a given third octet (exposed for tests).
  static std::string defaultNetworkXml(int thirdOctet);

 private:
  struct Entry {
    model::Network config;               // the persistent (or transient) definition
    std::optional<model::Network> live;  // as started
    bool persistent = true;
    bool autostart = false;
    bool autorepair = true;
    RepairStats repairs;
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
  std::vector<std::string> portNamesOf(const std::string& network);
  // Removes what starts interrupted by a crash left (StateStore::interruptedStarts).
  void cleanUpInterruptedStarts(const std::set<std::string>& active);
  // After adoption: re-applies the rules of the live networks whose rules differ.
  void adoptFirewall();
  // Restarts DHCP/DNS of an active network (their sockets were bound to a bridge that is
  // gone).
  Status restartServices(Entry& e);
  void publish(const char* type, const std::string& network,
               std::vector<std::pair<std::string, std::string>> details = {});

  kernel::Links& links_;
  kernel::Firewall& fw_;
  ServiceFactory& serviceFactory_;
  Datapath datapath_;
  DefinitionStore defs_;
  StateStore state_;
  std::map<std::string, Entry> nets_;
  RepairObserver onRepair_;
  uint64_t generation_ = 0;
  EventBus* events_ = nullptr;
  std::map<std::string, std::string> adopted_;  // port -> network, as last published
  kernel::Telemetry* telemetry_ = nullptr;
};

}  // namespace vnet::daemon
