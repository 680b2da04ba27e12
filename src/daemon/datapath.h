// Builds a started network in the kernel and tears it down, through the narrow
// kernel::Links / kernel::Firewall interfaces. start() is all-or-nothing: a failure at
// any step undoes the steps already done, in reverse, and reports every error.
#pragma once

#include <functional>
#include <string>

#include "base/error.h"
#include "kernel/firewall.h"
#include "kernel/links.h"
#include "model/network.h"

namespace vnet::daemon {

class Datapath {
 public:
  Datapath(kernel::Links& links, kernel::Firewall& firewall) : links_(links), fw_(firewall) {}

  // Refuses (changing nothing) when a subnet is routed on another interface, the bridge
  // name is taken by a non-bridge, or the definition has unsupported elements.
  Status preflight(const model::Network& net);
  // Creates bridge, addresses, sysctls, routes and firewall rules. `net` is final
  // (fillDefaults applied). `commit`, when given, runs last (starting the services,
  // recording state); when it fails, every kernel step is undone as for a failed step.
  Status start(const model::Network& net, const std::function<Status()>& commit = nullptr);
  // Removes rules and the bridge (with its ports); keeps going on errors and reports all.
  Status stop(const model::Network& net);
  // Brings an existing network (from before a vnetd restart) back in line with `net`
  // without recreating what is already right. Starts it from scratch if the bridge is gone.
  Status adopt(const model::Network& net);

 private:
  kernel::Links& links_;
  kernel::Firewall& fw_;
};

}  // namespace vnet::daemon
