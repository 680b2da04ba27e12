#include "dns/message.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "dns_test_util.h"

namespace vnet::dns {
namespace {

using testing::aRecord;
using testing::name;
using testing::soaRecord;

Message sampleResponse() {
  Message m;
  m.header.id = 0xBEEF;
  m.header.qr = true;
  m.header.rd = true;
  m.header.ra = true;
  m.questions.push_back({name("www.example.com"), RrType::A, kClassIn});
  m.answers.push_back(ResourceRecord{name("www.example.com"), RrType::CNAME, kClassIn, 300,
                                     name("web.example.com")});
  m.answers.push_back(aRecord("web.example.com", "192.0.2.1", 60));
  m.answers.push_back(ResourceRecord{name("web.example.com"), RrType::AAAA, kClassIn, 60,
                                     *Ipv6::parse("2001:db8::1")});
  m.authority.push_back(
      ResourceRecord{name("example.com"), RrType::NS, kClassIn, 3600, name("ns1.example.com")});
  m.additional.push_back(ResourceRecord{name("_sip._tcp.example.com"), RrType::SRV, kClassIn, 10,
                                        Srv{1, 2, 5060, name("sip.example.com")}});
  m.additional.push_back(
      ResourceRecord{name("example.com"), RrType::TXT, kClassIn, 10, Txt{{"v=spf1 -all", ""}}});
  m.additional.push_back(ResourceRecord{name("1.2.0.192.in-addr.arpa"), RrType::PTR, kClassIn, 10,
                                        name("web.example.com")});
  m.additional.push_back(ResourceRecord{name("example.com"), RrType::MX, kClassIn, 10,
                                        Mx{10, name("mail.example.com")}});
  m.additional.push_back(
      ResourceRecord{name("example.com"), RrType(99), kClassIn, 10, Opaque{{1, 2, 3}}});
  m.authority.push_back(soaRecord("example.com", 3600, 300));
  Edns e;
  e.udpSize = 4096;
  e.dnssecOk = true;
  e.options.push_back(EdnsOption{10, {1, 2, 3, 4, 5, 6, 7, 8}});
  m.edns = e;
  return m;
}

TEST(DnsMessageTest, RoundTripsEveryRecordType) {
  const Message m = sampleResponse();
  auto wire = serializeMessage(m);
  ASSERT_TRUE(wire.ok());
  auto back = parseMessage(*wire);
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back->header.id, 0xBEEF);
  EXPECT_TRUE(back->header.qr);
  ASSERT_EQ(back->questions.size(), 1u);
  EXPECT_EQ(back->questions[0].name, name("www.example.com"));
  ASSERT_EQ(back->answers.size(), 3u);
  EXPECT_EQ(std::get<Name>(back->answers[0].data), name("web.example.com"));
  EXPECT_EQ(std::get<Ipv4>(back->answers[1].data).toString(), "192.0.2.1");
  EXPECT_EQ(std::get<Ipv6>(back->answers[2].data).toString(), "2001:db8::1");
  ASSERT_EQ(back->authority.size(), 2u);
  const Soa& soa = std::get<Soa>(back->authority[1].data);
  EXPECT_EQ(soa.minimum, 300u);
  EXPECT_EQ(soa.rname, name("hostmaster.example.com"));
  ASSERT_EQ(back->additional.size(), 5u);
  const Srv& srv = std::get<Srv>(back->additional[0].data);
  EXPECT_EQ(srv.port, 5060);
  EXPECT_EQ(srv.target, name("sip.example.com"));
  EXPECT_EQ(std::get<Txt>(back->additional[1].data).strings,
            (std::vector<std::string>{"v=spf1 -all", ""}));
  EXPECT_EQ(std::get<Mx>(back->additional[3].data).exchange, name("mail.example.com"));
  EXPECT_EQ(std::get<Opaque>(back->additional[4].data).bytes, (std::vector<uint8_t>{1, 2, 3}));
  ASSERT_TRUE(back->edns.has_value());
  EXPECT_EQ(back->edns->udpSize, 4096);
  EXPECT_TRUE(back->edns->dnssecOk);
  ASSERT_EQ(back->edns->options.size(), 1u);
  EXPECT_EQ(back->edns->options[0].code, 10);
  // Serializing the parsed message gives the same bytes.
  auto again = serializeMessage(*back);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *wire);
}

TEST(DnsMessageTest, CompressesRepeatedNames) {
  Message m;
  m.questions.push_back({name("www.example.com"), RrType::A, kClassIn});
  for (int i = 0; i < 5; ++i) m.answers.push_back(aRecord("www.example.com", "192.0.2.1", 1));
  auto wire = serializeMessage(m);
  ASSERT_TRUE(wire.ok());
  // Header 12 + question 17+4, each answer is a 2-octet pointer + 10 + 4.
  EXPECT_EQ(wire->size(), 12u + 21u + 5u * 16u);
  EXPECT_EQ((*wire)[33], 0xC0);
  EXPECT_EQ((*wire)[34], 12);
}

