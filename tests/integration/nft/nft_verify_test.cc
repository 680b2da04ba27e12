// NftFirewall::verify against the real kernel: what `nft` commands change in our table is
// found, and a repair (addNetwork) leaves nothing to find.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kernel/nft/nft_firewall.h"
#include "tests/golden/nft/cases.h"
#include "tests/integration/nft/netns_env.h"

namespace vnet::kernel::nft {
namespace {

using nfttest::sh;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class NftVerify : public ::testing::Test {
 protected:
  void SetUp() override {
    VNET_REQUIRE_NETNS();
    auto fw = NftFirewall::create();
    ASSERT_TRUE(fw.ok()) << fw.error().message();
    fw_ = std::move(*fw);
    ASSERT_TRUE(fw_->deleteTable().ok());
  }
  void TearDown() override {
    if (fw_) {
      EXPECT_TRUE(fw_->deleteTable().ok());
    }
  }
  std::vector<FirewallDrift> verify(const std::vector<model::Network>& nets) {
    auto d = fw_->verify(nets);
    EXPECT_TRUE(d.ok()) << d.error().message();
    return d.ok() ? *d : std::vector<FirewallDrift>{};
  }
  std::unique_ptr<NftFirewall> fw_;
};

TEST_F(NftVerify, EveryGoldenCaseVerifiesClean) {
  for (const auto& c : nfttest::allCases()) {
    SCOPED_TRACE(c.name);
    for (const auto& n : c.networks) ASSERT_TRUE(fw_->addNetwork(n).ok());
    EXPECT_THAT(verify(c.networks), IsEmpty());
    ASSERT_TRUE(fw_->deleteTable().ok());
  }
}

TEST_F(NftVerify, FindsWhatNftChangedAndTheRepairLeavesNothing) {
  const model::Network net = nfttest::defaultNat();
  ASSERT_TRUE(fw_->addNetwork(net).ok());
  std::string handle =
      sh("nft -a list chain inet vnet from_guests | sed -n 's/.*@outbound4 accept.*# handle //p' "
         "| tr -d '\\n'");
  ASSERT_FALSE(handle.empty());
  int status = 0;
  sh("nft delete rule inet vnet from_guests handle " + handle, &status);
  ASSERT_EQ(status, 0);
  sh("nft delete element inet vnet dns '{ \"vnbr0\" }'", &status);
  ASSERT_EQ(status, 0);
  auto drift = verify({net});
  ASSERT_EQ(drift.size(), 1u);
  EXPECT_THAT(drift[0].found,
              ElementsAre(HasSubstr("chain from_guests lacks rule: iifname . ip saddr @outbound4 "
                                    "accept"),
                          "set dns lacks element \"vnbr0\" comment \"default\""));
  // verify() forgot the tracked state: the repair re-applies the fixed chains and the
  // network's elements in one batch.
  ASSERT_TRUE(fw_->addNetwork(net).ok());
  EXPECT_THAT(verify({net}), IsEmpty());

  sh("nft flush ruleset", &status);
  ASSERT_EQ(status, 0);
  drift = verify({net});
  ASSERT_EQ(drift.size(), 1u);
  EXPECT_THAT(drift[0].found, ElementsAre("table inet vnet is gone"));
  ASSERT_TRUE(fw_->addNetwork(net).ok());
  EXPECT_THAT(verify({net}), IsEmpty());
}

}  // namespace
}  // namespace vnet::kernel::nft
