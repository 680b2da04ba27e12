// The trace chains' batches and the parsing of listings used to annotate trace events.
#include "kernel/nft/trace_rules.h"

#include <gtest/gtest.h>

#include "kernel/nft/render.h"
#include "kernel/nft/trace_listing.h"

namespace vnet::kernel::nft {
namespace {

TraceMatch match() {
  TraceMatch m;
  m.id = 3;
  m.bridge = "vnbr0";
  m.guestMac = *Mac::parse("52:54:00:aa:bb:cc");
  return m;
}

TEST(TraceRules, ChainNamesAreRecognisedExactly) {
  EXPECT_EQ(traceChainName(3), "trace_3");
  EXPECT_EQ(traceReplyChainName(3), "trace_3_reply");
  EXPECT_TRUE(isTraceChain("trace_3"));
  EXPECT_TRUE(isTraceChain("trace_12_reply"));
  EXPECT_EQ(traceIdOfChain("trace_12_reply"), 12u);
  // A network named "trace" owns trace_in, trace_fwd_out, ...; never trace chains.
  for (const auto& c : possibleChains("trace")) EXPECT_FALSE(isTraceChain(c)) << c;
  for (const auto& c : possibleChains("trace_1")) EXPECT_FALSE(isTraceChain(c)) << c;
  for (const char* c : {"trace_", "trace_x", "trace_03", "trace_3_replyx", "trace_3_in", "forward",
                        "trace_1234567890"}) {
    EXPECT_FALSE(isTraceChain(c)) << c;
  }
}

TEST(TraceRules, AddBatchCreatesBothChainsAndTheGuestRule) {
  TraceMatch m = match();
  m.to = IpAddress::parse("198.51.100.1");
  m.proto = "icmp";
  EXPECT_EQ(
      renderAddTrace(m),
      "add table inet vnet\n"
      "add chain inet vnet trace_3 { type filter hook prerouting priority -350; policy accept; }\n"
      "add chain inet vnet trace_3_reply { type filter hook prerouting priority -150; policy "
      "accept; }\n"
      "flush chain inet vnet trace_3\n"
      "flush chain inet vnet trace_3_reply\n"
      "add rule inet vnet trace_3 iifname \"vnbr0\" ether saddr 52:54:00:aa:bb:cc ip daddr "
      "198.51.100.1 meta l4proto icmp meta nftrace set 1 comment \"vnet trace 3: from the "
      "guest\"\n");
}

TEST(TraceRules, ReplyRuleNeedsTheGuestAddress) {
  TraceMatch m = match();
  EXPECT_EQ(traceReplyRule(m), "");
  m.guestIp = IpAddress::parse("192.168.122.10");
  m.proto = "tcp";
  EXPECT_EQ(traceReplyRule(m),
            "ct direction reply ct original ip saddr 192.168.122.10 meta l4proto tcp meta nftrace "
            "set 1 comment \"vnet trace 3: replies to the guest\"");
  EXPECT_NE(renderAddTrace(m).find("add rule inet vnet trace_3_reply ct direction reply"),
            std::string::npos);
  EXPECT_EQ(renderFollowReplies(m),
            "flush chain inet vnet trace_3_reply\nadd rule inet vnet trace_3_reply " +
                traceReplyRule(m) + "\n");
  // --to of the other family: no reply rule at all.
  m.to = IpAddress::parse("2001:db8::1");
  EXPECT_EQ(traceReplyRule(m), "");
}

TEST(TraceRules, IcmpFollowsTheFamily) {
  TraceMatch m = match();
  m.proto = "icmp";
  EXPECT_NE(traceRule(m).find("meta l4proto icmp meta nftrace"), std::string::npos);
  m.proto = "icmpv6";
  EXPECT_NE(traceRule(m).find("meta l4proto ipv6-icmp meta nftrace"), std::string::npos);
  m.proto = "icmp";
  m.to = IpAddress::parse("2001:db8::1");
  EXPECT_NE(traceRule(m).find("ip6 daddr 2001:db8::1 meta l4proto ipv6-icmp"), std::string::npos);
}

TEST(TraceRules, AdoptedTapsMatchTheLowFiveBytes) {
  TraceMatch m = match();
  m.guestMac = *Mac::parse("fe:54:00:aa:bb:cc");
  m.macLow5Only = true;
  EXPECT_NE(traceRule(m).find("ether saddr & 00:ff:ff:ff:ff:ff == 00:54:00:aa:bb:cc"),
            std::string::npos);
}

TEST(TraceRules, RemoveDeletesOnlyTraceChains) {
  EXPECT_EQ(renderRemoveTrace(7),
            "delete chain inet vnet trace_7\ndelete chain inet vnet trace_7_reply\n");
  EXPECT_EQ(renderRemoveTraceChains({"forward", "trace_2", "default_in", "trace_in"}),
            "delete chain inet vnet trace_2\n");
  EXPECT_EQ(renderRemoveTraceChains({"forward"}), "");
}

TEST(TraceRules, RefusesWhatCannotBeEmbedded) {
  TraceMatch m = match();
  m.bridge = "br\"0";
  EXPECT_FALSE(checkTraceMatch(m).ok());
  m = match();
  m.proto = "sctp";
  EXPECT_FALSE(checkTraceMatch(m).ok());
  EXPECT_TRUE(checkTraceMatch(match()).ok());
}

TEST(TraceListing, RuleHandlesFromATextListing) {
  const char* text =
      "table ip filter { # handle 4\n"
      "\tchain FORWARD { # handle 1\n"
      "\t\ttype filter hook forward priority filter; policy drop;\n"
      "\t\tip saddr 192.168.122.0/24 drop comment \"x # handle 9\" # handle 2\n"
      "\t\tct state established accept # handle 3\n"
      "\t}\n"
      "}\n";
  auto rules = parseRuleHandles(text);
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[2], "ip saddr 192.168.122.0/24 drop comment \"x # handle 9\"");
  EXPECT_EQ(rules[3], "ct state established accept");
}

TEST(TraceListing, ChainHookFromJson) {
  auto c = parseChainJson(
      R"({"nftables": [{"metainfo": {"version": "1.0.6"}}, {"chain": {"family": "ip", "table": "filter",
      "name": "FORWARD", "handle": 1, "type": "filter", "hook": "forward", "prio": 0, "policy": "drop"}}]})");
  EXPECT_EQ(c.hook, "forward");
  EXPECT_EQ(c.type, "filter");
  EXPECT_EQ(c.priority, 0);
  auto regular = parseChainJson(
      R"({"nftables": [{"chain": {"family": "inet", "table": "vnet", "name": "default_in", "handle": 9}}]})");
  EXPECT_EQ(regular.hook, "");
  EXPECT_FALSE(regular.priority);
  EXPECT_EQ(parseChainJson("not json").hook, "");
}

TEST(TraceListing, ChainNames) {
  auto names = chainNamesOf(
      R"({"nftables": [{"table": {"name": "vnet"}}, {"chain": {"name": "forward"}}, {"chain": {"name": "trace_1"}}, {"rule": {"chain": "x"}}]})");
  EXPECT_EQ(names, (std::vector<std::string>{"forward", "trace_1"}));
}

}  // namespace
}  // namespace vnet::kernel::nft
