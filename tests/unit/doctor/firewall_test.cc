// foreign-drop and br-netfilter over real `nft` listings (data/*.nft, see data/regen.sh).
#include <gtest/gtest.h>

#include "doctor/checks.h"
#include "doctor_test_util.h"

namespace vnet::doctor {
namespace {

using testutil::cleanFacts;
using testutil::fixture;
using testutil::only;
using testutil::text;

std::vector<Finding> drops(const std::string& fixtureName, Facts f = cleanFacts()) {
  f.ruleset = fixture(fixtureName);
  return only(runChecks(f), "foreign-drop");
}

const Finding* aboutChain(const std::vector<Finding>& fs, const std::string& ref) {
  for (const auto& f : fs) {
    if (!f.evidence.empty() && f.evidence[0].rfind("chain " + ref + ":", 0) == 0) return &f;
  }
  return nullptr;
}

TEST(Firewall, DockerForwardPolicyDropIsAnError) {
  Facts f = cleanFacts();
  f.sysctls["net/bridge/bridge-nf-call-iptables"] = "0";
  auto fs = drops("docker", f);
  ASSERT_EQ(fs.size(), 1u);  // the nat chains (masquerade, jump DOCKER) drop nothing
  const Finding& d = fs[0];
  EXPECT_EQ(d.severity, Severity::Error);
  EXPECT_EQ(d.network, "default");
  EXPECT_EQ(d.evidence[0],
            "chain ip filter FORWARD: type filter hook forward priority 0; policy drop;");
  const std::string t = text(d);
  EXPECT_NE(t.find("the policy of chain ip filter FORWARD is drop"), std::string::npos);
  EXPECT_NE(t.find("dropped: guests' traffic to the outside, e.g. new"), std::string::npos);
  EXPECT_NE(t.find("dropped: replies from the outside to guests, e.g. established"),
            std::string::npos);
  EXPECT_NE(d.what.find("cannot override"), std::string::npos);
  EXPECT_NE(d.what.find("every base chain on a hook gives its own verdict"), std::string::npos);
  EXPECT_NE(t.find("iptables -I DOCKER-USER -i vnbr0 -j ACCEPT"), std::string::npos);
  EXPECT_NE(
      t.find(
          "iptables -I DOCKER-USER -o vnbr0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"),
      std::string::npos);
}

TEST(Firewall, DockerWithTheFixInDockerUserIsClean) {
  Facts f = cleanFacts();
  f.ruleset = fixture("docker-user");
  EXPECT_TRUE(
      runChecks(f).empty());  // also br-netfilter: iifname "vnbr0" accept covers guest to guest
}

TEST(Firewall, AcceptsAppendedAfterDockerUsersReturnDoNotHelp) {
  Facts f = cleanFacts();
  f.sysctls["net/bridge/bridge-nf-call-iptables"] = "0";
  auto fs = drops("docker-appended", f);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].severity, Severity::Error);
}

TEST(Firewall, BrNetfilterWithADropBetweenGuests) {
  Facts f = cleanFacts();  // bridge-nf-call-iptables = 1
  f.ruleset = fixture("docker");
  auto fs = only(runChecks(f), "br-netfilter");
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].severity, Severity::Error);
  const std::string t = text(fs[0]);
  EXPECT_NE(t.find("net.bridge.bridge-nf-call-iptables = 1"), std::string::npos);
  EXPECT_NE(t.find("dropped: traffic between guests, e.g. new ipv4 192.168.122.0/24 -> "
                   "192.168.122.0/24 in vnbr0 out vnbr0"),
            std::string::npos);
  EXPECT_NE(t.find("sysctl -w net.bridge.bridge-nf-call-iptables=0"), std::string::npos);
  EXPECT_NE(t.find("iptables -I DOCKER-USER -i vnbr0 -o vnbr0 -j ACCEPT"), std::string::npos);

  f.sysctls["net/bridge/bridge-nf-call-iptables"] = "0";
  EXPECT_TRUE(only(runChecks(f), "br-netfilter").empty());
  f.sysctls.erase("net/bridge/bridge-nf-call-iptables");  // br_netfilter not loaded
  EXPECT_TRUE(only(runChecks(f), "br-netfilter").empty());
}

TEST(Firewall, UfwDropsNewForwardedTrafficAndDhcpDns) {
  auto fs = drops("ufw");
  const Finding* fwd = aboutChain(fs, "ip filter FORWARD");
  ASSERT_NE(fwd, nullptr);
  EXPECT_EQ(fwd->severity, Severity::Error);
  EXPECT_NE(text(*fwd).find("dropped: guests' traffic to the outside"), std::string::npos);
  // ufw accepts established traffic: replies pass.
  EXPECT_EQ(text(*fwd).find("replies from the outside"), std::string::npos);
  EXPECT_NE(text(*fwd).find("ufw route allow in on vnbr0"), std::string::npos);

  const Finding* in = aboutChain(fs, "ip filter INPUT");
  ASSERT_NE(in, nullptr);
  EXPECT_EQ(in->severity, Severity::Error);
  EXPECT_NE(text(*in).find("dropped: DHCP requests from guests to vnetd"), std::string::npos);
  EXPECT_NE(text(*in).find("dropped: DNS queries from guests to vnetd"), std::string::npos);
  EXPECT_NE(text(*in).find("nft insert rule ip filter INPUT iifname \"vnbr0\" udp dport 67 accept"),
            std::string::npos);
}

