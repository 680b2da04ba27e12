#include "kernel/netlink/nl_objects.h"

#include <linux/if.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace vnet::kernel::nl {

NlAddrPtr toNlAddr(const IpAddress& address, int prefix) {
  nl_addr* a = nullptr;
  if (address.isV4()) {
    auto bytes = address.v4().toBytes();
    a = nl_addr_build(AF_INET, bytes.data(), bytes.size());
  } else {
    a = nl_addr_build(AF_INET6, address.v6().bytes().data(), address.v6().bytes().size());
  }
  if (a == nullptr) std::abort();
  nl_addr_set_prefixlen(a, prefix);
  return NlAddrPtr(a);
}

std::optional<IpAddress> fromNlAddr(const nl_addr* a) {
  if (a == nullptr) return std::nullopt;
  const auto* data = static_cast<const uint8_t*>(nl_addr_get_binary_addr(a));
  const unsigned len = nl_addr_get_len(a);
  switch (nl_addr_get_family(a)) {
    case AF_INET:
      if (len == 0) return IpAddress(Ipv4());
      if (len != 4) return std::nullopt;
      return IpAddress(Ipv4::fromBytes(data));
    case AF_INET6: {
      Ipv6::Bytes b{};
      if (len == 0) return IpAddress(Ipv6(b));
      if (len != b.size()) return std::nullopt;
      std::memcpy(b.data(), data, b.size());
      return IpAddress(Ipv6(b));
    }
    default:
      return std::nullopt;
  }
}

LinkInfo toLinkInfo(rtnl_link* link) {
  LinkInfo info;
  info.ifindex = rtnl_link_get_ifindex(link);
  if (const char* name = rtnl_link_get_name(link)) info.name = name;
  if (const char* kind = rtnl_link_get_type(link)) info.kind = kind;
  const nl_addr* mac = rtnl_link_get_addr(link);
  if (mac != nullptr && nl_addr_get_len(mac) == Mac::Bytes().size()) {
    Mac::Bytes b;
    std::memcpy(b.data(), nl_addr_get_binary_addr(mac), b.size());
    info.mac = Mac(b);
  }
  info.mtu = rtnl_link_get_mtu(link);
  info.up = (rtnl_link_get_flags(link) & IFF_UP) != 0;
  info.lowerUp = (rtnl_link_get_flags(link) & IFF_LOWER_UP) != 0;
  info.masterIndex = rtnl_link_get_master(link);
  return info;
}

Status checkLinkName(const std::string& name) {
  const bool valid = !name.empty() && name.size() < IFNAMSIZ && name != "." && name != ".." &&
                     name.find_first_of("/: \t\n\r\v\f") == std::string::npos;
  if (valid) return Status::success();
  return Error::fromErrno("invalid interface name '" + name + "'", EINVAL);
}

}  // namespace vnet::kernel::nl
