#include "doctor/traffic.h"

#include <gtest/gtest.h>

#include "doctor_test_util.h"

namespace vnet::doctor {
namespace {

// --- JSON builders for small rulesets -------------------------------------------------

std::string baseChain(const std::string& name, const std::string& hook, const std::string& policy,
                      int prio = 0, const std::string& type = "filter",
                      const std::string& family = "inet") {
  return R"({"chain": {"family": ")" + family + R"(", "table": "t", "name": ")" + name +
         R"(", "type": ")" + type + R"(", "hook": ")" + hook + R"(", "prio": )" +
         std::to_string(prio) + R"(, "policy": ")" + policy + R"("}})";
}
std::string chain(const std::string& name, const std::string& family = "inet") {
  return R"({"chain": {"family": ")" + family + R"(", "table": "t", "name": ")" + name + R"("}})";
}
int nextHandle = 100;
std::string rule(const std::string& chainName, const std::string& exprs,
                 const std::string& family = "inet") {
  return R"({"rule": {"family": ")" + family + R"(", "table": "t", "chain": ")" + chainName +
         R"(", "handle": )" + std::to_string(nextHandle++) + R"(, "expr": [)" + exprs + "]}}";
}
std::string match(const std::string& left, const std::string& right, const std::string& op = "==") {
  return R"({"match": {"op": ")" + op + R"(", "left": )" + left + R"(, "right": )" + right + "}}";
}
std::string meta(const std::string& key) {
  return R"({"meta": {"key": ")" + key + R"("}})";
}
std::string payload(const std::string& proto, const std::string& field) {
  return R"({"payload": {"protocol": ")" + proto + R"(", "field": ")" + field + R"("}})";
}
const std::string kCtState = R"({"ct": {"key": "state"}})";
const std::string kDrop = R"({"drop": null})";
const std::string kAccept = R"({"accept": null})";
const std::string kReturn = R"({"return": null})";
std::string jump(const std::string& t) {
  return R"({"jump": {"target": ")" + t + R"("}})";
}
std::string go(const std::string& t) {
  return R"({"goto": {"target": ")" + t + R"("}})";
}

// A new udp DNS query from a guest of 192.168.122.0/24 through the forward hook.
Packet guestPacket() {
  Packet p;
  p.iif = "vnbr0";
  p.oif = "uplink0";
  p.saddr = Cidr::parse("192.168.122.10/32");
  p.daddr = Cidr::parse("198.51.100.1/32");
  p.l4 = "udp";
  p.sport = 40000;
  p.dport = 53;
  p.ct = "new";
  return p;
}

ChainVerdict run(const std::string& items, const Packet& p = guestPacket(),
                 const std::string& base = "fwd") {
  static Ruleset rs;  // sources point into it
  rs = testutil::rulesetOf(items);
  const NftChain* c = rs.findChain("inet", "t", base);
  if (!c) c = rs.findChain("ip", "t", base);
  if (!c) c = rs.findChain("bridge", "t", base);
  EXPECT_NE(c, nullptr);
  return c ? evaluate(rs, *c, p) : ChainVerdict{};
}

enum class Is { Kept, MaybeDropped, Dropped };
Is outcome(const ChainVerdict& v) {
  return v.dropsAll ? Is::Dropped : v.mayDrop ? Is::MaybeDropped : Is::Kept;
}

const std::string kFwdAccept = baseChain("fwd", "forward", "accept");
const std::string kFwdDrop = baseChain("fwd", "forward", "drop");

// --- interface names ------------------------------------------------------------------

