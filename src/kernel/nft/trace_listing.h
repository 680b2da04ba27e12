// Parsing of libnftables listings for the trace annotations (pure; exposed for tests).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace vnet::kernel::nft {

// What a trace step shows about its chain: hook, type and priority (base chains only)
// and the text of each rule by handle.
struct ChainListing {
  std::string hook;
  std::string type;
  std::optional<int> priority;
  std::map<uint64_t, std::string> rules;
  std::set<uint64_t> missing;  // handles asked for and not found at the last listing
};

// Hook, type and priority from `nft -j list chain ...` (rules left empty; a regular
// chain or unparsable text gives an empty hook).
ChainListing parseChainJson(std::string_view json);

// handle -> rule text from `nft -a -s list chain ...`: every line ending in
// "# handle N" that is not a table or chain line, without that suffix and indentation.
std::map<uint64_t, std::string> parseRuleHandles(std::string_view text);

// The names of all chains in `nft -j list table ...` output.
std::vector<std::string> chainNamesOf(std::string_view json);

}  // namespace vnet::kernel::nft
