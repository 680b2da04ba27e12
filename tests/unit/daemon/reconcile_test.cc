// The pure comparisons of drift repair: what the kernel has -> what to fix.
#include "daemon/reconcile.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vnet::daemon {
namespace {

using Fix = LinkFinding::Fix;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

model::Network natNetwork() {
  model::Network n;
  n.name = "default";
  n.mode = model::ForwardMode::Nat;
  n.bridge.name = "vnbr0";
  model::IpConfig ip;
  ip.family = Family::V4;
  ip.address = *IpAddress::parse("192.168.122.1");
  ip.prefix = 24;
  n.ips.push_back(ip);
  return n;
}

kernel::LinkInfo link(const char* name, const char* kind, int index, bool up, int master = 0) {
  kernel::LinkInfo l;
  l.name = name;
  l.kind = kind;
  l.ifindex = index;
  l.up = up;
  l.masterIndex = master;
  return l;
}

// What a healthy vnbr0 (ifindex 5) with port vnet0 looks like.
LinkObservation healthy() {
  LinkObservation h;
  h.bridge = link("vnbr0", "bridge", 5, true);
  h.addresses = {*Cidr::parse("192.168.122.1/24")};
  h.sysctls = {{"net/ipv6/conf/vnbr0/disable_ipv6", "1"}};
  h.ports = {link("vnet0", "veth", 7, true, 5)};
  return h;
}

std::vector<Fix> fixes(const std::vector<LinkFinding>& f) {
  std::vector<Fix> out;
  for (const auto& x : f) out.push_back(x.fix);
  return out;
}

TEST(DiffLinks, HealthyMeansNothingToDo) {
  EXPECT_THAT(diffLinks(natNetwork(), healthy()), IsEmpty());
}

TEST(DiffLinks, AGoneBridgeIsRecreatedBeforeAnythingElse) {
  LinkObservation h;  // nothing at all
  auto f = diffLinks(natNetwork(), h);
  ASSERT_THAT(fixes(f), ElementsAre(Fix::CreateBridge));
  EXPECT_EQ(f[0].found, "bridge vnbr0 is gone");
  EXPECT_EQ(describeFix(natNetwork(), f[0]), "recreated vnbr0 with its addresses");
}

TEST(DiffLinks, ANameTakenByANonBridgeCannotBeRepaired) {
  LinkObservation h;
  h.bridge = link("vnbr0", "dummy", 9, true);
  auto f = diffLinks(natNetwork(), h);
  ASSERT_THAT(fixes(f), ElementsAre(Fix::None));
  EXPECT_EQ(f[0].found, "vnbr0 is no longer a bridge (kind 'dummy')");
}

TEST(DiffLinks, DownWithoutItsAddressAndADetachedPort) {
  LinkObservation h = healthy();
  h.bridge->up = false;
  h.addresses.clear();
  h.ports[0].masterIndex = 0;
  h.sysctls["net/ipv6/conf/vnbr0/disable_ipv6"] = "0";
  auto f = diffLinks(natNetwork(), h);
  // In the order the fixes must run.
  ASSERT_THAT(fixes(f), ElementsAre(Fix::SetSysctl, Fix::AddAddress, Fix::SetUp, Fix::AttachPort));
  EXPECT_EQ(f[0].found, "net.ipv6.conf.vnbr0.disable_ipv6 is 0");
  EXPECT_EQ(describeFix(natNetwork(), f[0]), "set net.ipv6.conf.vnbr0.disable_ipv6 to 1");
  EXPECT_EQ(f[1].found, "address 192.168.122.1/24 is missing on vnbr0");
  EXPECT_EQ(describeFix(natNetwork(), f[1]), "added 192.168.122.1/24 to vnbr0");
  EXPECT_EQ(f[2].found, "bridge vnbr0 is down");
  EXPECT_EQ(f[3].found, "port vnet0 is not on vnbr0");
  EXPECT_EQ(describeFix(natNetwork(), f[3]), "attached vnet0 to vnbr0");
}

TEST(DiffLinks, ExtraAddressesAndUnreadableSysctlsAreLeftAlone) {
  LinkObservation h = healthy();
  h.addresses.push_back(*Cidr::parse("10.1.1.1/24"));
  h.sysctls.clear();
  EXPECT_THAT(diffLinks(natNetwork(), h), IsEmpty());
}

TEST(DiffLinks, AMissingRoute) {
  model::Network net = natNetwork();
  model::Route r;
  r.address = *IpAddress::parse("10.99.0.0");
  r.prefix = 24;
  r.gateway = *IpAddress::parse("192.168.122.10");
  net.routes.push_back(r);
  LinkObservation h = healthy();
  auto f = diffLinks(net, h);
  ASSERT_THAT(fixes(f), ElementsAre(Fix::AddRoute));
  EXPECT_EQ(f[0].found, "route 10.99.0.0/24 via 192.168.122.10 dev vnbr0 is missing");
  h.routes.push_back(toRouteInfo(r, "vnbr0"));
  EXPECT_THAT(diffLinks(net, h), IsEmpty());
  // The same destination on another device is not ours.
  h.routes.back().device = "eth0";
  EXPECT_THAT(fixes(diffLinks(net, h)), ElementsAre(Fix::AddRoute));
}

TEST(DiffLinks, BridgeModeNetworksAreNotOurs) {
  model::Network net = natNetwork();
  net.mode = model::ForwardMode::Bridge;
  EXPECT_THAT(diffLinks(net, LinkObservation{}), IsEmpty());
}

TEST(BridgeSysctls, IPv6OnlyWhenTheNetworkHasIt) {
  model::Network net = natNetwork();
  EXPECT_THAT(bridgeSysctls(net), ElementsAre(std::pair<std::string, std::string>{
                                      "net/ipv6/conf/vnbr0/disable_ipv6", "1"}));
  model::IpConfig v6;
  v6.family = Family::V6;
  v6.address = *IpAddress::parse("fd00::1");
  v6.prefix = 64;
  net.ips.push_back(v6);
  EXPECT_EQ(bridgeSysctls(net).size(), 3u);
  EXPECT_TRUE(needsForwarding(net, Family::V6));
}

TEST(DiffForwarding, OnlyWhatIsNeededAndReadable) {
  std::map<std::string, std::string> have{{kIpv4Forward, "0"}, {kIpv6Forward, "0"}};
  auto f = diffForwarding(true, false, have);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].path, kIpv4Forward);
  EXPECT_EQ(f[0].want, "1");
  EXPECT_EQ(f[0].found, "net.ipv4.ip_forward is 0");
  EXPECT_EQ(diffForwarding(true, true, have).size(), 2u);
  EXPECT_THAT(diffForwarding(false, false, have), IsEmpty());
  EXPECT_THAT(diffForwarding(true, true, {}), IsEmpty());
  EXPECT_THAT(diffForwarding(true, false, {{kIpv4Forward, "1"}}), IsEmpty());
  model::Network isolated = natNetwork();
  isolated.mode = model::ForwardMode::Isolated;
  EXPECT_FALSE(needsForwarding(isolated, Family::V4));
}

}  // namespace
}  // namespace vnet::daemon