TEST(Traffic, InterfaceNamesExactWildcardEscapedAndNegated) {
  EXPECT_EQ(outcome(run(kFwdAccept + "," +
                        rule("fwd", match(meta("iifname"), R"("vnbr0")") + "," + kDrop))),
            Is::Dropped);
  EXPECT_EQ(outcome(run(kFwdAccept + "," +
                        rule("fwd", match(meta("iifname"), R"("vnbr*")") + "," + kDrop))),
            Is::Dropped);
  EXPECT_EQ(outcome(run(kFwdAccept + "," +
                        rule("fwd", match(meta("iifname"), R"("docker0")") + "," + kDrop))),
            Is::Kept);
  EXPECT_EQ(outcome(run(kFwdAccept + "," +
                        rule("fwd", match(meta("iifname"), R"("vnbr\\*")") + "," + kDrop))),
            Is::Kept);
  EXPECT_EQ(outcome(run(kFwdAccept + "," +
                        rule("fwd", match(meta("oifname"), R"("docker0")", "!=") + "," + kDrop))),
            Is::Dropped);
  EXPECT_EQ(outcome(run(kFwdAccept + "," +
                        rule("fwd", match(meta("iifname"), R"({"set": ["eth0", "vnbr0"]})") + "," +
                                        kDrop))),
            Is::Dropped);
  EXPECT_EQ(
      outcome(run(kFwdAccept + "," + rule("fwd", match(meta("iif"), R"("vnbr0")") + "," + kDrop))),
      Is::Dropped);
}

TEST(Traffic, UnknownInterfaceIsMaybeAndAMissingOneNeverMatches) {
  Packet p = guestPacket();
  p.oif.reset();
  EXPECT_EQ(
      outcome(run(kFwdAccept + "," + rule("fwd", match(meta("oifname"), R"("eth0")") + "," + kDrop),
                  p)),
      Is::MaybeDropped);
  p.oif = "";  // e.g. the input hook: no output device; the rule breaks for == and !=
  EXPECT_EQ(outcome(run(kFwdAccept + "," +
                            rule("fwd", match(meta("oifname"), R"("eth0")", "!=") + "," + kDrop),
                        p)),
            Is::Kept);
}

// --- protocols, ports, dependencies ----------------------------------------------------

TEST(Traffic, PortsAndImpliedProtocolDependencies) {
  const std::string udp53 = match(payload("udp", "dport"), "53");
  const std::string tcp53 = match(payload("tcp", "dport"), "53");
  EXPECT_EQ(outcome(run(kFwdAccept + "," + rule("fwd", udp53 + "," + kDrop))), Is::Dropped);
  EXPECT_EQ(outcome(run(kFwdAccept + "," + rule("fwd", tcp53 + "," + kDrop))), Is::Kept);
  // tcp dport != 22 still needs tcp: never true for udp.
  EXPECT_EQ(outcome(run(kFwdAccept + "," +
                        rule("fwd", match(payload("tcp", "dport"), "22", "!=") + "," + kDrop))),
            Is::Kept);
  EXPECT_EQ(outcome(run(
                kFwdAccept + "," +
                rule("fwd", match(payload("th", "dport"), R"({"set": [22, {"range": [50, 60]}]})") +
                                "," + kDrop))),
            Is::Dropped);
  EXPECT_EQ(outcome(run(kFwdAccept + "," +
                        rule("fwd", match(payload("udp", "dport"), R"("domain")") + "," + kDrop))),
            Is::Dropped);
  EXPECT_EQ(outcome(run(kFwdAccept + "," +
                        rule("fwd", match(payload("udp", "sport"), "1024", ">=") + "," + kDrop))),
            Is::Dropped);
  EXPECT_EQ(
      outcome(run(kFwdAccept + "," +
                  rule("fwd", match(meta("l4proto"), R"({"set": ["tcp", "udp"]})") + "," + kDrop))),
      Is::Dropped);
  EXPECT_EQ(outcome(run(kFwdAccept + "," +
                        rule("fwd", match(payload("ip", "protocol"), R"("icmp")") + "," + kDrop))),
            Is::Kept);
  EXPECT_EQ(outcome(run(kFwdAccept + "," +
                        rule("fwd", match(payload("ip6", "nexthdr"), R"("udp")") + "," + kDrop))),
            Is::Kept);
  EXPECT_EQ(outcome(run(kFwdAccept + "," +
                        rule("fwd", match(meta("nfproto"), R"("ipv6")") + "," + kDrop))),
            Is::Kept);
  EXPECT_EQ(
      outcome(run(kFwdAccept + "," +
                  rule("fwd", match(payload("arp", "operation"), R"("request")") + "," + kDrop))),
      Is::Kept);

  Packet anyProto = guestPacket();
  anyProto.l4.reset();
  anyProto.dport.reset();
  EXPECT_EQ(outcome(run(kFwdAccept + "," + rule("fwd", udp53 + "," + kDrop), anyProto)),
            Is::MaybeDropped);
}

