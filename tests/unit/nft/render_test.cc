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

// The `add element` lines of a network's batch without the fixed part.
std::vector<std::string> elementLines(const model::Network& net) {
  std::vector<std::string> out;
  for (const auto& l : lines(renderAddNetwork(net, {}, false))) {
    if (l.rfind("add element ", 0) == 0) out.push_back(l);
  }
  return out;
}

TEST(NftRender, OpenAndBridgeModesHaveNoRules) {
  for (auto mode : {model::ForwardMode::Open, model::ForwardMode::Bridge}) {
    auto net = nfttest::defaultNat();
    net.mode = mode;
    EXPECT_FALSE(hasRules(net));
    EXPECT_TRUE(objectsOf(net).empty());
    EXPECT_EQ("", renderRemoveNetwork(net));
    EXPECT_EQ(renderBase(), renderAddNetwork(net));
    EXPECT_EQ("", renderAddNetwork(net, {}, false));
  }
}

TEST(NftRender, DefaultNatIsOnlySetElements) {
  // Starting a NAT network with libvirt's default <nat> adds no chain and no rule: the
  // per-start cost must not grow with the number of networks.
  std::string text = renderAddNetwork(nfttest::defaultNat(), {}, false);
  for (const auto& l : lines(text)) EXPECT_EQ(0u, l.rfind("add element ", 0)) << l;
  EXPECT_THAT(
      elementLines(nfttest::defaultNat()),
      ::testing::UnorderedElementsAre(
          "add element inet vnet guests { \"vnbr0\" comment \"default\" }",
          "add element inet vnet guest_pairs { \"vnbr0\" . \"vnbr0\" comment \"default\" }",
          "add element inet vnet dhcp4 { \"vnbr0\" comment \"default\" }",
          "add element inet vnet dns { \"vnbr0\" comment \"default\" }",
          "add element inet vnet replies4 { \"vnbr0\" . 192.168.122.0/24 comment \"default\" }",
          "add element inet vnet outbound4 { \"vnbr0\" . 192.168.122.0/24 comment \"default\" }",
          "add element inet vnet nat_local4 { \"vnbr0\" . 192.168.122.0/24 . 192.168.122.0/24 "
          "comment \"default\" }",
          "add element inet vnet masq4 { \"vnbr0\" . 192.168.122.0/24 comment \"default\" }"));
}

TEST(NftRender, CommentsStayQuotableAndShort) {
  auto net = nfttest::defaultNat();
  net.name = std::string(30, 'n') + "\"quote\\";
  net.nat->portStart = 2000;  // a chain of its own: rules with the network's name
  for (const auto& l : lines(renderAddNetwork(net))) {
    auto c = l.find(" comment \"");
    if (c == std::string::npos) continue;
    std::string comment = l.substr(c + 10);
    comment = comment.substr(0, comment.find('"'));
    EXPECT_LE(comment.size(), 128u) << l;
    EXPECT_EQ(std::string::npos, comment.find('\\')) << l;
  }
  net.name = std::string(200, 'n');
  Status s = checkRenderable(net);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message(), HasSubstr("name too long for the firewall table"));
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

TEST(NftRender, CustomNatChainIsDeclaredFilledThenJumpedTo) {
  auto net = nfttest::defaultNat();
  net.nat->portStart = 20000;
  net.nat->portEnd = 30000;
  auto ls = lines(renderAddNetwork(net, {}, false));
  size_t chain = indexOf(ls, "add chain inet vnet default_nat");
  size_t rule = indexOf(ls, "add rule inet vnet default_nat");
  size_t element = indexOf(ls, "add element inet vnet nat_custom");
  EXPECT_LT(chain, rule);
  EXPECT_LT(rule, element);
  EXPECT_LT(element, ls.size());
  EXPECT_EQ(ls.size(), indexOf(ls, "add element inet vnet masq4"));
}

