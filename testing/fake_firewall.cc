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
  drift_.erase(net.name);
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

Result<std::vector<kernel::FirewallDrift>> FakeFirewall::verify(
    const std::vector<model::Network>& networks) {
  calls_.push_back("verify");
  if (failVerify_) {
    Error e = std::move(*failVerify_);
    failVerify_.reset();
    return e;
  }
  std::vector<kernel::FirewallDrift> out;
  for (const auto& net : networks) {
    if (net.mode == model::ForwardMode::Open || net.mode == model::ForwardMode::Bridge) continue;
    kernel::FirewallDrift d{net.name, {}};
    if (!isActive(net.name)) d.found.push_back("rules of " + net.name + " are missing");
    if (auto it = drift_.find(net.name); it != drift_.end()) d.found.push_back(it->second);
    if (!d.found.empty()) out.push_back(std::move(d));
  }
  return out;
}

}  // namespace vnet::testing
