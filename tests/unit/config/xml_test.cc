#include "config/xml.h"

#include <gtest/gtest.h>

#include <string>

#include "model/network.h"

namespace vnet::config {
namespace {

using model::ForwardMode;

// libvirt's own default network, as `virsh net-dumpxml default` prints it.
constexpr const char* kDefaultXml = R"(<network>
  <name>default</name>
  <uuid>9a05da11-e96b-47f3-8253-a3a482e445f5</uuid>
  <forward mode='nat'>
    <nat>
      <port start='1024' end='65535'/>
    </nat>
  </forward>
  <bridge name='virbr0' stp='on' delay='0'/>
  <mac address='52:54:00:0a:cd:21'/>
  <ip address='192.168.122.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.122.2' end='192.168.122.254'/>
    </dhcp>
  </ip>
</network>
)";

model::Network parseOk(std::string_view xml) {
  auto net = parseNetworkXml(xml);
  EXPECT_TRUE(net.ok()) << net.error().message();
  return net.ok() ? *net : model::Network{};
}

std::string parseError(std::string_view xml) {
  auto net = parseNetworkXml(xml);
  return net.ok() ? "" : net.error().message();
}

TEST(configXml, ParsesLibvirtDefaultNetwork) {
  model::Network net = parseOk(kDefaultXml);
  EXPECT_EQ(net.name, "default");
  EXPECT_EQ(net.uuid, "9a05da11-e96b-47f3-8253-a3a482e445f5");
  EXPECT_EQ(net.mode, ForwardMode::Nat);
  ASSERT_TRUE(net.nat.has_value());
  EXPECT_TRUE(net.nat->portsSet);
  EXPECT_EQ(net.nat->portStart, 1024);
  EXPECT_EQ(net.nat->portEnd, 65535);
  EXPECT_EQ(net.bridge.name, "virbr0");
  EXPECT_TRUE(net.bridge.stp);
  EXPECT_EQ(net.bridge.delay, 0u);
  ASSERT_TRUE(net.mac.has_value());
  EXPECT_EQ(net.mac->toString(), "52:54:00:0a:cd:21");
  ASSERT_EQ(net.ips.size(), 1u);
  const model::IpConfig& ip = net.ips[0];
  EXPECT_EQ(ip.address.toString(), "192.168.122.1");
  EXPECT_EQ(ip.prefix, 24);
  EXPECT_TRUE(ip.netmaskForm);
  EXPECT_TRUE(ip.hasDhcp);
  ASSERT_EQ(ip.ranges.size(), 1u);
  EXPECT_EQ(ip.ranges[0].start.toString(), "192.168.122.2");
  EXPECT_EQ(ip.ranges[0].end.toString(), "192.168.122.254");
  EXPECT_EQ(net.line, 1);
  EXPECT_EQ(net.forwardLine, 4);
  EXPECT_EQ(ip.line, 11);
  EXPECT_EQ(ip.ranges[0].line, 13);
  EXPECT_TRUE(model::validate(net).ok());
  EXPECT_TRUE(model::checkStartable(net).ok());
}

TEST(configXml, FormatsDefaultNetworkLikeVirsh) {
  EXPECT_EQ(formatNetworkXml(parseOk(kDefaultXml)), kDefaultXml);
}

TEST(configXml, FormatIsStable) {
  std::string once = formatNetworkXml(parseOk(kDefaultXml));
  EXPECT_EQ(formatNetworkXml(parseOk(once)), once);
}

TEST(configXml, ForwardWithoutModeIsNat) {
  model::Network net = parseOk("<network><name>n</name><forward/></network>");
  EXPECT_EQ(net.mode, ForwardMode::Nat);
  EXPECT_TRUE(net.hasForwardElement);
}

TEST(configXml, NoForwardIsIsolatedAndFormatsWithoutForward) {
  model::Network net = parseOk("<network><name>n</name></network>");
  EXPECT_EQ(net.mode, ForwardMode::Isolated);
  EXPECT_EQ(formatNetworkXml(net), "<network>\n  <name>n</name>\n</network>\n");
}

TEST(configXml, ParsesEveryForwardMode) {
  for (const char* mode : {"nat", "route", "open", "bridge"}) {
    model::Network net =
        parseOk(std::string("<network><name>n</name><forward mode='") + mode + "'/></network>");
    EXPECT_STREQ(model::forwardModeName(net.mode), mode);
  }
  EXPECT_EQ(
      parseError("<network>\n<forward mode='tunnel'/></network>"),
      "network/forward (line 2): mode='tunnel' is not a known forward mode (nat, route, open, "
      "bridge, none; kept but not started: passthrough, private, vepa, hostdev)");
}

TEST(configXml, KeepsHostdevModeAndRefusesToStartIt) {
  model::Network net = parseOk(
      "<network>\n<name>n</name>\n<forward mode='hostdev'>\n<pf dev='eth3'/>\n</forward>\n"
      "</network>");
  EXPECT_EQ(net.forwardModeOther, "hostdev");
  ASSERT_EQ(net.unsupported.size(), 1u);
  EXPECT_EQ(net.unsupported[0].path, "network/forward/pf");
  EXPECT_EQ(net.unsupported[0].line, 4);
  Status s = model::checkStartable(net);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::Unsupported);
  EXPECT_EQ(s.error().message(), "not supported yet: network/forward[@mode='hostdev'] (line 3)");
  EXPECT_NE(formatNetworkXml(net).find("<forward mode='hostdev'>\n    <pf dev='eth3'/>"),
            std::string::npos);
}