// --- addresses -------------------------------------------------------------------------

TEST(Traffic, AddressesPrefixesRangesAndFamilies) {
  auto drop = [](const std::string& field, const std::string& right, const std::string& op = "==") {
    return kFwdAccept + "," + rule("fwd", match(payload("ip", field), right, op) + "," + kDrop);
  };
  Packet subnet = guestPacket();
  subnet.saddr = Cidr::parse("192.168.122.0/24");
  EXPECT_EQ(
      outcome(run(drop("saddr", R"({"prefix": {"addr": "192.168.0.0", "len": 16}})"), subnet)),
      Is::Dropped);
  EXPECT_EQ(
      outcome(run(drop("saddr", R"({"prefix": {"addr": "192.168.122.0", "len": 25}})"), subnet)),
      Is::MaybeDropped);
  EXPECT_EQ(outcome(run(drop("saddr", R"({"prefix": {"addr": "10.0.0.0", "len": 8}})"), subnet)),
            Is::Kept);
  EXPECT_EQ(
      outcome(run(drop("saddr", R"({"range": ["192.168.121.0", "192.168.123.255"]})"), subnet)),
      Is::Dropped);
  EXPECT_EQ(outcome(run(drop("saddr", R"("192.168.122.10")"))), Is::Dropped);
  EXPECT_EQ(outcome(run(drop("saddr", R"("192.168.122.10")", "!="))), Is::Kept);
  // daddr any: only a /0 is sure to match.
  Packet anyDst = guestPacket();
  anyDst.daddr.reset();
  EXPECT_EQ(outcome(run(drop("daddr", R"({"prefix": {"addr": "10.0.0.0", "len": 8}})"), anyDst)),
            Is::MaybeDropped);
  EXPECT_EQ(outcome(run(drop("daddr", R"({"prefix": {"addr": "0.0.0.0", "len": 0}})"), anyDst)),
            Is::Dropped);
  // An ip match in an inet chain never holds for IPv6 packets.
  Packet v6 = guestPacket();
  v6.family = Family::V6;
  v6.saddr = Cidr::parse("fd00::10/128");
  v6.daddr = Cidr::parse("2001:db8::1/128");
  EXPECT_EQ(outcome(run(drop("saddr", R"({"prefix": {"addr": "0.0.0.0", "len": 0}})"), v6)),
            Is::Kept);
  EXPECT_EQ(outcome(run(kFwdAccept + "," +
                            rule("fwd", match(payload("ip6", "saddr"),
                                              R"({"prefix": {"addr": "fd00::", "len": 64}})") +
                                            "," + kDrop),
                        v6)),
            Is::Dropped);
}

