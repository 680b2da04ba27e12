#include "metrics/exposition.h"

#include <gtest/gtest.h>

namespace vnet::metrics {
namespace {

TEST(Exposition, FamiliesWithHelpTypeAndSamples) {
  Exposition e;
  ASSERT_TRUE(e.declare("vnet_dhcp_acks_total", Type::Counter, "DHCPACKs sent.").ok());
  ASSERT_TRUE(e.declare("vnet_dhcp_leases", Type::Gauge, "Active leases.").ok());
  ASSERT_TRUE(e.add("vnet_dhcp_acks_total", {{"network", "default"}}, uint64_t{3}).ok());
  ASSERT_TRUE(e.add("vnet_dhcp_leases", {{"network", "default"}}, uint64_t{2}).ok());
  ASSERT_TRUE(e.add("vnet_dhcp_acks_total", {{"network", "lab"}}, uint64_t{0}).ok());
  EXPECT_EQ(e.text(),
            "# HELP vnet_dhcp_acks_total DHCPACKs sent.\n"
            "# TYPE vnet_dhcp_acks_total counter\n"
            "vnet_dhcp_acks_total{network=\"default\"} 3\n"
            "vnet_dhcp_acks_total{network=\"lab\"} 0\n"
            "# HELP vnet_dhcp_leases Active leases.\n"
            "# TYPE vnet_dhcp_leases gauge\n"
            "vnet_dhcp_leases{network=\"default\"} 2\n");
}

TEST(Exposition, EscapesLabelValuesAndHelp) {
  Exposition e;
  ASSERT_TRUE(e.declare("vnet_x", Type::Gauge, "a \\ b\nc").ok());
  ASSERT_TRUE(e.add("vnet_x", {{"network", "we\"ird\\na\nme"}, {"port", "p"}}, uint64_t{1}).ok());
  EXPECT_EQ(e.text(),
            "# HELP vnet_x a \\\\ b\\nc\n"
            "# TYPE vnet_x gauge\n"
            "vnet_x{network=\"we\\\"ird\\\\na\\nme\",port=\"p\"} 1\n");
}

TEST(Exposition, NoLabelsAndDoubles) {
  Exposition e;
  ASSERT_TRUE(e.declare("vnet_ratio", Type::Gauge, "r").ok());
  ASSERT_TRUE(e.add("vnet_ratio", {}, 0.5).ok());
  EXPECT_NE(e.text().find("\nvnet_ratio 0.5\n"), std::string::npos);
}

TEST(Exposition, RejectsBadNamesAndMisuse) {
  Exposition e;
  EXPECT_FALSE(e.declare("1abc", Type::Gauge, "").ok());
  EXPECT_FALSE(e.declare("vnet-x", Type::Gauge, "").ok());
  EXPECT_FALSE(e.declare("vnet_packets", Type::Counter, "counters end in _total").ok());
  ASSERT_TRUE(e.declare("vnet_a_total", Type::Counter, "").ok());
  EXPECT_TRUE(e.declare("vnet_a_total", Type::Counter, "").ok());  // same again: fine
  EXPECT_FALSE(e.declare("vnet_a_total", Type::Gauge, "").ok());
  EXPECT_FALSE(e.add("vnet_undeclared", {}, uint64_t{1}).ok());
  EXPECT_FALSE(e.add("vnet_a_total", {{"__reserved", "x"}}, uint64_t{1}).ok());
  EXPECT_FALSE(e.add("vnet_a_total", {{"bad-label", "x"}}, uint64_t{1}).ok());
  EXPECT_FALSE(e.add("vnet_a_total", {{"a", "1"}, {"a", "2"}}, uint64_t{1}).ok());
  ASSERT_TRUE(e.add("vnet_a_total", {{"a", "1"}}, uint64_t{1}).ok());
  EXPECT_FALSE(e.add("vnet_a_total", {{"a", "1"}}, uint64_t{2}).ok());  // duplicate series
}

TEST(Exposition, NameRules) {
  EXPECT_TRUE(Exposition::validMetricName("vnet_port_receive_bytes_total"));
  EXPECT_TRUE(Exposition::validMetricName("a:b_c"));
  EXPECT_FALSE(Exposition::validMetricName(""));
  EXPECT_FALSE(Exposition::validMetricName("a b"));
  EXPECT_TRUE(Exposition::validLabelName("network"));
  EXPECT_FALSE(Exposition::validLabelName("a:b"));
  EXPECT_FALSE(Exposition::validLabelName("9x"));
}

}  // namespace
}  // namespace vnet::metrics
