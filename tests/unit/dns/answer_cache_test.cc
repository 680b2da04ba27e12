// The fast-path layer on its own: the query-shape parser, the keyed store, and replay.
#include "dns/answer_cache.h"

#include <gtest/gtest.h>

#include "dns_test_util.h"

namespace vnet::dns {
namespace {

using namespace std::chrono_literals;
using testing::makeQuery;
using testing::parse;
using testing::QueryOptions;

SimpleQuery simpleOf(const std::vector<uint8_t>& wire) {
  SimpleQuery q;
  EXPECT_TRUE(parseSimpleQuery(wire, q));
  return q;
}

uint32_t ttlAt(const std::vector<uint8_t>& w, size_t off) {
  return (uint32_t{w[off]} << 24) | (uint32_t{w[off + 1]} << 16) | (uint32_t{w[off + 2]} << 8) |
         w[off + 3];
}

// A reply to makeQuery(qname, A) with one A record (owner: pointer to the question), TTL ttl.
std::vector<uint8_t> replyTo(const std::vector<uint8_t>& query, uint32_t ttl, size_t& ttlOffset) {
  const SimpleQuery q = simpleOf(query);
  std::vector<uint8_t> r(query.begin(), query.begin() + std::ptrdiff_t(q.questionEnd()));
  r[2] |= 0x84;  // QR, AA
  r[7] = 1;      // ANCOUNT
  r[11] = 0;     // ARCOUNT
  appendU16(r, 0xC00C);
  appendU16(r, uint16_t(RrType::A));
  appendU16(r, kClassIn);
  ttlOffset = r.size();
  appendU32(r, ttl);
  appendU16(r, 4);
  r.insert(r.end(), {192, 0, 2, 1});
  return r;
}

TEST(DnsSimpleQueryTest, ReadsTheCommonShapeAsScanMessageDoes) {
  for (const auto& wire :
       {makeQuery("www.Example.org", RrType::A, QueryOptions{.id = 7}),
        makeQuery("a.b", RrType::AAAA, QueryOptions{.rd = false, .edns = true, .udpSize = 4096}),
        makeQuery("x.test", RrType::MX, QueryOptions{.edns = true, .dnssecOk = true}),
        makeQuery(".", RrType::NS)}) {
    SimpleQuery q;
    ASSERT_TRUE(parseSimpleQuery(wire, q));
    auto l = scanMessage(wire);
    ASSERT_TRUE(l.ok());
    EXPECT_EQ(q.id, l->header.id);
    EXPECT_EQ(q.flags, l->header.flags());
    EXPECT_EQ(q.questionEnd(), l->questionEnd);
    EXPECT_EQ(q.nameSize, l->question.name.wireSize());
    EXPECT_EQ(q.qtype, uint16_t(l->question.type));
    EXPECT_EQ(q.qclass, l->question.qclass);
    EXPECT_EQ(q.edns, l->hasEdns);
    EXPECT_EQ(q.dnssecOk, l->dnssecOk);
    if (q.edns) {
      EXPECT_EQ(q.ednsUdpSize, l->ednsUdpSize);
    }
  }
}

TEST(DnsSimpleQueryTest, LeavesEverythingElseToTheFullPath) {
  const auto base = makeQuery("www.example.org", RrType::A);
  SimpleQuery q;
  auto with = [&](auto&& edit) {
    auto w = base;
    edit(w);
    return parseSimpleQuery(w, q);
  };
  EXPECT_TRUE(with([](auto&) {}));
  EXPECT_FALSE(with([](auto& w) { w[2] |= 0x80; }));           // a response
  EXPECT_FALSE(with([](auto& w) { w[2] |= 0x10; }));           // opcode STATUS
  EXPECT_FALSE(with([](auto& w) { w[5] = 2; }));               // two questions
  EXPECT_FALSE(with([](auto& w) { w[5] = 0; }));               // none
  EXPECT_FALSE(with([](auto& w) { w[7] = 1; }));               // an answer record
  EXPECT_FALSE(with([](auto& w) { w[9] = 1; }));               // an authority record
  EXPECT_FALSE(with([](auto& w) { w.push_back(0); }));         // trailing octet
  EXPECT_FALSE(with([](auto& w) { w.pop_back(); }));           // truncated
  EXPECT_FALSE(with([](auto& w) { w.resize(kHeaderSize); }));  // no question at all
  EXPECT_FALSE(with([](auto& w) { w[12] = 0x40; }));           // extended label type
  EXPECT_FALSE(with([](auto& w) {                              // a compression pointer
    w.resize(kHeaderSize);
    w.insert(w.end(), {0xC0, 12, 0, 1, 0, 1});
  }));
  // A 64-octet label, and a name of 256 octets.
  std::vector<uint8_t> longLabel(base.begin(), base.begin() + kHeaderSize);
  longLabel.push_back(64);
  longLabel.insert(longLabel.end(), 64, 'a');
  longLabel.insert(longLabel.end(), {0, 0, 1, 0, 1});
  EXPECT_FALSE(parseSimpleQuery(longLabel, q));
  std::vector<uint8_t> longName(base.begin(), base.begin() + kHeaderSize);
  for (int i = 0; i < 4; ++i) {
    longName.push_back(63);
    longName.insert(longName.end(), 63, 'a');
  }
  longName.insert(longName.end(), {0, 0, 1, 0, 1});  // 4 * 64 + 1 = 257 octets
  EXPECT_FALSE(parseSimpleQuery(longName, q));

  // OPT variants: version 1, an option that overruns, a non-OPT additional record.
  const auto edns = makeQuery("www.example.org", RrType::A, QueryOptions{.edns = true});
  ASSERT_TRUE(parseSimpleQuery(edns, q));
  auto v1 = makeQuery("www.example.org", RrType::A, QueryOptions{.edns = true, .ednsVersion = 1});
  EXPECT_FALSE(parseSimpleQuery(v1, q));
  auto overrun = edns;
  overrun[overrun.size() - 1] = 4;  // RDLENGTH 4, no data
  EXPECT_FALSE(parseSimpleQuery(overrun, q));
  auto notOpt = edns;
  notOpt[notOpt.size() - 9] = 250;  // TYPE 250 (TSIG)
  EXPECT_FALSE(parseSimpleQuery(notOpt, q));
  auto withOption = edns;
  withOption[withOption.size() - 1] = 4;
  withOption.insert(withOption.end(), {0, 10, 0, 0});  // an empty COOKIE option
  EXPECT_TRUE(parseSimpleQuery(withOption, q));
  EXPECT_TRUE(scanMessage(withOption).ok());
}

class DnsAnswerCacheTest : public ::testing::Test {
 protected:
  SteadyTime now_ = SteadyTime{} + 1000s;
};

TEST_F(DnsAnswerCacheTest, KeyIsTheQuestionCaseInsensitivelyAndTheShape) {
  AnswerCache c(16);
  const auto q = makeQuery("www.Example.org", RrType::A);
  AnswerTemplate t;
  t.wire = {1, 2, 3};
  c.insert(q, simpleOf(q), t);
  EXPECT_EQ(c.size(), 1u);

  const auto upper = makeQuery("WWW.EXAMPLE.ORG", RrType::A, QueryOptions{.id = 99});
  ASSERT_NE(c.find(upper, simpleOf(upper), now_), nullptr);
  EXPECT_EQ(c.find(upper, simpleOf(upper), now_)->wire, t.wire);

  // Another type, class, name, or any shape bit: a miss.
  std::vector<std::vector<uint8_t>> misses = {
      makeQuery("www.example.org", RrType::AAAA),
      makeQuery("www.example.com", RrType::A),
      makeQuery("www.example.org", RrType::A, QueryOptions{.rd = false}),
      makeQuery("www.example.org", RrType::A, QueryOptions{.edns = true}),
      makeQuery("www.example.org", RrType::A, QueryOptions{.edns = true, .dnssecOk = true}),
  };
  auto cd = q;
  cd[3] |= 0x10;
  misses.push_back(cd);
  auto ad = q;
  ad[3] |= 0x20;
  misses.push_back(ad);
  auto chaos = q;
  chaos[chaos.size() - 1] = 3;
  misses.push_back(chaos);
  for (const auto& m : misses) EXPECT_EQ(c.find(m, simpleOf(m), now_), nullptr);

  // The EDNS UDP size is not part of the key (it only decides truncation on replay).
  const auto small = makeQuery("www.example.org", RrType::A, QueryOptions{.edns = true});
  const auto big =
      makeQuery("www.example.org", RrType::A, QueryOptions{.edns = true, .udpSize = 4096});
  c.insert(small, simpleOf(small), t);
  EXPECT_NE(c.find(big, simpleOf(big), now_), nullptr);
}

TEST_F(DnsAnswerCacheTest, ExpiresEvictsOldestAndClears) {
  AnswerCache c(2);
  const auto a = makeQuery("a.test", RrType::A);
  const auto b = makeQuery("b.test", RrType::A);
  const auto d = makeQuery("d.test", RrType::A);
  AnswerTemplate t;
  t.wire = {1};
  t.expires = now_ + 10s;
  c.insert(a, simpleOf(a), t);
  EXPECT_NE(c.find(a, simpleOf(a), now_ + 9s), nullptr);
  EXPECT_EQ(c.find(a, simpleOf(a), now_ + 10s), nullptr);
  EXPECT_EQ(c.size(), 0u);  // dropped when found expired

  t.expires = SteadyTime::max();
  c.insert(a, simpleOf(a), t);
  c.insert(b, simpleOf(b), t);
  c.insert(d, simpleOf(d), t);  // full: a, the oldest, goes
  EXPECT_EQ(c.size(), 2u);
  EXPECT_EQ(c.find(a, simpleOf(a), now_), nullptr);
  EXPECT_NE(c.find(b, simpleOf(b), now_), nullptr);
  EXPECT_NE(c.find(d, simpleOf(d), now_), nullptr);

  c.erase(b, simpleOf(b));
  EXPECT_EQ(c.find(b, simpleOf(b), now_), nullptr);
  c.setMaxEntries(0);
  EXPECT_EQ(c.size(), 0u);
  c.insert(a, simpleOf(a), t);  // off: nothing is kept
  EXPECT_EQ(c.size(), 0u);
  c.setMaxEntries(4);
  c.insert(a, simpleOf(a), t);
  c.clear();
  EXPECT_TRUE(c.empty());
}

TEST_F(DnsAnswerCacheTest, ReplayPutsTheQueryIdAndSpellingIn) {
  const auto first = makeQuery("Web.Example.Test", RrType::A, QueryOptions{.id = 1});
  size_t ttlOff = 0;
  AnswerTemplate t;
  t.wire = replyTo(first, 300, ttlOff);

  const auto later = makeQuery("wEB.eXAMPLE.tEST", RrType::A, QueryOptions{.id = 0xBEEF});
  std::vector<uint8_t> out;
  replayAnswer(t, later, simpleOf(later), now_, 512, 1232, out);
  Message m = parse(out);
  EXPECT_EQ(m.header.id, 0xBEEF);
  EXPECT_TRUE(m.header.aa);
  EXPECT_FALSE(m.header.tc);
  EXPECT_EQ(m.questions[0].name.toString(), "wEB.eXAMPLE.tEST");
  ASSERT_EQ(m.answers.size(), 1u);
  EXPECT_EQ(m.answers[0].name.toString(), "wEB.eXAMPLE.tEST");  // the pointer follows
  EXPECT_EQ(m.answers[0].ttl, 300u);                            // local: not counted down

  // An upstream answer whose question was not the client's keeps its own name.
  t.patchName = false;
  replayAnswer(t, later, simpleOf(later), now_, 512, 1232, out);
  EXPECT_EQ(parse(out).questions[0].name.toString(), "Web.Example.Test");

  // The output buffer's capacity is reused.
  const uint8_t* data = out.data();
  replayAnswer(t, later, simpleOf(later), now_, 512, 1232, out);
  EXPECT_EQ(out.data(), data);
}

TEST_F(DnsAnswerCacheTest, ReplayCountsTtlsDownByWholeSeconds) {
  const auto q = makeQuery("c.example.org", RrType::A);
  size_t ttlOff = 0;
  AnswerTemplate t;
  t.wire = replyTo(q, 100, ttlOff);
  t.ttlOffsets = {uint32_t(ttlOff)};
  t.stored = now_;
  t.expires = now_ + 100s;
  std::vector<uint8_t> out;
  for (auto [after, left] : {std::pair{0ms, 100u},
                             {999ms, 100u},
                             {1000ms, 99u},
                             {42500ms, 58u},
                             {99999ms, 1u},
                             {100000ms, 0u},
                             {200000ms, 0u}}) {
    replayAnswer(t, q, simpleOf(q), now_ + after, 512, 1232, out);
    EXPECT_EQ(ttlAt(out, ttlOff), left) << after.count() << " ms";
  }
  // The template itself is untouched.
  EXPECT_EQ(ttlAt(t.wire, ttlOff), 100u);
}

TEST_F(DnsAnswerCacheTest, ReplayTruncatesWhatDoesNotFit) {
  const auto q = makeQuery("big.example.org", RrType::A, QueryOptions{.id = 5});
  size_t ttlOff = 0;
  AnswerTemplate t;
  t.wire = replyTo(q, 60, ttlOff);
  std::vector<uint8_t> out;

  // Exactly the size fits.
  replayAnswer(t, q, simpleOf(q), now_, t.wire.size(), 1232, out);
  EXPECT_FALSE(parse(out).header.tc);

  // One octet less: header + question, TC, no OPT (the query had none).
  replayAnswer(t, q, simpleOf(q), now_, t.wire.size() - 1, 1232, out);
  Message m = parse(out);
  EXPECT_EQ(m.header.id, 5);
  EXPECT_TRUE(m.header.tc);
  EXPECT_TRUE(m.header.aa);  // the template's flags otherwise
  EXPECT_EQ(m.questions.size(), 1u);
  EXPECT_TRUE(m.answers.empty());
  EXPECT_FALSE(m.edns.has_value());

  // An EDNS query gets our OPT with its DO bit.
  const auto e = makeQuery("big.example.org", RrType::A,
                           QueryOptions{.id = 6, .edns = true, .udpSize = 512, .dnssecOk = true});
  replayAnswer(t, e, simpleOf(e), now_, 20, 1400, out);
  m = parse(out);
  EXPECT_TRUE(m.header.tc);
  ASSERT_TRUE(m.edns.has_value());
  EXPECT_EQ(m.edns->udpSize, 1400);
  EXPECT_TRUE(m.edns->dnssecOk);
  EXPECT_EQ(m.questions[0].name.toString(), "big.example.org");
}

}  // namespace
}  // namespace vnet::dns
