// The event parsers of kernel/monitor against messages built the way the kernel sends
// them (libmnl for rtnetlink, libnftnl for nftables objects).
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/rtnetlink.h>

#include <cstring>
#include <functional>
#include <vector>

#include "kernel/monitor/nft_events.h"
#include "kernel/monitor/route_events.h"

namespace vnet::kernel::monitor {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

struct Recorder : ChangeSink {
  std::vector<LinkEvent> links;
  std::vector<AddressEvent> addresses;
  std::vector<TableEvent> tables;
  void onLink(const LinkEvent& e) override { links.push_back(e); }
  void onAddress(const AddressEvent& e) override { addresses.push_back(e); }
  void onTable(const TableEvent& e) override { tables.push_back(e); }
  void onEventsLost(const std::string&) override {}
};

// Netlink messages back to back in one datagram.
class Datagram {
 public:
  // `build` fills one message at the given buffer (room: 4 KiB) and returns its header.
  Datagram& add(const std::function<nlmsghdr*(char*)>& build) {
    const size_t at = bytes_.size();
    bytes_.resize(at + 4096);
    nlmsghdr* nlh = build(reinterpret_cast<char*>(bytes_.data() + at));
    bytes_.resize(at + NLMSG_ALIGN(nlh->nlmsg_len));
    return *this;
  }
  std::span<const uint8_t> span() const { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

nlmsghdr* linkMessage(char* buf, uint16_t type, int index, const char* name, bool up,
                      uint32_t master) {
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = type;
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_index = index;
  ifi->ifi_flags = up ? IFF_UP : 0;
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
  if (master != 0) mnl_attr_put_u32(nlh, IFLA_MASTER, master);
  return nlh;
}

nlmsghdr* addressMessage(char* buf, uint16_t type, int index, const char* text, uint8_t prefix) {
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = type;
  auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
  ifa->ifa_index = static_cast<uint32_t>(index);
  ifa->ifa_prefixlen = prefix;
  uint8_t addr[16];
  if (inet_pton(AF_INET, text, addr) == 1) {
    ifa->ifa_family = AF_INET;
    mnl_attr_put(nlh, IFA_LOCAL, 4, addr);
  } else {
    EXPECT_EQ(inet_pton(AF_INET6, text, addr), 1);
    ifa->ifa_family = AF_INET6;
    mnl_attr_put(nlh, IFA_ADDRESS, 16, addr);
  }
  return nlh;
}

TEST(RouteEvents, LinksAndAddresses) {
  Datagram d;
  d.add([](char* b) { return linkMessage(b, RTM_NEWLINK, 5, "vnbr0", false, 0); })
      .add([](char* b) { return linkMessage(b, RTM_NEWLINK, 7, "vnet0", true, 5); })
      .add([](char* b) { return linkMessage(b, RTM_DELLINK, 5, "vnbr0", false, 0); })
      .add([](char* b) { return addressMessage(b, RTM_DELADDR, 5, "192.168.122.1", 24); })
      .add([](char* b) { return addressMessage(b, RTM_NEWADDR, 5, "fd00::1", 64); })
      .add([](char* b) {
        nlmsghdr* nlh = mnl_nlmsg_put_header(b);
        nlh->nlmsg_type = RTM_NEWROUTE;
        mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg));
        return nlh;
      });
  Recorder r;
  parseRouteEvents(d.span(), r);
  ASSERT_EQ(r.links.size(), 3u);
  EXPECT_EQ(r.links[0].name, "vnbr0");
  EXPECT_FALSE(r.links[0].up);
  EXPECT_FALSE(r.links[0].removed);
  EXPECT_EQ(r.links[1].master, 5);
  EXPECT_TRUE(r.links[1].up);
  EXPECT_TRUE(r.links[2].removed);
  ASSERT_EQ(r.addresses.size(), 2u);
  EXPECT_TRUE(r.addresses[0].removed);
  EXPECT_EQ(r.addresses[0].ifindex, 5);
  EXPECT_EQ(r.addresses[0].address, Cidr::parse("192.168.122.1/24"));
  EXPECT_FALSE(r.addresses[1].removed);
  EXPECT_EQ(r.addresses[1].address, Cidr::parse("fd00::1/64"));
}

TEST(RouteEvents, TruncatedOrGarbageInputIsSkipped) {
  Datagram d;
  d.add([](char* b) { return linkMessage(b, RTM_NEWLINK, 5, "vnbr0", true, 0); });
  std::vector<uint8_t> bytes(d.span().begin(), d.span().end());
  Recorder r;
  for (size_t n = 0; n < bytes.size(); ++n) parseRouteEvents({bytes.data(), n}, r);
  EXPECT_THAT(r.links, IsEmpty());
  std::vector<uint8_t> garbage(300, 0xff);
  parseRouteEvents(garbage, r);
  EXPECT_THAT(r.links, IsEmpty());
}

nlmsghdr* ruleMessage(char* buf, uint16_t type, const char* table, const char* chain,
                      const char* comment, uint64_t handle) {
  nftnl_rule* rule = nftnl_rule_alloc();
  nftnl_rule_set_u32(rule, NFTNL_RULE_FAMILY, NFPROTO_INET);
  nftnl_rule_set_str(rule, NFTNL_RULE_TABLE, table);
  nftnl_rule_set_str(rule, NFTNL_RULE_CHAIN, chain);
  nftnl_rule_set_u64(rule, NFTNL_RULE_HANDLE, handle);
  nftnl_udata_buf* ud = nftnl_udata_buf_alloc(256);
  nftnl_udata_put_strz(ud, NFTNL_UDATA_RULE_COMMENT, comment);
  nftnl_rule_set_data(rule, NFTNL_RULE_USERDATA, nftnl_udata_buf_data(ud), nftnl_udata_buf_len(ud));
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(buf, type, NFPROTO_INET, 0, 1);
  nftnl_rule_nlmsg_build_payload(nlh, rule);
  nftnl_udata_buf_free(ud);
  nftnl_rule_free(rule);
  return nlh;
}

nlmsghdr* tableMessage(char* buf, uint16_t type, uint16_t family, const char* name) {
  nftnl_table* t = nftnl_table_alloc();
  nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, family);
  nftnl_table_set_str(t, NFTNL_TABLE_NAME, name);
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(buf, type, family, 0, 1);
  nftnl_table_nlmsg_build_payload(nlh, t);
  nftnl_table_free(t);
  return nlh;
}

