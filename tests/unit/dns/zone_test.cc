#include "dns/zone.h"

#include <gtest/gtest.h>

#include "dns_test_util.h"

namespace vnet::dns {
namespace {

using testing::name;

ZoneConfig baseConfig() {
  ZoneConfig c;
  c.domain = "example.test";
  c.hosts.push_back(StaticHost{*IpAddress::parse("192.168.122.10"), {"web", "www"}});
  c.hosts.push_back(StaticHost{*IpAddress::parse("fd00::10"), {"web"}});
  c.hosts.push_back(StaticHost{*IpAddress::parse("192.168.122.11"), {"db.other.test"}});
  c.srvs.push_back(SrvRecord{"ldap", "tcp", "", "web.example.test", 389, 10, 20});
  c.txts.push_back(TxtRecord{"info", "hello world"});
  c.reverseZones.push_back(*Cidr::parse("192.168.122.0/24"));
  c.localTtl = 5;
  return c;
}

Zone makeZone(const ZoneConfig& c) {
  Zone z;
  EXPECT_TRUE(z.configure(c).ok());
  return z;
}

std::vector<const LocalRecord*> recordsOf(const ZoneAnswer& a, RrType t) {
  std::vector<const LocalRecord*> out;
  if (a.records == nullptr) return out;
  for (const auto& r : *a.records) {
    if (r.type == t) out.push_back(&r);
  }
  return out;
}

TEST(DnsZoneTest, AnswersPlainAndQualifiedHostNames) {
  Zone z = makeZone(baseConfig());
  for (const char* q : {"web", "web.example.test", "WWW.Example.Test"}) {
    auto a = z.lookup(name(q), RrType::A);
    ASSERT_EQ(a.verdict, ZoneVerdict::Answer) << q;
    auto recs = recordsOf(a, RrType::A);
    ASSERT_EQ(recs.size(), 1u);
    EXPECT_EQ(recs[0]->rdata, (std::vector<uint8_t>{192, 168, 122, 10}));
    EXPECT_EQ(recs[0]->ttl, 5u);
  }
  auto aaaa = z.lookup(name("web.example.test"), RrType::AAAA);
  ASSERT_EQ(aaaa.verdict, ZoneVerdict::Answer);
  // A dotted name is taken as given, not expanded.
  EXPECT_EQ(z.lookup(name("db.other.test"), RrType::A).verdict, ZoneVerdict::Answer);
  EXPECT_EQ(z.lookup(name("db.other.test.example.test"), RrType::A).verdict, ZoneVerdict::Forward);
}

TEST(DnsZoneTest, LocalNameWithoutTypeIsNoData) {
  Zone z = makeZone(baseConfig());
  auto a = z.lookup(name("www"), RrType::AAAA);
  EXPECT_EQ(a.verdict, ZoneVerdict::NoData);
  EXPECT_EQ(z.lookup(name("web"), RrType::MX).verdict, ZoneVerdict::NoData);
}

TEST(DnsZoneTest, PtrNamesTheQualifiedFirstName) {
  Zone z = makeZone(baseConfig());
  auto a = z.lookup(name("10.122.168.192.in-addr.arpa"), RrType::PTR);
  ASSERT_EQ(a.verdict, ZoneVerdict::Answer);
  auto recs = recordsOf(a, RrType::PTR);
  ASSERT_EQ(recs.size(), 1u);
  auto target = Name::fromWire(recs[0]->rdata);
  ASSERT_TRUE(target.ok());
  EXPECT_EQ(target->toString(), "web.example.test");
  auto v6 = z.lookup(reverseName(*IpAddress::parse("fd00::10")), RrType::PTR);
  EXPECT_EQ(v6.verdict, ZoneVerdict::Answer);
}

TEST(DnsZoneTest, OwnedReverseZoneIsAuthoritative) {
  Zone z = makeZone(baseConfig());
  auto nx = z.lookup(name("99.122.168.192.in-addr.arpa"), RrType::PTR);
  EXPECT_EQ(nx.verdict, ZoneVerdict::NxDomain);
  ASSERT_NE(nx.soa, nullptr);
  EXPECT_EQ(nx.soa->owner.toString(), "122.168.192.in-addr.arpa");
  EXPECT_TRUE(nx.authoritative);
  // Outside the owned subnet: forwarded.
  EXPECT_EQ(z.lookup(name("1.1.168.192.in-addr.arpa"), RrType::PTR).verdict, ZoneVerdict::Forward);
  // The apex exists (SOA), other types are NODATA.
  EXPECT_EQ(z.lookup(name("122.168.192.in-addr.arpa"), RrType::SOA).verdict, ZoneVerdict::Answer);
  EXPECT_EQ(z.lookup(name("122.168.192.in-addr.arpa"), RrType::NS).verdict, ZoneVerdict::NoData);
}

TEST(DnsZoneTest, SrvAndTxt) {
  Zone z = makeZone(baseConfig());
  auto srv = z.lookup(name("_ldap._tcp.example.test"), RrType::SRV);
  ASSERT_EQ(srv.verdict, ZoneVerdict::Answer);
  auto recs = recordsOf(srv, RrType::SRV);
  ASSERT_EQ(recs.size(), 1u);
  // priority 10, weight 20, port 389, then the target.
  EXPECT_EQ(recs[0]->rdata[1], 10);
  EXPECT_EQ(recs[0]->rdata[3], 20);
  EXPECT_EQ((recs[0]->rdata[4] << 8) | recs[0]->rdata[5], 389);

  for (const char* q : {"info", "info.example.test"}) {
    auto txt = z.lookup(name(q), RrType::TXT);
    ASSERT_EQ(txt.verdict, ZoneVerdict::Answer) << q;
    auto t = recordsOf(txt, RrType::TXT);
    ASSERT_EQ(t.size(), 1u);
    EXPECT_EQ(t[0]->rdata.size(), 12u);
    EXPECT_EQ(t[0]->rdata[0], 11);
  }
}

TEST(DnsZoneTest, LongTxtValuesAreSplit) {
  ZoneConfig c;
  c.txts.push_back(TxtRecord{"long.test", std::string(300, 'x')});
  Zone z = makeZone(c);
  auto a = z.lookup(name("long.test"), RrType::TXT);
  auto t = recordsOf(a, RrType::TXT);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0]->rdata.size(), 302u);
  EXPECT_EQ(t[0]->rdata[0], 255);
  EXPECT_EQ(t[0]->rdata[256], 45);
}

