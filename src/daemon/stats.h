// Network statistics: what `vnetctl stats`, GET /v1/networks/NAME/stats and /metrics
// report. A snapshot assembled from the Manager (ports, leases, DHCP and DNS counters)
// and kernel::Telemetry (link counters of the bridge and every port, conntrack entries
// from the network's subnets). Telemetry failures do not fail the snapshot: the part is
// left out and the reason listed in `errors`.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "daemon/manager.h"
#include "kernel/telemetry.h"

namespace vnet::daemon {

struct PortStats {
  std::string name;
  std::string kind;        // tap | veth | adopted
  std::optional<Mac> mac;  // the guest's (absent for adopted ports)
  std::optional<IpAddress> ip;
  std::string ipSource;  // lease | neighbour
  // Counters of the host end: rx = what the guest sent, tx = what it was sent.
  std::optional<kernel::LinkStats> link;
};

struct NetworkStats {
  std::string name;
  bool active = false;
  std::string bridge;
  // The bridge device's counters: rx = from guests into the host (routed, NATed or to
  // the host itself), tx = from the host to guests.
  std::optional<kernel::LinkStats> bridgeLink;
  std::vector<PortStats> ports;
  // Conntrack entries whose original source is in one of the network's subnets.
  std::optional<kernel::ConntrackCount> nat;
  ServiceCounters services;
  size_t leases = 0;       // active DHCP leases
  uint64_t repairs = 0;    // drift repairs (Manager::recordRepair)
  std::string lastRepair;  // what the last one found and did ("" when none)
  std::vector<std::string> errors;
};

// One network (active or not; an inactive one has only its name).
Result<NetworkStats> collectStats(Manager& manager, const std::string& name);
// Every active network, sharing one link dump and one conntrack dump.
std::vector<NetworkStats> collectAllStats(Manager& manager);

// The JSON of GET /v1/networks/NAME/stats. With `port`, only that port is listed.
nlohmann::json statsJson(const NetworkStats& s);

}  // namespace vnet::daemon
