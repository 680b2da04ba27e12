// doctor::Ruleset: the whole nftables ruleset as the doctor reasons about it, parsed from
// `nft -j list ruleset` (libnftables JSON) plus the text listing for quoting rules exactly
// as `nft -a list ruleset` prints them. Pure: no I/O.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace vnet::doctor {

struct NftRule {
  uint64_t handle = 0;
  nlohmann::json expr;  // the rule's "expr" array
  std::string text;     // as nft prints it, without "# handle N" ("" when not in the text listing)
};

struct NftChain {
  std::string family;  // ip, ip6, inet, bridge, arp, netdev
  std::string table;
  std::string name;
  // Base chains only (hook empty for regular chains).
  std::string type;  // filter, nat, route
  std::string hook;  // prerouting, input, forward, output, postrouting, ingress, egress
  int prio = 0;
  std::string policy;  // accept, drop
  std::vector<NftRule> rules;

  bool isBase() const { return !hook.empty(); }
  // "ip filter FORWARD": family, table and chain as nft commands name them.
  std::string ref() const;
  // "type filter hook forward priority 0; policy drop;"
  std::string header() const;
};

// A named set or map; elements as in the JSON listing ("elem" array: for maps, each
// element is [key, value]).
struct NftSet {
  std::string family;
  std::string table;
  std::string name;
  bool isMap = false;
  nlohmann::json elems = nlohmann::json::array();
};

struct Ruleset {
  std::vector<NftChain> chains;
  std::vector<NftSet> sets;

  const NftChain* findChain(std::string_view family, std::string_view table,
                            std::string_view name) const;
  const NftSet* findSet(std::string_view family, std::string_view table,
                        std::string_view name) const;
};

// Parses the JSON listing; `text` (the `-a` text listing, may be empty) gives each rule its
// text by (family, table, chain, handle). Fails only when `json` is not an nft listing.
Result<Ruleset> parseRuleset(std::string_view json, std::string_view text);

}  // namespace vnet::doctor
