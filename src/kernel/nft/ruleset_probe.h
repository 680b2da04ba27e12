// Read-only views of the whole nftables ruleset for `vnetctl doctor`, over libnftables in
// the calling thread's network namespace. Nothing here changes the ruleset.
#pragma once

#include <string>

#include "base/error.h"

namespace vnet::kernel::nft {

struct RulesetListing {
  std::string json;  // `nft -j list ruleset`
  std::string text;  // `nft -a -s list ruleset`: with "# handle N", without counter values
};

// Lists every table of every family, in both forms (two listings: a change in between
// shows as a rule missing from one of them).
Result<RulesetListing> listRuleset();

// Whether source NAT works in nf_tables: runs a check-only batch (libnftables dry run: the
// kernel validates the batch, loading modules as needed, then aborts it) that adds an inet
// nat postrouting chain with a masquerade rule, as our own table has. The error carries
// libnftables' text ("Could not process rule: No such file or directory").
Status checkNatUsable();

}  // namespace vnet::kernel::nft
