#include "kernel/monitor/route_events.h"

#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <array>
#include <cstring>

namespace vnet::kernel::monitor {
namespace {

struct Attrs {
  static constexpr int kMax = 64;
  std::array<const nlattr*, kMax> at{};
};

int collect(const nlattr* attr, void* data) {
  auto* attrs = static_cast<Attrs*>(data);
  const int type = mnl_attr_get_type(attr);
  if (type >= 0 && type < Attrs::kMax) attrs->at[static_cast<size_t>(type)] = attr;
  return MNL_CB_OK;
}

void onLink(const nlmsghdr* nlh, ChangeSink& sink) {
  if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(ifinfomsg))) return;
  ifinfomsg ifi;
  std::memcpy(&ifi, mnl_nlmsg_get_payload(nlh), sizeof ifi);
  Attrs a;
  if (mnl_attr_parse(nlh, sizeof ifi, collect, &a) < 0) return;
  LinkEvent e;
  e.removed = nlh->nlmsg_type == RTM_DELLINK;
  e.ifindex = ifi.ifi_index;
  e.up = (ifi.ifi_flags & IFF_UP) != 0;
  if (const nlattr* n = a.at[IFLA_IFNAME]; n && mnl_attr_validate(n, MNL_TYPE_NUL_STRING) == 0) {
    e.name = mnl_attr_get_str(n);
  }
  if (const nlattr* m = a.at[IFLA_MASTER]; m && mnl_attr_validate(m, MNL_TYPE_U32) == 0) {
    e.master = static_cast<int>(mnl_attr_get_u32(m));
  }
  sink.onLink(e);
}

void onAddress(const nlmsghdr* nlh, ChangeSink& sink) {
  if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(ifaddrmsg))) return;
  ifaddrmsg ifa;
  std::memcpy(&ifa, mnl_nlmsg_get_payload(nlh), sizeof ifa);
  Attrs a;
  if (mnl_attr_parse(nlh, sizeof ifa, collect, &a) < 0) return;
  AddressEvent e;
  e.removed = nlh->nlmsg_type == RTM_DELADDR;
  e.ifindex = static_cast<int>(ifa.ifa_index);
  const nlattr* addr = a.at[IFA_LOCAL] ? a.at[IFA_LOCAL] : a.at[IFA_ADDRESS];
  if (addr) {
    const auto* bytes = static_cast<const uint8_t*>(mnl_attr_get_payload(addr));
    const size_t len = mnl_attr_get_payload_len(addr);
    if (ifa.ifa_family == AF_INET && len == 4 && ifa.ifa_prefixlen <= 32) {
      e.address = Cidr{Ipv4::fromBytes(bytes), ifa.ifa_prefixlen};
    } else if (ifa.ifa_family == AF_INET6 && len == 16 && ifa.ifa_prefixlen <= 128) {
      Ipv6::Bytes b;
      std::memcpy(b.data(), bytes, b.size());
      e.address = Cidr{Ipv6(b), ifa.ifa_prefixlen};
    }
  }
  sink.onAddress(e);
}

int onMessage(const nlmsghdr* nlh, void* data) {
  auto& sink = *static_cast<ChangeSink*>(data);
  switch (nlh->nlmsg_type) {
    case RTM_NEWLINK:
    case RTM_DELLINK:
      onLink(nlh, sink);
      break;
    case RTM_NEWADDR:
    case RTM_DELADDR:
      onAddress(nlh, sink);
      break;
    default:
      break;
  }
  return MNL_CB_OK;
}

}  // namespace

void parseRouteEvents(std::span<const uint8_t> datagram, ChangeSink& sink) {
  (void)mnl_cb_run(datagram.data(), datagram.size(), 0, 0, onMessage, &sink);
}

}  // namespace vnet::kernel::monitor