TEST(Firewall, DefaultDropInputEatsDhcpAndDnsButNotForwarding) {
  auto fs = drops("inputdrop");
  ASSERT_EQ(fs.size(), 1u);
  const Finding& d = fs[0];
  EXPECT_EQ(d.severity, Severity::Error);
  EXPECT_EQ(d.evidence[0],
            "chain inet filter input: type filter hook input priority 0; policy drop;");
  EXPECT_NE(d.what.find("DHCP requests from guests to vnetd"), std::string::npos);
  EXPECT_NE(d.what.find("DNS queries from guests to vnetd"), std::string::npos);
  EXPECT_NE(text(d).find("nft insert rule inet filter input iifname \"vnbr0\" meta l4proto { tcp, "
                         "udp } th dport 53 accept"),
            std::string::npos);
}

TEST(Firewall, ForeignChainsThatLeaveTheBridgeAloneAreNotFindings) {
  EXPECT_TRUE(drops("harmless").empty());
  // Also when the uplink matches the vmap's "eth*" (which jumps to a chain that returns).
  Facts f = cleanFacts();
  f.routes[0].device = "eth0";
  EXPECT_TRUE(drops("harmless", f).empty());
}

TEST(Firewall, ARejectRuleIsQuotedWithItsHandle) {
  auto fs = drops("reject");
  const Finding* in = aboutChain(fs, "inet guard input");
  ASSERT_NE(in, nullptr);
  EXPECT_EQ(in->severity, Severity::Error);
  const std::string t = text(*in);
  EXPECT_NE(t.find("rule inet guard input handle"), std::string::npos);
  EXPECT_NE(t.find(": iifname \"vnbr0\" udp dport 67 reject"), std::string::npos);
  EXPECT_NE(t.find("or delete the rule: nft delete rule inet guard input handle"),
            std::string::npos);
}

TEST(Firewall, APartialOrUnprovableDropIsAWarning) {
  auto fs = drops("reject");
  const Finding* fwd = aboutChain(fs, "inet guard forward");
  ASSERT_NE(fwd, nullptr);
  EXPECT_EQ(fwd->severity, Severity::Warning);
  EXPECT_NE(fwd->what.find("could not prove it harmless"), std::string::npos);
  const std::string t = text(*fwd);
  EXPECT_NE(t.find("iifname \"vnbr*\" ip daddr 203.0.113.0/24 reject"), std::string::npos);
  EXPECT_NE(t.find("meta mark 0x00000007 drop"), std::string::npos);
}

TEST(Firewall, BridgeFamilyDropBetweenPorts) {
  auto fs = drops("bridgefam");
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].severity, Severity::Error);
  const std::string t = text(fs[0]);
  EXPECT_NE(t.find("traffic between guests (bridge-family hooks)"), std::string::npos);
  EXPECT_NE(t.find("nft insert rule bridge filter forward iifname { \"vnet0\", \"vnet1\" } accept"),
            std::string::npos);
}

TEST(Firewall, OnlyRunningNetworksAndNeverOurOwnTable) {
  Facts f = cleanFacts();
  f.networks[0].active = false;
  f.ruleset = fixture("inputdrop");
  EXPECT_TRUE(only(runChecks(f), "foreign-drop").empty());
  // Our own table (inet vnet) rejects on purpose; it is never a finding.
  f = cleanFacts();
  f.ruleset = testutil::rulesetOf(
      R"({"chain": {"family": "inet", "table": "vnet", "name": "forward", "type": "filter", "hook": "forward", "prio": 0, "policy": "drop"}})");
  EXPECT_TRUE(runChecks(f).empty());
}

TEST(Firewall, TrafficClassesOfANetwork) {
  Facts f = cleanFacts();
  auto classes = trafficOf(f.networks[0], {"uplink0"}, {}, true, false);
  std::vector<std::string> whats;
  for (const auto& c : classes) whats.push_back(c.traffic.what);
  auto has = [&](const std::string& w) {
    return std::find(whats.begin(), whats.end(), w) != whats.end();
  };
  EXPECT_TRUE(has("guests' traffic to the outside"));
  EXPECT_TRUE(has("replies from the outside to guests"));
  EXPECT_TRUE(has("DHCP requests from guests to vnetd"));
  EXPECT_TRUE(has("DHCP replies from vnetd to guests"));
  EXPECT_TRUE(has("DNS queries from guests to vnetd"));
  EXPECT_TRUE(has("DNS answers from vnetd to guests"));
  EXPECT_TRUE(has("traffic between guests"));
  EXPECT_TRUE(has("traffic between guests (bridge-family hooks)"));
  EXPECT_TRUE(has("DHCP requests from guests to vnetd (bridge-family hooks)"));
  // An isolated network without DHCP or DNS forwards nothing and serves nothing.
  NetworkFacts iso = f.networks[0];
  iso.def.mode = model::ForwardMode::Isolated;
  iso.def.ips[0].hasDhcp = false;
  iso.def.dnsElement = model::Dns{};
  iso.def.dnsElement->enable = false;
  classes = trafficOf(iso, {"uplink0"}, {}, false, false);
  ASSERT_EQ(classes.size(), 1u);
  EXPECT_EQ(classes[0].traffic.what, "traffic between guests (bridge-family hooks)");
  // Bridge mode: vnet has no traffic of its own to check.
  iso.def.mode = model::ForwardMode::Bridge;
  EXPECT_TRUE(trafficOf(iso, {"uplink0"}, {}, true, true).empty());
}

}  // namespace
}  // namespace vnet::doctor
