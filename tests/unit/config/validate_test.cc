// model::validate, validateAgainst, fillDefaults, checkStartable over networks parsed from XML
// and then changed in code (lines in messages come from the XML; code-built parts have none).
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "base/random.h"
#include "config/xml.h"
#include "model/network.h"

namespace vnet::model {
namespace {

constexpr const char* kBase = R"(<network>
  <name>base</name>
  <forward mode='nat'/>
  <bridge name='vnbr0'/>
  <ip address='192.168.122.1' prefix='24'>
    <dhcp>
      <range start='192.168.122.100' end='192.168.122.199'/>
      <host mac='52:54:00:00:00:01' name='a' ip='192.168.122.10'/>
    </dhcp>
  </ip>
</network>
)";

Network base() {
  auto net = config::parseNetworkXml(kBase);
  EXPECT_TRUE(net.ok()) << net.error().message();
  return *net;
}

IpAddress ip(const char* s) {
  return *IpAddress::parse(s);
}
Mac mac(const char* s) {
  return *Mac::parse(s);
}

std::string errorAfter(const std::function<void(Network&)>& change) {
  Network net = base();
  change(net);
  Status s = validate(net);
  return s.ok() ? "" : s.error().message();
}

TEST(configValidate, BaseIsValid) {
  EXPECT_EQ(errorAfter([](Network&) {}), "");
}

TEST(configValidate, StaticHostInsideARangeIsAllowed) {
  EXPECT_EQ(errorAfter([](Network& n) { n.ips[0].hosts[0].ip = ip("192.168.122.150"); }), "");
}

TEST(configValidate, EachRuleNamesPathAndLine) {
  struct Case {
    const char* what;
    std::function<void(Network&)> change;
    std::string error;
  };
  const Case cases[] = {
      {"name missing", [](Network& n) { n.name.clear(); },
       "network/name (line 2): name must not be empty"},
      {"name with slash", [](Network& n) { n.name = "a/b"; },
       "network/name (line 2): name 'a/b' must not contain '/'"},
      {"bad uuid from code", [](Network& n) { n.uuid = "x"; },
       "network/uuid: 'x' is not a valid UUID"},
      {"nat without ipv4",
       [](Network& n) {
         n.ips[0].family = Family::V6;
         n.ips[0].address = ip("fd00::1");
         n.ips[0].ranges.clear();
         n.ips[0].hosts.clear();
       },
       "network/forward (line 3): forward mode 'nat' needs an IPv4 <ip>"},
      {"open with dev",
       [](Network& n) {
         n.mode = ForwardMode::Open;
         n.forwardDev = "eth0";
       },
       "network/forward (line 3): forward mode 'open' does not allow dev"},
      {"nat in route mode",
       [](Network& n) {
         n.mode = ForwardMode::Route;
         n.nat.emplace();
       },
       "network/forward/nat: <nat> is only allowed with forward mode 'nat'"},
      {"nat address half", [](Network& n) { n.nat.emplace().addressStart = Ipv4(1); },
       "network/forward/nat/address: both start and end are required"},
      {"nat ports reversed",
       [](Network& n) {
         Nat& x = n.nat.emplace();
         x.portStart = 3;
         x.portEnd = 2;
       },
       "network/forward/nat/port: start 3 is after end 2"},
      {"nat port zero", [](Network& n) { n.nat.emplace().portStart = 0; },
       "network/forward/nat/port: ports must be in 1..65535"},
      {"mtu too big", [](Network& n) { n.mtu = 65536; },
       "network/mtu: size 65536 is outside 68..65535"},
      {"bridge name long", [](Network& n) { n.bridge.name = "abcdefghijklmnop"; },
       "network/bridge (line 4): bridge name 'abcdefghijklmnop' is longer than 15 bytes (the "
       "kernel's limit for interface names)"},
      {"bridge name slash", [](Network& n) { n.bridge.name = "a/b"; },
       "network/bridge (line 4): bridge name 'a/b' must not contain '/' (interface names cannot "
       "hold '/', ':', '%', quotes, backslashes, whitespace or control characters)"},
      {"bridge name template", [](Network& n) { n.bridge.name = "br%d"; },
       "network/bridge (line 4): bridge name 'br%d' must not contain '%' (interface names "
       "cannot hold '/', ':', '%', quotes, backslashes, whitespace or control characters)"},
      {"forward dev with a quote", [](Network& n) { n.forwardDev = "eth0\" accept"; },
       "network/forward (line 3): dev 'eth0\" accept' must not contain '\"' (interface names "
       "cannot hold '/', ':', '%', quotes, backslashes, whitespace or control characters)"},
      {"dhcp on a /31", [](Network& n) { n.ips[0].prefix = 31; },
       "network/ip[1]/dhcp (line 6): DHCP needs a subnet with room for guests (prefix 30 or "
       "shorter), not /31"},
      {"bridge mode needs name",
       [](Network& n) {
         n.mode = ForwardMode::Bridge;
         n.bridge.name.clear();
       },
       "network/bridge (line 4): forward mode 'bridge' needs <bridge name='...'/>"},
      {"bridge mode with ip", [](Network& n) { n.mode = ForwardMode::Bridge; },
       "network/ip[1] (line 5): <ip> is not allowed with forward mode 'bridge'"},
      {"multicast mac", [](Network& n) { n.mac = mac("33:33:00:00:00:01"); },
       "network/mac: 33:33:00:00:00:01 is not a unicast MAC address"},
      {"domain syntax", [](Network& n) { n.domain.emplace().name = "a..b"; },
       "network/domain: 'a..b' is not a valid domain name"},
      {"domain label too long", [](Network& n) { n.domain.emplace().name = std::string(64, 'a'); },
       "network/domain: '" + std::string(64, 'a') + "' is not a valid domain name"},
      {"dns disabled with txt",
       [](Network& n) {
         Dns& d = n.dnsElement.emplace();
         d.enable = false;
         d.txts.push_back({"a", "b", 0});
       },
       "network/dns: <dns enable='no'> cannot have forwarder, host, srv or txt entries"},
      {"dns host without names",
       [](Network& n) {
         n.dnsElement.emplace().hosts.push_back({ip("192.168.122.5"), {}, 0});
       },
       "network/dns/host[1]: needs at least one <hostname>"},
      {"prefix 0", [](Network& n) { n.ips[0].prefix = 0; },
       "network/ip[1] (line 5): prefix 0 is outside 1..32 for ipv4"},
      {"second ipv4 dhcp",
       [](Network& n) {
         IpConfig c;
         c.address = ip("10.0.0.1");
         c.hasDhcp = true;
         n.ips.push_back(c);
       },
       "network/ip[2]/dhcp: only one IPv4 <ip> may have <dhcp> (network/ip[1] already has one)"},
      {"bootp on ipv6",
       [](Network& n) {
         IpConfig c;
         c.family = Family::V6;
         c.address = ip("fd00::1");
         c.prefix = 64;
         c.bootp.emplace();
         n.ips.push_back(c);
       },
       "network/ip[2]/dhcp/bootp: <bootp> is only allowed for IPv4"},
      {"range outside", [](Network& n) { n.ips[0].ranges[0].start = ip("192.168.1.10"); },
       "network/ip[1]/dhcp/range[1] (line 7): start 192.168.1.10 is outside 192.168.122.0/24"},
      {"range reversed",
       [](Network& n) { std::swap(n.ips[0].ranges[0].start, n.ips[0].ranges[0].end); },
       "network/ip[1]/dhcp/range[1] (line 7): start 192.168.122.199 is after end 192.168.122.100"},
      {"range overlap",
       [](Network& n) {
         n.ips[0].ranges.push_back({ip("192.168.122.199"), ip("192.168.122.220"), {}, 0});
       },
       "network/ip[1]/dhcp/range[2]: range 192.168.122.199-192.168.122.220 overlaps range[1] "
       "192.168.122.100-192.168.122.199"},
      {"range broadcast", [](Network& n) { n.ips[0].ranges[0].end = ip("192.168.122.255"); },
       "network/ip[1]/dhcp/range[1] (line 7): end 192.168.122.255 is the broadcast address of "
       "192.168.122.0/24"},
      {"lease unit",
       [](Network& n) {
         n.ips[0].ranges[0].lease = Lease{1, "weeks"};
       },
       "network/ip[1]/dhcp/range[1]/lease (line 7): unit 'weeks' is not seconds, minutes or hours"},
      {"host is bridge", [](Network& n) { n.ips[0].hosts[0].ip = ip("192.168.122.1"); },
       "network/ip[1]/dhcp/host[1] (line 8): ip 192.168.122.1 is the bridge's own address"},
      {"host without mac or id", [](Network& n) { n.ips[0].hosts[0].mac.reset(); },
       "network/ip[1]/dhcp/host[1] (line 8): needs mac or id"},
      {"host without ip", [](Network& n) { n.ips[0].hosts[0].ip.reset(); },
       "network/ip[1]/dhcp/host[1] (line 8): needs ip"},
      {"host multicast mac", [](Network& n) { n.ips[0].hosts[0].mac = mac("01:00:00:00:00:01"); },
       "network/ip[1]/dhcp/host[1] (line 8): mac 01:00:00:00:00:01 is not a unicast MAC address"},
      {"host duplicate id",
       [](Network& n) {
         n.ips[0].hosts[0].id = "xy";
         DhcpHost h;
         h.id = "xy";
         h.ip = ip("192.168.122.11");
         n.ips[0].hosts.push_back(h);
       },
       "network/ip[1]/dhcp/host[2]: id 'xy' is already used by host[1]"},
      {"host id of one byte", [](Network& n) { n.ips[0].hosts[0].id = "x"; },
       "network/ip[1]/dhcp/host[1] (line 8): id 'x' is shorter than 2 bytes"},
      {"v6 host without id or name",
       [](Network& n) {
         IpConfig c;
         c.family = Family::V6;
         c.address = ip("fd00::1");
         c.prefix = 64;
         DhcpHost h;
         h.ip = ip("fd00::5");
         c.hosts.push_back(h);
         n.ips.push_back(c);
       },
       "network/ip[2]/dhcp/host[1]: needs id or name"},
      {"route gateway outside",
       [](Network& n) {
         n.routes.push_back({Family::V4, ip("10.0.0.0"), 8, ip("10.0.0.1"), {}, false, 0});
       },
       "network/route[1]: gateway 10.0.0.1 is not inside any <ip> subnet"},
      {"route family mismatch",
       [](Network& n) {
         n.routes.push_back({Family::V6, ip("10.0.0.0"), 8, ip("192.168.122.2"), {}, false, 0});
       },
       "network/route[1]: address 10.0.0.0 does not match family ipv6"},
  };
  for (const Case& c : cases) EXPECT_EQ(errorAfter(c.change), c.error) << c.what;
}

TEST(configValidate, ErrorsAreInvalid) {
  Network net = base();
  net.name.clear();
  EXPECT_EQ(validate(net).error().code(), ErrorCode::Invalid);
}

TEST(configValidate, AgainstOthersFindsConflicts) {
  Network mine = base();
  Network other = base();
  other.name = "other";
  other.bridge.name = "vnbr9";
  other.ips[0].address = ip("10.9.0.1");
  EXPECT_TRUE(validateAgainst(mine, {&other}).ok());

  struct Case {
    std::function<void(Network&)> change;
    const char* error;
  };
  const Case cases[] = {
      {[](Network& o) { o.name = "base"; }, "network/name (line 2): network 'base' already exists"},
      {[](Network& o) { o.uuid = "9a05da11-e96b-47f3-8253-a3a482e445f5"; },
       "network/uuid: UUID 9a05da11-e96b-47f3-8253-a3a482e445f5 is already used by network "
       "'other'"},
      {[](Network& o) { o.bridge.name = "vnbr0"; },
       "network/bridge (line 4): bridge 'vnbr0' is already used by network 'other'"},
      {[](Network& o) {
         o.ips[0].address = ip("192.168.0.1");
         o.ips[0].prefix = 16;
       },
       "network/ip[1] (line 5): subnet 192.168.122.0/24 overlaps 192.168.0.0/16 of network "
       "'other'"},
  };
  mine.uuid = "9a05da11-e96b-47f3-8253-a3a482e445f5";
  for (const Case& c : cases) {
    Network o = other;
    c.change(o);
    Status s = validateAgainst(mine, {&o});
    ASSERT_FALSE(s.ok()) << c.error;
    EXPECT_EQ(s.error().code(), ErrorCode::Conflict);
    EXPECT_EQ(s.error().message(), c.error);
  }
}

TEST(configValidate, FillDefaultsAssignsUuidBridgeAndMac) {
  Network net = base();
  net.bridge.name.clear();
  fillDefaults(net, {"vnbr0", "vnbr1", "vnbr3"});
  EXPECT_TRUE(isUuid(net.uuid));
  EXPECT_EQ(net.bridge.name, "vnbr2");
  ASSERT_TRUE(net.mac.has_value());
  EXPECT_EQ(net.mac->bytes()[0], 0x52);
  EXPECT_EQ(net.mac->bytes()[1], 0x54);
  EXPECT_EQ(net.mac->bytes()[2], 0x00);
  EXPECT_TRUE(validate(net).ok());

  Network again = net;
  fillDefaults(again, {});
  EXPECT_EQ(again.uuid, net.uuid);
  EXPECT_EQ(again.bridge.name, "vnbr2");
  EXPECT_EQ(again.mac, net.mac);
}

TEST(configValidate, FillDefaultsLeavesBridgeModeAlone) {
  auto net = config::parseNetworkXml(
      "<network><name>b</name><forward mode='bridge'/><bridge name='br0'/></network>");
  ASSERT_TRUE(net.ok());
  fillDefaults(*net, {"br0"});
  EXPECT_EQ(net->bridge.name, "br0");
  EXPECT_FALSE(net->mac.has_value());
  EXPECT_TRUE(isUuid(net->uuid));
  EXPECT_TRUE(validate(*net).ok());
}

TEST(configValidate, CheckStartable) {
  Network net = base();
  EXPECT_TRUE(checkStartable(net).ok());
  net.unsupported.push_back({"network/bandwidth", "<bandwidth/>", 12});
  Status s = checkStartable(net);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::Unsupported);
  EXPECT_EQ(s.error().message(), "not supported yet: network/bandwidth (line 12)");
}