TEST(configXml, KeepsUnsupportedElementsVerbatim) {
  model::Network net =
      parseOk(R"(<network xmlns:dnsmasq='http://libvirt.org/schemas/network/dnsmasq/1.0'>
  <name>n</name>
  <portgroup name='pg' default='yes'>
    <vlan><tag id='5'/></vlan>
  </portgroup>
  <ip address='10.0.0.1' prefix='24'>
    <tftp root='/srv'/>
  </ip>
  <dnsmasq:options>
    <dnsmasq:option value='x'/>
  </dnsmasq:options>
</network>)");
  ASSERT_EQ(net.unsupported.size(), 3u);
  EXPECT_EQ(net.unsupported[0].path, "network/portgroup");
  EXPECT_EQ(net.unsupported[0].line, 3);
  EXPECT_EQ(net.unsupported[0].xml,
            "<portgroup name='pg' default='yes'><vlan><tag id='5'/></vlan></portgroup>");
  EXPECT_EQ(net.unsupported[1].path, "network/ip[1]/tftp");
  EXPECT_EQ(net.unsupported[2].path, "network/dnsmasq:options");
  EXPECT_EQ(net.unsupported[2].xml,
            "<dnsmasq:options xmlns:dnsmasq='http://libvirt.org/schemas/network/dnsmasq/1.0'>"
            "<dnsmasq:option value='x'/></dnsmasq:options>");
  Status s = model::checkStartable(net);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message(), "not supported yet: network/portgroup (line 3)");
  std::string out = formatNetworkXml(net);
  EXPECT_NE(out.find("  <ip address='10.0.0.1' prefix='24'>\n    <tftp root='/srv'/>\n  </ip>"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("  <portgroup name='pg' default='yes'>\n    <vlan>\n      <tag id='5'/>"),
            std::string::npos)
      << out;
  EXPECT_EQ(formatNetworkXml(parseOk(out)), out);
}

TEST(configXml, RejectsOversizedInput) {
  std::string big = "<network><name>n</name><description>" + std::string(kMaxXmlBytes, 'x') +
                    "</description></network>";
  auto net = parseNetworkXml(big);
  ASSERT_FALSE(net.ok());
  EXPECT_EQ(net.error().code(), ErrorCode::TooLarge);
}

TEST(configXml, SyntaxErrorsNameLineAndColumn) {
  EXPECT_EQ(parseError("<network>\n  <name>x</nam>\n</network>"),
            "line 2, column 12: </nam> does not close <name> (line 2)");
  EXPECT_EQ(parseError("<network/><network/>"),
            "network (line 1): expected exactly one root element <network>, found 2");
}

