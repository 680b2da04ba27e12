// NftFirewall against the real kernel, in the test process's private network namespace.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "kernel/nft/nft_firewall.h"
#include "kernel/nft/render.h"
#include "tests/golden/nft/cases.h"
#include "tests/integration/nft/netns_env.h"

namespace vnet::kernel::nft {
namespace {

using nfttest::sh;
using ::testing::HasSubstr;

// A listing reduced to what must match: per map/chain block its lines, with map elements
// as a sorted list (nft prints hash map elements in hash order and wraps long lists).
using Normalized = std::map<std::string, std::vector<std::string>>;

std::string trim(std::string s) {
  auto notSpace = [](unsigned char c) { return !std::isspace(c); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), notSpace));
  s.erase(std::find_if(s.rbegin(), s.rend(), notSpace).base(), s.end());
  return s;
}

Normalized normalize(const std::string& listing) {
  Normalized out;
  std::string block;
  bool inElements = false;
  std::vector<std::string> elements;
  size_t pos = 0;
  while (pos < listing.size()) {
    size_t end = listing.find('\n', pos);
    if (end == std::string::npos) end = listing.size();
    std::string line = trim(listing.substr(pos, end - pos));
    pos = end + 1;
    if ((line.rfind("map ", 0) == 0 || line.rfind("set ", 0) == 0 ||
         line.rfind("chain ", 0) == 0) &&
        line.size() > 2 && line.substr(line.size() - 2) == " {") {
      block = line.substr(0, line.size() - 2);
      out[block];
      continue;
    }
    if (block.empty()) continue;
    if (line == "}" && !inElements) {
      std::sort(elements.begin(), elements.end());
      for (auto& e : elements) out[block].push_back("element " + e);
      elements.clear();
      block.clear();
      continue;
    }
    if (line.rfind("elements = {", 0) == 0) {
      inElements = true;
      line = line.substr(12);
    }
    if (!inElements) {
      out[block].push_back(line);
      continue;
    }
    if (!line.empty() && line.back() == '}') {
      line.pop_back();
      inElements = false;
    }
    size_t start = 0;
    while (start <= line.size()) {
      size_t comma = line.find(',', start);
      if (comma == std::string::npos) comma = line.size();
      std::string e = trim(line.substr(start, comma - start));
      if (!e.empty()) elements.push_back(e);
      start = comma + 1;
    }
  }
  return out;
}

class NftIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    VNET_REQUIRE_NETNS();
    auto fw = NftFirewall::create();
    ASSERT_TRUE(fw.ok()) << fw.error().message();
    fw_ = std::move(*fw);
    ASSERT_TRUE(fw_->deleteTable().ok());
  }
  void TearDown() override {
    if (fw_) {
      EXPECT_TRUE(fw_->deleteTable().ok());
    }
    if (nfttest::netnsUnavailable().empty()) sh("nft delete table ip other 2>/dev/null");
  }

  std::string ruleset() { return sh("nft list ruleset"); }

  void expectTableIs(const std::vector<model::Network>& nets) {
    auto listed = fw_->listTable();
    ASSERT_TRUE(listed.ok()) << listed.error().message();
    EXPECT_EQ(normalize(renderRuleset(nets)), normalize(*listed)) << *listed;
  }

  std::unique_ptr<NftFirewall> fw_;
};

TEST_F(NftIntegration, EveryGoldenCaseIsAcceptedAndListsAsRendered) {
  for (const auto& c : nfttest::allCases()) {
    SCOPED_TRACE(c.name);
    for (const auto& n : c.networks) {
      Status s = fw_->addNetwork(n);
      ASSERT_TRUE(s.ok()) << s.error().message();
    }
    expectTableIs(c.networks);
    // Adding again replaces in place: same table.
    for (const auto& n : c.networks) ASSERT_TRUE(fw_->addNetwork(n).ok());
    expectTableIs(c.networks);
    for (const auto& n : c.networks) {
      Status s = fw_->removeNetwork(n);
      ASSERT_TRUE(s.ok()) << s.error().message();
    }
    expectTableIs({});
    ASSERT_TRUE(fw_->deleteTable().ok());
  }
}

TEST_F(NftIntegration, RenderedRulesetLoadsWithNft) {
  for (const auto& c : nfttest::allCases()) {
    SCOPED_TRACE(c.name);
    ASSERT_TRUE(fw_->apply(renderRuleset(c.networks)).ok());
    expectTableIs(c.networks);
    ASSERT_TRUE(fw_->deleteTable().ok());
  }
}

TEST_F(NftIntegration, RemovingOneNetworkLeavesTheOther) {
  auto cases = nfttest::allCases();
  const auto& two = *std::find_if(cases.begin(), cases.end(),
                                  [](const auto& c) { return c.name == "two_networks"; });
  for (const auto& n : two.networks) ASSERT_TRUE(fw_->addNetwork(n).ok());
  ASSERT_TRUE(fw_->removeNetwork(two.networks[0]).ok());

  auto doc = nlohmann::json::parse(sh("nft -j list table inet vnet"));
  std::vector<std::string> chains;
  std::set<std::string> owners;
  size_t elements = 0;
  for (const auto& item : doc["nftables"]) {
    if (item.contains("chain")) chains.push_back(item["chain"]["name"]);
    if (item.contains("set") && item["set"].contains("elem")) {
      for (const auto& e : item["set"]["elem"]) {
        owners.insert(e["elem"].value("comment", ""));
        ++elements;
      }
    }
  }
  EXPECT_THAT(chains, ::testing::UnorderedElementsAre("forward", "to_guests", "from_guests",
                                                      "input", "output", "postrouting"));
  EXPECT_THAT(owners, ::testing::ElementsAre("lab"));
  EXPECT_EQ(objectsOf(two.networks[1]).elements.size(), elements);
  expectTableIs({two.networks[1]});
}

