#include "kernel/netlink/netlink_links.h"

// clang-format off: <net/if.h> must come before <linux/if.h> (both define IFF_*).
#include <net/if.h>
// clang-format on

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/link/veth.h>
#include <netlink/socket.h>
#include <sched.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <thread>
#include <utility>

#include "base/unique_fd.h"
#include "kernel/netlink/nl_objects.h"
#include "kernel/netlink/sysctl.h"
#include "kernel/netlink/tap.h"

// Returns the error of a failed Status/Result expression with `ctx` in front.
#define VNET_NL_TRY(expr, ctx)                                               \
  do {                                                                       \
    auto vnet_nl_s_ = (expr);                                                \
    if (!vnet_nl_s_.ok()) return std::move(vnet_nl_s_).error().context(ctx); \
  } while (0)

namespace vnet::kernel {
namespace nl {

struct ErrorCapture {
  int err = 0;          // errno of the last NLMSG_ERROR, 0 when none arrived
  std::string message;  // its extended-ack text, empty when the kernel sent none
};

}  // namespace nl

namespace {

using nl::AddrPtr;
using nl::CachePtr;
using nl::LinkPtr;
using nl::MsgPtr;
using nl::NextHopPtr;
using nl::NlAddrPtr;
using nl::RoutePtr;

// The kernel takes bridge times in clock_t units (USER_HZ).
constexpr unsigned kUserHz = 100;

// The extended-ack text (NLMSGERR_ATTR_MSG) of an NLMSG_ERROR payload, or "".
std::string extAckMessage(const nlmsgerr* e) {
  const auto* hdr = reinterpret_cast<const nlmsghdr*>(reinterpret_cast<const char*>(e) -
                                                      NLMSG_ALIGN(sizeof(nlmsghdr)));
  if ((hdr->nlmsg_flags & NLM_F_ACK_TLVS) == 0) return {};
  size_t offset = sizeof(nlmsgerr);
  if ((hdr->nlmsg_flags & NLM_F_CAPPED) == 0) offset += e->msg.nlmsg_len - sizeof(nlmsghdr);
  offset = NLMSG_ALIGN(offset);
  const size_t payload = hdr->nlmsg_len - NLMSG_ALIGN(sizeof(nlmsghdr));
  if (offset >= payload) return {};
  auto* attrs =
      reinterpret_cast<nlattr*>(const_cast<char*>(reinterpret_cast<const char*>(e)) + offset);
  const nlattr* text = nla_find(attrs, static_cast<int>(payload - offset), NLMSGERR_ATTR_MSG);
  if (text == nullptr) return {};
  const auto* data = static_cast<const char*>(nla_data(text));
  return std::string(data, strnlen(data, static_cast<size_t>(nla_len(text))));
}

int onNetlinkError(sockaddr_nl*, nlmsgerr* e, void* arg) {
  auto* capture = static_cast<nl::ErrorCapture*>(arg);
  capture->err = -e->error;
  capture->message = extAckMessage(e);
  return NL_STOP;  // libnl then returns the (lossy) NLE_* code for this errno
}

// The errno behind a libnl code, for failures that did not come as an NLMSG_ERROR.
int errnoOfNle(int nle) {
  switch (nle) {
    case NLE_INTR:
      return EINTR;
    case NLE_BAD_SOCK:
      return EBADF;
    case NLE_AGAIN:
      return EAGAIN;
    case NLE_NOMEM:
      return ENOMEM;
    case NLE_EXIST:
      return EEXIST;
    case NLE_INVAL:
      return EINVAL;
    case NLE_RANGE:
      return ERANGE;
    case NLE_MSGSIZE:
      return EMSGSIZE;
    case NLE_OPNOTSUPP:
      return EOPNOTSUPP;
    case NLE_AF_NOSUPPORT:
      return EAFNOSUPPORT;
    case NLE_OBJ_NOTFOUND:
      return ENOENT;
    case NLE_NOADDR:
      return EADDRNOTAVAIL;
    case NLE_BUSY:
      return EBUSY;
    case NLE_PROTO_MISMATCH:
      return EPROTONOSUPPORT;
    case NLE_NOACCESS:
      return EACCES;
    case NLE_PERM:
      return EPERM;
    case NLE_NODEV:
      return ENODEV;
    default:
      return 0;
  }
}

Error noSuchDevice() {
  return Error(std::strerror(ENODEV), ENODEV);
}

template <typename Object, typename Fn>
void forEachObject(nl_cache* cache, Fn&& fn) {
  for (nl_object* o = nl_cache_get_first(cache); o != nullptr; o = nl_cache_get_next(o)) {
    fn(reinterpret_cast<Object*>(o));
  }
}

// A bound rtnetlink socket in the network namespace `netnsFd` (-1: the calling
// thread's). A socket stays in the namespace it was created in, so for another
// namespace a short-lived thread enters it and creates the socket there.
Result<UniqueFd> openRtnetlink(int netnsFd) {
  auto open = [](UniqueFd& fd) -> int {
    fd.reset(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
    if (!fd) return errno;
    sockaddr_nl local{};
    local.nl_family = AF_NETLINK;  // nl_pid 0: the kernel assigns a port
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) return errno;
    return 0;
  };
  UniqueFd fd;
  int err = 0;
  if (netnsFd < 0) {
    err = open(fd);
  } else {
    std::thread([&] { err = ::setns(netnsFd, CLONE_NEWNET) != 0 ? errno : open(fd); }).join();
  }
  if (err != 0) return Error::fromErrno("opening an rtnetlink socket", err);
  return fd;
}

NlAddrPtr macAddr(const Mac& mac) {
  nl_addr* a = nl_addr_build(AF_LLC, mac.bytes().data(), mac.bytes().size());
  if (a == nullptr) std::abort();
  return NlAddrPtr(a);
}

}  // namespace

void NetlinkLinks::SockDeleter::operator()(nl_sock* sock) const {
  nl_socket_free(sock);
}

NetlinkLinks::NetlinkLinks(SockPtr sock, std::unique_ptr<nl::ErrorCapture> capture)
    : sock_(std::move(sock)), capture_(std::move(capture)) {}

NetlinkLinks::~NetlinkLinks() = default;

Result<std::unique_ptr<NetlinkLinks>> NetlinkLinks::connect(int netnsFd) {
  auto fd = openRtnetlink(netnsFd);
  if (!fd.ok()) return std::move(fd).error();
  SockPtr sock(nl_socket_alloc());
  if (!sock) return Error::fromErrno("allocating a netlink socket", ENOMEM);
  if (int rc = nl_socket_set_fd(sock.get(), NETLINK_ROUTE, fd->get()); rc < 0) {
    return Error(std::string("adopting the rtnetlink socket: ") + nl_geterror(rc));
  }
  static_cast<void>(fd->release());  // now owned by sock
  // Best effort: without extended or capped acks errors still carry the errno.
  const int one = 1;
  setsockopt(nl_socket_get_fd(sock.get()), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  setsockopt(nl_socket_get_fd(sock.get()), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  auto capture = std::make_unique<nl::ErrorCapture>();
  nl_socket_modify_err_cb(sock.get(), NL_CB_CUSTOM, onNetlinkError, capture.get());
  return std::unique_ptr<NetlinkLinks>(new NetlinkLinks(std::move(sock), std::move(capture)));
}

Result<std::unique_ptr<Links>> makeNetlinkLinks() {
  auto links = NetlinkLinks::connect(-1);
  if (!links.ok()) return std::move(links).error();
  return std::unique_ptr<Links>(std::move(links).value());
}

template <typename Fn>
Status NetlinkLinks::request(Fn&& fn) {
  *capture_ = {};
  const int rc = fn();
  if (rc >= 0) return Status::success();
  nl::ErrorCapture got = std::exchange(*capture_, {});
  const int err = got.err != 0 ? got.err : errnoOfNle(-rc);
  std::string message = err != 0 ? std::strerror(err) : nl_geterror(rc);
  if (!got.message.empty()) message += " (" + got.message + ")";
  return Error(std::move(message), err);
}

Status NetlinkLinks::send(nl_msg* msg) {
  return request([&] {
    const int rc = nl_send_auto(sock_.get(), msg);
    return rc < 0 ? rc : nl_wait_for_ack(sock_.get());
  });
}

// --- Links -----------------------------------------------------------------------

Result<std::optional<LinkInfo>> NetlinkLinks::findLink(const std::string& name) {
  rtnl_link* raw = nullptr;
  Status s = request([&] { return rtnl_link_get_kernel(sock_.get(), 0, name.c_str(), &raw); });
  LinkPtr link(raw);
  if (!s.ok()) {
    if (s.error().sysErrno() == ENODEV) return std::optional<LinkInfo>();
    return std::move(s).error().context("looking up link " + name);
  }
  return std::optional<LinkInfo>(nl::toLinkInfo(link.get()));
}

Result<int> NetlinkLinks::ifindexOf(const std::string& name) {
  auto link = findLink(name);
  if (!link.ok()) return std::move(link).error();
  if (!link->has_value()) return noSuchDevice();
  return (*link)->ifindex;
}

Result<std::vector<LinkInfo>> NetlinkLinks::listLinks() {
  nl_cache* raw = nullptr;
  Status s = request([&] { return rtnl_link_alloc_cache(sock_.get(), AF_UNSPEC, &raw); });
  CachePtr cache(raw);
  VNET_NL_TRY(s, "listing links");
  std::vector<LinkInfo> out;
  forEachObject<rtnl_link>(cache.get(),
                           [&](rtnl_link* link) { out.push_back(nl::toLinkInfo(link)); });
  return out;
}

Result<std::vector<LinkInfo>> NetlinkLinks::bridgePorts(const std::string& bridge) {
  const std::string ctx = "listing ports of " + bridge;
  auto index = ifindexOf(bridge);
  VNET_NL_TRY(index, ctx);
  auto links = listLinks();
  VNET_NL_TRY(links, ctx);
  std::vector<LinkInfo> ports;
  for (auto& link : *links) {
    if (link.masterIndex == *index) ports.push_back(std::move(link));
  }
  return ports;
}

Status NetlinkLinks::addBridge(const BridgeSpec& spec) {
  const std::string ctx = "adding bridge " + spec.name;
  VNET_NL_TRY(nl::checkLinkName(spec.name), ctx);
  // libnl 3.7 has no setters for the bridge's own attributes (IFLA_BR_*), so the
  // request is built here.
  MsgPtr msg(nlmsg_alloc_simple(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL));
  if (!msg) return Error::fromErrno(ctx, ENOMEM);
  nl_msg* m = msg.get();
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  bool ok = nlmsg_append(m, &ifi, sizeof ifi, NLMSG_ALIGNTO) == 0 &&
            nla_put_string(m, IFLA_IFNAME, spec.name.c_str()) == 0;
  if (ok && spec.mac)
    ok = nla_put(m, IFLA_ADDRESS, spec.mac->bytes().size(), spec.mac->bytes().data()) == 0;
  if (ok && spec.mtu) ok = nla_put_u32(m, IFLA_MTU, *spec.mtu) == 0;
  nlattr* info = ok ? nla_nest_start(m, IFLA_LINKINFO) : nullptr;
  ok = info != nullptr && nla_put_string(m, IFLA_INFO_KIND, "bridge") == 0;
  nlattr* data = ok ? nla_nest_start(m, IFLA_INFO_DATA) : nullptr;
  // The kernel applies IFLA_BR_FORWARD_DELAY before IFLA_BR_STP_STATE, while STP is
  // still off on the new bridge, so delays outside STP's 2..30 s range (libvirt's
  // default is 0) are accepted, as with sysfs in that order.
  ok = data != nullptr &&
       nla_put_u32(m, IFLA_BR_FORWARD_DELAY, spec.forwardDelaySeconds * kUserHz) == 0 &&
       nla_put_u32(m, IFLA_BR_STP_STATE, spec.stp ? 1 : 0) == 0;
  if (!ok) return Error::fromErrno(ctx + ": building the request", EMSGSIZE);
  nla_nest_end(m, data);
  nla_nest_end(m, info);
  VNET_NL_TRY(send(m), ctx);
  return Status::success();
}

Status NetlinkLinks::deleteLink(const std::string& name) {
  LinkPtr link(rtnl_link_alloc());
  if (!link) return Error::fromErrno("deleting link " + name, ENOMEM);
  rtnl_link_set_name(link.get(), name.c_str());
  VNET_NL_TRY(request([&] { return rtnl_link_delete(sock_.get(), link.get()); }),
              "deleting link " + name);
  return Status::success();
}

Status NetlinkLinks::changeLink(const std::string& name,
                                const std::function<void(rtnl_link*)>& change) {
  auto index = ifindexOf(name);
  VNET_TRY(index);
  LinkPtr orig(rtnl_link_alloc());
  LinkPtr changes(rtnl_link_alloc());
  if (!orig || !changes) return Error(std::strerror(ENOMEM), ENOMEM);
  rtnl_link_set_ifindex(orig.get(), *index);
  change(changes.get());
  return request([&] { return rtnl_link_change(sock_.get(), orig.get(), changes.get(), 0); });
}

Status NetlinkLinks::setUp(const std::string& name, bool up) {
  VNET_NL_TRY(changeLink(name,
                         [&](rtnl_link* c) {
                           if (up) {
                             rtnl_link_set_flags(c, IFF_UP);
                           } else {
                             rtnl_link_unset_flags(c, IFF_UP);
                           }
                         }),
              "setting " + name + (up ? " up" : " down"));
  return Status::success();
}

Status NetlinkLinks::setMaster(const std::string& name, const std::string& master) {
  const std::string ctx = master.empty() ? "detaching " + name + " from its bridge"
                                         : "attaching " + name + " to " + master;
  int masterIndex = 0;  // IFLA_MASTER 0: no master
  if (!master.empty()) {
    auto index = ifindexOf(master);
    VNET_NL_TRY(index, ctx + ": looking up " + master);
    masterIndex = *index;
  }
  VNET_NL_TRY(changeLink(name, [&](rtnl_link* c) { rtnl_link_set_master(c, masterIndex); }), ctx);
  return Status::success();
}

Status NetlinkLinks::finishNewLink(const std::string& name, const std::optional<Mac>& mac,
                                   const std::optional<unsigned>& mtu, const std::string& master) {
  Status s;
  if (mac || mtu) {
    s = changeLink(name, [&](rtnl_link* c) {
      if (mac) rtnl_link_set_addr(c, macAddr(*mac).get());
      if (mtu) rtnl_link_set_mtu(c, *mtu);
    });
    if (!s.ok()) s = std::move(s).error().context("setting MAC and MTU");
  }
  if (s.ok() && !master.empty()) s = setMaster(name, master);
  if (s.ok()) s = setUp(name, true);
  if (s.ok()) return s;
  return undoNewLink(name, std::move(s).error());
}

Error NetlinkLinks::undoNewLink(const std::string& name, Error cause) {
  Status undo = deleteLink(name);
  if (undo.ok()) return cause;
  return Error(cause.message() + "; then " + undo.error().message(), cause.sysErrno());
}

// --- Addresses -------------------------------------------------------------------

Status NetlinkLinks::changeAddress(const std::string& dev, const Cidr& address, bool add) {
  auto index = ifindexOf(dev);
  VNET_TRY(index);
  AddrPtr addr(rtnl_addr_alloc());
  if (!addr) return Error(std::strerror(ENOMEM), ENOMEM);
  rtnl_addr_set_ifindex(addr.get(), *index);
  VNET_TRY(request([&] {
    return rtnl_addr_set_local(addr.get(), nl::toNlAddr(address.address, address.prefix).get());
  }));
  if (add && address.address.isV4() && address.prefix < 31) {
    const Ipv4 broadcast(address.address.v4().toUint() | ~Ipv4::mask(address.prefix).toUint());
    VNET_TRY(request(
        [&] { return rtnl_addr_set_broadcast(addr.get(), nl::toNlAddr(broadcast, 32).get()); }));
  }
  if (add && address.address.isV6()) rtnl_addr_set_flags(addr.get(), IFA_F_NODAD);
  return request([&] {
    return add ? rtnl_addr_add(sock_.get(), addr.get(), NLM_F_EXCL)
               : rtnl_addr_delete(sock_.get(), addr.get(), 0);
  });
}

Status NetlinkLinks::addAddress(const std::string& dev, const Cidr& address) {
  VNET_NL_TRY(changeAddress(dev, address, true),
              "adding address " + address.toString() + " to " + dev);
  return Status::success();
}

Status NetlinkLinks::deleteAddress(const std::string& dev, const Cidr& address) {
  VNET_NL_TRY(changeAddress(dev, address, false),
              "deleting address " + address.toString() + " from " + dev);
  return Status::success();
}

Result<std::vector<Cidr>> NetlinkLinks::addresses(const std::string& dev) {
  const std::string ctx = "listing addresses of " + dev;
  auto index = ifindexOf(dev);
  VNET_NL_TRY(index, ctx);
  nl_cache* raw = nullptr;
  Status s = request([&] { return rtnl_addr_alloc_cache(sock_.get(), &raw); });
  CachePtr cache(raw);
  VNET_NL_TRY(s, ctx);
  std::vector<Cidr> out;
  forEachObject<rtnl_addr>(cache.get(), [&](rtnl_addr* a) {
    if (rtnl_addr_get_ifindex(a) != *index) return;
    if (auto ip = nl::fromNlAddr(rtnl_addr_get_local(a))) {
      out.push_back(Cidr{*ip, rtnl_addr_get_prefixlen(a)});
    }
  });
  return out;
}

// --- Routes ----------------------------------------------------------------------

Result<std::vector<RouteInfo>> NetlinkLinks::routes() {
  return cachedRoutes([](const Cidr&) { return true; });
}

Result<std::vector<RouteInfo>> NetlinkLinks::routesOverlapping(const Cidr& subnet) {
  return cachedRoutes(
      [&subnet](const Cidr& dst) { return dst.prefix > 0 && dst.overlaps(subnet); });
}

Result<std::vector<RouteInfo>> NetlinkLinks::cachedRoutes(
    const std::function<bool(const Cidr&)>& keep) {
  const std::string ctx = "listing routes";
  // A fresh dump each time. (A cache fed by route notifications would make this O(changes),
  // but the kernel flushes IPv4 routes without RTM_DELROUTE when a link goes down or an
  // address goes away, so such a cache needs link and address events to stay true.)
  nl_cache* raw = nullptr;
  Status s = request([&] { return rtnl_route_alloc_cache(sock_.get(), AF_UNSPEC, 0, &raw); });
  CachePtr cache(raw);
  VNET_NL_TRY(s, ctx);

  // Device names of the routes' ifindexes, looked up one by one (SIOCGIFNAME) and only for
  // the routes returned.
  std::map<int, std::string> names;
  auto nameOf = [&names](int ifindex) -> const std::string& {
    auto [it, fresh] = names.try_emplace(ifindex);
    if (fresh) {
      char buf[IF_NAMESIZE] = {};
      if (::if_indextoname(static_cast<unsigned>(ifindex), buf)) it->second = buf;
    }
    return it->second;
  };
  std::vector<RouteInfo> out;
  forEachObject<rtnl_route>(cache.get(), [&](rtnl_route* r) {
    if (rtnl_route_get_table(r) != RT_TABLE_MAIN || rtnl_route_get_type(r) != RTN_UNICAST) return;
    const nl_addr* dst = rtnl_route_get_dst(r);
    auto ip = nl::fromNlAddr(dst);
    if (!ip) return;
    Cidr destination = Cidr{*ip, static_cast<int>(nl_addr_get_prefixlen(dst))}.network();
    if (!keep(destination)) return;
    RouteInfo info;
    info.destination = destination;
    info.metric = rtnl_route_get_priority(r);
    if (rtnl_route_get_nnexthops(r) > 0) {
      rtnl_nexthop* nh = rtnl_route_nexthop_n(r, 0);
      info.device = nameOf(rtnl_route_nh_get_ifindex(nh));
      info.gateway = nl::fromNlAddr(rtnl_route_nh_get_gateway(nh));
    }
    out.push_back(std::move(info));
  });
  return out;
}

Status NetlinkLinks::changeRoute(const RouteInfo& route, bool add) {
  const Cidr& dst = route.destination;
  RoutePtr r(rtnl_route_alloc());
  NextHopPtr nh(rtnl_route_nh_alloc());
  if (!r || !nh) return Error(std::strerror(ENOMEM), ENOMEM);
  VNET_TRY(request(
      [&] { return rtnl_route_set_family(r.get(), dst.address.isV4() ? AF_INET : AF_INET6); }));
  VNET_TRY(request(
      [&] { return rtnl_route_set_dst(r.get(), nl::toNlAddr(dst.address, dst.prefix).get()); }));
  rtnl_route_set_table(r.get(), RT_TABLE_MAIN);
  if (route.metric != 0) rtnl_route_set_priority(r.get(), route.metric);
  // Deleting matches any protocol; adding uses libnl's default, RTPROT_STATIC.
  if (!add) rtnl_route_set_protocol(r.get(), RTPROT_UNSPEC);
  if (!route.device.empty()) {
    auto index = ifindexOf(route.device);
    VNET_NL_TRY(index, "looking up " + route.device);
    rtnl_route_nh_set_ifindex(nh.get(), *index);
  }
  if (route.gateway) {
    const int bits = route.gateway->isV4() ? 32 : 128;
    rtnl_route_nh_set_gateway(nh.get(), nl::toNlAddr(*route.gateway, bits).get());
  }
  if (!route.device.empty() || route.gateway) rtnl_route_add_nexthop(r.get(), nh.release());
  return request([&] {
    return add ? rtnl_route_add(sock_.get(), r.get(), NLM_F_EXCL)
               : rtnl_route_delete(sock_.get(), r.get(), 0);
  });
}

Status NetlinkLinks::addRoute(const RouteInfo& route) {
  VNET_NL_TRY(changeRoute(route, true), "adding route " + describeRoute(route));
  return Status::success();
}

Status NetlinkLinks::deleteRoute(const RouteInfo& route) {
  VNET_NL_TRY(changeRoute(route, false), "deleting route " + describeRoute(route));
  return Status::success();
}

// --- Ports -----------------------------------------------------------------------

Status NetlinkLinks::addTap(const TapSpec& spec) {
  const std::string ctx = "adding tap " + spec.name;
  VNET_NL_TRY(tap::createPersistent(spec.name, spec.owner), ctx);
  const std::optional<Mac> mac = spec.mac.isZero() ? std::nullopt : std::optional(spec.mac);
  VNET_NL_TRY(finishNewLink(spec.name, mac, spec.mtu, spec.master), ctx);
  return Status::success();
}

Status NetlinkLinks::addVeth(const VethSpec& spec) {
  const std::string ctx =
      "adding veth " + spec.hostName + " (peer " + spec.peerName + " in " + spec.netnsPath + ")";
  VNET_NL_TRY(nl::checkLinkName(spec.hostName), ctx);
  VNET_NL_TRY(nl::checkLinkName(spec.peerName), ctx);
  UniqueFd netns(::open(spec.netnsPath.c_str(), O_RDONLY | O_CLOEXEC));
  if (!netns) return Error::fromErrno("opening " + spec.netnsPath, errno).context(ctx);

  LinkPtr host(rtnl_link_veth_alloc());
  if (!host) return Error::fromErrno(ctx, ENOMEM);
  LinkPtr peer(rtnl_link_veth_get_peer(host.get()));  // a new reference
  rtnl_link_set_name(host.get(), spec.hostName.c_str());
  if (!spec.hostMac.isZero()) rtnl_link_set_addr(host.get(), macAddr(spec.hostMac).get());
  rtnl_link_set_name(peer.get(), spec.peerName.c_str());
  if (!spec.peerMac.isZero()) rtnl_link_set_addr(peer.get(), macAddr(spec.peerMac).get());
  if (spec.mtu) {
    rtnl_link_set_mtu(host.get(), *spec.mtu);
    rtnl_link_set_mtu(peer.get(), *spec.mtu);
  }
  rtnl_link_set_ns_fd(peer.get(), netns.get());

  VNET_NL_TRY(
      request([&] { return rtnl_link_add(sock_.get(), host.get(), NLM_F_CREATE | NLM_F_EXCL); }),
      ctx);
  // The pair exists; MAC and MTU were set at creation. The peer cannot be created up
  // (the kernel opens it before the pair is linked: ENOTCONN), so it is brought up from
  // inside its namespace.
  VNET_NL_TRY(finishNewLink(spec.hostName, std::nullopt, std::nullopt, spec.master), ctx);
  auto inside = connect(netns.get());
  Status up = inside.ok() ? (*inside)->setUp(spec.peerName, true) : Status(inside.error());
  if (!up.ok()) {
    return undoNewLink(spec.hostName, std::move(up).error().context("in " + spec.netnsPath))
        .context(ctx);
  }
  return Status::success();
}

// --- Sysctls ---------------------------------------------------------------------

Status NetlinkLinks::setSysctl(const std::string& path, const std::string& value) {
  VNET_NL_TRY(sysctl::write(path, value), "setting sysctl " + path + " to " + value);
  return Status::success();
}

Result<std::string> NetlinkLinks::getSysctl(const std::string& path) {
  auto value = sysctl::read(path);
  VNET_NL_TRY(value, "reading sysctl " + path);
  return value;
}

}  // namespace vnet::kernel
