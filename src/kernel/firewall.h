// kernel::Firewall: our nftables table `inet vnet`. Real implementation in kernel/nft
// (pure renderer + libnftables applier); a recording fake in testing/.
// Every call is one atomic batch: on failure the ruleset is as before the call.
#pragma once

#include <string>
#include <vector>

#include "base/error.h"
#include "model/network.h"

namespace vnet::kernel {

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
};

}  // namespace vnet::kernel
