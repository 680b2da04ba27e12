// Trace stream records: JSON lines round trip, and the text vnetctl prints for them.
#include "api/trace_record.h"

#include <gtest/gtest.h>

namespace vnet::api {
namespace {

TraceStep step(std::string hook, std::string family, std::string table, std::string chain,
               std::string kind, std::string rule, std::string verdict, std::string target = "") {
  TraceStep s;
  s.hook = std::move(hook);
  s.family = std::move(family);
  s.table = std::move(table);
  s.chain = std::move(chain);
  s.kind = std::move(kind);
  s.rule = std::move(rule);
  s.verdict = std::move(verdict);
  s.target = std::move(target);
  s.handle = s.kind == "rule" ? 7 : 0;
  s.ours = s.family == "inet" && s.table == "vnet";
  return s;
}

TracePacket natPacket() {
  TracePacket p;
  p.seq = 1;
  p.traceId = 0x1a2b3c4d;
  p.direction = "from-guest";
  p.packet.family = "ipv4";
  p.packet.src = "192.168.122.10";
  p.packet.dst = "198.51.100.1";
  p.packet.proto = "icmp";
  p.packet.icmpType = 8;
  p.packet.icmpCode = 0;
  p.packet.icmpId = 4550;
  p.packet.icmpSeq = 1;
  p.packet.length = 84;
  auto trace =
      step("prerouting", "inet", "vnet", "trace_3", "rule",
           "iifname \"vnbr0\" ether saddr 52:54:00:aa:bb:cc meta nftrace set 1", "continue");
  trace.trace = true;
  trace.iif = "vnbr0";
  trace.priority = -350;
  auto tracePolicy = step("prerouting", "inet", "vnet", "trace_3", "policy", "", "accept");
  tracePolicy.trace = true;
  auto fwd = step("forward", "inet", "vnet", "forward", "rule",
                  "iifname vmap @forward_iif comment \"from guests: then the sending network\"",
                  "jump", "default_fwd_in");
  fwd.iif = "vnbr0";
  fwd.oif = "uplink0";
  p.steps = {trace, tracePolicy, fwd,
             step("forward", "inet", "vnet", "default_fwd_in", "rule",
                  "ip saddr 192.168.122.0/24 accept comment \"default: guests in 192.168.122.0/24 "
                  "to outside\"",
                  "accept"),
             step("postrouting", "inet", "vnet", "default_nat", "rule",
                  "ip saddr 192.168.122.0/24 ip daddr != 192.168.122.0/24 masquerade", "accept")};
  p.nat.push_back({"snat", "192.168.122.10", "203.0.113.2", "uplink0",
                   "192.168.122.10 \xe2\x86\x92 198.51.100.1 leaves uplink0 as 203.0.113.2"});
  p.fate.verdict = "accepted";
  p.fate.oif = "uplink0";
  return p;
}

TEST(TraceRecord, PacketRoundTripsThroughJson) {
  TracePacket p = natPacket();
  std::string line = traceLine(p);
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one record, one line";
  auto back = parseTraceLine(line);
  ASSERT_TRUE(back.ok()) << back.error().message();
  const auto& q = std::get<TracePacket>(*back);
  EXPECT_EQ(q.seq, 1u);
  EXPECT_EQ(q.traceId, 0x1a2b3c4du);
  EXPECT_EQ(q.packet.icmpId, 4550);
  ASSERT_EQ(q.steps.size(), p.steps.size());
  EXPECT_EQ(q.steps[2].target, "default_fwd_in");
  EXPECT_EQ(q.steps[0].priority, -350);
  EXPECT_TRUE(q.steps[0].trace);
  EXPECT_TRUE(q.steps[3].ours);
  EXPECT_EQ(q.nat.at(0).after, "203.0.113.2");
  EXPECT_EQ(q.fate.oif, "uplink0");
  EXPECT_EQ(traceLine(q), line);
}

TEST(TraceRecord, OtherRecordsRoundTrip) {
  TraceStart s;
  s.id = 3;
  s.network = "default";
  s.port = "vnet0";
  s.guestMac = "52:54:00:aa:bb:cc";
  s.count = 2;
  s.rules = {"trace_3: iifname ..."};
  auto back = parseTraceLine(traceLine(s));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(std::get<TraceStart>(*back).rules, s.rules);
  auto end = parseTraceLine(traceLine(TraceEnd{"count", 2, ""}));
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(std::get<TraceEnd>(*end).packets, 2u);
  auto note = parseTraceLine(traceLine(TraceNote{"hello"}));
  ASSERT_TRUE(note.ok());
  EXPECT_EQ(std::get<TraceNote>(*note).message, "hello");
}

TEST(TraceRecord, BadLinesAreErrors) {
  EXPECT_FALSE(parseTraceLine("").ok());
  EXPECT_FALSE(parseTraceLine("[1]").ok());
  EXPECT_FALSE(parseTraceLine(R"({"type": "weird"})").ok());
  EXPECT_FALSE(parseTraceLine(R"({"type": "packet", "packet": {"seq": "x"}})").ok());
  EXPECT_FALSE(parseTraceLine(R"({"type": "start"})").ok());
}

TEST(TraceRecord, TextOfAnAcceptedNattedPacket) {
  std::string t = renderText(natPacket());
  EXPECT_EQ(t.rfind("Packet 1 from the guest: 192.168.122.10 \xe2\x86\x92 198.51.100.1 icmp "
                    "echo-request id 4550 seq 1, 84 bytes (trace id 1a2b3c4d)\n",
                    0),
            0u)
      << t;
  EXPECT_NE(t.find("  forward     inet vnet forward        rule  iifname vmap @forward_iif"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("\xe2\x86\x92 jump default_fwd_in   [in vnbr0, out uplink0]\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("default_nat"), std::string::npos);
  EXPECT_NE(t.find("masquerade  \xe2\x86\x92 accept\n"), std::string::npos) << t;
  EXPECT_NE(t.find("  NAT: 192.168.122.10 \xe2\x86\x92 198.51.100.1 leaves uplink0 as 203.0.113.2"),
            std::string::npos);
  EXPECT_NE(t.find("  Fate: accepted by every chain it met, leaves by uplink0\n"),
            std::string::npos);
  // The trace chain's own policy line is left out of the text.
  EXPECT_EQ(t.find("policy accept"), std::string::npos) << t;
  EXPECT_EQ(t.substr(t.size() - 2), "\n\n");
}

TEST(TraceRecord, TextNamesWhatDroppedThePacket) {
  TracePacket p = natPacket();
  p.steps.resize(3);
  p.steps.push_back(step("forward", "ip", "filter", "FORWARD", "policy", "", "drop"));
  p.nat.clear();
  p.fate = TraceFate{"dropped", "forward", "ip", "filter", "FORWARD", "policy", "", 0, ""};
  std::string t = renderText(p);
  EXPECT_NE(t.find("  forward    ip filter FORWARD policy drop\n"), std::string::npos) << t;
  EXPECT_NE(
      t.find("  Fate: DROPPED by the policy of chain FORWARD of table ip filter, hook forward\n"),
      std::string::npos)
      << t;

  p.fate = TraceFate{
      "dropped", "forward", "ip", "filter", "FORWARD", "rule", "ip saddr 192.168.122.0/24 drop",
      2,         ""};
  t = renderText(p);
  EXPECT_NE(t.find("  Fate: DROPPED by rule \"ip saddr 192.168.122.0/24 drop\" (handle 2) in chain "
                   "FORWARD of table ip filter, hook forward\n"),
            std::string::npos)
      << t;
}

TEST(TraceRecord, TextOfStartAndEnd) {
  TraceStart s;
  s.id = 3;
  s.network = "default";
  s.port = "vnet0";
  s.guestMac = "52:54:00:aa:bb:cc";
  s.proto = "icmp";
  s.count = 2;
  s.rules = {"trace_3 (prerouting, priority -350): iifname ..."};
  EXPECT_EQ(renderText(s),
            "Tracing port vnet0 of network default (guest 52:54:00:aa:bb:cc): icmp packets, for 2 "
            "packets (trace 3).\nTrace rules in table inet vnet (removed when the trace ends):\n"
            "  trace_3 (prerouting, priority -350): iifname ...\n\n");
  EXPECT_EQ(
      renderText(TraceEnd{"count", 2, ""}),
      "Trace ended (the packet count was reached): 2 packets shown; its rules were removed.\n");
}

TEST(TraceRecord, PacketDescriptions) {
  PacketInfo tcp;
  tcp.family = "ipv4";
  tcp.src = "192.168.122.10";
  tcp.dst = "198.51.100.1";
  tcp.proto = "tcp";
  tcp.sport = 40000;
  tcp.dport = 80;
  tcp.tcpFlags = "S";
  EXPECT_EQ(tcp.endpoints(), "192.168.122.10:40000 \xe2\x86\x92 198.51.100.1:80");
  EXPECT_EQ(tcp.describe(), "tcp [S]");
  PacketInfo v6;
  v6.family = "ipv6";
  v6.src = "fd00::10";
  v6.dst = "2001:db8::1";
  v6.proto = "udp";
  v6.sport = 5353;
  v6.dport = 53;
  EXPECT_EQ(v6.endpoints(), "[fd00::10]:5353 \xe2\x86\x92 [2001:db8::1]:53");
  PacketInfo unreach;
  unreach.family = "ipv4";
  unreach.proto = "icmp";
  unreach.icmpType = 3;
  unreach.icmpCode = 3;
  EXPECT_EQ(unreach.describe(), "icmp destination-unreachable code 3");
}

}  // namespace
}  // namespace vnet::api
