// parseInstalled: finding one network's objects in `nft -j list table inet vnet`.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kernel/nft/nft_firewall.h"

namespace vnet::kernel::nft {

void PrintTo(const MapElement& e, std::ostream* os) {
  *os << "{" << e.map << ", " << e.key << ", " << e.chain << ", " << e.owner << "}";
}

namespace {

using ::testing::UnorderedElementsAre;

// Shaped like nft 1.0.6 output for networks "default" (custom NAT chain) and "lab".
constexpr const char* kListing = R"({"nftables": [
 {"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
 {"table": {"family": "inet", "name": "vnet", "handle": 1}},
 {"set": {"family": "inet", "name": "guests", "table": "vnet", "type": "ifname", "handle": 2,
   "elem": [{"elem": {"val": "vnbr0", "comment": "default"}},
            {"elem": {"val": "vnbr1", "comment": "lab"}}, "stray"]}},
 {"set": {"family": "inet", "name": "outbound4", "table": "vnet",
   "type": ["ifname", "ipv4_addr"], "flags": ["interval"], "handle": 3,
   "elem": [{"elem": {"val": {"concat": ["vnbr0", {"prefix": {"addr": "192.168.122.0", "len": 24}}]},
                      "comment": "default"}},
            {"elem": {"val": {"concat": ["vnbr0", "10.0.0.1"]}, "comment": "default"}},
            {"elem": {"val": {"concat": ["vnbr0", {"range": ["10.1.0.1", "10.1.0.9"]}]},
                      "comment": "default"}},
            {"elem": {"val": {"concat": ["vnbr1", {"prefix": {"addr": "10.40.0.0", "len": 24}}]},
                      "comment": "lab"}}]}},
 {"set": {"family": "inet", "name": "masq6", "table": "vnet",
   "type": ["ifname", "ipv6_addr"], "flags": ["interval"], "handle": 4}},
 {"map": {"family": "inet", "name": "nat_custom", "table": "vnet", "type": "ifname",
   "map": "verdict", "handle": 5,
   "elem": [[{"elem": {"val": "vnbr0", "comment": "default"}}, {"jump": {"target": "default_nat"}}]]}},
 {"chain": {"family": "inet", "table": "vnet", "name": "forward", "handle": 6}},
 {"chain": {"family": "inet", "table": "vnet", "name": "to_guests", "handle": 7}},
 {"chain": {"family": "inet", "table": "vnet", "name": "default_nat", "handle": 8}},
 {"chain": {"family": "inet", "table": "vnet", "name": "default_nat_x", "handle": 9}},
 {"rule": {"family": "inet", "table": "vnet", "chain": "default_nat", "handle": 10,
   "expr": [{"accept": null}]}}
]})";

TEST(NftParseInstalled, FindsOnlyThatNetworksChainsAndElements) {
  auto o = parseInstalled(kListing, "default");
  ASSERT_TRUE(o.ok()) << o.error().message();
  EXPECT_THAT(o->chains, UnorderedElementsAre("default_nat"));
  EXPECT_THAT(
      o->elements,
      UnorderedElementsAre(MapElement{"guests", "\"vnbr0\"", "", "default"},
                           MapElement{"outbound4", "\"vnbr0\" . 192.168.122.0/24", "", "default"},
                           MapElement{"outbound4", "\"vnbr0\" . 10.0.0.1", "", "default"},
                           MapElement{"outbound4", "\"vnbr0\" . 10.1.0.1-10.1.0.9", "", "default"},
                           MapElement{"nat_custom", "\"vnbr0\"", "default_nat", "default"}));
}

TEST(NftParseInstalled, OtherNetworkAndAbsentNetwork) {
  auto lab = parseInstalled(kListing, "lab");
  ASSERT_TRUE(lab.ok());
  EXPECT_TRUE(lab->chains.empty());
  EXPECT_THAT(lab->elements,
              UnorderedElementsAre(MapElement{"guests", "\"vnbr1\"", "", "lab"},
                                   MapElement{"outbound4", "\"vnbr1\" . 10.40.0.0/24", "", "lab"}));
  auto none = parseInstalled(kListing, "nope");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(NftParseInstalled, RenderedObjectsMatchTheirListing) {
  // The keys the renderer writes are the keys parsed back (deleting them must work).
  model::Network net;
  net.name = "default";
  net.mode = model::ForwardMode::Nat;
  net.nat = model::Nat{};
  net.bridge.name = "vnbr0";
  model::IpConfig ip;
  ip.family = Family::V4;
  ip.address = Ipv4::parse("192.168.122.1").value();
  ip.prefix = 24;
  net.ips.push_back(ip);
  auto rendered = objectsOf(net);
  auto outbound = std::find_if(rendered.elements.begin(), rendered.elements.end(),
                               [](const MapElement& e) { return e.map == "outbound4"; });
  ASSERT_NE(outbound, rendered.elements.end());
  EXPECT_EQ((MapElement{"outbound4", "\"vnbr0\" . 192.168.122.0/24", "", "default"}), *outbound);
}

TEST(NftParseInstalled, RejectsGarbage) {
  EXPECT_FALSE(parseInstalled("not json", "default").ok());
  EXPECT_FALSE(parseInstalled("{\"x\": 1}", "default").ok());
}

}  // namespace
}  // namespace vnet::kernel::nft
