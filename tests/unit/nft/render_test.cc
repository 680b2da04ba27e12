// Properties of the renderer that the golden files do not spell out.
#include "kernel/nft/render.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "tests/golden/nft/cases.h"

namespace vnet::kernel::nft {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    out.push_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

size_t indexOf(const std::vector<std::string>& ls, const std::string& prefix) {
  for (size_t i = 0; i < ls.size(); ++i) {
    if (ls[i].rfind(prefix, 0) == 0) return i;
  }
  return ls.size();
}

TEST(NftChainId, KeepsAlnumAndEscapesTheRest) {
  EXPECT_EQ("default", chainId("default"));
  EXPECT_EQ("my_2dnet", chainId("my-net"));
  EXPECT_EQ("a_5fb", chainId("a_b"));
  EXPECT_EQ("_31net", chainId("1net"));
  EXPECT_EQ("net1", chainId("net1"));
  EXPECT_EQ("_c3_a9t_c3_a9", chainId("\xc3\xa9t\xc3\xa9"));
}

TEST(NftChainId, IsInjectiveOnLookalikes) {
  std::set<std::string> ids;
  for (const char* n : {"a-b", "a_b", "a.b", "a b", "a_2db", "ab", "a__b"}) ids.insert(chainId(n));
  EXPECT_EQ(7u, ids.size());
}

TEST(NftPossibleChains, CoversEveryChainANetworkCanOwn) {
  for (const auto& c : nfttest::allCases()) {
    for (const auto& n : c.networks) {
      auto possible = possibleChains(n.name);
      for (const auto& chain : objectsOf(n).chains) {
        EXPECT_THAT(possible, ::testing::Contains(chain));
      }
    }
  }
}

TEST(NftCheckRenderable, RejectsNamesThatCannotBeQuoted) {
  auto net = nfttest::defaultNat();
  EXPECT_TRUE(checkRenderable(net).ok());
  for (const char* bad : {"", "br\"0", "br 0", "br\\0", "averyveryverylongname"}) {
    net.bridge.name = bad;
    Status s = checkRenderable(net);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_EQ(ErrorCode::Invalid, s.error().code());
  }
  net.bridge.name = "vnbr0";
  net.forwardDev = "eth\"0";
  EXPECT_FALSE(checkRenderable(net).ok());
  net.mode = model::ForwardMode::Open;
  net.bridge.name = "";
  EXPECT_TRUE(checkRenderable(net).ok());
}

TEST(NftRender, OpenAndBridgeModesHaveNoRules) {
  for (auto mode : {model::ForwardMode::Open, model::ForwardMode::Bridge}) {
    auto net = nfttest::defaultNat();
    net.mode = mode;
    EXPECT_FALSE(hasRules(net));
    EXPECT_TRUE(objectsOf(net).empty());
    EXPECT_EQ("", renderRemoveNetwork(net));
    EXPECT_EQ(renderBase(), renderAddNetwork(net));
  }
}

TEST(NftRender, CommentsStayQuotableAndShort) {
  auto net = nfttest::defaultNat();
  net.name = std::string(200, 'n') + "\"quote\\";
  for (const auto& l : lines(renderAddNetwork(net))) {
    auto c = l.find(" comment \"");
    if (c == std::string::npos) continue;
    std::string comment = l.substr(c + 10);
    ASSERT_EQ('"', comment.back()) << l;
    comment.pop_back();
    EXPECT_LE(comment.size(), 128u) << l;
    EXPECT_EQ(std::string::npos, comment.find('"')) << l;
    EXPECT_EQ(std::string::npos, comment.find('\\')) << l;
  }
}

TEST(NftRender, EveryRuleHasAComment) {
  for (const auto& c : nfttest::allCases()) {
    for (const auto& n : c.networks) {
      for (const auto& l : lines(renderAddNetwork(n))) {
        if (l.rfind("add rule ", 0) == 0) {
          EXPECT_THAT(l, HasSubstr(" comment \"")) << l;
        }
      }
    }
  }
}

TEST(NftRender, AddBatchDeclaresChainsBeforeMapsAndElementsLast) {
  auto ls = lines(renderAddNetwork(nfttest::defaultNat()));
  size_t chain = indexOf(ls, "add chain inet vnet default_nat");
  size_t map = indexOf(ls, "add map inet vnet postrouting_saddr4");
  size_t rule = indexOf(ls, "add rule inet vnet default_nat");
  size_t element = indexOf(ls, "add element inet vnet postrouting_saddr4");
  EXPECT_LT(chain, map);
  EXPECT_LT(map, rule);
  EXPECT_LT(rule, element);
  EXPECT_LT(element, ls.size());
}

TEST(NftRender, ReplacingDeletesOldElementsAndDroppedChains) {
  auto old = nfttest::defaultNat();
  auto now = old;
  now.mode = model::ForwardMode::Isolated;
  auto ls = lines(renderAddNetwork(now, objectsOf(old)));
  size_t delElem = indexOf(ls, "delete element inet vnet postrouting_saddr4 { 192.168.122.0/24 }");
  size_t delChain = indexOf(ls, "delete chain inet vnet default_nat");
  size_t flush = indexOf(ls, "flush chain inet vnet default_fwd_out");
  ASSERT_LT(delChain, ls.size());
  EXPECT_LT(delElem, delChain);
  EXPECT_LT(delChain, flush);
  EXPECT_EQ(ls.size(), indexOf(ls, "delete chain inet vnet default_fwd_out"));
  EXPECT_EQ(ls.size(), indexOf(ls, "add element inet vnet postrouting_saddr4"));
}

TEST(NftRender, RemoveDeletesElementsBeforeChains) {
  auto ls = lines(renderRemoveNetwork(nfttest::defaultNat()));
  // 4 bridge elements and 1 subnet element, then 5 chains.
  ASSERT_EQ(10u, ls.size());
  for (size_t i = 0; i < ls.size(); ++i) {
    EXPECT_THAT(ls[i], HasSubstr(i < 5 ? "delete element " : "delete chain ")) << i;
  }
}

TEST(NftRender, IsolatedHasNoWayOutAndNoNat) {
  auto net = nfttest::network("hostonly", model::ForwardMode::Isolated, "vnbr8",
                              {nfttest::ipConfig("10.20.0.1/24", true)});
  std::string text = renderAddNetwork(net);
  EXPECT_THAT(text, Not(HasSubstr("accept comment \"hostonly: guests in")));
  EXPECT_THAT(text, Not(HasSubstr("masquerade")));
  EXPECT_THAT(text, Not(HasSubstr("return")));
  EXPECT_THAT(text, HasSubstr("iifname \"vnbr8\" accept"));
}

TEST(NftRender, RouteHasNoNatAndNoStateCheck) {
  auto net = nfttest::network("routed", model::ForwardMode::Route, "vnbr7",
                              {nfttest::ipConfig("10.10.0.1/24", true)});
  std::string text = renderAddNetwork(net);
  EXPECT_THAT(text, Not(HasSubstr("masquerade")));
  EXPECT_THAT(text, Not(HasSubstr("ct state")));
  EXPECT_THAT(text, HasSubstr("ip daddr 10.10.0.0/24 return"));
}

TEST(NftRender, Ipv6IsRoutedUnlessNatIpv6) {
  auto net = nfttest::network("d", model::ForwardMode::Nat, "vnbr1",
                              {nfttest::ipConfig("fd00::1/64", false)});
  EXPECT_THAT(renderAddNetwork(net), Not(HasSubstr("masquerade")));
  EXPECT_THAT(renderAddNetwork(net), HasSubstr("ip6 daddr fd00::/64 return"));
  net.nat->ipv6 = true;
  EXPECT_THAT(renderAddNetwork(net), HasSubstr("ip6 saddr fd00::/64 ip6 daddr != fd00::/64 "
                                               "meta l4proto { tcp, udp } masquerade"));
  EXPECT_THAT(renderAddNetwork(net), HasSubstr("ip6 daddr fd00::/64 ct state"));
}

TEST(NftRender, SingleNatAddressAndPort) {
  auto net = nfttest::defaultNat();
  net.nat->addressStart = Ipv4::parse("203.0.113.7");
  net.nat->addressEnd = Ipv4::parse("203.0.113.7");
  net.nat->portStart = 5000;
  net.nat->portEnd = 5000;
  EXPECT_THAT(renderAddNetwork(net), HasSubstr("snat ip to 203.0.113.7:5000 comment"));
  EXPECT_THAT(renderAddNetwork(net), HasSubstr("snat ip to 203.0.113.7 comment"));
}

}  // namespace
}  // namespace vnet::kernel::nft
