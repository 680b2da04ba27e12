// Grouping fabricated trace events into packets, header parsing, fate and NAT.
#include "daemon/trace_assembler.h"

#include <gtest/gtest.h>
#include <netinet/in.h>

#include "testing/trace_events.h"

namespace vnet::daemon {
namespace {

using namespace vnet::testing;
using namespace std::chrono_literals;
using Clock = TraceAssembler::Clock;

const std::string kArrow = "\xe2\x86\x92";

// The events the kernel sends for one ping a guest sends out through a NAT network.
std::vector<kernel::TraceEvent> pingOut(uint32_t id, uint16_t seq) {
  auto ip = ipv4Header("192.168.122.10", "198.51.100.1", IPPROTO_ICMP);
  auto icmp = icmpEcho(8, 77, seq);
  return {
      inTraceChain(withPacket(ruleEvent(id, "inet", "vnet", "trace_3", "prerouting",
                                        "iifname \"vnbr0\" ... meta nftrace set 1", "continue"),
                              ip, icmp, "vnbr0"),
                   3),
      inTraceChain(policyEvent(id, "inet", "vnet", "trace_3", "prerouting", "accept"), 3),
      withPacket(ruleEvent(id, "inet", "vnet", "forward", "forward", "iifname vmap @forward_iif",
                           "jump", "default_fwd_in"),
                 ip, icmp, "vnbr0", "uplink0"),
      ruleEvent(id, "inet", "vnet", "default_fwd_in", "", "ip saddr 192.168.122.0/24 accept",
                "accept"),
      withPacket(ruleEvent(id, "inet", "vnet", "postrouting", "postrouting",
                           "ip saddr vmap @postrouting_saddr4", "jump", "default_nat"),
                 ip, icmp, "", "uplink0"),
      ruleEvent(id, "inet", "vnet", "default_nat", "", "ip saddr 192.168.122.0/24 masquerade",
                "accept"),
  };
}

TEST(TraceAssembler, GroupsOnePacketPerTraceId) {
  TraceAssembler a(100ms);
  Clock::time_point t0{};
  for (const auto& e : pingOut(0xaa, 1)) a.add(e, t0);
  EXPECT_TRUE(a.take(t0 + 50ms).empty()) << "not settled yet";
  EXPECT_EQ(a.nextDeadline(), t0 + 100ms);
  auto done = a.take(t0 + 100ms);
  ASSERT_EQ(done.size(), 1u);
  const auto& p = done[0];
  EXPECT_EQ(p.traces, std::vector<unsigned>{3});
  EXPECT_FALSE(p.toGuest);
  EXPECT_EQ(p.packet.traceId, 0xaau);
  EXPECT_EQ(p.packet.direction, "from-guest");
  EXPECT_EQ(p.packet.packet.src, "192.168.122.10");
  EXPECT_EQ(p.packet.packet.icmpSeq, 1);
  ASSERT_EQ(p.packet.steps.size(), 6u);
  // Regular chains take the hook of the base chain that jumped to them.
  EXPECT_EQ(p.packet.steps[3].chain, "default_fwd_in");
  EXPECT_EQ(p.packet.steps[3].hook, "forward");
  EXPECT_EQ(p.packet.steps[5].hook, "postrouting");
  EXPECT_TRUE(p.packet.steps[0].trace);
  EXPECT_TRUE(p.packet.steps[5].ours);
  EXPECT_EQ(p.packet.fate.verdict, "accepted");
  EXPECT_EQ(p.packet.fate.oif, "uplink0");
  ASSERT_TRUE(p.first.tuple);
  EXPECT_EQ(p.first.tuple->sport, 77);
  EXPECT_EQ(p.first.tuple->icmpType, 8);
  EXPECT_EQ(a.open(), 0u);
}

TEST(TraceAssembler, InterleavedPacketsStayApartAndInOrder) {
  TraceAssembler a(100ms);
  Clock::time_point t0{};
  auto one = pingOut(1, 1), two = pingOut(2, 2);
  for (size_t i = 0; i < one.size(); ++i) {
    a.add(one[i], t0);
    a.add(two[i], t0 + 1ms);
  }
  auto done = a.take(t0 + 1s);
  ASSERT_EQ(done.size(), 2u);
  EXPECT_EQ(done[0].packet.traceId, 1u);
  EXPECT_EQ(done[1].packet.traceId, 2u);
  EXPECT_EQ(done[0].packet.steps.size(), 6u);
  EXPECT_EQ(done[1].packet.packet.icmpSeq, 2);
}

TEST(TraceAssembler, AReusedIdStartsANewPacket) {
  // The id is a hash over the skb; a later packet of the same flow may get the same one.
  TraceAssembler a(100ms);
  Clock::time_point t0{};
  for (const auto& e : pingOut(5, 1)) a.add(e, t0);
  for (const auto& e : pingOut(5, 2)) a.add(e, t0 + 10ms);
  auto first = a.take(t0 + 20ms);
  ASSERT_EQ(first.size(), 1u) << "the first is complete as soon as the second begins";
  EXPECT_EQ(first[0].packet.packet.icmpSeq, 1);
  EXPECT_EQ(first[0].packet.steps.size(), 6u);
  auto second = a.take(t0 + 200ms);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].packet.packet.icmpSeq, 2);
}