TEST(NftRender, ReplacingDeletesOnlyWhatIsGone) {
  auto old = nfttest::defaultNat();
  old.nat->portStart = 2000;
  auto now = old;
  now.mode = model::ForwardMode::Isolated;
  now.nat.reset();
  auto ls = lines(renderAddNetwork(now, objectsOf(old), false));
  size_t delElem = indexOf(ls, "delete element inet vnet nat_custom { \"vnbr0\" }");
  size_t delChain = indexOf(ls, "delete chain inet vnet default_nat");
  ASSERT_LT(delChain, ls.size());
  EXPECT_LT(delElem, delChain);
  EXPECT_LT(indexOf(ls, "delete element inet vnet outbound4"), ls.size());
  // Elements both definitions have are not deleted, only added again (a no-op).
  EXPECT_EQ(ls.size(), indexOf(ls, "delete element inet vnet guests"));
  EXPECT_LT(indexOf(ls, "add element inet vnet guests"), ls.size());
  // The same definition again: nothing deleted.
  for (const auto& l : lines(renderAddNetwork(old, objectsOf(old), false))) {
    EXPECT_EQ(std::string::npos, l.find("delete ")) << l;
  }
}

TEST(NftRender, RemoveDeletesElementsBeforeChains) {
  auto net = nfttest::defaultNat();
  net.nat->portStart = 2000;
  auto ls = lines(renderRemoveNetwork(net));
  // guests, guest_pairs, dhcp4, dns, replies4, outbound4, nat_custom; then the chain.
  ASSERT_EQ(8u, ls.size());
  for (size_t i = 0; i < ls.size(); ++i) {
    EXPECT_THAT(ls[i], HasSubstr(i < 7 ? "delete element " : "delete chain ")) << i;
  }
}

TEST(NftRender, IsolatedHasNoWayOutAndNoNat) {
  auto net = nfttest::network("hostonly", model::ForwardMode::Isolated, "vnbr8",
                              {nfttest::ipConfig("10.20.0.1/24", true)});
  EXPECT_THAT(
      elementLines(net),
      ::testing::UnorderedElementsAre(
          "add element inet vnet guests { \"vnbr8\" comment \"hostonly\" }",
          "add element inet vnet guest_pairs { \"vnbr8\" . \"vnbr8\" comment \"hostonly\" }",
          "add element inet vnet dhcp4 { \"vnbr8\" comment \"hostonly\" }",
          "add element inet vnet dns { \"vnbr8\" comment \"hostonly\" }"));
}

TEST(NftRender, RouteHasNoNatAndNoStateCheck) {
  auto net = nfttest::network("routed", model::ForwardMode::Route, "vnbr7",
                              {nfttest::ipConfig("10.10.0.1/24", true)});
  auto els = elementLines(net);
  std::string text;
  for (const auto& l : els) text += l + "\n";
  EXPECT_THAT(text, Not(HasSubstr("masq")));
  EXPECT_THAT(text, Not(HasSubstr("replies")));
  EXPECT_THAT(text, HasSubstr("inbound4 { \"vnbr7\" . 10.10.0.0/24 comment"));
  EXPECT_THAT(text, HasSubstr("outbound4 { \"vnbr7\" . 10.10.0.0/24 comment"));
}

TEST(NftRender, Ipv6IsRoutedUnlessNatIpv6) {
  auto net = nfttest::network("d", model::ForwardMode::Nat, "vnbr1",
                              {nfttest::ipConfig("fd00::1/64", false)});
  std::string routed;
  for (const auto& l : elementLines(net)) routed += l + "\n";
  EXPECT_THAT(routed, Not(HasSubstr("masq6")));
  EXPECT_THAT(routed, HasSubstr("inbound6 { \"vnbr1\" . fd00::/64 comment"));
  net.nat->ipv6 = true;
  std::string natted;
  for (const auto& l : elementLines(net)) natted += l + "\n";
  EXPECT_THAT(natted, HasSubstr("masq6 { \"vnbr1\" . fd00::/64 comment"));
  EXPECT_THAT(natted, HasSubstr("replies6 { \"vnbr1\" . fd00::/64 comment"));
  EXPECT_THAT(natted, HasSubstr("nat_local6 { \"vnbr1\" . fd00::/64 . fd00::/64 comment"));
}

