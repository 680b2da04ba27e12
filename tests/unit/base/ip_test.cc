#include "base/ip.h"

#include <gtest/gtest.h>

namespace vnet {
namespace {

TEST(Ipv4, ParsesAndFormats) {
  auto a = Ipv4::parse("192.168.122.1");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->toUint(), 0xC0A87A01u);
  EXPECT_EQ(a->toString(), "192.168.122.1");
  EXPECT_FALSE(Ipv4::parse("192.168.122"));
  EXPECT_FALSE(Ipv4::parse("192.168.122.256"));
  EXPECT_FALSE(Ipv4::parse(""));
  EXPECT_FALSE(Ipv4::parse(std::string(100, '1')));
}

TEST(Ipv4, MaskAndPrefix) {
  EXPECT_EQ(Ipv4::mask(24).toString(), "255.255.255.0");
  EXPECT_EQ(Ipv4::mask(0).toUint(), 0u);
  EXPECT_EQ(Ipv4::mask(32).toUint(), 0xFFFFFFFFu);
  EXPECT_EQ(Ipv4::parse("255.255.255.0")->maskToPrefix(), 24);
  EXPECT_FALSE(Ipv4::parse("255.0.255.0")->maskToPrefix());
}

TEST(Cidr, NetworkContainsOverlaps) {
  auto c = Cidr::parse("192.168.122.1/24");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->network().toString(), "192.168.122.0/24");
  EXPECT_TRUE(c->contains(*IpAddress::parse("192.168.122.254")));
  EXPECT_FALSE(c->contains(*IpAddress::parse("192.168.123.1")));
  EXPECT_TRUE(c->overlaps(*Cidr::parse("192.168.0.0/16")));
  EXPECT_FALSE(c->overlaps(*Cidr::parse("192.168.123.0/24")));
  EXPECT_FALSE(c->overlaps(*Cidr::parse("fd00::/8")));
  EXPECT_FALSE(Cidr::parse("192.168.122.1/33"));
  EXPECT_FALSE(Cidr::parse("192.168.122.1/"));
  EXPECT_FALSE(Cidr::parse("192.168.122.1"));
}

TEST(Cidr, Ipv6) {
  auto c = Cidr::parse("fd00:1:2::1/64");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->network().toString(), "fd00:1:2::/64");
  EXPECT_TRUE(c->contains(*IpAddress::parse("fd00:1:2::ffff")));
  EXPECT_FALSE(c->contains(*IpAddress::parse("fd00:1:3::1")));
  EXPECT_FALSE(Cidr::parse("fd00::1/129"));
}

TEST(Mac, ParsesAndFormats) {
  auto m = Mac::parse("52:54:00:AB:cd:0f");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->toString(), "52:54:00:ab:cd:0f");
  EXPECT_TRUE(Mac::parse("52-54-00-ab-cd-0f"));
  EXPECT_FALSE(Mac::parse("52:54:00:ab:cd"));
  EXPECT_FALSE(Mac::parse("52:54:00:ab:cd:0g"));
  EXPECT_FALSE(Mac::parse("52:54-00:ab:cd:0f"));
  EXPECT_TRUE(Mac::parse("01:00:5e:00:00:01")->isMulticast());
}

}  // namespace
}  // namespace vnet