TEST(DnsMessageTest, DoesNotCompressSrvTarget) {
  Message m;
  m.questions.push_back({name("sip.example.com"), RrType::SRV, kClassIn});
  m.answers.push_back(ResourceRecord{name("sip.example.com"), RrType::SRV, kClassIn, 1,
                                     Srv{0, 0, 1, name("sip.example.com")}});
  auto wire = serializeMessage(m);
  ASSERT_TRUE(wire.ok());
  // The target's 17 octets appear uncompressed at the end.
  const std::vector<uint8_t> tail(wire->end() - 17, wire->end());
  const Name target = name("sip.example.com");
  EXPECT_EQ(tail, std::vector<uint8_t>(target.wire().begin(), target.wire().end()));
}

TEST(DnsMessageTest, EveryTruncationFailsCleanly) {
  auto wire = serializeMessage(sampleResponse());
  ASSERT_TRUE(wire.ok());
  for (size_t n = 0; n < wire->size(); ++n) {
    std::vector<uint8_t> cut(wire->begin(), wire->begin() + n);
    EXPECT_FALSE(parseMessage(cut).ok()) << n;
    EXPECT_FALSE(scanMessage(cut).ok()) << n;
  }
}

// Header with qdcount 1, then the given bytes as the question name, then type/class.
std::vector<uint8_t> withQuestionName(std::vector<uint8_t> nameBytes) {
  static constexpr uint8_t kHeader[] = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0};
  static constexpr uint8_t kTypeClass[] = {0, 1, 0, 1};
  std::vector<uint8_t> w;
  w.reserve(sizeof kHeader + nameBytes.size() + sizeof kTypeClass);
  w.insert(w.end(), std::begin(kHeader), std::end(kHeader));
  w.insert(w.end(), nameBytes.begin(), nameBytes.end());
  w.insert(w.end(), std::begin(kTypeClass), std::end(kTypeClass));
  return w;
}

TEST(DnsMessageTest, RejectsPointerToItself) {
  auto w = withQuestionName({0xC0, 12});
  auto m = parseMessage(w);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message().find("compression pointer"), std::string::npos);
}

TEST(DnsMessageTest, RejectsPointerLoop) {
  // Question "a" + pointer to 16, and at 16 a pointer back to 12: a two-step loop.
  auto w = withQuestionName({1, 'a', 0xC0, 16, 0xC0, 12});
  EXPECT_FALSE(parseMessage(w).ok());
  EXPECT_FALSE(scanMessage(w).ok());
}

TEST(DnsMessageTest, RejectsForwardPointer) {
  std::vector<uint8_t> w = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 18, 0, 1, 0, 1, 1, 'a', 0};
  EXPECT_FALSE(parseMessage(w).ok());
}

TEST(DnsMessageTest, RejectsPointerIntoHeader) {
  auto w = withQuestionName({0xC0, 2});
  EXPECT_FALSE(parseMessage(w).ok());
}

TEST(DnsMessageTest, RejectsOverlongNameBuiltFromPointers) {
  // Record owner names each add 63 octets in front of the previous one; the fifth would
  // exceed 255 octets.
  Message m;
  m.questions.push_back({name("x"), RrType::A, kClassIn});
  auto wire = *serializeMessage(m);
  size_t prev = 12;
  for (int i = 0; i < 5; ++i) {
    const size_t at = wire.size();
    wire.push_back(63);
    wire.insert(wire.end(), 63, 'a');
    wire.push_back(uint8_t(0xC0 | (prev >> 8)));
    wire.push_back(uint8_t(prev));
    wire.insert(wire.end(), {0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 192, 0, 2, 1});
    prev = at;
  }
  wire[7] = 5;  // ancount
  auto r = parseMessage(wire);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("255"), std::string::npos);
}

TEST(DnsMessageTest, RejectsBadLabelTypes) {
  EXPECT_FALSE(parseMessage(withQuestionName({0x41, 'a', 0})).ok());
  EXPECT_FALSE(parseMessage(withQuestionName({0x80, 0})).ok());
}

TEST(DnsMessageTest, RejectsRdataLengthMismatch) {
  Message m;
  m.answers.push_back(aRecord("a", "192.0.2.1", 1));
  auto wire = *serializeMessage(m);
  wire[12 + 3 + 8 + 1] = 5;  // rdlength 4 -> 5
  wire.push_back(0);
  EXPECT_FALSE(parseMessage(wire).ok());
}

