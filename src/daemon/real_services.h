// The services of started networks on the daemon's io_context: a DHCP server per network
// with <dhcp> (leases in STATE_DIR/leases.db, one scope per network) and a DNS service
// per network with DNS on, whose guest names follow the DHCP leases.
#pragma once

#include <string>

#include "daemon/events.h"
#include "daemon/services.h"
#include "dhcp/lease_store.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace vnet::daemon {

class RealServiceFactory final : public ServiceFactory {
 public:
  RealServiceFactory(boost::asio::io_context& io, std::string leaseDbPath, std::string resolvConf,
                     dhcp::LeaseSync leaseSync = dhcp::LeaseSync::kFull)
      : io_(io),
        leaseDbPath_(std::move(leaseDbPath)),
        resolvConf_(std::move(resolvConf)),
        leaseSync_(leaseSync) {}
  Result<std::unique_ptr<NetworkServices>> start(const model::Network& net) override;
  // Lease events (lease.granted/renewed/released/expired/declined) go to `bus` once the
  // lease is durable. Set before the first start(); the bus must outlive the services.
  void setEventBus(EventBus* bus) { events_ = bus; }

 private:
  boost::asio::io_context& io_;
  std::string leaseDbPath_;
  std::string resolvConf_;
  dhcp::LeaseSync leaseSync_;
  EventBus* events_ = nullptr;
};

}  // namespace vnet::daemon
