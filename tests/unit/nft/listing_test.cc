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
  EXPECT_THAT(l.elements["set guests"],
              ElementsAre("\"vnbr0\" comment \"default\"", "\"vnbr10\" comment \"lab\""));
  EXPECT_THAT(l.elements["set outbound6"], IsEmpty());
  EXPECT_THAT(l.blocks["set outbound4"],
              ElementsAre("type ifname . ipv4_addr", "flags interval",
                          "comment \"nat, route: bridge . guest subnet\""));
  EXPECT_THAT(l.blocks["map nat_custom"],
              ElementsAre("type ifname : verdict", HasSubstr("comment")));
  EXPECT_THAT(l.blocks["chain from_guests"],
              ::testing::Contains(HasSubstr("iifname . ip saddr @outbound4 accept")));
  EXPECT_FALSE(parseTableListing("").present);
}

TEST(DiffTable, TheRenderedTableHasNoDrift) {
  auto nets = twoNetworks();
  EXPECT_THAT(diffTable(parseTableListing(renderRuleset(nets)), nets), IsEmpty());
  // Element order and wrapping do not count (nft prints hash sets in hash order).
  std::string text = renderRuleset(nets);
  text = replaced(text,
                  "elements = { \"vnbr0\" comment \"default\",\n\t\t\t     \"vnbr10\" comment "
                  "\"lab\" }",
                  "elements = { \"vnbr10\" comment \"lab\", \"vnbr0\" comment \"default\" }");
  EXPECT_THAT(diffTable(parseTableListing(text), nets), IsEmpty());
}

TEST(DiffTable, ADeletedRuleOfAFixedChainConcernsEveryNetwork) {
  auto nets = twoNetworks();
  auto drift = diffTable(
      parseTableListing(without(renderRuleset(nets), "iifname . ip saddr @outbound4 accept")),
      nets);
  ASSERT_EQ(drift.size(), 2u);
  for (const auto& d : drift) {
    EXPECT_THAT(d.found, ElementsAre("chain from_guests lacks rule: iifname . ip saddr @outbound4 "
                                     "accept comment \"nat, route: guests to outside\""));
  }
}

TEST(DiffTable, AForeignRuleInOurChainIsReported) {
  auto nets = twoNetworks();
  std::string text = replaced(renderRuleset(nets), "\tchain from_guests {\n",
                              "\tchain from_guests {\n\t\ttcp dport 22 accept\n");
  auto drift = diffTable(parseTableListing(text), nets);
  ASSERT_EQ(drift.size(), 2u);
  EXPECT_THAT(drift[1].found,
              ElementsAre("chain from_guests has a rule that is not ours: tcp dport 22 accept"));
}

TEST(DiffTable, ReorderedRulesAreReported) {
  auto nets = twoNetworks();
  const std::string accept =
      "\t\tiifname . ip6 saddr . oifname @outbound6_dev accept comment \"nat, route: guests out "
      "their forward dev\"\n";
  const std::string reject = "\t\treject comment \"anything else from guests\"\n";
  std::string text = replaced(renderRuleset(nets), accept + reject, reject + accept);
  auto drift = diffTable(parseTableListing(text), nets);
  ASSERT_EQ(drift.size(), 2u);
  EXPECT_THAT(drift[0].found, ElementsAre("chain from_guests has its rules out of order"));
}

TEST(DiffTable, AMissingOrStaleElementIsReportedForItsOwnerOnly) {
  auto nets = twoNetworks();
  std::string text = renderRuleset(nets);
  // default's masquerade entry gone, a stale subnet of lab's left in outbound4, and an
  // element someone else added (no owner comment) that is nobody's business.
  text = replaced(text,
                  "comment \"nat: bridge . guest subnet\"\n\t\telements = { \"vnbr0\" . "
                  "192.168.122.0/24 comment \"default\" }\n\t}\n\n\tset masq4_dev",
                  "comment \"nat: bridge . guest subnet\"\n\t}\n\n\tset masq4_dev");
  text = replaced(text, "\"vnbr10\" . 10.10.0.0/24 comment \"lab\" }",
                  "\"vnbr10\" . 10.10.0.0/24 comment \"lab\",\n\t\t\t     \"vnbr10\" . "
                  "10.99.0.0/16 comment \"lab\", \"eth7\" . 10.98.0.0/16 }");
  auto drift = diffTable(parseTableListing(text), nets);
  ASSERT_EQ(drift.size(), 2u);
  EXPECT_EQ(drift[0].network, "default");
  EXPECT_THAT(drift[0].found,
              ElementsAre("set masq4 lacks element \"vnbr0\" . 192.168.122.0/24 comment "
                          "\"default\""));
  EXPECT_EQ(drift[1].network, "lab");
  EXPECT_THAT(drift[1].found, ElementsAre(HasSubstr("has an element the definition does not: "
                                                    "\"vnbr10\" . 10.99.0.0/16 comment \"lab\"")));
}

TEST(DiffTable, APolicyChangedOnOurBaseChain) {
  auto nets = twoNetworks();
  std::string text = replaced(renderRuleset(nets), "hook forward priority filter; policy accept;",
                              "hook forward priority filter; policy drop;");
  auto drift = diffTable(parseTableListing(text), nets);
  ASSERT_EQ(drift.size(), 2u);
  EXPECT_THAT(
      drift[0].found,
      ElementsAre(HasSubstr("lacks rule: type filter hook forward priority filter; policy accept;"),
                  HasSubstr("not ours: type filter hook forward priority filter; policy drop;")));
}

TEST(DiffTable, AGoneSetChainOrTable) {
  auto nets = twoNetworks();
  std::string text = renderRuleset(nets);
  size_t begin = text.find("\tset inbound4 {");
  size_t end = text.find("\t}\n", begin) + 3;
  text.erase(begin, end - begin);
  auto drift = diffTable(parseTableListing(text), nets);
  ASSERT_EQ(drift.size(), 2u);
  EXPECT_THAT(drift[1].found, ElementsAre("set inbound4 is gone"));

  drift = diffTable(parseTableListing(""), nets);
  ASSERT_EQ(drift.size(), 2u);
  EXPECT_THAT(drift[1].found, ElementsAre("table inet vnet is gone"));
}

TEST(DiffTable, ATraceChainIsNotDrift) {
  auto nets = twoNetworks();
  std::string text = replaced(renderRuleset(nets), "\tchain forward {\n",
                              "\tchain trace_1 {\n\t\ttype filter hook prerouting priority "
                              "raw - 1; policy accept;\n\t\tmeta nftrace set 1\n\t}\n\n\tchain "
                              "forward {\n");
  EXPECT_THAT(diffTable(parseTableListing(text), nets), IsEmpty());
}

TEST(DiffTable, NetworksWithoutRulesNeverDiffer) {
  auto open = nfttest::network("opn", model::ForwardMode::Open, "opbr",
                               {nfttest::ipConfig("10.40.0.1/24", false)});
  EXPECT_THAT(diffTable(parseTableListing(""), {open}), IsEmpty());
}

}  // namespace
}  // namespace vnet::kernel::nft
