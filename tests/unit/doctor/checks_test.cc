// The host, port, subnet and feature checks: each provoked on the clean facts (positive)
// and shown quiet when the condition is absent or irrelevant (negative).
#include "doctor/checks.h"

#include <gtest/gtest.h>

#include "doctor_test_util.h"

namespace vnet::doctor {
namespace {

using testutil::cleanFacts;
using testutil::only;
using testutil::text;

TEST(Checks, TheCleanLabReportsNothing) {
  EXPECT_TRUE(runChecks(cleanFacts()).empty());
  EXPECT_TRUE(runChecks(cleanFacts(), "default").empty());
}

// --- ip-forward -----------------------------------------------------------------------

TEST(Checks, IpForwardOff) {
  Facts f = cleanFacts();
  f.sysctls["net/ipv4/ip_forward"] = "0";
  auto fs = only(runChecks(f), "ip-forward");
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].severity, Severity::Error);
  EXPECT_EQ(fs[0].network, "");
  EXPECT_NE(text(fs[0]).find("net.ipv4.ip_forward = 0"), std::string::npos);
  EXPECT_NE(text(fs[0]).find("sysctl -w net.ipv4.ip_forward=1"), std::string::npos);
  EXPECT_NE(fs[0].what.find("'default'"), std::string::npos);
}

TEST(Checks, IpForwardOffIsQuietWithoutARunningForwardingNetwork) {
  Facts f = cleanFacts();
  f.sysctls["net/ipv4/ip_forward"] = "0";
  f.networks[0].def.mode = model::ForwardMode::Isolated;
  EXPECT_TRUE(only(runChecks(f), "ip-forward").empty());
  f.networks[0].def.mode = model::ForwardMode::Nat;
  f.networks[0].active = false;
  EXPECT_TRUE(only(runChecks(f), "ip-forward").empty());
}

TEST(Checks, Ipv6ForwardingOffForAnIpv6Network) {
  Facts f = cleanFacts();
  auto v6 = testutil::network("six", "vnbr6", "fd00:1::1/64", model::ForwardMode::Route, false);
  f.networks.push_back({v6, true, {}});
  auto fs = only(runChecks(f), "ip-forward");
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_NE(text(fs[0]).find("net.ipv6.conf.all.forwarding = 0"), std::string::npos);
  f.sysctls["net/ipv6/conf/all/forwarding"] = "1";
  EXPECT_TRUE(only(runChecks(f), "ip-forward").empty());
}

// --- no-default-route, uplink-down ------------------------------------------------------

TEST(Checks, NoDefaultRouteNamesTheLinkThatWentDown) {
  Facts f = cleanFacts();
  f.routes.erase(f.routes.begin());  // the kernel drops routes of a link set down
  f.links[1].up = false;
  auto fs = only(runChecks(f), "no-default-route");
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].severity, Severity::Error);
  EXPECT_NE(text(fs[0]).find("no 0.0.0.0/0 route"), std::string::npos);
  EXPECT_NE(text(fs[0]).find("link uplink0 is down (administratively)"), std::string::npos);
  EXPECT_NE(text(fs[0]).find("ip link set uplink0 up"), std::string::npos);
  EXPECT_NE(text(fs[0]).find("route 203.0.113.0/24 dev uplink0"), std::string::npos);
}

TEST(Checks, NoDefaultRouteIsQuietForIsolatedNetworks) {
  Facts f = cleanFacts();
  f.routes.erase(f.routes.begin());
  f.networks[0].def.mode = model::ForwardMode::Isolated;
  EXPECT_TRUE(runChecks(f).empty());
}

TEST(Checks, UplinkWithoutCarrier) {
  Facts f = cleanFacts();
  f.links[1].lowerUp = false;
  auto fs = only(runChecks(f), "uplink-down");
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].severity, Severity::Error);
  EXPECT_NE(text(fs[0]).find("route 0.0.0.0/0 via 203.0.113.1 dev uplink0"), std::string::npos);
  EXPECT_NE(text(fs[0]).find("link uplink0: UP, NO-CARRIER"), std::string::npos);
  EXPECT_TRUE(only(runChecks(f), "no-default-route").empty());
}

TEST(Checks, OneOfTwoUplinksDownIsAWarning) {
  Facts f = cleanFacts();
  f.links.push_back(testutil::linkInfo(9, "wan2", ""));
  f.links.back().up = false;
  f.routes.push_back(testutil::route("0.0.0.0/0", "wan2", "198.51.100.254"));
  auto fs = only(runChecks(f), "uplink-down");
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].severity, Severity::Warning);
  EXPECT_NE(text(fs[0]).find("ip link set wan2 up"), std::string::npos);
}

// --- accept-ra ----------------------------------------------------------------------------

TEST(Checks, AcceptRaOneOnAForwardingUplink) {
  Facts f = cleanFacts();
  f.sysctls["net/ipv6/conf/uplink0/forwarding"] = "1";
  auto fs = only(runChecks(f), "accept-ra");
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].severity, Severity::Warning);
  EXPECT_NE(text(fs[0]).find("net.ipv6.conf.uplink0.accept_ra = 1"), std::string::npos);
  EXPECT_NE(text(fs[0]).find("sysctl -w net.ipv6.conf.uplink0.accept_ra=2"), std::string::npos);
}