TEST(Traffic, NamedSetsAndUnresolvableSets) {
  const std::string set =
      R"({"set": {"family": "inet", "table": "t", "name": "nets", "type": "ipv4_addr", "flags": ["interval"], "elem": [{"prefix": {"addr": "192.168.0.0", "len": 16}}, "10.0.0.1"]}})";
  EXPECT_EQ(outcome(run(set + "," + kFwdAccept + "," +
                        rule("fwd", match(payload("ip", "saddr"), R"("@nets")") + "," + kDrop))),
            Is::Dropped);
  EXPECT_EQ(outcome(run(set + "," + kFwdAccept + "," +
                        rule("fwd", match(payload("ip", "daddr"), R"("@nets")") + "," + kDrop))),
            Is::Kept);
  EXPECT_EQ(outcome(run(kFwdAccept + "," +
                        rule("fwd", match(payload("ip", "saddr"), R"("@missing")") + "," + kDrop))),
            Is::MaybeDropped);
}

// --- conntrack -------------------------------------------------------------------------

TEST(Traffic, ConntrackStatesAndChainsBeforeConntrack) {
  const std::string estAccept =
      rule("fwd", match(kCtState, R"(["established", "related"])", "in") + "," + kAccept);
  EXPECT_EQ(outcome(run(kFwdDrop + "," + estAccept)), Is::Dropped);
  Packet reply = guestPacket();
  reply.ct = "established";
  EXPECT_EQ(outcome(run(kFwdDrop + "," + estAccept, reply)), Is::Kept);
  EXPECT_EQ(
      outcome(run(kFwdAccept + "," + rule("fwd", match(kCtState, R"("invalid")") + "," + kDrop))),
      Is::Kept);
  // At priority -300 (raw) conntrack has not run: the state is unknown.
  EXPECT_EQ(outcome(run(baseChain("fwd", "forward", "drop", -300) + "," + estAccept)),
            Is::MaybeDropped);
}

// --- control flow ----------------------------------------------------------------------

TEST(Traffic, JumpReturnAndPolicy) {
  // Docker's shape: jump to chains that return, then the policy drops.
  EXPECT_EQ(outcome(run(kFwdDrop + "," + chain("user") + "," + rule("user", kReturn) + "," +
                        rule("fwd", jump("user")) + "," +
                        rule("fwd", match(meta("iifname"), R"("docker0")") + "," + kAccept))),
            Is::Dropped);
  // An accept inside a jumped-to chain ends the base chain.
  EXPECT_EQ(outcome(run(kFwdDrop + "," + chain("user") + "," +
                        rule("user", match(meta("iifname"), R"("vnbr0")") + "," + kAccept) + "," +
                        rule("fwd", jump("user")))),
            Is::Kept);
  // A drop in a jumped-to chain.
  EXPECT_EQ(outcome(run(kFwdAccept + "," + chain("guard") + "," + rule("guard", kDrop) + "," +
                        rule("fwd", match(meta("iifname"), R"("vnbr0")") + "," + jump("guard")))),
            Is::Dropped);
  // goto: falling off the target returns to the base chain's caller, i.e. the policy.
  EXPECT_EQ(outcome(run(kFwdDrop + "," + chain("g") + "," + rule("fwd", go("g")) + "," +
                        rule("fwd", kAccept))),
            Is::Dropped);
  EXPECT_EQ(outcome(run(kFwdDrop + "," + chain("j") + "," + rule("fwd", jump("j")) + "," +
                        rule("fwd", kAccept))),
            Is::Kept);
  // A jump to a chain that is not there: anything may happen.
  EXPECT_EQ(outcome(run(kFwdAccept + "," + rule("fwd", jump("nowhere")))), Is::MaybeDropped);
}

