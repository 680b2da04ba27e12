#include "dhcp/lease_table.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

namespace vnet::dhcp {
namespace {

using State = LeaseTable::State;
constexpr LeaseTable::Ref kNone = LeaseTable::kNone;

Mac macN(uint32_t n) {
  return Mac({0x52, 0x54, uint8_t(n >> 24), uint8_t(n >> 16), uint8_t(n >> 8), uint8_t(n)});
}

// The key server.cc derives for an Ethernet client without option 61.
std::string macKey(const Mac& m) {
  std::string k = "h\x01";
  k.append(m.bytes().begin(), m.bytes().end());
  return k;
}

TEST(LeaseTable, InsertFindErase) {
  LeaseTable t;
  EXPECT_EQ(t.find(Ipv4(0x0a000001)), kNone);
  EXPECT_EQ(t.findClient(macKey(macN(1))), kNone);
  const auto r = t.insert(Ipv4(0x0a000001), State::kActive, macKey(macN(1)), macN(1), 100);
  t.setCurrent(r);
  ASSERT_EQ(t.find(Ipv4(0x0a000001)), r);
  EXPECT_EQ(t.findClient(macKey(macN(1))), r);
  EXPECT_EQ(t.ip(r), Ipv4(0x0a000001));
  EXPECT_EQ(t.mac(r), macN(1));
  EXPECT_EQ(t.until(r), 100);
  EXPECT_EQ(t.state(r), State::kActive);
  EXPECT_TRUE(t.ownedBy(r, macKey(macN(1))));
  EXPECT_FALSE(t.ownedBy(r, macKey(macN(2))));
  EXPECT_TRUE(t.clientId(r).empty());
  EXPECT_EQ(t.size(), 1u);
  t.erase(r);
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.find(Ipv4(0x0a000001)), kNone);
  EXPECT_EQ(t.findClient(macKey(macN(1))), kNone);
}

TEST(LeaseTable, OtherClientIdKeysAndHostnames) {
  LeaseTable t;
  // A DUID-style identifier (type 255): kept in the side table.
  const std::string key = std::string("i\xff") + "\x00\x01\x02\x03 some IAID and DUID";
  const auto r = t.insert(Ipv4(0x0a000007), State::kActive, key, macN(7), 0);
  t.setCurrent(r);
  t.setHostname(r, "a-rather-long-host-name-that-is-not-short");
  EXPECT_EQ(t.findClient(key), r);
  EXPECT_EQ(t.findClient(macKey(macN(7))), kNone);  // identified by option 61, not the MAC
  const auto cid = t.clientId(r);
  EXPECT_EQ(std::string(cid.begin(), cid.end()), key.substr(1));
  EXPECT_EQ(t.hostname(r), "a-rather-long-host-name-that-is-not-short");
  // A changed MAC does not change the owner.
  t.setMac(r, macN(8));
  EXPECT_TRUE(t.ownedBy(r, key));
  t.setHostname(r, "");
  EXPECT_EQ(t.hostname(r), "");
  EXPECT_EQ(t.findClient(key), r);
}

// Option 61 = type 1 + the MAC (udhcpc, perfdhcp) is kept without a side-table entry.
TEST(LeaseTable, ClientIdOfTheMacIsInline) {
  LeaseTable t;
  const Mac m = macN(5);
  std::string key = "i\x01";
  key.append(m.bytes().begin(), m.bytes().end());
  const auto r = t.insert(Ipv4(0x0a000005), State::kActive, key, m, 0);
  t.setCurrent(r);
  EXPECT_EQ(t.findClient(key), r);
  EXPECT_EQ(t.findClient(macKey(m)), kNone);
  EXPECT_TRUE(t.ownedBy(r, key));
  const auto cid = t.clientId(r);
  EXPECT_EQ(std::string(cid.begin(), cid.end()), key.substr(1));
  // Only the record and the index tables: no side-table entry.
  EXPECT_EQ(t.memoryBytes(), 24u + 16 * 4 + 16 * 8);
  t.setMac(r, macN(6));  // the owner stays the old identifier
  EXPECT_TRUE(t.ownedBy(r, key));
  EXPECT_EQ(t.findClient(key), r);
}

TEST(LeaseTable, MacKeyedRecordKeepsItsOwnerWhenTheMacChanges) {
  LeaseTable t;
  const auto r = t.insert(Ipv4(0x0a000002), State::kOffered, macKey(macN(2)), macN(2), 5);
  t.setCurrent(r);
  t.setMac(r, macN(3));
  EXPECT_TRUE(t.ownedBy(r, macKey(macN(2))));
  EXPECT_EQ(t.findClient(macKey(macN(2))), r);
  EXPECT_EQ(t.mac(r), macN(3));
}

TEST(LeaseTable, OnlyTheCurrentRecordOfAKeyIsIndexed) {
  LeaseTable t;
  const std::string k = macKey(macN(1));
  const auto lease = t.insert(Ipv4(0x0a000001), State::kActive, k, macN(1), 10);
  t.setCurrent(lease);
  const auto offer = t.insert(Ipv4(0x0a000002), State::kOffered, k, macN(1), 10);
  EXPECT_EQ(t.findClient(k), lease);  // insert alone does not move the client
  t.setCurrent(offer);
  EXPECT_EQ(t.findClient(k), offer);
  t.erase(lease);  // not current: the key still maps to the offer
  EXPECT_EQ(t.findClient(k), offer);
  t.erase(offer);
  EXPECT_EQ(t.findClient(k), kNone);
}

TEST(LeaseTable, UnownedRecords) {
  LeaseTable t;
  const auto r = t.insert(Ipv4(0x0a000009), State::kDeclined, {}, Mac(), 50);
  t.setCurrent(r);  // no owner: nothing to index
  EXPECT_FALSE(t.hasOwner(r));
  EXPECT_FALSE(t.ownedBy(r, ""));
  EXPECT_EQ(t.findClient(""), kNone);
  EXPECT_EQ(t.find(Ipv4(0x0a000009)), r);
}

// Addresses and keys that share a home slot in the first table (16 slots) make one long
// cluster; erasing from its middle (backward shift) must keep every other record reachable,
// by address and by key.
TEST(LeaseTable, CollisionsAndBackwardShift) {
  std::vector<uint32_t> addrs;
  for (uint32_t a = 0x0a000000; addrs.size() < 6; ++a) {
    if (LeaseTable::TEST_ipHome(Ipv4(a), 16) == 3) addrs.push_back(a);
  }
  std::vector<uint32_t> clients;
  for (uint32_t c = 0; clients.size() < 6; ++c) {
    if (LeaseTable::TEST_keyHome(macKey(macN(c)), 16) == 3) clients.push_back(c);
  }
  // Plus a few that wrap around the end of the table.
  for (uint32_t a = 0x0b000000; addrs.size() < 10; ++a) {
    if (LeaseTable::TEST_ipHome(Ipv4(a), 16) == 15) addrs.push_back(a);
  }
  for (uint32_t c = 1000; clients.size() < 10; ++c) {
    if (LeaseTable::TEST_keyHome(macKey(macN(c)), 16) == 15) clients.push_back(c);
  }
  for (size_t order = 0; order < addrs.size(); ++order) {
    LeaseTable t;
    std::vector<LeaseTable::Ref> refs;
    for (size_t i = 0; i < addrs.size(); ++i) {
      refs.push_back(t.insert(Ipv4(addrs[i]), State::kActive, macKey(macN(clients[i])),
                              macN(clients[i]), int64_t(i)));
      t.setCurrent(refs.back());
    }
    t.erase(refs[order]);
    for (size_t i = 0; i < addrs.size(); ++i) {
      const auto r = t.find(Ipv4(addrs[i]));
      const auto c = t.findClient(macKey(macN(clients[i])));
      if (i == order) {
        EXPECT_EQ(r, kNone);
        EXPECT_EQ(c, kNone);
      } else {
        EXPECT_EQ(r, refs[i]) << "erased " << order << ", lost " << i;
        EXPECT_EQ(c, refs[i]) << "erased " << order << ", lost " << i;
      }
    }
  }
}

// Random operations against a std::map model, through growth, shrinking and slot reuse.
TEST(LeaseTable, RandomOperationsMatchAModel) {
  struct Model {
    uint32_t client;
    int64_t until;
  };
  LeaseTable t;
  std::map<uint32_t, Model> model;       // ip -> record
  std::map<uint32_t, uint32_t> current;  // client -> ip of its current record
  std::mt19937 rng(12345);
  for (int step = 0; step < 200000; ++step) {
    const uint32_t a = 0x0a000000 + rng() % 3000;
    const uint32_t client = rng() % 2000;
    const int op = int(rng() % 10);
    const LeaseTable::Ref r = t.find(Ipv4(a));
    ASSERT_EQ(r != kNone, model.contains(a)) << step;
    if (op < 6 && r == kNone) {
      const auto n = t.insert(Ipv4(a), State::kActive, macKey(macN(client)), macN(client), step);
      model[a] = {client, step};
      if (op < 4) {
        t.setCurrent(n);
        current[client] = a;
      }
    } else if (r != kNone && op >= 6) {
      const uint32_t owner = model[a].client;
      t.erase(r);
      model.erase(a);
      if (auto c = current.find(owner); c != current.end() && c->second == a) current.erase(c);
    }
    if (step % 1000 == 0) {
      ASSERT_EQ(t.size(), model.size());
      for (const auto& [ip, m] : model) {
        const auto x = t.find(Ipv4(ip));
        ASSERT_NE(x, kNone);
        ASSERT_EQ(t.until(x), m.until);
        ASSERT_TRUE(t.ownedBy(x, macKey(macN(m.client))));
      }
      for (uint32_t c = 0; c < 2000; ++c) {
        const auto x = t.findClient(macKey(macN(c)));
        auto it = current.find(c);
        ASSERT_EQ(x != kNone, it != current.end()) << c;
        if (x != kNone) {
          ASSERT_EQ(t.ip(x).toUint(), it->second);
        }
      }
      size_t seen = 0;
      t.forEach([&](LeaseTable::Ref) { ++seen; });
      ASSERT_EQ(seen, model.size());
    }
  }
  // Everything erased: the tables shrink back.
  for (const auto& [ip, m] : model) t.erase(t.find(Ipv4(ip)));
  EXPECT_EQ(t.size(), 0u);
  EXPECT_LT(t.memoryBytes(), 200000u);
}

// The point of the table: 50,000 Ethernet leases in well under 4 MB.
TEST(LeaseTable, FiftyThousandLeasesStayCompact) {
  LeaseTable t;
  for (uint32_t i = 0; i < 50000; ++i) {
    const auto r =
        t.insert(Ipv4(0x0a800000 + i), State::kActive, macKey(macN(i)), macN(i), 1'700'000'000 + i);
    t.setCurrent(r);
  }
  EXPECT_EQ(t.size(), 50000u);
  EXPECT_LT(t.memoryBytes(), 4u << 20);
  EXPECT_EQ(t.ip(t.findClient(macKey(macN(49999)))), Ipv4(0x0a800000 + 49999));
}

}  // namespace
}  // namespace vnet::dhcp
