#include "kernel/nft/trace_listing.h"

#include <charconv>
#include <nlohmann/json.hpp>

namespace vnet::kernel::nft {

ChainListing parseChainJson(std::string_view json) {
  ChainListing out;
  auto doc = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.contains("nftables") || !doc["nftables"].is_array()) return out;
  for (const auto& item : doc["nftables"]) {
    if (!item.is_object() || !item.contains("chain") || !item["chain"].is_object()) continue;
    const auto& c = item["chain"];
    if (c.contains("hook") && c["hook"].is_string()) out.hook = c["hook"].get<std::string>();
    if (c.contains("type") && c["type"].is_string()) out.type = c["type"].get<std::string>();
    if (c.contains("prio") && c["prio"].is_number_integer()) out.priority = c["prio"].get<int>();
    break;
  }
  return out;
}

std::map<uint64_t, std::string> parseRuleHandles(std::string_view text) {
  constexpr std::string_view kMark = " # handle ";
  std::map<uint64_t, std::string> out;
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);

    size_t at = line.rfind(kMark);
    if (at == std::string_view::npos) continue;
    std::string_view digits = line.substr(at + kMark.size());
    uint64_t handle = 0;
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), handle);
    if (ec != std::errc() || p != digits.data() + digits.size()) continue;
    std::string_view rule = line.substr(0, at);
    size_t first = rule.find_first_not_of(" \t");
    if (first == std::string_view::npos) continue;
    rule.remove_prefix(first);
    if (rule.ends_with("{") || rule.starts_with("table ") || rule.starts_with("chain ")) continue;
    out[handle] = std::string(rule);
  }
  return out;
}

std::vector<std::string> chainNamesOf(std::string_view json) {
  std::vector<std::string> out;
  auto doc = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.contains("nftables") || !doc["nftables"].is_array()) return out;
  for (const auto& item : doc["nftables"]) {
    if (item.is_object() && item.contains("chain") && item["chain"].is_object() &&
        item["chain"].contains("name") && item["chain"]["name"].is_string()) {
      out.push_back(item["chain"]["name"].get<std::string>());
    }
  }
  return out;
}

}  // namespace vnet::kernel::nft
