// Telemetry over rtnetlink (libnl-route-3 caches of links and neighbours) and
// ctnetlink (libnetfilter-conntrack dump). Sockets are opened per call: these are
// periodic reads (a scrape, a `vnetctl stats`), not a hot path.
#include <arpa/inet.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <linux/neighbour.h>
#include <netlink/cache.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/neighbour.h>
#include <netlink/socket.h>

#include <cerrno>
#include <cstring>

#include "kernel/telemetry.h"

namespace vnet::kernel {

namespace {

struct SockFree {
  void operator()(nl_sock* s) const { nl_socket_free(s); }
};
struct CacheFree {
  void operator()(nl_cache* c) const { nl_cache_free(c); }
};
struct NfctClose {
  void operator()(nfct_handle* h) const { nfct_close(h); }
};
using SockPtr = std::unique_ptr<nl_sock, SockFree>;
using CachePtr = std::unique_ptr<nl_cache, CacheFree>;

Result<SockPtr> connectRoute(const char* what) {
  SockPtr s(nl_socket_alloc());
  if (!s) return Error::fromErrno(what, ENOMEM);
  if (int rc = nl_connect(s.get(), NETLINK_ROUTE); rc < 0) {
    return Error(std::string(what) + ": " + nl_geterror(rc));
  }
  return s;
}

std::optional<IpAddress> toIp(const nl_addr* a) {
  if (a == nullptr) return std::nullopt;
  const auto* b = static_cast<const uint8_t*>(nl_addr_get_binary_addr(a));
  if (nl_addr_get_family(a) == AF_INET && nl_addr_get_len(a) == 4) return Ipv4::fromBytes(b);
  if (nl_addr_get_family(a) == AF_INET6 && nl_addr_get_len(a) == 16) {
    Ipv6::Bytes v6;
    std::memcpy(v6.data(), b, v6.size());
    return Ipv6(v6);
  }
  return std::nullopt;
}

struct ConntrackScan {
  const std::vector<Cidr>* sources;
  std::vector<ConntrackCount>* counts;
};

int onConntrack(enum nf_conntrack_msg_type, struct nf_conntrack* ct, void* arg) {
  auto* scan = static_cast<ConntrackScan*>(arg);
  std::optional<IpAddress> src;
  uint8_t l3 = nfct_get_attr_u8(ct, ATTR_ORIG_L3PROTO);
  if (l3 == AF_INET) {
    uint32_t be = nfct_get_attr_u32(ct, ATTR_ORIG_IPV4_SRC);
    src = Ipv4(ntohl(be));
  } else if (l3 == AF_INET6) {
    const void* p = nfct_get_attr(ct, ATTR_ORIG_IPV6_SRC);
    if (p != nullptr) {
      Ipv6::Bytes b;
      std::memcpy(b.data(), p, b.size());
      src = Ipv6(b);
    }
  }
  if (!src) return NFCT_CB_CONTINUE;
  bool snat = (nfct_get_attr_u32(ct, ATTR_STATUS) & IPS_SRC_NAT) != 0;
  for (size_t i = 0; i < scan->sources->size(); ++i) {
    if (!(*scan->sources)[i].contains(*src)) continue;
    ++(*scan->counts)[i].entries;
    if (snat) ++(*scan->counts)[i].translated;
  }
  return NFCT_CB_CONTINUE;
}

class KernelTelemetry final : public Telemetry {
 public:
  Result<std::map<std::string, LinkStats>> linkStats() override {
    auto sock = connectRoute("reading link counters");
    if (!sock) return std::move(sock).error();
    nl_cache* raw = nullptr;
    if (int rc = rtnl_link_alloc_cache(sock->get(), AF_UNSPEC, &raw); rc < 0) {
      return Error(std::string("reading link counters: ") + nl_geterror(rc));
    }
    CachePtr cache(raw);
    std::map<std::string, LinkStats> out;
    for (nl_object* o = nl_cache_get_first(raw); o != nullptr; o = nl_cache_get_next(o)) {
      auto* link = reinterpret_cast<rtnl_link*>(o);
      const char* name = rtnl_link_get_name(link);
      if (name == nullptr) continue;
      LinkStats s;
      s.rxPackets = rtnl_link_get_stat(link, RTNL_LINK_RX_PACKETS);
      s.rxBytes = rtnl_link_get_stat(link, RTNL_LINK_RX_BYTES);
      s.txPackets = rtnl_link_get_stat(link, RTNL_LINK_TX_PACKETS);
      s.txBytes = rtnl_link_get_stat(link, RTNL_LINK_TX_BYTES);
      s.rxDropped = rtnl_link_get_stat(link, RTNL_LINK_RX_DROPPED);
      s.txDropped = rtnl_link_get_stat(link, RTNL_LINK_TX_DROPPED);
      s.rxErrors = rtnl_link_get_stat(link, RTNL_LINK_RX_ERRORS);
      s.txErrors = rtnl_link_get_stat(link, RTNL_LINK_TX_ERRORS);
      out[name] = s;
    }
    return out;
  }

