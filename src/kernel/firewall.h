// kernel::Firewall: our nftables table `inet vnet`. Real implementation in kernel/nft
// (pure renderer + libnftables applier); a recording fake in testing/.
// Every call is one atomic batch: on failure the ruleset is as before the call.
#pragma once

#include <string>
#include <vector>

#include "base/error.h"
#include "model/network.h"

namespace vnet::kernel {

// How the table differs from what one network's rules should be.
struct FirewallDrift {
  std::string network;
  // What was found, one finding each, e.g. "chain default_fwd_in lacks rule: ip saddr ...".
  std::vector<std::string> found;
};

class Firewall {
 public:
  virtual ~Firewall() = default;

  // Adds (or replaces) the rules of one started network. The bridge name and addresses
  // in `net` are final.
  virtual Status addNetwork(const model::Network& net) = 0;
  // Removes exactly the elements of network `name`; other networks are untouched.
  virtual Status removeNetwork(const model::Network& net) = 0;
  // The table as `nft list table inet vnet` would print it ("" when absent).
  virtual Result<std::string> listTable() = 0;
  // Compares the table with the rules `networks` should have (their chains, their map
  // elements and the table skeleton they need), reading the table once. Returns one entry
  // per network that differs (none when all match); networks without rules never differ.
  // Changes nothing in the table.
  virtual Result<std::vector<FirewallDrift>> verify(
      const std::vector<model::Network>& networks) = 0;
};

}  // namespace vnet::kernel