TEST(DnsZoneTest, LocalOnlyDomainGivesNxDomainWithSoa) {
  ZoneConfig c = baseConfig();
  Zone open = makeZone(c);
  EXPECT_EQ(open.lookup(name("nope.example.test"), RrType::A).verdict, ZoneVerdict::Forward);

  c.localOnly = true;
  Zone z = makeZone(c);
  auto a = z.lookup(name("nope.example.test"), RrType::A);
  EXPECT_EQ(a.verdict, ZoneVerdict::NxDomain);
  ASSERT_NE(a.soa, nullptr);
  EXPECT_EQ(a.soa->owner.toString(), "example.test");
  EXPECT_EQ(z.lookup(name("example.test"), RrType::SOA).verdict, ZoneVerdict::Answer);
  EXPECT_EQ(z.lookup(name("www.example.org"), RrType::A).verdict, ZoneVerdict::Forward);
}

TEST(DnsZoneTest, LocalDomainsAreNeverForwarded) {
  ZoneConfig c;
  c.localDomains.push_back("internal.test");
  Zone z = makeZone(c);
  EXPECT_EQ(z.lookup(name("a.internal.test"), RrType::A).verdict, ZoneVerdict::NxDomain);
}

TEST(DnsZoneTest, PlainNamesFollowForwardPlainNames) {
  ZoneConfig c = baseConfig();
  Zone fwd = makeZone(c);
  EXPECT_EQ(fwd.lookup(name("printer"), RrType::A).verdict, ZoneVerdict::Forward);
  c.forwardPlainNames = false;
  Zone z = makeZone(c);
  auto a = z.lookup(name("printer"), RrType::A);
  EXPECT_EQ(a.verdict, ZoneVerdict::NxDomain);
  EXPECT_EQ(a.soa, nullptr);
  // Local plain names still answer; dotted names still forward.
  EXPECT_EQ(z.lookup(name("web"), RrType::A).verdict, ZoneVerdict::Answer);
  EXPECT_EQ(z.lookup(name("printer.example.org"), RrType::A).verdict, ZoneVerdict::Forward);
}

TEST(DnsZoneTest, DynamicHostsAnswerBothForms) {
  Zone z = makeZone(baseConfig());
  ASSERT_TRUE(z.setDynamicHost("guest1", *Ipv4::parse("192.168.122.50")).ok());
  for (const char* q : {"guest1", "GUEST1.example.test"}) {
    auto a = z.lookup(name(q), RrType::A);
    ASSERT_EQ(a.verdict, ZoneVerdict::Answer) << q;
    EXPECT_EQ(recordsOf(a, RrType::A)[0]->rdata, (std::vector<uint8_t>{192, 168, 122, 50}));
  }
  auto ptr = z.lookup(name("50.122.168.192.in-addr.arpa"), RrType::PTR);
  ASSERT_EQ(ptr.verdict, ZoneVerdict::Answer);
  EXPECT_EQ(Name::fromWire(recordsOf(ptr, RrType::PTR)[0]->rdata)->toString(),
            "guest1.example.test");

  // Moving the lease updates the answer; removing it forgets the name.
  ASSERT_TRUE(z.setDynamicHost("guest1.example.test", *Ipv4::parse("192.168.122.51")).ok());
  EXPECT_EQ(recordsOf(z.lookup(name("guest1"), RrType::A), RrType::A)[0]->rdata[3], 51);
  z.removeDynamicHost("guest1");
  EXPECT_EQ(z.lookup(name("guest1"), RrType::A).verdict, ZoneVerdict::Forward);
}