TEST(TraceAssembler, OlderOpenPacketsHoldBackNewerOnes) {
  TraceAssembler a(100ms);
  Clock::time_point t0{};
  auto one = pingOut(1, 1);
  a.add(one[0], t0);
  for (const auto& e : pingOut(2, 2)) a.add(e, t0);
  a.add(one[1], t0 + 90ms);
  EXPECT_TRUE(a.take(t0 + 150ms).empty());
  EXPECT_EQ(a.take(t0 + 190ms).size(), 2u);
}

TEST(TraceAssembler, PacketsNoTraceMarkedAreDropped) {
  TraceAssembler a(100ms);
  Clock::time_point t0{};
  auto ip = ipv4Header("10.0.0.1", "10.0.0.2", IPPROTO_ICMP);
  a.add(withPacket(policyEvent(9, "ip", "filter", "INPUT", "input", "accept"), ip,
                   icmpEcho(8, 1, 1), "eth0"),
        t0);
  EXPECT_TRUE(a.take(t0 + 1s).empty());
  EXPECT_EQ(a.open(), 0u);
}

TEST(TraceAssembler, FateNamesTheForeignDrop) {
  TraceAssembler a(100ms);
  Clock::time_point t0{};
  auto events = pingOut(1, 1);
  events.resize(4);
  events.push_back(withPacket(policyEvent(1, "ip", "filter", "FORWARD", "forward", "drop"),
                              ipv4Header("192.168.122.10", "198.51.100.1", IPPROTO_ICMP),
                              icmpEcho(8, 77, 1), "vnbr0", "uplink0"));
  for (const auto& e : events) a.add(e, t0);
  auto done = a.takeAll();
  ASSERT_EQ(done.size(), 1u);
  const auto& f = done[0].packet.fate;
  EXPECT_EQ(f.verdict, "dropped");
  EXPECT_EQ(f.family, "ip");
  EXPECT_EQ(f.table, "filter");
  EXPECT_EQ(f.chain, "FORWARD");
  EXPECT_EQ(f.hook, "forward");
  EXPECT_EQ(f.by, "policy");
  EXPECT_EQ(f.oif, "");

  std::vector<api::TraceStep> steps(1);
  steps[0].kind = "rule";
  steps[0].verdict = "drop";
  steps[0].rule = "ip saddr 192.168.122.0/24 drop";
  steps[0].handle = 4;
  steps[0].chain = "FORWARD";
  auto byRule = fateOf(steps);
  EXPECT_EQ(byRule.by, "rule");
  EXPECT_EQ(byRule.rule, "ip saddr 192.168.122.0/24 drop");
  EXPECT_EQ(byRule.handle, 4u);
}

TEST(TraceAssembler, RepliesAreMarkedToGuestAndShowTheirTranslation) {
  TraceAssembler a(100ms);
  Clock::time_point t0{};
  a.add(inTraceChain(withPacket(ruleEvent(4, "inet", "vnet", "trace_3_reply", "prerouting",
                                          "ct direction reply ...", "continue"),
                                ipv4Header("198.51.100.1", "203.0.113.2", IPPROTO_ICMP),
                                icmpEcho(0, 77, 1), "uplink0"),
                     3, true),
        t0);
  a.add(withPacket(ruleEvent(4, "inet", "vnet", "forward", "forward", "oifname vmap @forward_oif",
                             "jump", "default_fwd_out"),
                   ipv4Header("198.51.100.1", "192.168.122.10", IPPROTO_ICMP), icmpEcho(0, 77, 1),
                   "uplink0", "vnbr0"),
        t0);
  auto done = a.takeAll();
  ASSERT_EQ(done.size(), 1u);
  EXPECT_TRUE(done[0].toGuest);
  EXPECT_EQ(done[0].packet.direction, "to-guest");
  ASSERT_EQ(done[0].packet.nat.size(), 1u);
  EXPECT_EQ(done[0].packet.nat[0].kind, "reply");
  EXPECT_EQ(
      done[0].packet.nat[0].text,
      "198.51.100.1 " + kArrow + " 203.0.113.2 is delivered to 192.168.122.10 (seen at forward)");
}

