// diffTable: the kernel's listing of our table (here: rendered text edited the way `nft`
// commands would change it) against the rules each network should have.
#include "kernel/nft/listing.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kernel/nft/render.h"
#include "tests/golden/nft/cases.h"

namespace vnet::kernel::nft {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::vector<model::Network> twoNetworks() {
  return {nfttest::defaultNat(), nfttest::network("lab", model::ForwardMode::Route, "vnbr10",
                                                  {nfttest::ipConfig("10.10.0.1/24", true)})};
}

// `text` without the first line containing `needle` (which must exist).
std::string without(std::string text, const std::string& needle) {
  size_t at = text.find(needle);
  EXPECT_NE(at, std::string::npos) << needle;
  if (at == std::string::npos) return text;
  size_t begin = text.rfind('\n', at) + 1;
  size_t end = text.find('\n', at);
  return text.erase(begin, end - begin + 1);
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

TEST(ParseTableListing, CutsBlocksAndSortsWrappedElements) {
  TableListing l = parseTableListing(renderRuleset(twoNetworks()));
  EXPECT_TRUE(l.present);
  EXPECT_THAT(l.elements["forward_oif"],
              ElementsAre("\"vnbr0\" : jump default_fwd_out", "\"vnbr10\" : jump lab_fwd_out"));
  EXPECT_THAT(l.elements["postrouting_saddr6"], IsEmpty());
  EXPECT_THAT(l.blocks["map postrouting_saddr4"],
              ElementsAre("type ipv4_addr : verdict", "flags interval"));
  ASSERT_EQ(l.blocks["chain default_fwd_in"].size(), 2u);
  EXPECT_THAT(l.blocks["chain default_fwd_in"][0], HasSubstr("ip saddr 192.168.122.0/24 accept"));
  EXPECT_FALSE(parseTableListing("").present);
}

TEST(ObjectsInListing, AreWhatTheRendererInstalls) {
  auto nets = twoNetworks();
  NetworkObjects got = objectsInListing(parseTableListing(renderRuleset(nets)));
  for (const auto& net : nets) {
    for (const auto& c : objectsOf(net).chains) EXPECT_THAT(got.chains, ::testing::Contains(c));
    for (const auto& e : objectsOf(net).elements) EXPECT_THAT(got.elements, ::testing::Contains(e));
  }
  EXPECT_EQ(got.elements.size(), 9u);          // 4 per network, plus the NAT subnet of default
  EXPECT_EQ(got.chains.size(), 4u + 5u + 4u);  // base chains, default's, lab's
}

TEST(DiffTable, TheRenderedTableHasNoDrift) {
  auto nets = twoNetworks();
  EXPECT_THAT(diffTable(parseTableListing(renderRuleset(nets)), nets), IsEmpty());
  // Element order and wrapping do not count (nft prints hash maps in hash order).
  std::string text = renderRuleset(nets);
  text = replaced(
      text,
      "elements = { \"vnbr0\" : jump default_fwd_out,\n\t\t\t     \"vnbr10\" : jump lab_fwd_out }",
      "elements = { \"vnbr10\" : jump lab_fwd_out, \"vnbr0\" : jump default_fwd_out }");
  EXPECT_THAT(diffTable(parseTableListing(text), nets), IsEmpty());
}

TEST(DiffTable, ADeletedRuleIsReportedForItsNetworkOnly) {
  auto nets = twoNetworks();
  auto drift = diffTable(
      parseTableListing(without(renderRuleset(nets), "guests in 192.168.122.0/24 to outside")),
      nets);
  ASSERT_EQ(drift.size(), 1u);
  EXPECT_EQ(drift[0].network, "default");
  EXPECT_THAT(
      drift[0].found,
      ElementsAre("chain default_fwd_in lacks rule: ip saddr 192.168.122.0/24 accept comment "
                  "\"default: guests in 192.168.122.0/24 to outside\""));
}

TEST(DiffTable, AForeignRuleInOurChainIsReported) {
  auto nets = twoNetworks();
  std::string text = replaced(renderRuleset(nets), "\tchain lab_in {\n",
                              "\tchain lab_in {\n\t\ttcp dport 22 accept\n");
  auto drift = diffTable(parseTableListing(text), nets);
  ASSERT_EQ(drift.size(), 1u);
  EXPECT_EQ(drift[0].network, "lab");
  EXPECT_THAT(drift[0].found,
              ElementsAre("chain lab_in has a rule that is not ours: tcp dport 22 accept"));
}

TEST(DiffTable, ReorderedRulesAreReported) {
  auto nets = twoNetworks();
  const std::string accept =
      "\t\tip saddr 192.168.122.0/24 accept comment \"default: guests in 192.168.122.0/24 to "
      "outside\"\n";
  const std::string reject = "\t\treject comment \"default: reject other traffic from guests\"\n";
  std::string text = replaced(renderRuleset(nets), accept + reject, reject + accept);
  auto drift = diffTable(parseTableListing(text), nets);
  ASSERT_EQ(drift.size(), 1u);
  EXPECT_THAT(drift[0].found, ElementsAre("chain default_fwd_in has its rules out of order"));
}

TEST(DiffTable, AMissingOrForeignElementIsReported) {
  auto nets = twoNetworks();
  std::string text =
      replaced(renderRuleset(nets), "elements = { 192.168.122.0/24 : jump default_nat }",
               "elements = { 10.99.0.0/16 : jump default_nat }");
  auto drift = diffTable(parseTableListing(text), nets);
  ASSERT_EQ(drift.size(), 1u);
  EXPECT_EQ(drift[0].network, "default");
  EXPECT_THAT(
      drift[0].found,
      ElementsAre("map postrouting_saddr4 lacks element 192.168.122.0/24 : jump default_nat",
                  "map postrouting_saddr4 has an element that is not ours: 10.99.0.0/16 : jump "
                  "default_nat"));
}

TEST(DiffTable, DamageToTheSkeletonConcernsEveryNetwork) {
  auto nets = twoNetworks();
  std::string text = without(renderRuleset(nets), "oifname vmap @forward_oif");
  auto drift = diffTable(parseTableListing(text), nets);
  ASSERT_EQ(drift.size(), 2u);
  for (const auto& d : drift) {
    EXPECT_THAT(d.found,
                ElementsAre(HasSubstr("chain forward lacks rule: oifname vmap @forward_oif")));
  }
  // A policy changed on our base chain.
  text = replaced(renderRuleset(nets), "hook forward priority filter; policy accept;",
                  "hook forward priority filter; policy drop;");
  drift = diffTable(parseTableListing(text), nets);
  ASSERT_EQ(drift.size(), 2u);
  EXPECT_THAT(
      drift[0].found,
      ElementsAre(HasSubstr("lacks rule: type filter hook forward priority filter; policy accept;"),
                  HasSubstr("not ours: type filter hook forward priority filter; policy drop;")));
}

TEST(DiffTable, AGoneChainOrTable) {
  auto nets = twoNetworks();
  std::string text = renderRuleset(nets);
  size_t begin = text.find("\tchain lab_out {");
  size_t end = text.find("\t}\n", begin) + 3;
  text.erase(begin, end - begin);
  auto drift = diffTable(parseTableListing(text), nets);
  ASSERT_EQ(drift.size(), 1u);
  EXPECT_THAT(drift[0].found, ElementsAre("chain lab_out is gone"));

  drift = diffTable(parseTableListing(""), nets);
  ASSERT_EQ(drift.size(), 2u);
  EXPECT_THAT(drift[1].found, ElementsAre("table inet vnet is gone"));
}

TEST(DiffTable, NetworksWithoutRulesNeverDiffer) {
  auto open = nfttest::network("opn", model::ForwardMode::Open, "opbr",
                               {nfttest::ipConfig("10.40.0.1/24", false)});
  EXPECT_THAT(diffTable(parseTableListing(""), {open}), IsEmpty());
}

}  // namespace
}  // namespace vnet::kernel::nft
