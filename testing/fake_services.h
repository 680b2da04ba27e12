// FakeServices: a daemon::ServiceFactory whose services only remember the configuration
// they were given, with one-shot failure injection, so that tests can check what the
// DHCP/DNS side of a network runs after a start, update or failure.
// Not thread-safe. The factory must outlive the services it started.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "daemon/services.h"

namespace vnet::testing {

class FakeServices : public daemon::ServiceFactory {
 public:
  // Records "start <name>"; fails (starting nothing) when failNextStart() was called.
  Result<std::unique_ptr<daemon::NetworkServices>> start(const model::Network& net) override;

  void failNextStart(Error e) { failStart_ = std::move(e); }
  // The next reconfigure of any network fails with `e` and changes nothing.
  void failNextReconfigure(Error e) { failReconfigure_ = std::move(e); }

  // The configuration the services of each running network have, by network name.
  const std::map<std::string, model::Network>& running() const { return running_; }
  // "start NAME", "reconfigure NAME", "stop NAME" (services destroyed), in order; failed
  // calls are recorded too.
  const std::vector<std::string>& calls() const { return calls_; }
  void clearCalls() { calls_.clear(); }

 private:
  class Instance;
  friend class Instance;

  std::map<std::string, model::Network> running_;
  std::vector<std::string> calls_;
  std::optional<Error> failStart_;
  std::optional<Error> failReconfigure_;
};

}  // namespace vnet::testing
