#include "dns/resolver.h"

#include <gtest/gtest.h>

#include <memory>

#include "dns_test_util.h"

namespace vnet::dns {
namespace {

using namespace std::chrono_literals;
using testing::aRecord;
using testing::makeQuery;
using testing::makeResponse;
using testing::name;
using testing::parse;
using testing::QueryOptions;
using testing::soaRecord;

// Records resolve() calls; the test answers them by hand.
class FakeUpstream : public Upstream {
 public:
  struct Call {
    Question question;
    bool dnssecOk = false;
    UpstreamCallback done;
  };
  void resolve(const Question& q, bool dnssecOk, UpstreamCallback done) override {
    calls.push_back(Call{q, dnssecOk, std::move(done)});
  }
  bool canForward(const Name&) override { return forward; }
  uint64_t generation() override { return gen; }

  void answer(size_t i, const std::vector<uint8_t>& wire) {
    auto a = std::make_shared<UpstreamAnswer>();
    a->wire = wire;
    auto l = scanMessage(wire);
    ASSERT_TRUE(l.ok());
    a->layout = *l;
    a->serial = ++serial;
    calls.at(i).done(std::shared_ptr<const UpstreamAnswer>(a));
  }
  void fail(size_t i) { calls.at(i).done(Error("timed out")); }

  std::vector<Call> calls;
  bool forward = true;
  uint64_t gen = 0;  // tests bump it with `forward`
  uint64_t serial = 0;
};

class DnsResolverTest : public ::testing::Test {
 protected:
  DnsResolverTest() : resolver_(&upstream_, [this] { return now_; }) {
    ResolverConfig c;
    c.zone.domain = "example.test";
    c.zone.hosts.push_back(StaticHost{*IpAddress::parse("192.168.122.10"), {"web"}});
    c.zone.reverseZones.push_back(*Cidr::parse("192.168.122.0/24"));
    c.zone.allowedClients.push_back(*Cidr::parse("192.168.122.0/24"));
    c.rateLimit = RateLimit{0, 0, 16};
    config_ = c;
    EXPECT_TRUE(resolver_.configure(c).ok());
  }

  Resolver::Outcome ask(const std::vector<uint8_t>& q, Transport t = Transport::Udp,
                        const char* from = "192.168.122.5") {
    return resolver_.handle(q, *IpAddress::parse(from), t,
                            [this](std::vector<uint8_t> r) { later_.push_back(std::move(r)); });
  }
  Message askOk(const std::vector<uint8_t>& q, Transport t = Transport::Udp) {
    auto o = ask(q, t);
    EXPECT_EQ(o.kind, Resolver::Outcome::Kind::Reply);
    return parse(o.reply);
  }

