#include "testing/fake_links.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cerrno>

namespace vnet::testing {
namespace {

using kernel::BridgeSpec;
using kernel::RouteInfo;
using kernel::TapSpec;
using kernel::VethSpec;
using ::testing::ElementsAre;

Cidr cidr(const char* text) {
  return *Cidr::parse(text);
}
Mac mac(const char* text) {
  return *Mac::parse(text);
}

BridgeSpec bridge(const std::string& name) {
  BridgeSpec spec;
  spec.name = name;
  return spec;
}

TEST(FakeLinksTest, RecordsEveryCallAndSeparatesMutations) {
  FakeLinks links;
  ASSERT_TRUE(links.addBridge(bridge("vnbr0")).ok());
  ASSERT_TRUE(links.addAddress("vnbr0", cidr("192.168.122.1/24")).ok());
  ASSERT_TRUE(links.findLink("vnbr0").ok());
  ASSERT_TRUE(links.setUp("vnbr0", true).ok());
  ASSERT_TRUE(links.setSysctl("net/ipv6/conf/vnbr0/disable_ipv6", "1").ok());
  EXPECT_THAT(links.calls(),
              ElementsAre("addBridge vnbr0", "addAddress vnbr0 192.168.122.1/24", "findLink vnbr0",
                          "setUp vnbr0 up", "setSysctl net/ipv6/conf/vnbr0/disable_ipv6 1"));
  EXPECT_THAT(links.mutatingCalls(),
              ElementsAre("addBridge vnbr0", "addAddress vnbr0 192.168.122.1/24", "setUp vnbr0 up",
                          "setSysctl net/ipv6/conf/vnbr0/disable_ipv6 1"));
  links.clearCalls();
  EXPECT_TRUE(links.calls().empty());
}

TEST(FakeLinksTest, DuplicateAndUnknownLinksFailLikeTheKernel) {
  FakeLinks links;
  ASSERT_TRUE(links.addBridge(bridge("vnbr0")).ok());
  Status s = links.addBridge(bridge("vnbr0"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().sysErrno(), EEXIST);
  EXPECT_EQ(s.error().message(), "adding bridge vnbr0: File exists");

  s = links.deleteLink("nosuch0");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().sysErrno(), ENODEV);
  EXPECT_EQ(s.error().message(), "deleting link nosuch0: No such device");

  s = links.addAddress("nosuch0", cidr("10.0.0.1/24"));
  EXPECT_EQ(s.error().message(), "adding address 10.0.0.1/24 to nosuch0: No such device");
  s = links.addBridge(bridge("a-name-that-is-too-long"));
  EXPECT_EQ(s.error().sysErrno(), EINVAL);
}

TEST(FakeLinksTest, ModelsLinksAddressesAndConnectedRoutes) {
  FakeLinks links;
  BridgeSpec spec = bridge("vnbr0");
  spec.mac = mac("52:54:00:00:00:01");
  spec.mtu = 9000;
  ASSERT_TRUE(links.addBridge(spec).ok());
  auto br = *links.findLink("vnbr0");
  ASSERT_TRUE(br.has_value());
  EXPECT_EQ(br->kind, "bridge");
  EXPECT_EQ(br->mac, *spec.mac);
  EXPECT_EQ(br->mtu, 9000u);
  EXPECT_FALSE(br->up);
  ASSERT_NE(links.link("vnbr0"), nullptr);
  EXPECT_TRUE(links.link("vnbr0")->bridge.has_value());

  ASSERT_TRUE(links.addAddress("vnbr0", cidr("192.168.122.1/24")).ok());
  EXPECT_EQ(links.addAddress("vnbr0", cidr("192.168.122.1/24")).error().sysErrno(), EEXIST);
  EXPECT_THAT(*links.addresses("vnbr0"), ElementsAre(cidr("192.168.122.1/24")));
  EXPECT_TRUE(links.routes()->empty()) << "no connected route while down";

  ASSERT_TRUE(links.setUp("vnbr0", true).ok());
  auto routes = *links.routes();
  ASSERT_EQ(routes.size(), 1u);
  EXPECT_EQ(routes[0].destination, cidr("192.168.122.0/24"));
  EXPECT_EQ(routes[0].device, "vnbr0");

  EXPECT_EQ(links.deleteAddress("vnbr0", cidr("10.0.0.1/8")).error().sysErrno(), EADDRNOTAVAIL);
  ASSERT_TRUE(links.deleteAddress("vnbr0", cidr("192.168.122.1/24")).ok());
  EXPECT_TRUE(links.routes()->empty());
}

TEST(FakeLinksTest, RoutesAreAddedMatchedAndRemovedWithTheirDevice) {
  FakeLinks links;
  ASSERT_TRUE(links.addBridge(bridge("vnbr0")).ok());
  RouteInfo r;
  r.destination = cidr("10.10.0.0/16");
  r.device = "vnbr0";
  r.gateway = *IpAddress::parse("192.168.122.2");
  r.metric = 5;
  ASSERT_TRUE(links.addRoute(r).ok());
  EXPECT_EQ(links.calls().back(), "addRoute 10.10.0.0/16 via 192.168.122.2 dev vnbr0 metric 5");
  EXPECT_EQ(links.addRoute(r).error().sysErrno(), EEXIST);

  RouteInfo hostBits = r;
  hostBits.destination = cidr("10.10.0.1/16");
  EXPECT_EQ(links.addRoute(hostBits).error().sysErrno(), EINVAL);

  RouteInfo any;  // device, gateway and metric unset match anything
  any.destination = r.destination;
  ASSERT_TRUE(links.deleteRoute(any).ok());
  EXPECT_EQ(links.deleteRoute(any).error().sysErrno(), ESRCH);

  ASSERT_TRUE(links.addRoute(r).ok());
  ASSERT_TRUE(links.deleteLink("vnbr0").ok());
  EXPECT_TRUE(links.routes()->empty());
}

TEST(FakeLinksTest, TapsAndVethsAreEnslavedAndUp) {
  FakeLinks links;
  ASSERT_TRUE(links.addBridge(bridge("vnbr0")).ok());
  TapSpec tap;
  tap.name = "vnet0";
  tap.mac = mac("fe:54:00:aa:bb:cc");
  tap.owner = 1000;
  tap.master = "vnbr0";
  ASSERT_TRUE(links.addTap(tap).ok());

  VethSpec veth;
  veth.hostName = "vnh0";
  veth.hostMac = mac("fe:54:00:00:00:10");
  veth.peerName = "eth0";
  veth.netnsPath = "/run/netns/guest1";
  veth.master = "vnbr0";
  ASSERT_TRUE(links.addVeth(veth).ok());
  EXPECT_EQ(links.calls().back(), "addVeth vnh0 peer eth0");
  EXPECT_TRUE(links.vethPeers().at("/run/netns/guest1").contains("eth0"));

  auto ports = *links.bridgePorts("vnbr0");
  ASSERT_EQ(ports.size(), 2u);
  EXPECT_EQ(ports[0].name, "vnet0");
  EXPECT_EQ(ports[0].kind, "tun");
  EXPECT_TRUE(ports[0].up);
  EXPECT_EQ(ports[1].name, "vnh0");
  EXPECT_EQ(links.link("vnet0")->tap->owner, 1000u);

  ASSERT_TRUE(links.setMaster("vnet0", "").ok());
  EXPECT_EQ(links.calls().back(), "setMaster vnet0 nomaster");
  EXPECT_EQ(links.bridgePorts("vnbr0")->size(), 1u);
  EXPECT_EQ(links.setMaster("vnet0", "vnh0").error().sysErrno(), EOPNOTSUPP);

  ASSERT_TRUE(links.deleteLink("vnh0").ok());
  EXPECT_FALSE(links.vethPeers().at("/run/netns/guest1").contains("eth0"));

  tap.name = "vnet1";
  tap.master = "nosuch0";
  Status s = links.addTap(tap);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().sysErrno(), ENODEV);
  EXPECT_EQ(links.link("vnet1"), nullptr) << "a failed add leaves nothing behind";
}

TEST(FakeLinksTest, SysctlsAreStoredAndForgottenWithTheirDevice) {
  FakeLinks links;
  ASSERT_TRUE(links.addBridge(bridge("vnbr0")).ok());
  EXPECT_EQ(links.getSysctl("net/ipv4/ip_forward").error().sysErrno(), ENOENT);
  ASSERT_TRUE(links.setSysctl("net/ipv4/ip_forward", "1").ok());
  ASSERT_TRUE(links.setSysctl("net/ipv6/conf/vnbr0/disable_ipv6", "1").ok());
  EXPECT_EQ(*links.getSysctl("net/ipv4/ip_forward"), "1");
  ASSERT_TRUE(links.deleteLink("vnbr0").ok());
  EXPECT_FALSE(links.sysctls().contains("net/ipv6/conf/vnbr0/disable_ipv6"));
  EXPECT_TRUE(links.sysctls().contains("net/ipv4/ip_forward"));
}

TEST(FakeLinksTest, FailOnInjectsAFailureForAVerbAndName) {
  FakeLinks links;
  links.failOn("addAddress", "vnbr0", Error("injected", EIO));
  ASSERT_TRUE(links.addBridge(bridge("vnbr0")).ok());
  ASSERT_TRUE(links.addBridge(bridge("vnbr1")).ok());
  Status s = links.addAddress("vnbr0", cidr("192.168.122.1/24"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message(), "injected");
  EXPECT_EQ(s.error().sysErrno(), EIO);
  EXPECT_TRUE(links.addresses("vnbr0")->empty()) << "an injected failure changes nothing";
  EXPECT_TRUE(links.addAddress("vnbr1", cidr("192.168.123.1/24")).ok());
  EXPECT_FALSE(links.addAddress("vnbr0", cidr("192.168.122.1/24")).ok()) << "until cleared";
  EXPECT_EQ(links.calls().back(), "addAddress vnbr0 192.168.122.1/24") << "still recorded";

  links.clearFailures();
  EXPECT_TRUE(links.addAddress("vnbr0", cidr("192.168.122.1/24")).ok());

  links.failOn("setUp", "", Error("any link"));
  EXPECT_FALSE(links.setUp("vnbr1", true).ok());
}

TEST(FakeLinksTest, FailNthCallFailsOnceCountingFromNow) {
  FakeLinks links;
  links.failNthCall(2, Error("second call fails", EBUSY));
  EXPECT_TRUE(links.addBridge(bridge("vnbr0")).ok());
  Status s = links.setUp("vnbr0", true);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message(), "second call fails");
  EXPECT_FALSE(links.findLink("vnbr0")->value().up);
  EXPECT_TRUE(links.setUp("vnbr0", true).ok());
}

}  // namespace
}  // namespace vnet::testing