TEST(configValidate, TapMacSetsFirstByte) {
  EXPECT_EQ(tapMacForGuest(mac("52:54:00:12:34:56")).toString(), "fe:54:00:12:34:56");
}

TEST(configValidate, LeaseSeconds) {
  EXPECT_EQ((Lease{0, "hours"}.seconds()), 0u);
  EXPECT_EQ((Lease{90, "seconds"}.seconds()), 90u);
  EXPECT_EQ((Lease{5, "minutes"}.seconds()), 300u);
  EXPECT_EQ((Lease{2, "hours"}.seconds()), 7200u);
  EXPECT_EQ((Lease{UINT64_MAX, "hours"}.seconds()), UINT64_MAX);
}

TEST(configValidate, ForwardModeNamesRoundTrip) {
  for (ForwardMode m : {ForwardMode::Isolated, ForwardMode::Nat, ForwardMode::Route,
                        ForwardMode::Open, ForwardMode::Bridge}) {
    EXPECT_EQ(parseForwardMode(forwardModeName(m)), m);
  }
  EXPECT_FALSE(parseForwardMode("hostdev").has_value());
  EXPECT_EQ(elementLocation("network/mtu", 0), "network/mtu");
  EXPECT_EQ(elementLocation("network/mtu", 7), "network/mtu (line 7)");
}

}  // namespace
}  // namespace vnet::model