// Linux 6.x gives a forwarded packet a new trace id after prerouting.
std::vector<kernel::TraceEvent> withIds(std::vector<kernel::TraceEvent> events, uint32_t pre,
                                        uint32_t later) {
  for (auto& e : events)
    e.id = e.hook == "prerouting" || e.chain.starts_with("trace_") ? pre : later;
  return events;
}

TEST(TraceAssembler, AnIdChangedBetweenHooksIsStitchedToItsPacket) {
  TraceAssembler a(100ms);
  Clock::time_point t0{};
  for (const auto& e : withIds(pingOut(0, 1), 0x11, 0x22)) a.add(e, t0);
  auto done = a.takeAll();
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].packet.steps.size(), 6u);
  EXPECT_EQ(done[0].packet.traceId, 0x11u);
  EXPECT_EQ(done[0].packet.steps.back().chain, "default_nat");
  EXPECT_EQ(done[0].packet.fate.oif, "uplink0");
}

TEST(TraceAssembler, ARepliesNewIdIsStitchedThoughItsDestinationChanged) {
  TraceAssembler a(100ms);
  Clock::time_point t0{};
  a.add(inTraceChain(withPacket(ruleEvent(4, "inet", "vnet", "trace_3_reply", "prerouting",
                                          "ct direction reply ...", "continue"),
                                ipv4Header("198.51.100.1", "203.0.113.2", IPPROTO_ICMP),
                                icmpEcho(0, 77, 1), "uplink0"),
                     3, true),
        t0);
  // NAT changed the echo id too; the sequence, IP id and length stay.
  a.add(withPacket(policyEvent(5, "inet", "vnet", "forward", "forward", "accept"),
                   ipv4Header("198.51.100.1", "192.168.122.10", IPPROTO_ICMP), icmpEcho(0, 99, 1),
                   "uplink0", "vnbr0"),
        t0 + 1ms);
  auto done = a.takeAll();
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].packet.steps.size(), 2u);
}

TEST(TraceAssembler, UnrelatedPacketsAreNotStitched) {
  TraceAssembler a(100ms);
  Clock::time_point t0{};
  auto events = pingOut(1, 1);
  a.add(events[0], t0);
  // Another packet (another IP length), another id, at a later hook: not a continuation.
  a.add(withPacket(ruleEvent(2, "inet", "vnet", "forward", "forward", "x", "accept"),
                   ipv4Header("192.168.122.10", "198.51.100.1", IPPROTO_ICMP, 100),
                   icmpEcho(8, 77, 1), "vnbr0", "uplink0"),
        t0);
  // Same identity, but seen after the first packet settled.
  a.add(withPacket(ruleEvent(3, "inet", "vnet", "forward", "forward", "x", "accept"),
                   ipv4Header("192.168.122.10", "198.51.100.1", IPPROTO_ICMP), icmpEcho(8, 77, 1),
                   "vnbr0", "uplink0"),
        t0 + 200ms);
  EXPECT_EQ(a.open(), 3u);
  auto done = a.takeAll();
  ASSERT_EQ(done.size(), 1u) << "only the first was marked by a trace";
  EXPECT_EQ(done[0].packet.steps.size(), 1u);
}

TEST(TraceAssembler, RuleEventsWithoutARuleAreNotSteps) {
  TraceAssembler a(100ms);
  Clock::time_point t0{};
  auto events = pingOut(1, 1);
  auto end = inTraceChain(ruleEvent(1, "inet", "vnet", "trace_3", "prerouting", "", "continue"), 3);
  end.handle = 0;
  a.add(events[0], t0);
  a.add(end, t0);
  auto reply = inTraceChain(
      withPacket(ruleEvent(1, "inet", "vnet", "trace_3_reply", "prerouting", "", "continue"),
                 ipv4Header("192.168.122.10", "198.51.100.1", IPPROTO_ICMP), icmpEcho(8, 77, 1),
                 "vnbr0"),
      3, true);
  reply.handle = 0;
  a.add(reply, t0);
  auto done = a.takeAll();
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].packet.steps.size(), 1u);
  EXPECT_FALSE(done[0].toGuest) << "passing the reply chain unmatched is not a reply";
}