TEST(Traffic, VerdictMaps) {
  const std::string vmap =
      R"({"vmap": {"key": {"meta": {"key": "iifname"}}, "data": {"set": [["eth*", {"jump": {"target": "x"}}], ["vnbr0", {"drop": null}]]}}})";
  EXPECT_EQ(outcome(run(kFwdAccept + "," + chain("x") + "," + rule("fwd", vmap))), Is::Dropped);
  Packet other = guestPacket();
  other.iif = "eth1";
  EXPECT_EQ(
      outcome(run(kFwdAccept + "," + chain("x") + "," + rule("x", kDrop) + "," + rule("fwd", vmap),
                  other)),
      Is::Dropped);
  other.iif = "wlan0";
  EXPECT_EQ(
      outcome(run(kFwdAccept + "," + chain("x") + "," + rule("x", kDrop) + "," + rule("fwd", vmap),
                  other)),
      Is::Kept);
  const std::string named =
      R"({"map": {"family": "inet", "table": "t", "name": "m", "type": "ifname", "map": "verdict", "elem": [["vnbr0", {"accept": null}]]}})";
  EXPECT_EQ(
      outcome(run(named + "," + kFwdDrop + "," +
                  rule("fwd", R"({"vmap": {"key": {"meta": {"key": "iifname"}}, "data": "@m"}})"))),
      Is::Kept);
}

TEST(Traffic, WhatItCannotEvaluateIsMaybe) {
  EXPECT_EQ(outcome(run(kFwdAccept + "," + rule("fwd", match(meta("mark"), "7") + "," + kDrop))),
            Is::MaybeDropped);
  EXPECT_EQ(outcome(run(kFwdAccept + "," +
                        rule("fwd", std::string(R"({"limit": {"rate": 5, "per": "second"}})") +
                                        "," + kDrop))),
            Is::MaybeDropped);
  EXPECT_EQ(outcome(run(kFwdAccept + "," +
                        rule("fwd", match(R"({"fib": {"result": "type", "flags": ["daddr"]}})",
                                          R"("local")") +
                                        "," + kDrop))),
            Is::MaybeDropped);
  EXPECT_EQ(outcome(run(kFwdAccept + "," + rule("fwd", R"({"queue": {"num": 1}})"))),
            Is::MaybeDropped);
  EXPECT_EQ(
      outcome(run(kFwdAccept + "," +
                  rule("fwd", std::string(R"({"xt": {"type": "match", "name": "addrtype"}})") +
                                  "," + kDrop))),
      Is::MaybeDropped);
  EXPECT_EQ(outcome(run(kFwdAccept + "," +
                        rule("fwd", R"({"xt": {"type": "target", "name": "REJECT"}})"))),
            Is::Dropped);
  // Counters and logs do not decide anything; a reject is a drop.
  EXPECT_EQ(
      outcome(run(
          kFwdAccept + "," +
          rule(
              "fwd",
              R"({"counter": {"packets": 0, "bytes": 0}}, {"log": {"prefix": "x"}}, {"reject": {"type": "icmpx", "expr": "port-unreachable"}})"))),
      Is::Dropped);
  // A maybe-accept before the policy drop: not provable either way.
  EXPECT_EQ(outcome(run(kFwdDrop + "," + rule("fwd", match(meta("mark"), "7") + "," + kAccept))),
            Is::MaybeDropped);
}

TEST(Traffic, DropSourcesNameTheRuleOrThePolicy) {
  auto v = run(kFwdAccept + "," + chain("guard") + "," + rule("guard", kDrop) + "," +
               rule("fwd", match(meta("iifname"), R"("vnbr0")") + "," + jump("guard")));
  ASSERT_EQ(v.sources.size(), 1u);
  EXPECT_EQ(v.sources[0].verdict, "drop");
  EXPECT_TRUE(v.sources[0].certain);
  ASSERT_NE(v.sources[0].rule, nullptr);
  EXPECT_EQ(v.sources[0].via, (std::vector<std::string>{"fwd", "guard"}));
  auto p = run(kFwdDrop);
  ASSERT_EQ(p.sources.size(), 1u);
  EXPECT_EQ(p.sources[0].rule, nullptr);
  EXPECT_EQ(p.sources[0].verdict, "policy drop");
}

// --- packets at a chain ------------------------------------------------------------------