TEST(configXml, BadValuesNameElementAndLine) {
  struct Case {
    const char* xml;
    const char* error;
  } cases[] = {
      {"<network>\n<bridge name='b' delay='-1'/></network>",
       "network/bridge (line 2): delay='-1' is not a number in 0..4294967295"},
      {"<network>\n<ip address='fd00::1' netmask='255.255.255.0'/></network>",
       "network/ip[1] (line 2): netmask is only allowed for IPv4; use prefix"},
      {"<network>\n<ip address='fd00::1' prefix='129'/></network>",
       "network/ip[1] (line 2): prefix='129' is not a prefix length in 0..128"},
      {"<network>\n<ip address='10.0.0.1' family='ipv5'/></network>",
       "network/ip[1] (line 2): family='ipv5' is not 'ipv4' or 'ipv6'"},
      {"<network>\n<ip address='10.0.0.1' localPtr='true'/></network>",
       "network/ip[1] (line 2): localPtr='true' is not 'yes' or 'no'"},
      {"<network>\n<ip address='10.0.0.1'>\n<dhcp>\n<bootp "
       "server='fd00::1'/></dhcp></ip></network>",
       "network/ip[1]/dhcp/bootp (line 4): server='fd00::1' is not a valid IPv4 address"},
      {"<network>\n<dns>\n<srv service='a' protocol='tcp' port='65536'/></dns></network>",
       "network/dns/srv[1] (line 3): port='65536' is not a number in 0..65535"},
      {"<network>\n<dns>\n<forwarder addr='x'/></dns></network>",
       "network/dns/forwarder[1] (line 3): addr='x' is not a valid IP address"},
      {"<network>\n<dns>\n<txt/>\n<host/></dns></network>",
       "network/dns/host[1] (line 4): missing attribute 'ip'"},
      {"<network>\n<mac/></network>", "network/mac (line 2): missing attribute 'address'"},
      {"<network>\n<mtu size=''/></network>",
       "network/mtu (line 2): size='' is not a number in 0..4294967295"},
      {"<network>\n<domain name='x' localOnly='1'/></network>",
       "network/domain (line 2): localOnly='1' is not 'yes' or 'no'"},
      {"<network>\n<forward>\n<nat ipv6='on'/></forward></network>",
       "network/forward/nat (line 3): ipv6='on' is not 'yes' or 'no'"},
      {"<network>\n<forward>\n<nat/>\n<nat/></forward></network>",
       "network/forward/nat (line 4): duplicate <nat>"},
      {"<network>\n<route address='10.0.0.0' prefix='8'/></network>",
       "network/route[1] (line 2): missing attribute 'gateway'"},
      {"<network>\n<route address='10.0.0.0' gateway='10.1.1.1' metric='x'/></network>",
       "network/route[1] (line 2): metric='x' is not a number in 0..4294967295"},
      {"<network>\n<ip address='10.0.0.1'>\n<dhcp>\n<range start='10.0.0.2' end='10.0.0.3'>\n"
       "<lease unit='hours'/></range></dhcp></ip></network>",
       "network/ip[1]/dhcp/range[1]/lease (line 5): missing attribute 'expiry'"},
  };
  for (const Case& c : cases) EXPECT_EQ(parseError(c.xml), c.error) << c.xml;
}

TEST(configXml, DefaultsPrefixByClassAndFamily) {
  model::Network net = parseOk(
      "<network><name>n</name><ip address='10.0.0.1'/><ip address='172.16.0.1'/>"
      "<ip address='192.168.1.1'/><ip address='fd00::1'/></network>");
  ASSERT_EQ(net.ips.size(), 4u);
  EXPECT_EQ(net.ips[0].prefix, 8);
  EXPECT_EQ(net.ips[1].prefix, 16);
  EXPECT_EQ(net.ips[2].prefix, 24);
  EXPECT_EQ(net.ips[3].prefix, 64);
  EXPECT_EQ(net.ips[3].family, Family::V6);
  EXPECT_NE(formatNetworkXml(net).find("<ip family='ipv6' address='fd00::1' prefix='64'/>"),
            std::string::npos);
}

TEST(configXml, TextKeepsCdataAndCarriageReturnsStably) {
  model::Network net = parseOk(
      "<network><name>n</name><description><![CDATA[a <b> & c]]>&#13;d</description></network>");
  EXPECT_EQ(net.description, "a <b> & c\rd");
  std::string out = formatNetworkXml(net);
  EXPECT_NE(out.find("<description>a &lt;b&gt; &amp; c&#13;d</description>"), std::string::npos)
      << out;
  EXPECT_EQ(parseOk(out).description, net.description);
}

