// The services of started networks on the daemon's io_context: a DHCP server per network
// with <dhcp> (leases in STATE_DIR/leases.db, one scope per network) and a DNS service
// per network with DNS on, whose guest names follow the DHCP leases.
#pragma once

#include <string>

#include "daemon/services.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace vnet::daemon {

class RealServiceFactory final : public ServiceFactory {
 public:
  RealServiceFactory(boost::asio::io_context& io, std::string leaseDbPath,
                     std::string resolvConf)
      : io_(io), leaseDbPath_(std::move(leaseDbPath)), resolvConf_(std::move(resolvConf)) {}
  Result<std::unique_ptr<NetworkServices>> start(const model::Network& net) override;

 private:
  boost::asio::io_context& io_;
  std::string leaseDbPath_;
  std::string resolvConf_;
};

}  // namespace vnet::daemon
