#include "doctor/ruleset.h"

#include <gtest/gtest.h>

#include "doctor_test_util.h"

namespace vnet::doctor {
namespace {

using testutil::fixture;

TEST(Ruleset, ParsesBaseAndRegularChainsWithRulesInOrder) {
  Ruleset rs = fixture("docker");
  const NftChain* fwd = rs.findChain("ip", "filter", "FORWARD");
  ASSERT_NE(fwd, nullptr);
  EXPECT_TRUE(fwd->isBase());
  EXPECT_EQ(fwd->hook, "forward");
  EXPECT_EQ(fwd->type, "filter");
  EXPECT_EQ(fwd->prio, 0);
  EXPECT_EQ(fwd->policy, "drop");
  EXPECT_EQ(fwd->ref(), "ip filter FORWARD");
  EXPECT_EQ(fwd->header(), "type filter hook forward priority 0; policy drop;");
  ASSERT_EQ(fwd->rules.size(), 6u);
  EXPECT_EQ(fwd->rules[0].text, "counter jump DOCKER-USER");
  EXPECT_EQ(fwd->rules[5].text, "iifname \"docker0\" oifname \"docker0\" counter accept");
  EXPECT_TRUE(fwd->rules[0].expr.is_array());

  const NftChain* user = rs.findChain("ip", "filter", "DOCKER-USER");
  ASSERT_NE(user, nullptr);
  EXPECT_FALSE(user->isBase());
  EXPECT_EQ(user->header(), "regular chain");
  const NftChain* nat = rs.findChain("ip", "nat", "POSTROUTING");
  ASSERT_NE(nat, nullptr);
  EXPECT_EQ(nat->type, "nat");
  EXPECT_EQ(nat->prio, 100);
  EXPECT_EQ(rs.findChain("ip", "filter", "nope"), nullptr);
}

TEST(Ruleset, InsertedRulesKeepTheirPosition) {
  Ruleset rs = fixture("docker-user");
  const NftChain* user = rs.findChain("ip", "filter", "DOCKER-USER");
  ASSERT_NE(user, nullptr);
  ASSERT_EQ(user->rules.size(), 3u);
  EXPECT_EQ(user->rules[0].text, "iifname \"vnbr0\" accept");
  EXPECT_EQ(user->rules[2].text, "counter return");
}

TEST(Ruleset, ParsesNamedSetsAndQuotesRulesOfEveryFamily) {
  Ruleset rs = fixture("harmless");
  const NftSet* trusted = rs.findSet("inet", "host", "trusted");
  ASSERT_NE(trusted, nullptr);
  EXPECT_FALSE(trusted->isMap);
  EXPECT_EQ(trusted->elems.size(), 2u);
  const NftChain* input = rs.findChain("inet", "host", "input");
  ASSERT_NE(input, nullptr);
  ASSERT_EQ(input->rules.size(), 3u);
  EXPECT_EQ(input->rules[1].text, "iifname @trusted accept");
  const NftChain* br = rs.findChain("bridge", "br", "forward");
  ASSERT_NE(br, nullptr);
  ASSERT_EQ(br->rules.size(), 2u);
  EXPECT_EQ(br->rules[1].text, "iifname \"tap9\" drop");
}

TEST(Ruleset, WithoutTextListingRulesHaveNoText) {
  auto rs = parseRuleset(
      testutil::readFile(std::string(VNET_SOURCE_DIR) + "/tests/unit/doctor/data/inputdrop.json"),
      "");
  ASSERT_TRUE(rs.ok());
  const NftChain* input = rs->findChain("inet", "filter", "input");
  ASSERT_NE(input, nullptr);
  ASSERT_EQ(input->rules.size(), 3u);
  EXPECT_EQ(input->rules[0].text, "");
  EXPECT_GT(input->rules[0].handle, 0u);
}

TEST(Ruleset, EmptyRulesetAndBadInput) {
  auto empty = parseRuleset(R"({"nftables": [{"metainfo": {"version": "1.0.6"}}]})", "");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->chains.empty());
  EXPECT_FALSE(parseRuleset("not json", "").ok());
  EXPECT_FALSE(parseRuleset(R"({"tables": []})", "").ok());
  EXPECT_FALSE(parseRuleset(R"([1, 2])", "").ok());
}

TEST(Ruleset, ABaseChainWithoutPolicyAccepts) {
  Ruleset rs = testutil::rulesetOf(
      R"({"chain": {"family": "inet", "table": "t", "name": "c", "type": "filter", "hook": "input", "prio": 0}})");
  ASSERT_EQ(rs.chains.size(), 1u);
  EXPECT_EQ(rs.chains[0].policy, "accept");
}

}  // namespace
}  // namespace vnet::doctor
