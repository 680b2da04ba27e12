// kernel::Telemetry: read-only counters and tables the daemon reports (`vnetctl stats`,
// /metrics, the IP of guests without a lease). Real implementation in kernel/telemetry
// (libnl-route for links and neighbours, libnetfilter-conntrack for the NAT table), a
// fake in testing/. Everything is read in the calling thread's network namespace.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/ip.h"

namespace vnet::kernel {

// A link's counters as the kernel keeps them (rx = received by that interface).
struct LinkStats {
  uint64_t rxPackets = 0;
  uint64_t rxBytes = 0;
  uint64_t txPackets = 0;
  uint64_t txBytes = 0;
  uint64_t rxDropped = 0;
  uint64_t txDropped = 0;
  uint64_t rxErrors = 0;
  uint64_t txErrors = 0;
};

// A neighbour (ARP / NDP) entry with a link-layer address.
struct Neighbour {
  IpAddress ip;
  Mac mac;
  std::string device;
};

// Conntrack entries whose original source address lies in one prefix.
struct ConntrackCount {
  uint64_t entries = 0;     // all such connections
  uint64_t translated = 0;  // of those, source-NATed (IPS_SRC_NAT)
};

class Telemetry {
 public:
  virtual ~Telemetry() = default;

  // Counters of every link, by name, from one dump.
  virtual Result<std::map<std::string, LinkStats>> linkStats() = 0;
  // IPv4 and IPv6 neighbours on `device` that have a link-layer address and are not
  // FAILED/INCOMPLETE (what the host learned by talking to them).
  virtual Result<std::vector<Neighbour>> neighbours(const std::string& device) = 0;
  // For each prefix in `sources` (same order), the conntrack entries whose original
  // source lies in it, from one dump of the table.
  virtual Result<std::vector<ConntrackCount>> conntrackBySource(
      const std::vector<Cidr>& sources) = 0;
};

// Telemetry of the calling thread's network namespace.
Result<std::unique_ptr<Telemetry>> makeKernelTelemetry();

}  // namespace vnet::kernel
