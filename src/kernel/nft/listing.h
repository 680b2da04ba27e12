// Pure comparison of a `nft list table inet vnet` listing with the rendered rules of the
// started networks: what drift repair and adoption after a restart look at. No I/O.
//
// The listing nft prints and renderRuleset() agree line for line (checked against the
// kernel by tests/integration/nft), so a chain is compared as its list of lines, and a map
// as its declaration lines plus the set of its elements (nft prints hash map elements in
// hash order and wraps long element lists, so their order and layout do not count).
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
  // "chain <name>" / "map <name>" -> the block's lines, trimmed, without map elements.
  std::map<std::string, std::vector<std::string>> blocks;
  // map name -> its elements as "<key> : jump <chain>", sorted.
  std::map<std::string, std::vector<std::string>> elements;
};

// Cuts a listing (nft's text layout, or renderRuleset's) into blocks. Lines outside a
// block are ignored; an empty text is an absent table.
TableListing parseTableListing(std::string_view text);

// Every chain and every map element (with a jump/goto verdict) of the listing, as
// NftFirewall tracks the table.
NetworkObjects objectsInListing(const TableListing& listing);

// What differs between `have` and the rules of each network in `networks` (see
// Firewall::verify). Damage to the shared skeleton (the table, a map, a base chain) is
// reported for every network with rules, since each needs it.
std::vector<FirewallDrift> diffTable(const TableListing& have,
                                     const std::vector<model::Network>& networks);

}  // namespace vnet::kernel::nft