nlmsghdr* elementMessage(char* buf, const char* set) {
  nftnl_set* s = nftnl_set_alloc();
  nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
  nftnl_set_set_str(s, NFTNL_SET_TABLE, "vnet");
  nftnl_set_set_str(s, NFTNL_SET_NAME, set);
  nftnl_set_elem* e = nftnl_set_elem_alloc();
  char key[16] = "vnbr0";
  nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, sizeof key);
  nftnl_set_elem_add(s, e);
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_DELSETELEM, NFPROTO_INET, 0, 1);
  nftnl_set_elems_nlmsg_build_payload(nlh, s);
  nftnl_set_free(s);
  return nlh;
}

nlmsghdr* genMessage(char* buf, uint32_t id, uint32_t pid, const char* process) {
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWGEN, AF_UNSPEC, 0, 0);
  mnl_attr_put_u32(nlh, NFTA_GEN_ID, htonl(id));
  mnl_attr_put_u32(nlh, NFTA_GEN_PROC_PID, htonl(pid));
  mnl_attr_put_strz(nlh, NFTA_GEN_PROC_NAME, process);
  return nlh;
}

TEST(NftEvents, ATransactionOnOurTableIsOneEventWithItsAuthor) {
  Datagram d;
  d.add([](char* b) {
     return ruleMessage(b, NFT_MSG_DELRULE, "vnet", "default_fwd_in",
                        "default: guests in 192.168.122.0/24 to outside", 12);
   }).add([](char* b) { return elementMessage(b, "forward_iif"); });
  Datagram end;
  end.add([](char* b) { return genMessage(b, 77, 4321, "nft"); });
  NftEventParser p;
  Recorder r;
  p.feed(d.span(), r);
  EXPECT_THAT(r.tables, IsEmpty()) << "reported only when the transaction is complete";
  p.feed(end.span(), r);
  ASSERT_EQ(r.tables.size(), 1u);
  EXPECT_EQ(r.tables[0].generation, 77u);
  EXPECT_EQ(r.tables[0].pid, 4321);
  EXPECT_EQ(r.tables[0].process, "nft");
  EXPECT_THAT(
      r.tables[0].changes,
      ElementsAre("deleted rule \"default: guests in 192.168.122.0/24 to outside\" (handle 12) "
                  "in chain default_fwd_in",
                  "deleted element(s) of map/set forward_iif"));
  // The next transaction starts empty.
  p.feed(end.span(), r);
  EXPECT_EQ(r.tables.size(), 1u);
}

TEST(NftEvents, OtherTablesAreIgnored) {
  Datagram d;
  d.add([](char* b) { return tableMessage(b, NFT_MSG_DELTABLE, NFPROTO_IPV4, "filter"); })
      .add([](char* b) { return tableMessage(b, NFT_MSG_NEWTABLE, NFPROTO_IPV4, "vnet"); })
      .add([](char* b) { return ruleMessage(b, NFT_MSG_NEWRULE, "other", "x", "c", 1); })
      .add([](char* b) { return genMessage(b, 8, 1, "nft"); });
  NftEventParser p;
  Recorder r;
  p.feed(d.span(), r);
  EXPECT_THAT(r.tables, IsEmpty());
}

TEST(NftEvents, AFlushIsSummarizedAndResetForgetsAPartialTransaction) {
  Datagram d;
  for (int i = 0; i < 20; ++i) {
    d.add([i](char* b) {
      return ruleMessage(b, NFT_MSG_DELRULE, "vnet", "forward", "c", uint64_t(i));
    });
  }
  d.add([](char* b) { return tableMessage(b, NFT_MSG_DELTABLE, NFPROTO_INET, "vnet"); });
  Datagram end;
  end.add([](char* b) { return genMessage(b, 9, 55, "nft"); });
  NftEventParser p;
  Recorder r;
  p.feed(d.span(), r);
  p.feed(end.span(), r);
  ASSERT_EQ(r.tables.size(), 1u);
  ASSERT_EQ(r.tables[0].changes.size(), TableEvent::kMaxChanges + 1);
  EXPECT_EQ(r.tables[0].changes.back(), "... and 13 more");

  p.feed(d.span(), r);
  p.reset();
  p.feed(end.span(), r);
  EXPECT_EQ(r.tables.size(), 1u);
}

}  // namespace
}  // namespace vnet::kernel::monitor
