// The resolver's fast path (answer_cache.h) against the full path: two resolvers, one with
// the answer cache and one without, get the same queries, clock and upstream answers; every
// reply must be byte for byte the same, and the fast one must have replayed.
#include <gtest/gtest.h>

#include <memory>

#include "dns/resolver.h"
#include "dns_test_util.h"

namespace vnet::dns {
namespace {

using namespace std::chrono_literals;
using testing::aRecord;
using testing::makeQuery;
using testing::makeResponse;
using testing::parse;
using testing::QueryOptions;
using testing::soaRecord;

class HeldUpstream : public Upstream {
 public:
  void resolve(const Question&, bool, UpstreamCallback done) override {
    pending.push_back(std::move(done));
  }
  bool canForward(const Name&) override { return forward; }
  uint64_t generation() override { return gen; }

  std::vector<UpstreamCallback> pending;
  bool forward = true;
  uint64_t gen = 0;
};

struct Side {
  explicit Side(const SteadyTime* now) : resolver(&upstream, [now] { return *now; }) {}
  HeldUpstream upstream;
  Resolver resolver;
  std::vector<std::vector<uint8_t>> later;  // replies of forwarded queries
};

class DnsFastPathTest : public ::testing::Test {
 protected:
  DnsFastPathTest() {
    config_.zone.domain = "example.test";
    config_.zone.localOnly = true;
    config_.zone.hosts.push_back(StaticHost{*IpAddress::parse("192.168.122.10"), {"web"}});
    config_.zone.txts.push_back(TxtRecord{"big", std::string(600, 'x')});
    config_.zone.reverseZones.push_back(*Cidr::parse("192.168.122.0/24"));
    config_.zone.allowedClients.push_back(*Cidr::parse("192.168.122.0/24"));
    config_.rateLimit = RateLimit{0, 0, 16};
    configure();
  }
  void configure() {
    ResolverConfig slow = config_;
    slow.answerCacheEntries = 0;
    ASSERT_TRUE(fast_.resolver.configure(config_).ok());
    ASSERT_TRUE(slow_.resolver.configure(slow).ok());
  }
  template <typename F>
  void bothZones(F&& f) {
    f(fast_.resolver.zone());
    f(slow_.resolver.zone());
  }

  // Asks both; expects the same kind and bytes. Returns the fast side's reply.
  std::vector<uint8_t> ask(const std::vector<uint8_t>& q, Transport t = Transport::Udp,
                           const char* from = "192.168.122.5") {
    auto f = fast_.resolver.handle(q, *IpAddress::parse(from), t, [this](std::vector<uint8_t> r) {
      fast_.later.push_back(std::move(r));
    });
    auto s = slow_.resolver.handle(q, *IpAddress::parse(from), t, [this](std::vector<uint8_t> r) {
      slow_.later.push_back(std::move(r));
    });
    EXPECT_EQ(f.kind, s.kind);
    EXPECT_EQ(f.reply, s.reply);
    return f.reply;
  }
  // Answers the oldest pending upstream query on both sides with the same response.
  void answer(const std::vector<uint8_t>& response) {
    for (Side* side : {&fast_, &slow_}) {
      ASSERT_FALSE(side->upstream.pending.empty());
      auto a = std::make_shared<UpstreamAnswer>();
      a->wire = response;
      auto l = scanMessage(response);
      ASSERT_TRUE(l.ok());
      a->layout = *l;
      a->serial = ++serial_;
      auto done = std::move(side->upstream.pending.front());
      side->upstream.pending.erase(side->upstream.pending.begin());
      done(std::shared_ptr<const UpstreamAnswer>(a));
    }
    EXPECT_EQ(fast_.later, slow_.later);
  }
  uint64_t replayed() const { return fast_.resolver.counters().replayed; }
  void expectSameCounters() {
    const ResolverCounters& a = fast_.resolver.counters();
    const ResolverCounters& b = slow_.resolver.counters();
    EXPECT_EQ(a.queries, b.queries);
    EXPECT_EQ(a.localAnswers, b.localAnswers);
    EXPECT_EQ(a.cacheHits, b.cacheHits);
    EXPECT_EQ(a.forwarded, b.forwarded);
    EXPECT_EQ(a.refused, b.refused);
    EXPECT_EQ(a.rateLimited, b.rateLimited);
    EXPECT_EQ(b.replayed, 0u);
  }