TEST(TraceAssembler, NatFromConntrack) {
  kernel::FlowTuple orig{*IpAddress::parse("192.168.122.10"), *IpAddress::parse("198.51.100.1"),
                         IPPROTO_TCP, 40000, 80};
  kernel::FlowTuple reply{*IpAddress::parse("198.51.100.1"), *IpAddress::parse("203.0.113.2"),
                          IPPROTO_TCP, 80, 40001};
  auto nat = natFromConntrack(orig, {orig, reply}, "uplink0");
  ASSERT_TRUE(nat);
  EXPECT_EQ(nat->kind, "snat");
  EXPECT_EQ(nat->before, "192.168.122.10:40000");
  EXPECT_EQ(nat->after, "203.0.113.2:40001");
  EXPECT_EQ(nat->text,
            "192.168.122.10 " + kArrow +
                " 198.51.100.1 leaves uplink0 as 203.0.113.2:40001 (source NAT by conntrack)");

  kernel::FlowTuple icmp{*IpAddress::parse("192.168.122.10"),
                         *IpAddress::parse("198.51.100.1"),
                         IPPROTO_ICMP,
                         77,
                         0,
                         8,
                         0};
  kernel::FlowTuple icmpReply{*IpAddress::parse("198.51.100.1"), *IpAddress::parse("203.0.113.2"),
                              IPPROTO_ICMP};
  auto n2 = natFromConntrack(icmp, {icmp, icmpReply}, "uplink0");
  ASSERT_TRUE(n2);
  EXPECT_EQ(n2->after, "203.0.113.2");
  EXPECT_EQ(n2->text, "192.168.122.10 " + kArrow +
                          " 198.51.100.1 leaves uplink0 as 203.0.113.2 (source NAT by conntrack)");
  kernel::FlowTuple icmpPlain{icmp.dst, icmp.src, IPPROTO_ICMP};
  EXPECT_FALSE(natFromConntrack(icmp, {icmp, icmpPlain}, "uplink0"));

  // Routed, not translated: nothing to say.
  kernel::FlowTuple plainReply{orig.dst, orig.src, IPPROTO_TCP, 80, 40000};
  EXPECT_FALSE(natFromConntrack(orig, {orig, plainReply}, "uplink0"));
}

TEST(TraceAssembler, ParsesHeadersAndSurvivesGarbage) {
  auto tcp =
      parsePacket(ipv4Header("10.0.0.1", "10.0.0.2", IPPROTO_TCP, 60), tcpHeader(40000, 80, 0x12));
  EXPECT_EQ(tcp.info.family, "ipv4");
  EXPECT_EQ(tcp.info.proto, "tcp");
  EXPECT_EQ(tcp.info.sport, 40000);
  EXPECT_EQ(tcp.info.dport, 80);
  EXPECT_EQ(tcp.info.tcpFlags, "SA");
  EXPECT_EQ(tcp.info.length, 60u);
  ASSERT_TRUE(tcp.tuple);
  EXPECT_EQ(tcp.tuple->dport, 80);

  std::vector<uint8_t> v6(40, 0);
  v6[0] = 0x60;
  v6[5] = 20;
  v6[6] = IPPROTO_UDP;
  v6[8] = 0xfd;
  v6[39] = 1;
  std::vector<uint8_t> udp = {0x14, 0xe9, 0x00, 0x35};
  auto udp6 = parsePacket(v6, udp);
  EXPECT_EQ(udp6.info.family, "ipv6");
  EXPECT_EQ(udp6.info.src, "fd00::");
  EXPECT_EQ(udp6.info.dst, "::1");
  EXPECT_EQ(udp6.info.dport, 53);
  EXPECT_EQ(udp6.info.length, 60u);

  // Short, empty or odd bytes give partial results, never a crash.
  EXPECT_EQ(parsePacket({}, {}).info.family, "");
  auto header = ipv4Header("10.0.0.1", "10.0.0.2", IPPROTO_ICMP);
  for (size_t n = 0; n <= header.size(); ++n) {
    std::vector<uint8_t> one = {8};
    auto p = parsePacket(std::span(header.data(), n), one);
    EXPECT_FALSE(p.tuple);
  }
  std::vector<uint8_t> badIhl = header;
  badIhl[0] = 0x41;
  EXPECT_EQ(parsePacket(badIhl, {}).info.family, "");
}

}  // namespace
}  // namespace vnet::daemon
