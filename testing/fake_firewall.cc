#include "testing/fake_firewall.h"

namespace vnet::testing {

Status FakeFirewall::record(std::string call) {
  calls_.push_back(std::move(call));
  if (failNext_) {
    Error e = std::move(*failNext_);
    failNext_.reset();
    return e;
  }
  return Status::success();
}

Status FakeFirewall::addNetwork(const model::Network& net) {
  VNET_TRY(record("addNetwork " + net.name));
  active_.insert(net.name);
  return Status::success();
}

Status FakeFirewall::removeNetwork(const model::Network& net) {
  VNET_TRY(record("removeNetwork " + net.name));
  active_.erase(net.name);
  return Status::success();
}

Result<std::string> FakeFirewall::listTable() {
  std::string out;
  for (const auto& name : active_) out += "network " + name + "\n";
  return out;
}

}  // namespace vnet::testing
