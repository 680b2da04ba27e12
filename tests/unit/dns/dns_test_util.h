// Helpers for DNS unit tests: building queries and reading replies.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string_view>
#include <vector>

#include "dns/message.h"

namespace vnet::dns::testing {

inline Name name(std::string_view text) {
  auto n = Name::parse(text);
  EXPECT_TRUE(n.ok()) << text;
  return n.ok() ? *n : Name();
}

struct QueryOptions {
  uint16_t id = 0x1234;
  bool rd = true;
  bool edns = false;
  uint16_t udpSize = 1232;
  bool dnssecOk = false;
  uint8_t ednsVersion = 0;
};

inline std::vector<uint8_t> makeQuery(std::string_view qname, RrType type,
                                      QueryOptions o = QueryOptions()) {
  Message m;
  m.header.id = o.id;
  m.header.rd = o.rd;
  m.questions.push_back(Question{name(qname), type, kClassIn});
  if (o.edns) {
    Edns e;
    e.udpSize = o.udpSize;
    e.dnssecOk = o.dnssecOk;
    e.version = o.ednsVersion;
    m.edns = e;
  }
  auto w = serializeMessage(m);
  EXPECT_TRUE(w.ok());
  return w.ok() ? *w : std::vector<uint8_t>{};
}

inline Message parse(const std::vector<uint8_t>& wire) {
  auto m = parseMessage(wire);
  EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error().message());
  return m.ok() ? *m : Message{};
}

// A response to (qname, type) with the given answers/authority, as an upstream would send.
inline std::vector<uint8_t> makeResponse(uint16_t id, std::string_view qname, RrType type,
                                         Rcode rcode, std::vector<ResourceRecord> answers,
                                         std::vector<ResourceRecord> authority = {},
                                         bool edns = false) {
  Message m;
  m.header.id = id;
  m.header.qr = true;
  m.header.rd = true;
  m.header.ra = true;
  m.questions.push_back(Question{name(qname), type, kClassIn});
  m.answers = std::move(answers);
  m.authority = std::move(authority);
  if (edns) m.edns = Edns{};
  m.setRcode(rcode);
  auto w = serializeMessage(m);
  EXPECT_TRUE(w.ok());
  return w.ok() ? *w : std::vector<uint8_t>{};
}

inline ResourceRecord aRecord(std::string_view owner, std::string_view ip, uint32_t ttl) {
  return ResourceRecord{name(owner), RrType::A, kClassIn, ttl, *Ipv4::parse(ip)};
}

inline ResourceRecord soaRecord(std::string_view zone, uint32_t ttl, uint32_t minimum) {
  Soa s;
  s.mname = name(std::string("ns.") + std::string(zone));
  s.rname = name(std::string("hostmaster.") + std::string(zone));
  s.serial = 7;
  s.minimum = minimum;
  return ResourceRecord{name(zone), RrType::SOA, kClassIn, ttl, s};
}

}  // namespace vnet::dns::testing
