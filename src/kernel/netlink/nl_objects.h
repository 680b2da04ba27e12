// Internal to kernel/netlink: owners for libnl objects and conversions between libnl
// and vnet value types.
#pragma once

#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/msg.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>

#include <memory>
#include <optional>
#include <string>

#include "base/error.h"
#include "base/ip.h"
#include "kernel/links.h"

namespace vnet::kernel::nl {

// Each owner drops exactly one reference (libnl objects are reference counted).
template <auto FreeFn>
struct FreeWith {
  template <typename T>
  void operator()(T* p) const {
    FreeFn(p);
  }
};
using LinkPtr = std::unique_ptr<rtnl_link, FreeWith<rtnl_link_put>>;
using AddrPtr = std::unique_ptr<rtnl_addr, FreeWith<rtnl_addr_put>>;
using RoutePtr = std::unique_ptr<rtnl_route, FreeWith<rtnl_route_put>>;
using NextHopPtr = std::unique_ptr<rtnl_nexthop, FreeWith<rtnl_route_nh_free>>;
using NlAddrPtr = std::unique_ptr<nl_addr, FreeWith<nl_addr_put>>;
using CachePtr = std::unique_ptr<nl_cache, FreeWith<nl_cache_free>>;
using MsgPtr = std::unique_ptr<nl_msg, FreeWith<nlmsg_free>>;

// An nl_addr holding `address` with the given prefix length. Never null (aborts on
// allocation failure, like operator new).
NlAddrPtr toNlAddr(const IpAddress& address, int prefix);
// The IPv4/IPv6 address in `a`; an empty address (libnl's "default") of family f
// yields the family's zero address. nullopt for other families.
std::optional<IpAddress> fromNlAddr(const nl_addr* a);

LinkInfo toLinkInfo(rtnl_link* link);

// EINVAL unless `name` is a valid interface name (1..15 bytes, no '/', ':' or
// whitespace, not "." or ".."): the kernel's dev_valid_name() rules.
Status checkLinkName(const std::string& name);

}  // namespace vnet::kernel::nl