TEST(NftRender, ForwardDevGoesIntoTheKeys) {
  auto net = nfttest::defaultNat();
  net.forwardDev = "eth1";
  std::string text;
  for (const auto& l : elementLines(net)) text += l + "\n";
  EXPECT_THAT(text, HasSubstr("outbound4_dev { \"vnbr0\" . 192.168.122.0/24 . \"eth1\" comment"));
  EXPECT_THAT(text, HasSubstr("masq4_dev { \"vnbr0\" . 192.168.122.0/24 . \"eth1\" comment"));
  EXPECT_THAT(text, Not(HasSubstr("outbound4 {")));
}

TEST(NftRender, SingleNatAddressAndPort) {
  auto net = nfttest::defaultNat();
  net.nat->addressStart = Ipv4::parse("203.0.113.7");
  net.nat->addressEnd = Ipv4::parse("203.0.113.7");
  net.nat->portStart = 5000;
  net.nat->portEnd = 5000;
  EXPECT_THAT(renderAddNetwork(net), HasSubstr("tcp snat ip to 203.0.113.7:5000 comment"));
  EXPECT_THAT(renderAddNetwork(net), HasSubstr("snat ip to 203.0.113.7 comment"));
}

}  // namespace
}  // namespace vnet::kernel::nft

namespace vnet::kernel::nft {
namespace {

TEST(NftRulesUsedBy, ShowsTheRulesOfTheNetworksSetsWithTheirComments) {
  auto nat = nfttest::defaultNat();
  auto iso = nfttest::network("hostonly", model::ForwardMode::Isolated, "vnbr8",
                              {nfttest::ipConfig("10.20.0.1/24", true)});
  std::string listing = renderRuleset({nat, iso});
  auto rules = rulesUsedBy(listing, nat);
  std::vector<std::string> texts;
  for (const auto& r : rules) texts.push_back(r.chain + ": " + r.rule);
  EXPECT_THAT(texts, ::testing::Contains("input: iifname @dhcp4 udp dport 67 accept"));
  EXPECT_THAT(texts, ::testing::Contains("from_guests: iifname . ip saddr @outbound4 accept"));
  EXPECT_THAT(
      texts,
      ::testing::Contains(
          "postrouting: iifname . ip saddr @masq4 meta l4proto tcp masquerade to :1024-65535"));
  EXPECT_THAT(texts, ::testing::Contains("to_guests: reject"));
  EXPECT_THAT(texts, Not(::testing::Contains("input: iifname @dhcp6 udp dport 547 accept")));
  EXPECT_THAT(texts,
              Not(::testing::Contains("from_guests: iifname . ip6 saddr @outbound6 accept")));
  for (const auto& r : rules) EXPECT_FALSE(r.comment.empty()) << r.rule;
  auto masq = std::find_if(rules.begin(), rules.end(), [](const RuleView& r) {
    return r.rule.find("@masq4 masquerade") != std::string::npos;
  });
  ASSERT_NE(masq, rules.end());
  EXPECT_EQ("type nat hook postrouting priority srcnat; policy accept;", masq->hook);
  EXPECT_EQ("nat: masquerade guests, other protocols", masq->comment);

  // The isolated network has no masquerade and no way out.
  for (const auto& r : rulesUsedBy(listing, iso)) {
    EXPECT_EQ(std::string::npos, r.rule.find("masq")) << r.rule;
    EXPECT_EQ(std::string::npos, r.rule.find("@outbound4")) << r.rule;
  }
  // Only a network's own chain is shown, not another network's.
  auto custom = nat;
  custom.nat->portStart = 2000;
  auto other = iso;
  other.name = "other";
  other.mode = model::ForwardMode::Nat;
  other.nat = model::Nat{};
  other.nat->portStart = 3000;
  std::string two = renderRuleset({custom, other});
  for (const auto& r : rulesUsedBy(two, custom)) EXPECT_NE("other_nat", r.chain);
  auto own = rulesUsedBy(two, custom);
  EXPECT_TRUE(std::any_of(own.begin(), own.end(),
                          [](const RuleView& r) { return r.chain == "default_nat"; }));
}

}  // namespace
}  // namespace vnet::kernel::nft