TEST(Checks, AcceptRaQuietWhenTwoOrNotForwardingOrNoIpv6) {
  Facts f = cleanFacts();
  f.sysctls["net/ipv6/conf/uplink0/forwarding"] = "1";
  f.sysctls["net/ipv6/conf/uplink0/accept_ra"] = "2";
  EXPECT_TRUE(only(runChecks(f), "accept-ra").empty());
  f.sysctls["net/ipv6/conf/uplink0/accept_ra"] = "1";
  f.sysctls["net/ipv6/conf/uplink0/disable_ipv6"] = "1";
  EXPECT_TRUE(only(runChecks(f), "accept-ra").empty());
  f.sysctls["net/ipv6/conf/uplink0/disable_ipv6"] = "0";
  f.sysctls["net/ipv6/conf/uplink0/forwarding"] = "0";
  EXPECT_TRUE(only(runChecks(f), "accept-ra").empty());
}

// --- port-taken ---------------------------------------------------------------------------

TEST(Checks, DnsmasqOnTheWildcardWhileTheNetworkIsDown) {
  Facts f = cleanFacts();
  f.networks[0].active = false;
  f.sockets = {testutil::socket("udp", "0.0.0.0", 53, 4242, "dnsmasq"),
               testutil::socket("tcp", "0.0.0.0", 53, 4242, "dnsmasq"),
               testutil::socket("udp", "0.0.0.0", 67, 4242, "dnsmasq")};
  auto fs = only(runChecks(f, "default"), "port-taken");
  ASSERT_EQ(fs.size(), 2u);
  for (const auto& fd : fs) {
    EXPECT_EQ(fd.severity, Severity::Error);
    EXPECT_EQ(fd.network, "default");
    EXPECT_NE(text(fd).find("dnsmasq (pid 4242)"), std::string::npos);
    EXPECT_NE(text(fd).find("kill 4242"), std::string::npos);
    EXPECT_NE(text(fd).find("except-interface=vnbr0"), std::string::npos);
  }
  const std::string dns = text(fs[0]) + text(fs[1]);
  // The message vnetd gives when it starts the network now.
  EXPECT_NE(dns.find("binding DNS TCP socket on 192.168.122.1 port 53: Address already in use"),
            std::string::npos);
  EXPECT_NE(dns.find("bind port 67: Address already in use"), std::string::npos);
  EXPECT_NE(dns.find("tcp 0.0.0.0:53 is held by dnsmasq (pid 4242)"), std::string::npos);
}

TEST(Checks, AProcessOnTheBridgeAddressStealsQueriesFromTheRunningNetwork) {
  Facts f = cleanFacts();
  f.sockets.push_back(testutil::socket("udp", "192.168.122.1", 53, 555, "python3"));
  auto fs = only(runChecks(f), "port-taken");
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].severity, Severity::Error);
  EXPECT_NE(text(fs[0]).find("udp 192.168.122.1:53 is held by python3 (pid 555)"),
            std::string::npos);
  EXPECT_NE(fs[0].what.find("instead of vnetd"), std::string::npos);
}

TEST(Checks, AWildcardUdpHolderNextToARunningNetworkIsAWarning) {
  Facts f = cleanFacts();
  f.sockets.push_back(testutil::socket("udp", "0.0.0.0", 53, 555, "python3"));
  auto fs = only(runChecks(f), "port-taken");
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].severity, Severity::Warning);
}

TEST(Checks, DhcpHolderNextToARunningNetwork) {
  Facts f = cleanFacts();
  f.sockets.push_back(testutil::socket("udp", "0.0.0.0", 67, 556, "python3"));
  auto fs = only(runChecks(f), "port-taken");
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].severity, Severity::Error);
  EXPECT_NE(fs[0].what.find("reach both"), std::string::npos);
  EXPECT_NE(text(fs[0]).find("udp 0.0.0.0:67 is held by python3 (pid 556)"), std::string::npos);
}

TEST(Checks, PortsHeldElsewhereAreNotConflicts) {
  Facts f = cleanFacts();
  f.sockets.push_back(testutil::socket("udp", "10.0.0.1", 53, 600, "named"));  // another address
  f.sockets.push_back(
      testutil::socket("udp", "0.0.0.0", 67, 601, "dnsmasq", "virbr0"));  // bound to another device
  f.sockets.push_back(testutil::socket("udp", "0.0.0.0", 5353, 602, "avahi"));  // another port
  f.sockets.push_back(testutil::socket("tcp", "::", 53, 603, "named"));         // IPv6 only
  EXPECT_TRUE(only(runChecks(f), "port-taken").empty());
  // Bound to our bridge it is a conflict.
  f.sockets.push_back(testutil::socket("udp", "0.0.0.0", 67, 604, "dhcpd", "vnbr0"));
  EXPECT_EQ(only(runChecks(f), "port-taken").size(), 1u);
}

