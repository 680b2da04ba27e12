#include "dns/cache.h"

#include <gtest/gtest.h>

#include "dns_test_util.h"

namespace vnet::dns {
namespace {

using namespace std::chrono_literals;
using testing::aRecord;
using testing::makeResponse;
using testing::name;
using testing::soaRecord;

class DnsCacheTest : public ::testing::Test {
 protected:
  NowFn clock() {
    return [this] { return now_; };
  }
  static CacheKey key(std::string_view qname, RrType t = RrType::A, bool dnssecOk = false) {
    return CacheKey{name(qname), t, kClassIn, dnssecOk};
  }
  bool put(Cache& c, const CacheKey& k, const std::vector<uint8_t>& wire) {
    auto l = scanMessage(wire);
    EXPECT_TRUE(l.ok());
    return c.insert(k, wire, *l);
  }
  static uint32_t ttlAt(const CacheEntry& e, size_t i) {
    const uint32_t off = e.ttlOffsets[i];
    return (uint32_t{e.wire[off]} << 24) | (uint32_t{e.wire[off + 1]} << 16) |
           (uint32_t{e.wire[off + 2]} << 8) | e.wire[off + 3];
  }

  SteadyTime now_ = SteadyTime{} + 1000s;
};

TEST_F(DnsCacheTest, HitsUntilTheSmallestAnswerTtlExpires) {
  Cache c({}, clock());
  auto wire =
      makeResponse(1, "a.example", RrType::A, Rcode::NoError,
                   {aRecord("a.example", "192.0.2.1", 100), aRecord("a.example", "192.0.2.2", 30)});
  ASSERT_TRUE(put(c, key("a.example"), wire));
  uint32_t elapsed = 99;
  const CacheEntry* e = c.lookup(key("A.EXAMPLE"), elapsed);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(elapsed, 0u);
  now_ += 29s;
  e = c.lookup(key("a.example"), elapsed);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(elapsed, 29u);
  now_ += 1s;
  EXPECT_EQ(c.lookup(key("a.example"), elapsed), nullptr);
  EXPECT_EQ(c.size(), 0u);
}

TEST_F(DnsCacheTest, KeysOnTypeAndDoBit) {
  Cache c({}, clock());
  auto wire = makeResponse(1, "a.example", RrType::A, Rcode::NoError,
                           {aRecord("a.example", "192.0.2.1", 100)});
  ASSERT_TRUE(put(c, key("a.example"), wire));
  uint32_t elapsed = 0;
  EXPECT_EQ(c.lookup(key("a.example", RrType::AAAA), elapsed), nullptr);
  EXPECT_EQ(c.lookup(key("a.example", RrType::A, true), elapsed), nullptr);
  EXPECT_NE(c.lookup(key("a.example"), elapsed), nullptr);
}

TEST_F(DnsCacheTest, CapsTtls) {
  Cache c(CacheOptions{10, 60, 30}, clock());
  auto wire = makeResponse(1, "a.example", RrType::A, Rcode::NoError,
                           {aRecord("a.example", "192.0.2.1", 86400)});
  ASSERT_TRUE(put(c, key("a.example"), wire));
  uint32_t elapsed = 0;
  const CacheEntry* e = c.lookup(key("a.example"), elapsed);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(ttlAt(*e, 0), 60u);
  now_ += 60s;
  EXPECT_EQ(c.lookup(key("a.example"), elapsed), nullptr);
}

TEST_F(DnsCacheTest, NegativeAnswersUseSoaMinimum) {
  Cache c({}, clock());
  // RFC 2308 §5: min(SOA TTL 900, MINIMUM 45) = 45.
  auto nx = makeResponse(1, "nx.example", RrType::A, Rcode::NxDomain, {},
                         {soaRecord("example", 900, 45)});
  ASSERT_TRUE(put(c, key("nx.example"), nx));
  uint32_t elapsed = 0;
  const CacheEntry* e = c.lookup(key("nx.example"), elapsed);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(ttlAt(*e, 0), 45u);  // the stored SOA carries the negative TTL
  now_ += 44s;
  EXPECT_NE(c.lookup(key("nx.example"), elapsed), nullptr);
  now_ += 1s;
  EXPECT_EQ(c.lookup(key("nx.example"), elapsed), nullptr);

  // NODATA is negative too.
  auto nodata = makeResponse(1, "a.example", RrType::AAAA, Rcode::NoError, {},
                             {soaRecord("example", 20, 300)});
  ASSERT_TRUE(put(c, key("a.example", RrType::AAAA), nodata));
  e = c.lookup(key("a.example", RrType::AAAA), elapsed);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(ttlAt(*e, 0), 20u);
}

TEST_F(DnsCacheTest, DoesNotCacheWhatItMustNot) {
  Cache c({}, clock());
  // Negative without SOA (RFC 2308 §5), SERVFAIL, TTL 0.
  EXPECT_FALSE(put(c, key("a"), makeResponse(1, "a", RrType::A, Rcode::NxDomain, {})));
  EXPECT_FALSE(put(c, key("b"), makeResponse(1, "b", RrType::A, Rcode::ServFail, {})));
  EXPECT_FALSE(
      put(c, key("c"),
          makeResponse(1, "c", RrType::A, Rcode::NoError, {aRecord("c", "192.0.2.1", 0)})));
  auto tc = makeResponse(1, "d", RrType::A, Rcode::NoError, {aRecord("d", "192.0.2.1", 10)});
  tc[2] |= 0x02;
  EXPECT_FALSE(put(c, key("d"), tc));
  EXPECT_EQ(c.size(), 0u);
}

TEST_F(DnsCacheTest, EvictsLeastRecentlyUsed) {
  Cache c(CacheOptions{2, 3600, 3600}, clock());
  auto resp = [](std::string_view n) {
    return makeResponse(1, n, RrType::A, Rcode::NoError, {aRecord(n, "192.0.2.1", 100)});
  };
  ASSERT_TRUE(put(c, key("one"), resp("one")));
  ASSERT_TRUE(put(c, key("two"), resp("two")));
  uint32_t elapsed = 0;
  ASSERT_NE(c.lookup(key("one"), elapsed), nullptr);  // "two" is now the oldest
  ASSERT_TRUE(put(c, key("three"), resp("three")));
  EXPECT_EQ(c.size(), 2u);
  EXPECT_NE(c.lookup(key("one"), elapsed), nullptr);
  EXPECT_EQ(c.lookup(key("two"), elapsed), nullptr);
  EXPECT_NE(c.lookup(key("three"), elapsed), nullptr);

  c.setOptions(CacheOptions{1, 3600, 3600});
  EXPECT_EQ(c.size(), 1u);
  EXPECT_NE(c.lookup(key("three"), elapsed), nullptr);
  c.flush();
  EXPECT_EQ(c.size(), 0u);
}

TEST_F(DnsCacheTest, SameSerialIsStoredOnce) {
  Cache c({}, clock());
  auto wire = makeResponse(1, "a", RrType::A, Rcode::NoError, {aRecord("a", "192.0.2.1", 100)});
  auto l = *scanMessage(wire);
  ASSERT_TRUE(c.insert(key("a"), wire, l, 7));
  now_ += 10s;
  ASSERT_TRUE(c.insert(key("a"), wire, l, 7));
  uint32_t elapsed = 0;
  ASSERT_NE(c.lookup(key("a"), elapsed), nullptr);
  EXPECT_EQ(elapsed, 10u);  // not restamped
}

TEST_F(DnsCacheTest, DisabledCacheStoresNothing) {
  Cache c(CacheOptions{0, 3600, 3600}, clock());
  EXPECT_FALSE(
      put(c, key("a"),
          makeResponse(1, "a", RrType::A, Rcode::NoError, {aRecord("a", "192.0.2.1", 100)})));
}

}  // namespace
}  // namespace vnet::dns
