#include "dns/forwarder.h"

#include <gtest/gtest.h>

namespace vnet::dns {
namespace {

TEST(DnsResolvConfTest, ParsesNameserverLines) {
  auto servers = parseResolvConf(
      "# comment\n"
      "search example.com\n"
      "nameserver 192.0.2.53\n"
      "  nameserver\t127.0.0.53  # stub\n"
      "nameserver 2001:db8::53\n"
      "nameserver fe80::1%eth0\n"
      "nameservers 192.0.2.9\n"
      "; nameserver 192.0.2.10\n"
      "nameserver not-an-ip\n"
      "nameserver 198.51.100.1");
  ASSERT_EQ(servers.size(), 4u);
  EXPECT_EQ(servers[0].toString(), "192.0.2.53");
  EXPECT_EQ(servers[1].toString(), "127.0.0.53");
  EXPECT_EQ(servers[2].toString(), "2001:db8::53");
  EXPECT_EQ(servers[3].toString(), "198.51.100.1");
}

TEST(DnsResolvConfTest, EmptyFileHasNoServers) {
  EXPECT_TRUE(parseResolvConf("").empty());
}

}  // namespace
}  // namespace vnet::dns
