// parseInstalled: finding one network's objects in `nft -j list table inet vnet`.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kernel/nft/nft_firewall.h"

namespace vnet::kernel::nft {
namespace {

using ::testing::UnorderedElementsAre;

// Shaped like nft 1.0.6 output for two networks, "default" and "lab".
constexpr const char* kListing = R"({"nftables": [
 {"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
 {"table": {"family": "inet", "name": "vnet", "handle": 1}},
 {"map": {"family": "inet", "name": "forward_oif", "table": "vnet", "type": "ifname",
   "map": "verdict", "elem": [["vnbr0", {"jump": {"target": "default_fwd_out"}}],
                              ["vnbr1", {"jump": {"target": "lab_fwd_out"}}]]}},
 {"map": {"family": "inet", "name": "postrouting_saddr4", "table": "vnet", "type": "ipv4_addr",
   "map": "verdict", "flags": ["interval"],
   "elem": [[{"prefix": {"addr": "192.168.122.0", "len": 24}}, {"jump": {"target": "default_nat"}}],
            ["10.0.0.1", {"jump": {"target": "default_nat"}}],
            [{"range": ["10.1.0.1", "10.1.0.9"]}, {"goto": {"target": "default_nat"}}],
            [{"prefix": {"addr": "10.40.0.0", "len": 24}}, {"jump": {"target": "lab_nat"}}]]}},
 {"map": {"family": "inet", "name": "postrouting_saddr6", "table": "vnet", "type": "ipv6_addr",
   "map": "verdict", "flags": ["interval"]}},
 {"chain": {"family": "inet", "table": "vnet", "name": "forward", "handle": 2}},
 {"chain": {"family": "inet", "table": "vnet", "name": "default_fwd_out", "handle": 3}},
 {"chain": {"family": "inet", "table": "vnet", "name": "default_nat", "handle": 4}},
 {"chain": {"family": "inet", "table": "vnet", "name": "default_nat_x", "handle": 5}},
 {"chain": {"family": "inet", "table": "vnet", "name": "lab_fwd_out", "handle": 6}},
 {"rule": {"family": "inet", "table": "vnet", "chain": "default_nat", "handle": 7,
   "expr": [{"accept": null}]}}
]})";

TEST(NftParseInstalled, FindsOnlyThatNetworksChainsAndElements) {
  auto o = parseInstalled(kListing, "default");
  ASSERT_TRUE(o.ok()) << o.error().message();
  EXPECT_THAT(o->chains, UnorderedElementsAre("default_fwd_out", "default_nat"));
  EXPECT_THAT(
      o->elements,
      UnorderedElementsAre(MapElement{"forward_oif", "\"vnbr0\"", "default_fwd_out"},
                           MapElement{"postrouting_saddr4", "192.168.122.0/24", "default_nat"},
                           MapElement{"postrouting_saddr4", "10.0.0.1", "default_nat"},
                           MapElement{"postrouting_saddr4", "10.1.0.1-10.1.0.9", "default_nat"}));
}

TEST(NftParseInstalled, OtherNetworkAndAbsentNetwork) {
  auto lab = parseInstalled(kListing, "lab");
  ASSERT_TRUE(lab.ok());
  EXPECT_THAT(lab->chains, UnorderedElementsAre("lab_fwd_out"));
  EXPECT_EQ(2u, lab->elements.size());
  auto none = parseInstalled(kListing, "nope");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(NftParseInstalled, RejectsGarbage) {
  EXPECT_FALSE(parseInstalled("not json", "default").ok());
  EXPECT_FALSE(parseInstalled("{\"x\": 1}", "default").ok());
}

}  // namespace
}  // namespace vnet::kernel::nft
