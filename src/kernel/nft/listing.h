// Pure comparison of a `nft list table inet vnet` listing with the rendered rules of the
// started networks: what drift repair and adoption after a restart look at. No I/O.
//
// The listing nft prints and renderRuleset() agree line for line (checked against the
// kernel by tests/integration/nft), so a chain is compared as its list of lines, and a set
// or map as its declaration lines plus the set of its elements (nft prints hash set
// elements in hash order and wraps long element lists, so their order and layout do not
// count). An element belongs to the network named by its comment (render.h).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "kernel/firewall.h"
#include "kernel/nft/render.h"
#include "model/network.h"

namespace vnet::kernel::nft {

struct TableListing {
  bool present = false;  // false for an empty listing (no table)
  // "chain <name>" / "set <name>" / "map <name>" -> the block's lines, trimmed, without
  // elements.
  std::map<std::string, std::vector<std::string>> blocks;
  // "set <name>" / "map <name>" -> its elements as printed ("<key> comment \"<owner>\"",
  // maps: "... : jump <chain>"), sorted.
  std::map<std::string, std::vector<std::string>> elements;
};

// Cuts a listing (nft's text layout, or renderRuleset's) into blocks. Lines outside a
// block are ignored; an empty text is an absent table.
TableListing parseTableListing(std::string_view text);

// What differs between `have` and the rules of each network in `networks` (see
// Firewall::verify): the fixed chains and the set declarations every network needs, the
// network's own chains, its elements, and elements that carry its name as owner but are
// not in its definition. Damage to the shared layout is reported for every network with
// rules, since each needs it. Chains we do not render (a running trace's) are ignored.
std::vector<FirewallDrift> diffTable(const TableListing& have,
                                     const std::vector<model::Network>& networks);

}  // namespace vnet::kernel::nft