TEST_F(NftIntegration, ReplacingWithAChangedDefinitionLeavesNoStaleObjects) {
  model::Network net = nfttest::defaultNat();
  ASSERT_TRUE(fw_->addNetwork(net).ok());
  net.mode = model::ForwardMode::Isolated;
  net.nat.reset();
  net.ips = {nfttest::ipConfig("10.50.0.1/24", true)};
  Status s = fw_->addNetwork(net);
  ASSERT_TRUE(s.ok()) << s.error().message();
  expectTableIs({net});

  net.mode = model::ForwardMode::Open;
  ASSERT_TRUE(fw_->addNetwork(net).ok());
  expectTableIs({});
  auto left = fw_->installed(net.name);
  ASSERT_TRUE(left.ok());
  EXPECT_TRUE(left->empty());
}

TEST_F(NftIntegration, FailedBatchLeavesRulesetIdentical) {
  ASSERT_TRUE(fw_->addNetwork(nfttest::defaultNat()).ok());
  const std::string before = ruleset();

  // A name whose id cannot be an element comment is refused before any batch.
  model::Network longName = nfttest::network(std::string(300, 'x').c_str(), model::ForwardMode::Nat,
                                             "vnbr9", {nfttest::ipConfig("10.60.0.1/24", true)});
  Status s = fw_->addNetwork(longName);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message(), HasSubstr("adding rules for network 'xxx"));
  EXPECT_THAT(s.error().message(), HasSubstr("name too long"));
  EXPECT_EQ(before, ruleset());

  // A batch whose last command fails undoes the commands before it.
  Status raw =
      fw_->apply(renderAddNetwork(nfttest::network("late", model::ForwardMode::Nat, "vnbr8",
                                                   {nfttest::ipConfig("10.70.0.1/24", true)})) +
                 "delete chain inet vnet no_such_chain\n");
  ASSERT_FALSE(raw.ok());
  EXPECT_THAT(raw.error().message(), HasSubstr("delete chain inet vnet no_such_chain"));
  EXPECT_EQ(before, ruleset());

  // Overlapping subnets on one bridge collide in the interval sets: refused with nft's own
  // words (validation refuses such a definition earlier; this is the kernel's last word).
  Status overlap = fw_->addNetwork(nfttest::network(
      "overlap", model::ForwardMode::Nat, "vnbr7",
      {nfttest::ipConfig("10.80.0.1/24", true), nfttest::ipConfig("10.80.0.129/25", false)}));
  ASSERT_FALSE(overlap.ok());
  EXPECT_THAT(overlap.error().message(), HasSubstr("adding rules for network 'overlap': batch:"));
  EXPECT_THAT(overlap.error().message(), HasSubstr("File exists"));
  EXPECT_EQ(before, ruleset());
}

TEST_F(NftIntegration, OtherTablesAreNeverTouched) {
  int rc = 0;
  sh("nft add table ip other && "
     "nft add chain ip other c '{ type filter hook forward priority 0; policy accept; }' && "
     "nft add rule ip other c counter comment \\\"someone else\\\"",
     &rc);
  ASSERT_EQ(rc, 0);
  const std::string other = sh("nft list table ip other");
  ASSERT_THAT(other, HasSubstr("someone else"));

  for (const auto& c : nfttest::allCases()) {
    for (const auto& n : c.networks) ASSERT_TRUE(fw_->addNetwork(n).ok());
    for (const auto& n : c.networks) ASSERT_TRUE(fw_->addNetwork(n).ok());
    for (const auto& n : c.networks) ASSERT_TRUE(fw_->removeNetwork(n).ok());
  }
  EXPECT_FALSE(fw_->apply("add rule inet vnet forward bogus\n").ok());
  ASSERT_TRUE(fw_->deleteTable().ok());
  EXPECT_EQ(other, sh("nft list table ip other"));
}

TEST_F(NftIntegration, AbsentThingsAreNotErrors) {
  EXPECT_FALSE(fw_->tableExists());
  auto listed = fw_->listTable();
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ("", *listed);
  EXPECT_TRUE(fw_->removeNetwork(nfttest::defaultNat()).ok());
  EXPECT_TRUE(fw_->deleteTable().ok());
  ASSERT_TRUE(fw_->addNetwork(nfttest::defaultNat()).ok());
  EXPECT_TRUE(fw_->tableExists());
  EXPECT_TRUE(fw_->removeNetwork(nfttest::defaultNat()).ok());
  EXPECT_TRUE(fw_->removeNetwork(nfttest::defaultNat()).ok());
}

}  // namespace
}  // namespace vnet::kernel::nft
