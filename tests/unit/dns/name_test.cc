#include "dns/name.h"

#include <gtest/gtest.h>

#include <string>

namespace vnet::dns {
namespace {

TEST(DnsNameTest, ParsesAndPrintsPresentationForm) {
  auto n = Name::parse("www.Example.com.");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->toString(), "www.Example.com");
  EXPECT_EQ(n->labelCount(), 3u);
  EXPECT_EQ(n->label(1), "Example");
  EXPECT_EQ(n->wireSize(), 17u);
  EXPECT_TRUE(Name::parse("")->isRoot());
  EXPECT_TRUE(Name::parse(".")->isRoot());
  EXPECT_EQ(Name().toString(), ".");
}

TEST(DnsNameTest, EscapesRoundTrip) {
  auto n = Name::parse("a\\.b.c\\032d");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->labelCount(), 2u);
  EXPECT_EQ(n->label(0), "a.b");
  EXPECT_EQ(n->label(1), "c d");
  EXPECT_EQ(n->toString(), "a\\.b.c\\032d");
  EXPECT_FALSE(Name::parse("a\\25").ok());
  EXPECT_FALSE(Name::parse("a\\256").ok());
  EXPECT_FALSE(Name::parse("a\\").ok());
}

TEST(DnsNameTest, RejectsEmptyLabels) {
  EXPECT_FALSE(Name::parse("a..b").ok());
  EXPECT_FALSE(Name::parse(".a").ok());
  EXPECT_FALSE(Name::parse("..").ok());
}

TEST(DnsNameTest, EnforcesLabelAndNameLimits) {
  // RFC 1035 §2.3.4
  EXPECT_TRUE(Name::parse(std::string(63, 'a')).ok());
  EXPECT_FALSE(Name::parse(std::string(64, 'a')).ok());
  std::string longest;  // 4 x (1+62) ... built to exactly 255 octets on the wire
  for (int i = 0; i < 3; ++i) longest += std::string(63, 'x') + ".";
  longest += std::string(61, 'y');  // 3*64 + 62 + 1 = 255
  auto n = Name::parse(longest);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->wireSize(), 255u);
  EXPECT_FALSE(Name::parse(longest + "z").ok());
}

TEST(DnsNameTest, ComparesCaseInsensitively) {
  auto a = *Name::parse("Host.EXAMPLE.com");
  auto b = *Name::parse("host.example.COM");
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.hash(), b.hash());
  EXPECT_FALSE(a == *Name::parse("host.example.org"));
  EXPECT_EQ(a.lowered().toString(), "host.example.com");
}

TEST(DnsNameTest, IsUnderMatchesWholeLabels) {
  auto n = *Name::parse("a.b.example.com");
  EXPECT_TRUE(n.isUnder(*Name::parse("example.com")));
  EXPECT_TRUE(n.isUnder(*Name::parse("B.Example.Com")));
  EXPECT_TRUE(n.isUnder(n));
  EXPECT_TRUE(n.isUnder(Name()));
  EXPECT_FALSE(n.isUnder(*Name::parse("ample.com")));
  EXPECT_FALSE(Name::parse("com")->isUnder(n));
}

TEST(DnsNameTest, ConcatAndParent) {
  auto n = Name::parse("host")->concat(*Name::parse("example.com"));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->toString(), "host.example.com");
  EXPECT_EQ(n->parent().toString(), "example.com");
  EXPECT_TRUE(Name().parent().isRoot());
  auto big =
      *Name::parse(std::string(63, 'a') + "." + std::string(63, 'b') + "." + std::string(63, 'c'));
  EXPECT_FALSE(big.concat(big).ok());
}

TEST(DnsNameTest, FromWireValidates) {
  const uint8_t good[] = {1, 'a', 0};
  EXPECT_TRUE(Name::fromWire(good).ok());
  const uint8_t unterminated[] = {1, 'a'};
  EXPECT_FALSE(Name::fromWire(unterminated).ok());
  const uint8_t pointer[] = {0xC0, 12};
  EXPECT_FALSE(Name::fromWire(pointer).ok());
}

}  // namespace
}  // namespace vnet::dns
