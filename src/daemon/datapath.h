// Builds a started network in the kernel and tears it down, through the narrow
// kernel::Links / kernel::Firewall interfaces. start() is all-or-nothing: a failure at
// any step undoes the steps already done, in reverse, and reports every error.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "base/error.h"
#include "daemon/reconcile.h"
#include "kernel/firewall.h"
#include "kernel/links.h"
#include "model/network.h"

namespace vnet::daemon {

// What Datapath::reconcileLinks found different and what it did about it.
struct LinkRepair {
  std::vector<std::string> found;  // e.g. "bridge vnbr0 is down"
  std::vector<std::string> done;   // e.g. "set vnbr0 up"
  bool bridgeRecreated = false;    // services bound to the old bridge must restart
  bool empty() const { return found.empty(); }
};

class UndoStack;

class Datapath {
 public:
  Datapath(kernel::Links& links, kernel::Firewall& firewall) : links_(links), fw_(firewall) {}

  // Refuses (changing nothing) when a subnet is routed on another interface, the bridge
  // name is taken (for bridge mode: when the bridge does not exist), or the definition has
  // unsupported elements.
  Status preflight(const model::Network& net);
  // preflight(), then creates bridge, addresses, sysctls, routes and firewall rules. `net`
  // is final (fillDefaults applied). `before`, when given, runs after preflight and before
  // the first kernel change (recording that a start is under way); its failure ends the
  // start with nothing changed. `commit`, when given, runs last (starting the services,
  // recording state); when it fails, every kernel step is undone as for a failed step.
  Status start(const model::Network& net, const std::function<Status()>& commit = nullptr,
               const std::function<Status()>& before = nullptr);
  // Removes rules and the bridge (with its ports); keeps going on errors and reports all.
  Status stop(const model::Network& net);
  // Brings the links of an existing network (from before a vnetd restart) back in line
  // with `net` without touching what is already right; recreates the bridge when it is
  // gone. `ports` are the network's known ports (re-attached when they exist). Firewall
  // rules are the caller's (Firewall::verify, then addNetwork where they differ).
  Result<LinkRepair> adopt(const model::Network& net, const std::vector<std::string>& ports);

  // Observes the network's links, compares them with `net` (daemon/reconcile.h) and
  // applies the fixes, observing again after each round (a bridge set up again lost its
  // routes; a recreated bridge gets its ports back in the next round), at most 3 rounds.
  // On failure the error says what was found and which fix failed.
  Result<LinkRepair> reconcileLinks(const model::Network& net,
                                    const std::vector<std::string>& ports);

 private:
  // Bridge, sysctls, addresses, up, routes, forwarding: the link part of start(), with
  // its undo steps pushed on `undo`.
  Status startLinks(const model::Network& net, UndoStack& undo);
  // What the kernel has for the network's links (see LinkObservation).
  Result<LinkObservation> observe(const model::Network& net, const std::vector<std::string>& ports);

  kernel::Links& links_;
  kernel::Firewall& fw_;
};

}  // namespace vnet::daemon
