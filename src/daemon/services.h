// What runs in user space for one started network: its DHCP server (and, with the DNS
// issue, its DNS service). The Manager owns one NetworkServices per active network and
// reaches them only through this interface, so unit tests can use a fake factory.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/ip.h"
#include "model/network.h"

namespace vnet::daemon {

// One DHCP lease as `vnetctl net-dhcp-leases` shows it.
struct LeaseInfo {
  IpAddress ip;
  int prefix = 0;
  Mac mac;
  std::string hostname;
  std::string clientId;  // hex bytes "01:52:54:00:..", empty when the client sent none
  int64_t expiry = 0;    // unix seconds, 0 = infinite
};

struct ServiceCounters {
  std::vector<std::pair<std::string, uint64_t>> dhcp;  // name -> value, stable order
  std::vector<std::pair<std::string, uint64_t>> dns;   // empty when DNS is off
};

class NetworkServices {
 public:
  virtual ~NetworkServices() = default;
  // Applies a changed definition (static hosts, ranges, ...) without dropping leases.
  virtual Status reconfigure(const model::Network& net) = 0;
  virtual std::vector<LeaseInfo> leases() const = 0;
  virtual ServiceCounters counters() const = 0;
};

class ServiceFactory {
 public:
  virtual ~ServiceFactory() = default;
  // Starts the services of a network whose datapath is up. Returns nullptr when the
  // network needs none (no <dhcp>, bridge mode).
  virtual Result<std::unique_ptr<NetworkServices>> start(const model::Network& net) = 0;
};

// A factory that starts nothing (networks get no DHCP/DNS service).
class NoServices final : public ServiceFactory {
 public:
  Result<std::unique_ptr<NetworkServices>> start(const model::Network&) override {
    return std::unique_ptr<NetworkServices>();
  }
};

}  // namespace vnet::daemon