TEST(DnsZoneTest, DynamicHostNamesAreValidated) {
  Zone z = makeZone(baseConfig());
  const Ipv4 ip = *Ipv4::parse("192.168.122.60");
  EXPECT_FALSE(z.setDynamicHost("", ip).ok());
  EXPECT_FALSE(z.setDynamicHost("-bad", ip).ok());
  EXPECT_FALSE(z.setDynamicHost("bad name", ip).ok());
  EXPECT_FALSE(z.setDynamicHost("evil.example.org", ip).ok());
  EXPECT_FALSE(z.setDynamicHost("a.b.example.test", ip).ok());
  EXPECT_FALSE(z.setDynamicHost(std::string(64, 'a'), ip).ok());
  EXPECT_TRUE(z.setDynamicHost("win_pc", ip).ok());
}

TEST(DnsZoneTest, StaticHostWinsOverDynamic) {
  Zone z = makeZone(baseConfig());
  ASSERT_TRUE(z.setDynamicHost("web", *Ipv4::parse("192.168.122.99")).ok());
  auto recs = recordsOf(z.lookup(name("web"), RrType::A), RrType::A);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0]->rdata[3], 10);
}

TEST(DnsZoneTest, ReconfigureKeepsDynamicHosts) {
  Zone z = makeZone(baseConfig());
  ASSERT_TRUE(z.setDynamicHost("guest", *Ipv4::parse("192.168.122.70")).ok());
  ZoneConfig c = baseConfig();
  c.domain = "new.test";
  ASSERT_TRUE(z.configure(c).ok());
  EXPECT_EQ(z.lookup(name("guest.new.test"), RrType::A).verdict, ZoneVerdict::Answer);
  ZoneConfig bad = c;
  bad.domain = "a..b";
  EXPECT_FALSE(z.configure(bad).ok());
  EXPECT_EQ(z.config().domain, "new.test");
}

TEST(DnsZoneTest, ClientAllowed) {
  ZoneConfig c;
  Zone any = makeZone(c);
  EXPECT_TRUE(any.clientAllowed(*IpAddress::parse("203.0.113.5")));
  c.allowedClients.push_back(*Cidr::parse("192.168.122.0/24"));
  c.allowedClients.push_back(*Cidr::parse("fd00::/64"));
  Zone z = makeZone(c);
  EXPECT_TRUE(z.clientAllowed(*IpAddress::parse("192.168.122.77")));
  EXPECT_TRUE(z.clientAllowed(*IpAddress::parse("fd00::7")));
  EXPECT_FALSE(z.clientAllowed(*IpAddress::parse("192.168.123.1")));
  EXPECT_FALSE(z.clientAllowed(*IpAddress::parse("fd01::7")));
}

TEST(DnsZoneTest, ReverseNames) {
  EXPECT_EQ(reverseName(*IpAddress::parse("192.0.2.1")).toString(), "1.2.0.192.in-addr.arpa");
  EXPECT_EQ(reverseName(*IpAddress::parse("2001:db8::1")).toString(),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
  IpAddress ip;
  int bits = 0;
  ASSERT_TRUE(parseReverseName(name("2.0.192.IN-ADDR.ARPA"), ip, bits));
  EXPECT_EQ(ip.toString(), "192.0.2.0");
  EXPECT_EQ(bits, 24);
  ASSERT_TRUE(parseReverseName(reverseName(*IpAddress::parse("2001:db8::1")), ip, bits));
  EXPECT_EQ(ip.toString(), "2001:db8::1");
  EXPECT_EQ(bits, 128);
  EXPECT_FALSE(parseReverseName(name("256.0.192.in-addr.arpa"), ip, bits));
  EXPECT_FALSE(parseReverseName(name("01.0.192.in-addr.arpa"), ip, bits));
  EXPECT_FALSE(parseReverseName(name("1.2.3.4.5.in-addr.arpa"), ip, bits));
  EXPECT_FALSE(parseReverseName(name("example.com"), ip, bits));
  EXPECT_FALSE(parseReverseName(name("g.ip6.arpa"), ip, bits));
}

TEST(DnsZoneTest, RejectsBadConfig) {
  Zone z;
  ZoneConfig c;
  c.hosts.push_back(StaticHost{*IpAddress::parse("192.0.2.1"), {"a..b"}});
  EXPECT_FALSE(z.configure(c).ok());
  ZoneConfig s;
  s.srvs.push_back(SrvRecord{"ldap", "sctp", "", "x", 1, 0, 0});
  EXPECT_FALSE(z.configure(s).ok());
}

}  // namespace
}  // namespace vnet::dns