TEST(Checks, PortsNotNeededAreNotChecked) {
  Facts f = cleanFacts();
  f.networks[0].def.ips[0].hasDhcp = false;
  f.networks[0].def.dnsElement = model::Dns{};
  f.networks[0].def.dnsElement->enable = false;
  f.sockets = {testutil::socket("udp", "0.0.0.0", 53, 4242, "dnsmasq"),
               testutil::socket("udp", "0.0.0.0", 67, 4242, "dnsmasq")};
  EXPECT_TRUE(only(runChecks(f), "port-taken").empty());
}

TEST(Checks, AHolderNobodyOwnsIsStillNamed) {
  Facts f = cleanFacts();
  SocketFact s = testutil::socket("udp", "0.0.0.0", 67, 1, "x");
  s.owners.clear();
  s.inode = 98765;
  f.sockets.push_back(s);
  auto fs = only(runChecks(f), "port-taken");
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_NE(text(fs[0]).find("socket inode 98765"), std::string::npos);
}

// --- subnet-collision -----------------------------------------------------------------------

TEST(Checks, SubnetCollidesWithARouteOnAnotherInterface) {
  Facts f = cleanFacts();
  f.routes.push_back(testutil::route("192.168.122.0/25", "eth1"));
  auto fs = only(runChecks(f), "subnet-collision");
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].network, "default");
  EXPECT_NE(text(fs[0]).find("route 192.168.122.0/25 dev eth1"), std::string::npos);
  EXPECT_NE(text(fs[0]).find("ip route del 192.168.122.0/25 dev eth1"), std::string::npos);
  f.networks[0].active = false;
  fs = only(runChecks(f), "subnet-collision");
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_NE(fs[0].what.find("192.168.122.0/24 is already routed on eth1 (192.168.122.0/25)"),
            std::string::npos);
}

TEST(Checks, RoutesThatDoNotCollide) {
  Facts f = cleanFacts();
  f.routes.push_back(testutil::route("192.168.123.0/24", "eth1"));
  f.routes.push_back(
      testutil::route("10.99.0.0/24", "vnbr0", "192.168.122.5"));  // <route> via a guest
  EXPECT_TRUE(only(runChecks(f), "subnet-collision").empty());
}

// --- kernel-feature ---------------------------------------------------------------------------

TEST(Checks, MissingKernelFeatures) {
  Facts f = cleanFacts();
  f.tunFeature = {false, "/dev/net/tun does not exist (No such file or directory)"};
  auto fs = only(runChecks(f), "kernel-feature");
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_NE(text(fs[0]).find("/dev/net/tun does not exist"), std::string::npos);
  EXPECT_NE(text(fs[0]).find("modprobe tun"), std::string::npos);
  f.natFeature = {false, "masquerade failed: Could not process rule: No such file or directory"};
  f.bridgeFeature = {false, "no bridge"};
  fs = only(runChecks(f, "default"), "kernel-feature");
  EXPECT_EQ(fs.size(), 3u);
  for (const auto& fd : fs) EXPECT_EQ(fd.severity, Severity::Error);
}

// --- scope and probe errors --------------------------------------------------------------------

TEST(Checks, ScopeKeepsOtherNetworksOut) {
  Facts f = cleanFacts();
  f.routes.push_back(testutil::route("192.168.122.0/25", "eth1"));
  f.sysctls["net/ipv4/ip_forward"] = "0";
  auto other =
      testutil::network("iso", "isobr", "10.20.0.1/24", model::ForwardMode::Isolated, true);
  f.networks.push_back({other, true, {}});
  auto fs = runChecks(f, "iso");
  EXPECT_TRUE(only(fs, "subnet-collision").empty());
  EXPECT_TRUE(only(fs, "ip-forward").empty());  // iso does not forward
  fs = runChecks(f, "default");
  EXPECT_EQ(only(fs, "subnet-collision").size(), 1u);
  EXPECT_EQ(only(fs, "ip-forward").size(), 1u);
  fs = runChecks(f);
  // Errors first, host-wide before per-network.
  ASSERT_GE(fs.size(), 2u);
  EXPECT_EQ(fs[0].check, "ip-forward");
}

TEST(Checks, ProbeErrorsAreReported) {
  Facts f = cleanFacts();
  f.probeErrors.push_back("listing the ruleset (JSON): Operation not permitted");
  f.ruleset.reset();
  auto fs = runChecks(f);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].check, "probe");
  EXPECT_EQ(fs[0].severity, Severity::Warning);
  EXPECT_NE(text(fs[0]).find("Operation not permitted"), std::string::npos);
}

TEST(Checks, FindingsAsJson) {
  Finding f;
  f.check = "ip-forward";
  f.what = "w";
  f.evidence = {"e"};
  f.fix = {"x"};
  auto j = toJson(f);
  EXPECT_EQ(j["severity"], "error");
  EXPECT_TRUE(j["network"].is_null());
  EXPECT_EQ(j["evidence"][0], "e");
  f.network = "default";
  f.severity = Severity::Warning;
  j = toJson(f);
  EXPECT_EQ(j["network"], "default");
  EXPECT_EQ(j["severity"], "warning");
}

}  // namespace
}  // namespace vnet::doctor
