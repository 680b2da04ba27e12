// FakeFirewall: a kernel::Firewall that records calls and keeps the set of active
// networks, with one-shot failure injection. No kernel state is touched.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "kernel/firewall.h"

namespace vnet::testing {

class FakeFirewall : public kernel::Firewall {
 public:
  // Records "addNetwork <name>"; fails (recording the call, changing nothing) when a
  // failure was injected.
  Status addNetwork(const model::Network& net) override;
  // Records "removeNetwork <name>"; removing an absent network succeeds.
  Status removeNetwork(const model::Network& net) override;
  // One line "network <name>" per active network, sorted ("" when none).
  Result<std::string> listTable() override;
  // Records "verify"; reports every network with rules (not open/bridge mode) that is not
  // active ("rules of <name> are missing") or has drift set by setDrift.
  Result<std::vector<kernel::FirewallDrift>> verify(
      const std::vector<model::Network>& networks) override;

  // Simulates someone else changing the table: network `name` drifted (addNetwork of it
  // clears that).
  void setDrift(const std::string& name, std::string found) { drift_[name] = std::move(found); }
  // Simulates someone deleting the network's rules (as `nft flush ruleset` does for all).
  void forget(const std::string& name) { active_.erase(name); }
  // The next verify call fails with `e`.
  void failNextVerify(Error e) { failVerify_ = std::move(e); }

  // The next add/remove call fails with `e` and changes nothing.
  void failNext(Error e) { failNext_ = std::move(e); }

  const std::vector<std::string>& calls() const { return calls_; }
  void clearCalls() { calls_.clear(); }
  const std::set<std::string>& active() const { return active_; }
  bool isActive(const std::string& name) const { return active_.count(name) != 0; }

 private:
  // Records the call and consumes an injected failure, if any.
  Status record(std::string call);

  std::vector<std::string> calls_;
  std::set<std::string> active_;
  std::map<std::string, std::string> drift_;
  std::optional<Error> failNext_;
  std::optional<Error> failVerify_;
};

}  // namespace vnet::testing
