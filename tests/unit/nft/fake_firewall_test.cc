#include "testing/fake_firewall.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vnet::testing {
namespace {

model::Network named(const char* name) {
  model::Network n;
  n.name = name;
  return n;
}

TEST(FakeFirewall, RecordsCallsAndActiveNetworks) {
  FakeFirewall fw;
  ASSERT_TRUE(fw.addNetwork(named("default")).ok());
  ASSERT_TRUE(fw.addNetwork(named("lab")).ok());
  ASSERT_TRUE(fw.removeNetwork(named("default")).ok());
  EXPECT_THAT(fw.calls(), ::testing::ElementsAre("addNetwork default", "addNetwork lab",
                                                 "removeNetwork default"));
  EXPECT_FALSE(fw.isActive("default"));
  EXPECT_TRUE(fw.isActive("lab"));
  EXPECT_EQ("network lab\n", *fw.listTable());
}

TEST(FakeFirewall, FailNextFailsOnceAndChangesNothing) {
  FakeFirewall fw;
  fw.failNext(Error("nft: boom"));
  Status s = fw.addNetwork(named("default"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ("nft: boom", s.error().message());
  EXPECT_FALSE(fw.isActive("default"));
  EXPECT_TRUE(fw.addNetwork(named("default")).ok());
  EXPECT_TRUE(fw.isActive("default"));
  EXPECT_EQ(2u, fw.calls().size());
}

}  // namespace
}  // namespace vnet::testing