TEST(Traffic, PacketsAtExpandsListsAndKnowsTheHooksDevices) {
  Traffic t;
  t.hooks = {"prerouting", "input"};
  t.iif = std::vector<std::string>{"vnbr0"};
  t.saddr = {*Cidr::parse("0.0.0.0/32"), *Cidr::parse("192.168.122.0/24")};
  t.l4 = std::vector<std::string>{"udp", "tcp"};
  t.ct = {"new", "established"};
  Ruleset rs = testutil::rulesetOf(baseChain("in", "input", "drop") + "," +
                                   baseChain("nat", "prerouting", "accept", -100, "nat"));
  auto ps = packetsAt(t, *rs.findChain("inet", "t", "in"));
  EXPECT_EQ(ps.size(), 8u);
  for (const auto& p : ps) {
    EXPECT_EQ(p.oif, std::optional<std::string>(""));  // no output device at input
    EXPECT_EQ(p.iif, std::optional<std::string>("vnbr0"));
  }
  // Nat chains only see the first packet of a connection.
  EXPECT_EQ(packetsAt(t, *rs.findChain("inet", "t", "nat")).size(), 4u);
  t.ct.clear();  // unknown
  auto unknown = packetsAt(t, *rs.findChain("inet", "t", "in"));
  EXPECT_EQ(unknown.size(), 4u);
  EXPECT_FALSE(unknown[0].ct.has_value());
}

TEST(Traffic, PacketsAtCapsTheCombinations) {
  Traffic t;
  t.hooks = {"forward"};
  t.bridged = true;
  std::vector<std::string> ports;
  for (int i = 0; i < 100; ++i) ports.push_back("vnet" + std::to_string(i));
  t.iif = ports;
  t.oif = ports;
  t.ct.clear();
  Ruleset rs = testutil::rulesetOf(baseChain("f", "forward", "drop", 0, "filter", "bridge"));
  auto ps = packetsAt(t, *rs.findChain("bridge", "t", "f"));
  EXPECT_LE(ps.size(), 512u);
  EXPECT_GE(ps.size(), 1u);
}

TEST(Traffic, ChainSeesByFamilyAndHook) {
  Ruleset rs = testutil::rulesetOf(baseChain("i4", "forward", "drop", 0, "filter", "ip") + "," +
                                   baseChain("i6", "forward", "drop", 0, "filter", "ip6") + "," +
                                   baseChain("in", "forward", "drop") + "," +
                                   baseChain("b", "forward", "drop", 0, "filter", "bridge") + "," +
                                   baseChain("inp", "input", "drop") + "," + chain("reg"));
  Traffic t;
  t.hooks = {"forward"};
  EXPECT_TRUE(chainSees(*rs.findChain("ip", "t", "i4"), t));
  EXPECT_FALSE(chainSees(*rs.findChain("ip6", "t", "i6"), t));
  EXPECT_TRUE(chainSees(*rs.findChain("inet", "t", "in"), t));
  EXPECT_FALSE(chainSees(*rs.findChain("bridge", "t", "b"), t));
  EXPECT_FALSE(chainSees(*rs.findChain("inet", "t", "inp"), t));
  EXPECT_FALSE(chainSees(*rs.findChain("inet", "t", "reg"), t));
  t.bridged = true;
  EXPECT_FALSE(chainSees(*rs.findChain("inet", "t", "in"), t));
  EXPECT_TRUE(chainSees(*rs.findChain("bridge", "t", "b"), t));
  t.family = Family::V6;
  t.bridged = false;
  EXPECT_TRUE(chainSees(*rs.findChain("ip6", "t", "i6"), t));
}

TEST(Traffic, DescribeNamesWhatIsKnown) {
  EXPECT_EQ(
      describe(guestPacket()),
      "new udp 192.168.122.10/32 -> 198.51.100.1/32 sport 40000 dport 53 in vnbr0 out uplink0");
  Packet p;
  p.iif = "";
  EXPECT_EQ(describe(p), "ipv4");
}

}  // namespace
}  // namespace vnet::doctor