TEST(configXml, CharacterReferencesBeyondUnicodeAreRefusedWhereTheyAreDecoded) {
  // 4294967361 is 2^32 + 65: read in 32 bits it would be 'A'.
  for (const std::string ref : {"&#4294967361;", "&#x100000041;", "&#1114112;", "&#x110000;",
                                "&#00000000000000000000000000001114112;"}) {
    auto r = parseNetworkXml("<network><name>n</name><title>" + ref + "</title></network>");
    ASSERT_FALSE(r.ok()) << ref;
    EXPECT_NE(r.error().message().find("line 1, column 31: character reference '"),
              std::string::npos)
        << r.error().message();
    EXPECT_NE(r.error().message().find("' is beyond U+10FFFF"), std::string::npos)
        << r.error().message();
    auto a = parseNetworkXml("<network><name>n</name><bridge name='b" + ref + "'/></network>");
    EXPECT_FALSE(a.ok()) << ref;
  }
  // The largest character, long runs of leading zeros, and text where nothing is decoded.
  EXPECT_EQ(parseOk("<network><name>n</name><title>&#x10FFFF;&#0000000000000065;</title></network>")
                .title,
            "\xF4\x8F\xBF\xBF"
            "A");
  EXPECT_EQ(parseOk("<network><!-- &#4294967361; --><?pi &#x110000;?><name>n</name>"
                    "<title><![CDATA[&#4294967361;]]></title></network>")
                .title,
            "&#4294967361;");
}

TEST(configXml, IgnoresUnknownAttributes) {
  model::Network net =
      parseOk("<network connections='3'><name>n</name><bridge name='b' zone='x'/></network>");
  EXPECT_EQ(net.bridge.name, "b");
}

TEST(configXml, ParsesDhcpHostFragment) {
  auto host = parseDhcpHostXml("<host mac='52:54:00:00:00:01' name='vm' ip='192.168.122.5'/>");
  ASSERT_TRUE(host.ok()) << host.error().message();
  EXPECT_EQ(host->mac->toString(), "52:54:00:00:00:01");
  EXPECT_EQ(host->name, "vm");
  EXPECT_EQ(host->ip->toString(), "192.168.122.5");
  EXPECT_EQ(formatDhcpHostXml(*host),
            "<host mac='52:54:00:00:00:01' name='vm' ip='192.168.122.5'/>\n");
  auto bad = parseDhcpHostXml("<host mac='zz' ip='192.168.122.5'/>");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message(), "host (line 1): mac='zz' is not a valid MAC address");
  auto wrong = parseDhcpHostXml("<range start='1.1.1.1' end='1.1.1.2'/>");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().message(),
            "range (line 1): the root element must be <host>, not <range>");
}

TEST(configXml, ParsesOtherFragments) {
  auto range = parseDhcpRangeXml(
      "<range start='192.168.122.10' end='192.168.122.20'><lease expiry='2' "
      "unit='hours'/></range>");
  ASSERT_TRUE(range.ok()) << range.error().message();
  EXPECT_EQ(range->lease->seconds(), 7200u);
  EXPECT_EQ(formatDhcpRangeXml(*range),
            "<range start='192.168.122.10' end='192.168.122.20'>\n"
            "  <lease expiry='2' unit='hours'/>\n</range>\n");

  auto dns_host = parseDnsHostXml("<host ip='192.168.122.7'><hostname>a</hostname></host>");
  ASSERT_TRUE(dns_host.ok()) << dns_host.error().message();
  EXPECT_EQ(dns_host->hostnames, std::vector<std::string>{"a"});
  EXPECT_EQ(formatDnsHostXml(*dns_host),
            "<host ip='192.168.122.7'>\n  <hostname>a</hostname>\n</host>\n");

  auto srv = parseDnsSrvXml("<srv service='http' protocol='tcp' port='80' weight='5'/>");
  ASSERT_TRUE(srv.ok()) << srv.error().message();
  EXPECT_EQ(srv->port, 80);
  EXPECT_EQ(formatDnsSrvXml(*srv), "<srv service='http' protocol='tcp' port='80' weight='5'/>\n");

  auto txt = parseDnsTxtXml("<txt name='k' value='it&apos;s'/>");
  ASSERT_TRUE(txt.ok()) << txt.error().message();
  EXPECT_EQ(txt->value, "it's");
  EXPECT_EQ(formatDnsTxtXml(*txt), "<txt name='k' value='it&apos;s'/>\n");
}

}  // namespace
}  // namespace vnet::config
