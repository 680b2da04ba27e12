#include "kernel/nft/listing.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "kernel/nft/render.h"

namespace vnet::kernel::nft {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool startsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// True when `element` (as listed) carries owner comment `owner`.
bool ownedBy(std::string_view element, const std::string& owner) {
  const std::string tag = " comment \"" + owner + "\"";
  size_t at = element.find(tag);
  if (at == std::string_view::npos) return false;
  std::string_view rest = element.substr(at + tag.size());
  return rest.empty() || rest.substr(0, 3) == " : ";
}

std::string blockWord(const std::string& block) {
  return block.substr(0, block.find(' '));
}

// Appends findings for `block` of `want` compared with the same block of `have`.
void diffBlock(const std::string& block, const std::vector<std::string>& want,
               const TableListing& have, std::vector<std::string>& found) {
  auto it = have.blocks.find(block);
  if (it == have.blocks.end()) {
    found.push_back(block + " is gone");
    return;
  }
  const std::vector<std::string>& got = it->second;
  if (got == want) return;
  const std::string kind = blockWord(block) == "chain" ? "rule" : "declaration";
  std::multiset<std::string> gotSet(got.begin(), got.end());
  std::multiset<std::string> wantSet(want.begin(), want.end());
  bool any = false;
  for (const auto& line : want) {
    if (auto g = gotSet.find(line); g != gotSet.end()) {
      gotSet.erase(g);
    } else {
      found.push_back(block + " lacks " + kind + ": " + line);
      any = true;
    }
  }
  for (const auto& line : got) {
    if (auto w = wantSet.find(line); w != wantSet.end()) {
      wantSet.erase(w);
    } else {
      found.push_back(block + " has a " + kind + " that is not ours: " + line);
      any = true;
    }
  }
  if (!any) found.push_back(block + " has its " + kind + "s out of order");
}

}  // namespace

TableListing parseTableListing(std::string_view text) {
  TableListing out;
  std::string block;
  bool inElements = false;
  std::vector<std::string> elements;
  auto addElements = [&](std::string_view line) {
    size_t start = 0;
    while (start <= line.size()) {
      size_t comma = line.find(',', start);
      if (comma == std::string_view::npos) comma = line.size();
      std::string_view e = trim(line.substr(start, comma - start));
      if (!e.empty()) elements.emplace_back(e);
      start = comma + 1;
    }
  };
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = trim(text.substr(pos, end - pos));
    pos = end + 1;
    if (startsWith(line, "table ")) {
      out.present = true;
      continue;
    }
    if ((startsWith(line, "map ") || startsWith(line, "set ") || startsWith(line, "chain ")) &&
        line.size() > 2 && line.substr(line.size() - 2) == " {") {
      block = std::string(line.substr(0, line.size() - 2));
      out.blocks[block];
      inElements = false;
      elements.clear();
      continue;
    }
    if (block.empty()) continue;
    if (line == "}" && !inElements) {
      if (blockWord(block) != "chain") {
        std::sort(elements.begin(), elements.end());
        out.elements[block] = std::move(elements);
      }
      elements.clear();
      block.clear();
      continue;
    }
    if (startsWith(line, "elements = {")) {
      inElements = true;
      line = trim(line.substr(12));
    }
    if (!inElements) {
      out.blocks[block].emplace_back(line);
      continue;
    }
    if (!line.empty() && line.back() == '}') {
      line.remove_suffix(1);
      inElements = false;
    }
    addElements(line);
  }
  return out;
}

std::vector<FirewallDrift> diffTable(const TableListing& have,
                                     const std::vector<model::Network>& networks) {
  std::vector<FirewallDrift> out;
  for (const auto& net : networks) {
    if (!hasRules(net)) continue;
    FirewallDrift drift{net.name, {}};
    if (!have.present) {
      drift.found.push_back("table " + std::string(kFamily) + " " + std::string(kTableName) +
                            " is gone");
      out.push_back(std::move(drift));
      continue;
    }
    const TableListing want = parseTableListing(renderRuleset({net}));
    for (const auto& [block, lines] : want.blocks) diffBlock(block, lines, have, drift.found);

    // Elements: every one of ours present; none owned by this network that it should not
    // have (a stale one would keep a removed subnet open).
    const std::string owner = chainId(net.name);
    for (const auto& [set, wantElems] : want.elements) {
      auto it = have.elements.find(set);
      if (it == have.elements.end()) continue;  // the set is reported as gone above
      for (const auto& e : wantElems) {
        if (!std::binary_search(it->second.begin(), it->second.end(), e)) {
          drift.found.push_back(set + " lacks element " + e);
        }
      }
    }
    for (const auto& [set, gotElems] : have.elements) {
      auto wantIt = want.elements.find(set);
      for (const auto& e : gotElems) {
        if (!ownedBy(e, owner)) continue;
        bool wanted = wantIt != want.elements.end() &&
                      std::binary_search(wantIt->second.begin(), wantIt->second.end(), e);
        if (!wanted) drift.found.push_back(set + " has an element the definition does not: " + e);
      }
    }
    if (!drift.found.empty()) out.push_back(std::move(drift));
  }
  return out;
}

}  // namespace vnet::kernel::nft