  Result<std::vector<Neighbour>> neighbours(const std::string& device) override {
    const std::string what = "reading the neighbours of " + device;
    auto sock = connectRoute(what.c_str());
    if (!sock) return std::move(sock).error();
    nl_cache* links = nullptr;
    if (int rc = rtnl_link_alloc_cache(sock->get(), AF_UNSPEC, &links); rc < 0) {
      return Error(what + ": " + nl_geterror(rc));
    }
    CachePtr linkCache(links);
    int ifindex = rtnl_link_name2i(links, device.c_str());
    if (ifindex == 0) return Error(ErrorCode::NotFound, what + ": no such interface");
    nl_cache* raw = nullptr;
    if (int rc = rtnl_neigh_alloc_cache(sock->get(), &raw); rc < 0) {
      return Error(what + ": " + nl_geterror(rc));
    }
    CachePtr cache(raw);
    std::vector<Neighbour> out;
    for (nl_object* o = nl_cache_get_first(raw); o != nullptr; o = nl_cache_get_next(o)) {
      auto* n = reinterpret_cast<rtnl_neigh*>(o);
      if (rtnl_neigh_get_ifindex(n) != ifindex) continue;
      int state = rtnl_neigh_get_state(n);
      if (state & (NUD_FAILED | NUD_INCOMPLETE | NUD_NOARP)) continue;
      auto ip = toIp(rtnl_neigh_get_dst(n));
      const nl_addr* ll = rtnl_neigh_get_lladdr(n);
      if (!ip || ll == nullptr || nl_addr_get_len(ll) != 6) continue;
      Mac::Bytes b;
      std::memcpy(b.data(), nl_addr_get_binary_addr(ll), b.size());
      out.push_back(Neighbour{*ip, Mac(b), device});
    }
    return out;
  }

  Result<std::vector<ConntrackCount>> conntrackBySource(const std::vector<Cidr>& sources) override {
    std::vector<ConntrackCount> counts(sources.size());
    if (sources.empty()) return counts;
    std::unique_ptr<nfct_handle, NfctClose> h(nfct_open(CONNTRACK, 0));
    if (!h) return Error::fromErrno("reading the conntrack table", errno);
    ConntrackScan scan{&sources, &counts};
    nfct_callback_register(h.get(), NFCT_T_ALL, onConntrack, &scan);
    uint32_t family = AF_UNSPEC;
    if (nfct_query(h.get(), NFCT_Q_DUMP, &family) < 0) {
      return Error::fromErrno("reading the conntrack table", errno);
    }
    return counts;
  }
};

}  // namespace

Result<std::unique_ptr<Telemetry>> makeKernelTelemetry() {
  return std::unique_ptr<Telemetry>(std::make_unique<KernelTelemetry>());
}

}  // namespace vnet::kernel