TEST(DnsMessageTest, RejectsTwoOptRecordsAndOptOutsideAdditional) {
  Message m;
  m.edns = Edns{};
  auto wire = *serializeMessage(m);
  const std::vector<uint8_t> opt(wire.end() - 11, wire.end());
  wire.insert(wire.end(), opt.begin(), opt.end());
  wire[11] = 2;
  EXPECT_FALSE(parseMessage(wire).ok());
  EXPECT_FALSE(scanMessage(wire).ok());

  auto w2 = *serializeMessage(m);
  w2[7] = 1;  // the OPT counted as an answer
  w2[11] = 0;
  EXPECT_FALSE(parseMessage(w2).ok());
}

TEST(DnsMessageTest, RejectsTrailingGarbageAndHugeCounts) {
  auto q = testing::makeQuery("a.example", RrType::A);
  q.push_back(0);
  EXPECT_FALSE(parseMessage(q).ok());
  std::vector<uint8_t> h = {0, 1, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
  EXPECT_FALSE(parseMessage(h).ok());
}

TEST(DnsMessageTest, SerializeTruncatesAndSetsTc) {
  Message m;
  m.questions.push_back({name("big.example"), RrType::TXT, kClassIn});
  for (int i = 0; i < 10; ++i) {
    m.answers.push_back(ResourceRecord{name("big.example"), RrType::TXT, kClassIn, 1,
                                       Txt{{std::string(200, 'x')}}});
  }
  m.edns = Edns{};
  auto wire = serializeMessage(m, 512);
  ASSERT_TRUE(wire.ok());
  EXPECT_LE(wire->size(), 512u);
  auto back = parseMessage(*wire);
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->header.tc);
  EXPECT_EQ(back->answers.size(), 2u);
  EXPECT_TRUE(back->edns.has_value());
}

TEST(DnsMessageTest, ExtendedRcodeUsesOpt) {
  Message m;
  m.setRcode(Rcode::BadVers);
  ASSERT_TRUE(m.edns.has_value());
  auto back = parseMessage(*serializeMessage(m));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->rcode(), Rcode::BadVers);
}

TEST(DnsMessageTest, ScanFindsTtlsOptAndNegativeTtl) {
  auto wire = testing::makeResponse(7, "nx.example.com", RrType::A, Rcode::NxDomain, {},
                                    {soaRecord("example.com", 900, 60)}, true);
  auto l = scanMessage(wire);
  ASSERT_TRUE(l.ok()) << l.error().message();
  EXPECT_EQ(l->rcode(), uint16_t(Rcode::NxDomain));
  EXPECT_TRUE(l->hasQuestion);
  EXPECT_EQ(l->question.name, name("nx.example.com"));
  ASSERT_TRUE(l->negativeTtl.has_value());
  EXPECT_EQ(*l->negativeTtl, 60u);
  EXPECT_EQ(l->ttlOffsets.size(), 1u);
  EXPECT_EQ(l->ttlOffsets[0], l->soaTtlOffset);
  EXPECT_TRUE(l->hasEdns);
  EXPECT_TRUE(l->optIsLast);
  EXPECT_EQ(l->optOffset + l->optSize, wire.size());

  auto pos = testing::makeResponse(
      7, "a.example.com", RrType::A, Rcode::NoError,
      {aRecord("a.example.com", "192.0.2.1", 300), aRecord("a.example.com", "192.0.2.2", 30)});
  auto lp = scanMessage(pos);
  ASSERT_TRUE(lp.ok());
  EXPECT_EQ(lp->minAnswerTtl, 30u);
  EXPECT_FALSE(lp->negativeTtl.has_value());
}

TEST(DnsMessageTest, ParsesDigQuery) {
  // dig +qr a.example.com (id 0x2a2a, RD, AD, EDNS 1232 with a cookie option).
  const std::vector<uint8_t> dig = {
      0x2a, 0x2a, 0x01, 0x20, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x61,
      0x07, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x03, 0x63, 0x6f, 0x6d, 0x00, 0x00,
      0x01, 0x00, 0x01, 0x00, 0x00, 0x29, 0x04, 0xd0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0c,
      0x00, 0x0a, 0x00, 0x08, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
  auto m = parseMessage(dig);
  ASSERT_TRUE(m.ok()) << m.error().message();
  EXPECT_TRUE(m->header.rd);
  EXPECT_TRUE(m->header.ad);
  EXPECT_EQ(m->questions[0].name.toString(), "a.example.com");
  ASSERT_TRUE(m->edns.has_value());
  EXPECT_EQ(m->edns->udpSize, 1232);
}

}  // namespace
}  // namespace vnet::dns