  SteadyTime now_ = SteadyTime{} + 1000s;
  FakeUpstream upstream_;
  Resolver resolver_;
  ResolverConfig config_;
  std::vector<std::vector<uint8_t>> later_;
};

TEST_F(DnsResolverTest, AnswersLocalNamesAuthoritatively) {
  Message r = askOk(makeQuery("WeB.example.test", RrType::A, QueryOptions{.id = 77}));
  EXPECT_EQ(r.header.id, 77);
  EXPECT_TRUE(r.header.qr);
  EXPECT_TRUE(r.header.aa);
  EXPECT_TRUE(r.header.rd);
  EXPECT_TRUE(r.header.ra);
  EXPECT_EQ(r.rcode(), Rcode::NoError);
  ASSERT_EQ(r.answers.size(), 1u);
  // The owner is the question name as the client spelled it.
  EXPECT_EQ(r.answers[0].name.toString(), "WeB.example.test");
  EXPECT_EQ(std::get<Ipv4>(r.answers[0].data).toString(), "192.168.122.10");
  EXPECT_FALSE(r.edns.has_value());
  EXPECT_EQ(resolver_.counters().localAnswers, 1u);
  EXPECT_TRUE(upstream_.calls.empty());
}

TEST_F(DnsResolverTest, LocalNegativeAnswersCarrySoa) {
  Message r = askOk(makeQuery("77.122.168.192.in-addr.arpa", RrType::PTR));
  EXPECT_EQ(r.rcode(), Rcode::NxDomain);
  EXPECT_TRUE(r.header.aa);
  ASSERT_EQ(r.authority.size(), 1u);
  EXPECT_EQ(r.authority[0].type, RrType::SOA);
  EXPECT_EQ(r.authority[0].name.toString(), "122.168.192.in-addr.arpa");

  Message nodata = askOk(makeQuery("web", RrType::AAAA));
  EXPECT_EQ(nodata.rcode(), Rcode::NoError);
  EXPECT_TRUE(nodata.answers.empty());
}

TEST_F(DnsResolverTest, PtrForStaticHost) {
  Message r = askOk(makeQuery("10.122.168.192.in-addr.arpa", RrType::PTR));
  ASSERT_EQ(r.answers.size(), 1u);
  EXPECT_EQ(std::get<Name>(r.answers[0].data).toString(), "web.example.test");
}

TEST_F(DnsResolverTest, RefusesClientsOutsideAllowedSubnets) {
  auto o = ask(makeQuery("web", RrType::A), Transport::Udp, "10.0.0.1");
  ASSERT_EQ(o.kind, Resolver::Outcome::Kind::Reply);
  Message r = parse(o.reply);
  EXPECT_EQ(r.rcode(), Rcode::Refused);
  EXPECT_TRUE(r.answers.empty());
  ASSERT_EQ(r.questions.size(), 1u);
  EXPECT_EQ(resolver_.counters().refused, 1u);
}

TEST_F(DnsResolverTest, RateLimitsPerClient) {
  config_.rateLimit = RateLimit{10, 5, 16};
  ASSERT_TRUE(resolver_.configure(config_).ok());
  const auto q = makeQuery("web", RrType::A);
  int answered = 0;
  for (int i = 0; i < 8; ++i) {
    if (ask(q).kind == Resolver::Outcome::Kind::Reply) ++answered;
  }
  EXPECT_EQ(answered, 5);
  EXPECT_EQ(resolver_.counters().rateLimited, 3u);
  // Another client has its own bucket.
  EXPECT_EQ(ask(q, Transport::Udp, "192.168.122.6").kind, Resolver::Outcome::Kind::Reply);
  // 10 qps refill: after 0.3 s three more.
  now_ += 300ms;
  answered = 0;
  for (int i = 0; i < 5; ++i) {
    if (ask(q).kind == Resolver::Outcome::Kind::Reply) ++answered;
  }
  EXPECT_EQ(answered, 3);
}

TEST_F(DnsResolverTest, AnyGetsMinimalHinfo) {
  Message r = askOk(makeQuery("example.org", RrType::ANY));
  EXPECT_EQ(r.rcode(), Rcode::NoError);
  ASSERT_EQ(r.answers.size(), 1u);
  EXPECT_EQ(r.answers[0].type, RrType::HINFO);
  EXPECT_EQ(std::get<Hinfo>(r.answers[0].data).cpu, "RFC8482");
  EXPECT_TRUE(upstream_.calls.empty());
  // A local name answers ANY with what it has.
  Message local = askOk(makeQuery("web", RrType::ANY));
  ASSERT_EQ(local.answers.size(), 1u);
  EXPECT_EQ(local.answers[0].type, RrType::A);
}

TEST_F(DnsResolverTest, MalformedQueries) {
  // Too short or a response: dropped.
  EXPECT_EQ(ask({1, 2, 3}).kind, Resolver::Outcome::Kind::Drop);
  auto resp = makeQuery("web", RrType::A);
  resp[2] |= 0x80;
  EXPECT_EQ(ask(resp).kind, Resolver::Outcome::Kind::Drop);
  EXPECT_EQ(resolver_.counters().dropped, 2u);

  // Header readable, question not: FORMERR with the ID kept.
  std::vector<uint8_t> bad = {0xAB, 0xCD, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1};
  auto o = ask(bad);
  ASSERT_EQ(o.kind, Resolver::Outcome::Kind::Reply);
  Message r = parse(o.reply);
  EXPECT_EQ(r.header.id, 0xABCD);
  EXPECT_EQ(r.rcode(), Rcode::FormErr);
  EXPECT_TRUE(r.questions.empty());

  // Two questions: FORMERR.
  Message two;
  two.questions.push_back({name("a"), RrType::A, kClassIn});
  two.questions.push_back({name("b"), RrType::A, kClassIn});
  EXPECT_EQ(askOk(*serializeMessage(two)).rcode(), Rcode::FormErr);
  EXPECT_EQ(resolver_.counters().formErr, 2u);
}

TEST_F(DnsResolverTest, OtherOpcodesAreNotImplemented) {
  auto q = makeQuery("web", RrType::A);
  q[2] |= 0x10;  // opcode 2 (STATUS)
  Message r = askOk(q);
  EXPECT_EQ(r.rcode(), Rcode::NotImp);
  EXPECT_EQ(r.header.opcode, 2);
}

TEST_F(DnsResolverTest, UnknownEdnsVersionGetsBadVers) {
  Message r = askOk(makeQuery("web", RrType::A, QueryOptions{.edns = true, .ednsVersion = 1}));
  ASSERT_TRUE(r.edns.has_value());
  EXPECT_EQ(r.rcode(), Rcode::BadVers);
}

TEST_F(DnsResolverTest, EdnsQueriesGetOpt) {
  Message r = askOk(makeQuery("web", RrType::A, QueryOptions{.edns = true, .dnssecOk = true}));
  ASSERT_TRUE(r.edns.has_value());
  EXPECT_EQ(r.edns->udpSize, 1232);
  EXPECT_TRUE(r.edns->dnssecOk);
}

TEST_F(DnsResolverTest, IsolatedNetworksNeverForward) {
  config_.forwarding = false;
  ASSERT_TRUE(resolver_.configure(config_).ok());
  Message r = askOk(makeQuery("www.example.org", RrType::A));
  EXPECT_EQ(r.rcode(), Rcode::Refused);
  EXPECT_FALSE(r.header.ra);
  EXPECT_TRUE(upstream_.calls.empty());
  // Local names still answer.
  EXPECT_EQ(askOk(makeQuery("web", RrType::A)).answers.size(), 1u);
}

TEST_F(DnsResolverTest, NoUpstreamForNameIsRefused) {
  upstream_.forward = false;
  EXPECT_EQ(askOk(makeQuery("www.example.org", RrType::A)).rcode(), Rcode::Refused);
}

TEST_F(DnsResolverTest, PlainNamesAreNotForwardedWhenDisabled) {
  config_.zone.forwardPlainNames = false;
  ASSERT_TRUE(resolver_.configure(config_).ok());
  Message r = askOk(makeQuery("printer", RrType::A));
  EXPECT_EQ(r.rcode(), Rcode::NxDomain);
  EXPECT_FALSE(r.header.aa);
  EXPECT_TRUE(upstream_.calls.empty());
}

TEST_F(DnsResolverTest, ForwardsThenAnswersFromCache) {
  auto o = ask(makeQuery("www.Example.org", RrType::A, QueryOptions{.id = 1}));
  ASSERT_EQ(o.kind, Resolver::Outcome::Kind::Pending);
  ASSERT_EQ(upstream_.calls.size(), 1u);
  EXPECT_EQ(upstream_.calls[0].question.name, name("www.example.org"));
  upstream_.answer(0, makeResponse(999, "www.example.org", RrType::A, Rcode::NoError,
                                   {aRecord("www.example.org", "198.51.100.7", 300)}, {}, true));
  ASSERT_EQ(later_.size(), 1u);
  Message r = parse(later_[0]);
  EXPECT_EQ(r.header.id, 1);
  EXPECT_FALSE(r.header.aa);
  EXPECT_TRUE(r.header.ra);
  EXPECT_EQ(r.questions[0].name.toString(), "www.Example.org");
  ASSERT_EQ(r.answers.size(), 1u);
  EXPECT_EQ(r.answers[0].ttl, 300u);
  EXPECT_FALSE(r.edns.has_value());  // the client sent none (RFC 6891 §7)
  EXPECT_EQ(resolver_.counters().forwarded, 1u);

  now_ += 100s;
  Message cached = askOk(makeQuery("WWW.EXAMPLE.ORG", RrType::A, QueryOptions{.id = 2}));
  EXPECT_EQ(cached.header.id, 2);
  EXPECT_EQ(cached.questions[0].name.toString(), "WWW.EXAMPLE.ORG");
  ASSERT_EQ(cached.answers.size(), 1u);
  EXPECT_EQ(cached.answers[0].ttl, 200u);
  EXPECT_EQ(resolver_.counters().cacheHits, 1u);
  EXPECT_EQ(upstream_.calls.size(), 1u);

  // An EDNS client gets an OPT with our payload size.
  Message withOpt = askOk(makeQuery("www.example.org", RrType::A, QueryOptions{.edns = true}));
  ASSERT_TRUE(withOpt.edns.has_value());
  EXPECT_EQ(withOpt.edns->udpSize, 1232);
}

TEST_F(DnsResolverTest, RefusesAnAnswerWhoseNamesReadItsTtlFields) {
  // Found by fuzzing: the second answer's owner is a compression pointer into the first
  // answer's TTL field (offset 41). With TTL 0x0001002c it reads a root label; served from
  // the cache 100 s later the TTL is 0x0000ffc8 and the same byte reads as a pointer to
  // offset 16328. Such an answer is a failed upstream: SERVFAIL, and nothing cached.
  const std::vector<uint8_t> answer = {0x12, 0x34, 0x81, 0x80, 0,   1,   0,    2,    0,
                                       0,    0,    0,  // header
                                       3,    'w',  'w',  'w',  7,   'e', 'x',  'a',  'm',
                                       'p',  'l',  'e',  3,    'o', 'r', 'g',  0,  // qname
                                       0,    1,    0,    1,                        // A IN
                                       0xc0, 0x0c, 0,    1,    0,   1,   0x00, 0x01, 0x00,
                                       0x2c, 0,    4,    198,  51,  100, 7,  // TTL at 39
                                       0xc0, 41,   0,    1,    0,   1,   0,    0,    1,
                                       0x2c, 0,    4,    198,  51,  100, 8};
  auto layout = scanMessage(answer);
  ASSERT_TRUE(layout.ok());
  EXPECT_FALSE(namesSurviveFieldRewrite(answer, *layout));
  auto o = ask(makeQuery("www.example.org", RrType::A, QueryOptions{.id = 1}));
  ASSERT_EQ(o.kind, Resolver::Outcome::Kind::Pending);
  upstream_.answer(0, answer);
  ASSERT_EQ(later_.size(), 1u);
  auto reply = parseMessage(later_[0]);
  ASSERT_TRUE(reply.ok()) << reply.error().message();
  EXPECT_EQ(reply->rcode(), Rcode::ServFail);
  EXPECT_TRUE(reply->answers.empty());
  EXPECT_EQ(resolver_.cacheSize(), 0u);

  now_ += 100s;
  o = ask(makeQuery("www.example.org", RrType::A, QueryOptions{.id = 2}));
  EXPECT_EQ(o.kind, Resolver::Outcome::Kind::Pending);
  EXPECT_EQ(upstream_.calls.size(), 2u);
  EXPECT_EQ(resolver_.counters().cacheHits, 0u);
}

TEST(DnsMessageTest, NamesSurviveFieldRewriteOnlyWhenNoNameReadsATtlOrOptClass) {
  // Conformant: the answer's owner points at the question name.
  const std::vector<uint8_t> base = {0x12, 0x34, 0x81, 0x80, 0,    1,   0,   1,   0,
                                     0,    0,    1,  // header
                                     3,    'w',  'w',  'w',  7,    'e', 'x', 'a', 'm',
                                     'p',  'l',  'e',  3,    'o',  'r', 'g', 0,  // qname
                                     0,    1,    0,    1,                        // A IN
                                     0xc0, 0x0c, 0,    5,    0,    1,   0,   0,   0,
                                     60,   0,    2,    0xc0, 0x0c,  // CNAME, TTL at 39, rdata at 45
                                     0,    0,    41,   0x10, 0x00, 0,   0,   0,   0,
                                     0,    0};  // OPT at 47, CLASS at 50
  auto ok = scanMessage(base);
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(namesSurviveFieldRewrite(base, *ok));

  // The CNAME target points at the TTL's third octet: a root name while the TTL is 60, a
  // label of whatever length once a rewritten TTL puts something else there.
  auto intoTtl = base;
  intoTtl[45] = 0xc0;
  intoTtl[46] = 41;
  auto l1 = scanMessage(intoTtl);
  ASSERT_TRUE(l1.ok());
  EXPECT_TRUE(parseMessage(intoTtl).ok());
  EXPECT_FALSE(namesSurviveFieldRewrite(intoTtl, *l1));

  // A record after OPT whose owner points at OPT's CLASS (replaced by our payload size).
  auto intoOpt = base;
  intoOpt[11] = 2;
  intoOpt[50] = 0;
  intoOpt[51] = 0;
  intoOpt.insert(intoOpt.end(), {0xc0, 50, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1});
  auto l2 = scanMessage(intoOpt);
  ASSERT_TRUE(l2.ok());
  EXPECT_TRUE(parseMessage(intoOpt).ok());
  EXPECT_FALSE(namesSurviveFieldRewrite(intoOpt, *l2));
}

TEST_F(DnsResolverTest, CachesNegativeAnswers) {
  ASSERT_EQ(ask(makeQuery("nx.example.org", RrType::A)).kind, Resolver::Outcome::Kind::Pending);
  upstream_.answer(0, makeResponse(5, "nx.example.org", RrType::A, Rcode::NxDomain, {},
                                   {soaRecord("example.org", 3600, 60)}));
  ASSERT_EQ(later_.size(), 1u);
  EXPECT_EQ(parse(later_[0]).rcode(), Rcode::NxDomain);
  now_ += 59s;
  Message r = askOk(makeQuery("nx.example.org", RrType::A));
  EXPECT_EQ(r.rcode(), Rcode::NxDomain);
  ASSERT_EQ(r.authority.size(), 1u);
  EXPECT_EQ(r.authority[0].ttl, 1u);
  now_ += 1s;
  EXPECT_EQ(ask(makeQuery("nx.example.org", RrType::A)).kind, Resolver::Outcome::Kind::Pending);
}

TEST_F(DnsResolverTest, UpstreamFailureIsServFail) {
  ASSERT_EQ(ask(makeQuery("down.example.org", RrType::A, QueryOptions{.id = 9, .edns = true})).kind,
            Resolver::Outcome::Kind::Pending);
  upstream_.fail(0);
  ASSERT_EQ(later_.size(), 1u);
  Message r = parse(later_[0]);
  EXPECT_EQ(r.header.id, 9);
  EXPECT_EQ(r.rcode(), Rcode::ServFail);
  EXPECT_EQ(r.questions[0].name.toString(), "down.example.org");
  EXPECT_TRUE(r.edns.has_value());
  EXPECT_EQ(resolver_.counters().servFail, 1u);
  EXPECT_EQ(resolver_.cacheSize(), 0u);
}

TEST_F(DnsResolverTest, LargeAnswersAreTruncatedForUdpOnly) {
  std::vector<ResourceRecord> many;
  for (int i = 0; i < 40; ++i) {
    many.push_back(aRecord("big.example.org", ("198.51.100." + std::to_string(i)).c_str(), 60));
  }
  ASSERT_EQ(ask(makeQuery("big.example.org", RrType::A)).kind, Resolver::Outcome::Kind::Pending);
  upstream_.answer(0, makeResponse(1, "big.example.org", RrType::A, Rcode::NoError, many));
  ASSERT_EQ(later_.size(), 1u);
  EXPECT_LE(later_[0].size(), 512u);
  Message udp = parse(later_[0]);
  EXPECT_TRUE(udp.header.tc);
  EXPECT_TRUE(udp.answers.empty());
  // Over TCP (from the cache) the whole answer.
  Message tcp = askOk(makeQuery("big.example.org", RrType::A), Transport::Tcp);
  EXPECT_FALSE(tcp.header.tc);
  EXPECT_EQ(tcp.answers.size(), 40u);
  // An EDNS client with room gets it over UDP as well.
  Message edns = askOk(makeQuery("big.example.org", RrType::A, QueryOptions{.edns = true}));
  EXPECT_EQ(edns.answers.size(), 40u);
}

TEST_F(DnsResolverTest, AdBitOnlyForInterestedClients) {
  auto resp = makeResponse(1, "sec.example.org", RrType::A, Rcode::NoError,
                           {aRecord("sec.example.org", "198.51.100.1", 60)});
  resp[3] |= 0x20;  // AD
  ASSERT_EQ(ask(makeQuery("sec.example.org", RrType::A)).kind, Resolver::Outcome::Kind::Pending);
  upstream_.answer(0, resp);
  EXPECT_FALSE(parse(later_[0]).header.ad);
  auto adQuery = makeQuery("sec.example.org", RrType::A);
  adQuery[3] |= 0x20;
  EXPECT_TRUE(askOk(adQuery).header.ad);
}

TEST_F(DnsResolverTest, ReconfigureKeepsCache) {
  ASSERT_EQ(ask(makeQuery("keep.example.org", RrType::A)).kind, Resolver::Outcome::Kind::Pending);
  upstream_.answer(0, makeResponse(1, "keep.example.org", RrType::A, Rcode::NoError,
                                   {aRecord("keep.example.org", "198.51.100.1", 60)}));
  config_.zone.domain = "other.test";
  ASSERT_TRUE(resolver_.configure(config_).ok());
  EXPECT_EQ(resolver_.cacheSize(), 1u);
  EXPECT_EQ(askOk(makeQuery("keep.example.org", RrType::A)).answers.size(), 1u);
  resolver_.flushCache();
  EXPECT_EQ(resolver_.cacheSize(), 0u);
}

TEST_F(DnsResolverTest, RefusesZoneTransfersAndOtherClasses) {
  EXPECT_EQ(askOk(makeQuery("example.test", RrType::AXFR)).rcode(), Rcode::Refused);
  auto ch = makeQuery("version.bind", RrType::TXT);
  ch[ch.size() - 1] = 3;  // class CH
  EXPECT_EQ(askOk(ch).rcode(), Rcode::Refused);
}

}  // namespace
}  // namespace vnet::dns