  ResolverConfig config_;
  SteadyTime now_ = SteadyTime{} + 1000s;
  Side fast_{&now_};
  Side slow_{&now_};
  uint64_t serial_ = 0;
};

// Query variants that differ in everything a reply depends on.
std::vector<std::vector<uint8_t>> variants(std::string_view qname, RrType type) {
  std::vector<std::vector<uint8_t>> v;
  uint16_t id = 100;
  for (bool rd : {true, false}) {
    for (bool edns : {false, true}) {
      for (bool dnssecOk : {false, true}) {
        if (dnssecOk && !edns) continue;
        for (uint16_t udpSize : {uint16_t(512), uint16_t(4096)}) {
          if (!edns && udpSize != 512) continue;
          auto q = makeQuery(
              qname, type,
              QueryOptions{
                  .id = ++id, .rd = rd, .edns = edns, .udpSize = udpSize, .dnssecOk = dnssecOk});
          v.push_back(q);
          q[3] |= 0x30;  // AD and CD
          q[1] = uint8_t(++id);
          v.push_back(q);
        }
      }
    }
  }
  return v;
}

TEST_F(DnsFastPathTest, LocalAnswersReplayExactly) {
  for (auto [qname, type] : {std::pair{"web.example.test", RrType::A},
                             {"web", RrType::AAAA},             // NODATA
                             {"nope.example.test", RrType::A},  // NXDOMAIN + SOA
                             {"10.122.168.192.in-addr.arpa", RrType::PTR},
                             {"9.122.168.192.in-addr.arpa", RrType::PTR},  // NXDOMAIN
                             {"web", RrType::ANY},
                             {"elsewhere.org", RrType::ANY},  // RFC 8482 HINFO
                             {"big.example.test", RrType::TXT}}) {
    for (const auto& q : variants(qname, type)) {
      const uint64_t before = replayed();
      ask(q);  // learns (or replays a shape learned just before)
      ask(q);
      EXPECT_GT(replayed(), before) << qname;
      for (Transport t : {Transport::Udp, Transport::Tcp}) ask(q, t);
    }
  }
  expectSameCounters();
}

TEST_F(DnsFastPathTest, CasePreservedAndIdsPatched) {
  ask(makeQuery("WEB.example.test", RrType::A, QueryOptions{.id = 1}));
  const auto r = ask(makeQuery("wEb.ExAmPlE.tEsT", RrType::A, QueryOptions{.id = 2}));
  EXPECT_EQ(replayed(), 1u);
  Message m = parse(r);
  EXPECT_EQ(m.header.id, 2);
  EXPECT_EQ(m.questions[0].name.toString(), "wEb.ExAmPlE.tEsT");
  ASSERT_EQ(m.answers.size(), 1u);
  EXPECT_EQ(m.answers[0].name.toString(), "wEb.ExAmPlE.tEsT");
}

TEST_F(DnsFastPathTest, TruncationFollowsEachQuerysSize) {
  // The TXT answer (over 600 octets) fits 4096 octets and TCP, not 600.
  const auto big =
      makeQuery("big.example.test", RrType::TXT, QueryOptions{.edns = true, .udpSize = 4096});
  const auto small =
      makeQuery("big.example.test", RrType::TXT, QueryOptions{.edns = true, .udpSize = 600});
  EXPECT_TRUE(parse(ask(small)).header.tc);  // learned whole from a reply sent truncated
  EXPECT_TRUE(parse(ask(small)).header.tc);
  Message whole = parse(ask(big));
  EXPECT_FALSE(whole.header.tc);
  EXPECT_EQ(whole.answers.size(), 1u);
  EXPECT_EQ(parse(ask(small, Transport::Tcp)).answers.size(), 1u);
  EXPECT_EQ(replayed(), 3u);
}

TEST_F(DnsFastPathTest, ZoneChangesDropRememberedAnswers) {
  const auto q = makeQuery("dyn.example.test", RrType::A);
  EXPECT_EQ(parse(ask(q)).rcode(), Rcode::NxDomain);
  EXPECT_EQ(parse(ask(q)).rcode(), Rcode::NxDomain);
  EXPECT_EQ(replayed(), 1u);

  // A lease adds the name: answered at once.
  bothZones(
      [](Zone& z) { ASSERT_TRUE(z.setDynamicHost("dyn", *Ipv4::parse("192.168.122.77")).ok()); });
  Message m = parse(ask(q));
  ASSERT_EQ(m.answers.size(), 1u);
  EXPECT_EQ(std::get<Ipv4>(m.answers[0].data).toString(), "192.168.122.77");
  ask(q);
  // A new address for it.
  bothZones(
      [](Zone& z) { ASSERT_TRUE(z.setDynamicHost("dyn", *Ipv4::parse("192.168.122.78")).ok()); });
  m = parse(ask(q));
  ASSERT_EQ(m.answers.size(), 1u);
  EXPECT_EQ(std::get<Ipv4>(m.answers[0].data).toString(), "192.168.122.78");
  // Released: gone.
  bothZones([](Zone& z) { z.removeDynamicHost("dyn"); });
  EXPECT_EQ(parse(ask(q)).rcode(), Rcode::NxDomain);

  // A configuration change (net-update of a static host).
  const auto web = makeQuery("web", RrType::A);
  ask(web);
  ask(web);
  config_.zone.hosts[0].ip = *IpAddress::parse("192.168.122.11");
  configure();
  m = parse(ask(web));
  ASSERT_EQ(m.answers.size(), 1u);
  EXPECT_EQ(std::get<Ipv4>(m.answers[0].data).toString(), "192.168.122.11");
  expectSameCounters();
}

TEST_F(DnsFastPathTest, ClientChecksStillApply) {
  const auto q = makeQuery("web", RrType::A);
  ask(q);
  ask(q);
  // Outside the subnet: REFUSED, even though the answer is remembered.
  EXPECT_EQ(parse(ask(q, Transport::Udp, "10.0.0.1")).rcode(), Rcode::Refused);
  // The rate limit counts replayed answers too.
  config_.rateLimit = RateLimit{10, 5, 16};
  configure();
  int answered = 0;
  for (int i = 0; i < 8; ++i) {
    if (!ask(q).empty()) ++answered;
  }
  EXPECT_EQ(answered, 5);
  expectSameCounters();
}

TEST_F(DnsFastPathTest, CachedForwardedAnswersAgeAndExpire) {
  const auto q = makeQuery("www.Example.org", RrType::A, QueryOptions{.edns = true});
  EXPECT_TRUE(ask(q).empty());  // forwarded
  answer(makeResponse(9, "www.example.org", RrType::A, Rcode::NoError,
                      {aRecord("www.example.org", "198.51.100.7", 300),
                       aRecord("www.example.org", "198.51.100.8", 200)},
                      {}, true));
  ask(q);  // from the cache: learned
  for (std::chrono::milliseconds step : {0ms, 500ms, 700ms, 98000ms, 1000ms}) {
    now_ += step;
    for (const auto& v : variants("WWW.example.ORG", RrType::A)) ask(v);
  }
  EXPECT_GT(replayed(), 0u);
  Message m = parse(ask(q));
  ASSERT_EQ(m.answers.size(), 2u);
  EXPECT_EQ(m.answers[0].ttl, 200u);  // 100.2 s later
  EXPECT_EQ(m.answers[1].ttl, 100u);
  // The entry lives for the smallest TTL (200 s): then the question goes upstream again.
  now_ += 99s;
  EXPECT_FALSE(ask(q).empty());
  now_ += 1s;
  EXPECT_TRUE(ask(q).empty());
  expectSameCounters();
}

TEST_F(DnsFastPathTest, CachedNegativeAnswersReplay) {
  const auto q = makeQuery("nx.example.org", RrType::A);
  ask(q);
  answer(makeResponse(5, "nx.example.org", RrType::A, Rcode::NxDomain, {},
                      {soaRecord("example.org", 3600, 60)}));
  ask(q);
  now_ += 30s;
  Message m = parse(ask(q));
  EXPECT_EQ(m.rcode(), Rcode::NxDomain);
  ASSERT_EQ(m.authority.size(), 1u);
  EXPECT_EQ(m.authority[0].ttl, 30u);
  EXPECT_EQ(replayed(), 1u);
}

TEST_F(DnsFastPathTest, CacheAndUpstreamChangesDropRememberedAnswers) {
  const auto q = makeQuery("a.example.org", RrType::A);
  auto learn = [&] {
    ask(q);
    answer(makeResponse(1, "a.example.org", RrType::A, Rcode::NoError,
                        {aRecord("a.example.org", "198.51.100.1", 60)}));
    ask(q);
    ask(q);
  };
  learn();
  EXPECT_EQ(replayed(), 1u);
  // Flushed (network restarted, upstreams changed): forwarded again.
  fast_.resolver.flushCache();
  slow_.resolver.flushCache();
  EXPECT_TRUE(ask(q).empty());
  answer(makeResponse(1, "a.example.org", RrType::A, Rcode::NoError,
                      {aRecord("a.example.org", "198.51.100.1", 60)}));
  ask(q);
  ask(q);
  EXPECT_EQ(replayed(), 2u);

  // No upstream for the name any more: REFUSED, not the remembered answer.
  for (Side* s : {&fast_, &slow_}) {
    s->upstream.forward = false;
    ++s->upstream.gen;
  }
  EXPECT_EQ(parse(ask(q)).rcode(), Rcode::Refused);
  for (Side* s : {&fast_, &slow_}) {
    s->upstream.forward = true;
    ++s->upstream.gen;
  }
  ask(q);  // the cache still has it: learned again
  ask(q);
  EXPECT_EQ(replayed(), 3u);

  // Evicted from a full forwarding cache: the copy goes with it.
  config_.cache.maxEntries = 1;
  configure();
  ask(q);
  ask(q);
  EXPECT_EQ(replayed(), 4u);
  const auto other = makeQuery("b.example.org", RrType::A);
  ask(other);
  answer(makeResponse(1, "b.example.org", RrType::A, Rcode::NoError,
                      {aRecord("b.example.org", "198.51.100.2", 60)}));
  EXPECT_TRUE(ask(q).empty());  // a.example.org made room for b's entry
  EXPECT_EQ(replayed(), 4u);
  expectSameCounters();
}

TEST_F(DnsFastPathTest, ReplayedHitsKeepTheForwardingCacheOrder) {
  // With room for two entries, a name answered only by the fast path must still count as
  // recently used, or the forwarding cache would evict it first.
  config_.cache.maxEntries = 2;
  configure();
  auto learn = [&](const char* qname, const char* ip) {
    const auto q = makeQuery(qname, RrType::A);
    ask(q);
    answer(makeResponse(1, qname, RrType::A, Rcode::NoError, {aRecord(qname, ip, 60)}));
  };
  learn("a.example.org", "198.51.100.1");
  learn("b.example.org", "198.51.100.2");
  const auto a = makeQuery("a.example.org", RrType::A);
  ask(a);
  ask(a);  // replayed: a is now the most recent
  ask(makeQuery("b.example.org", RrType::A));
  ask(a);
  learn("c.example.org", "198.51.100.3");  // evicts the least recently used: b
  EXPECT_FALSE(ask(a).empty());
  EXPECT_TRUE(ask(makeQuery("b.example.org", RrType::A)).empty());
  expectSameCounters();
}

}  // namespace
}  // namespace vnet::dns
