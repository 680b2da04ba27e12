#include "kernel/netlink/conntrack_lookup.h"

#include <arpa/inet.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstring>

namespace vnet::kernel {
namespace {

struct CtFree {
  void operator()(nf_conntrack* ct) const { nfct_destroy(ct); }
};

uint32_t beV4(const IpAddress& a) {
  return htonl(a.v4().toUint());
}

IpAddress v4Of(const nf_conntrack* ct, nf_conntrack_attr attr) {
  return Ipv4(ntohl(nfct_get_attr_u32(ct, attr)));
}

IpAddress v6Of(const nf_conntrack* ct, nf_conntrack_attr attr) {
  Ipv6::Bytes b{};
  std::memcpy(b.data(), nfct_get_attr(ct, attr), b.size());
  return Ipv6(b);
}

// One direction of `ct`; `reply` selects the reply tuple.
FlowTuple tupleOf(const nf_conntrack* ct, bool reply) {
  FlowTuple t;
  bool v6 = nfct_get_attr_u8(ct, ATTR_L3PROTO) == AF_INET6;
  if (v6) {
    t.src = v6Of(ct, reply ? ATTR_REPL_IPV6_SRC : ATTR_ORIG_IPV6_SRC);
    t.dst = v6Of(ct, reply ? ATTR_REPL_IPV6_DST : ATTR_ORIG_IPV6_DST);
  } else {
    t.src = v4Of(ct, reply ? ATTR_REPL_IPV4_SRC : ATTR_ORIG_IPV4_SRC);
    t.dst = v4Of(ct, reply ? ATTR_REPL_IPV4_DST : ATTR_ORIG_IPV4_DST);
  }
  t.proto = nfct_get_attr_u8(ct, reply ? ATTR_REPL_L4PROTO : ATTR_ORIG_L4PROTO);
  if (t.proto == IPPROTO_ICMP || t.proto == IPPROTO_ICMPV6) {
    // libnetfilter-conntrack exposes the ICMP fields of the original direction only; the
    // reply tuple's type, code and identifier stay 0.
    if (!reply) {
      t.icmpType = nfct_get_attr_u8(ct, ATTR_ICMP_TYPE);
      t.icmpCode = nfct_get_attr_u8(ct, ATTR_ICMP_CODE);
      t.sport = ntohs(nfct_get_attr_u16(ct, ATTR_ICMP_ID));
    }
  } else {
    t.sport = ntohs(nfct_get_attr_u16(ct, reply ? ATTR_REPL_PORT_SRC : ATTR_ORIG_PORT_SRC));
    t.dport = ntohs(nfct_get_attr_u16(ct, reply ? ATTR_REPL_PORT_DST : ATTR_ORIG_PORT_DST));
  }
  return t;
}

int onEntry(enum nf_conntrack_msg_type, struct nf_conntrack* ct, void* data) {
  auto* out = static_cast<std::optional<ConntrackEntry>*>(data);
  *out = ConntrackEntry{tupleOf(ct, false), tupleOf(ct, true)};
  // CONTINUE, not STOP: the kernel's ACK must be read too, or the next query reads it.
  return NFCT_CB_CONTINUE;
}

}  // namespace

void NfConntrackLookup::HandleCloser::operator()(nfct_handle* h) const {
  nfct_close(h);
}

NfConntrackLookup::NfConntrackLookup(std::unique_ptr<nfct_handle, HandleCloser> h)
    : handle_(std::move(h)) {}
NfConntrackLookup::~NfConntrackLookup() = default;

Result<std::unique_ptr<NfConntrackLookup>> NfConntrackLookup::open() {
  std::unique_ptr<nfct_handle, HandleCloser> h(nfct_open(CONNTRACK, 0));
  if (!h) return Error::fromErrno("opening a conntrack netlink handle", errno);
  return std::unique_ptr<NfConntrackLookup>(new NfConntrackLookup(std::move(h)));
}

Result<std::optional<ConntrackEntry>> NfConntrackLookup::find(const FlowTuple& t) {
  if (t.src.family() != t.dst.family()) return Error::invalid("conntrack lookup: mixed families");
  std::unique_ptr<nf_conntrack, CtFree> ct(nfct_new());
  if (!ct) return Error("conntrack lookup: out of memory");
  if (t.src.isV4()) {
    nfct_set_attr_u8(ct.get(), ATTR_L3PROTO, AF_INET);
    nfct_set_attr_u32(ct.get(), ATTR_IPV4_SRC, beV4(t.src));
    nfct_set_attr_u32(ct.get(), ATTR_IPV4_DST, beV4(t.dst));
  } else {
    nfct_set_attr_u8(ct.get(), ATTR_L3PROTO, AF_INET6);
    nfct_set_attr(ct.get(), ATTR_IPV6_SRC, t.src.v6().bytes().data());
    nfct_set_attr(ct.get(), ATTR_IPV6_DST, t.dst.v6().bytes().data());
  }
  nfct_set_attr_u8(ct.get(), ATTR_L4PROTO, t.proto);
  if (t.proto == IPPROTO_ICMP || t.proto == IPPROTO_ICMPV6) {
    nfct_set_attr_u8(ct.get(), ATTR_ICMP_TYPE, t.icmpType);
    nfct_set_attr_u8(ct.get(), ATTR_ICMP_CODE, t.icmpCode);
    nfct_set_attr_u16(ct.get(), ATTR_ICMP_ID, htons(t.sport));
  } else {
    nfct_set_attr_u16(ct.get(), ATTR_PORT_SRC, htons(t.sport));
    nfct_set_attr_u16(ct.get(), ATTR_PORT_DST, htons(t.dport));
  }
  std::optional<ConntrackEntry> found;
  nfct_callback_register(handle_.get(), NFCT_T_ALL, onEntry, &found);
  int rc = nfct_query(handle_.get(), NFCT_Q_GET, ct.get());
  int err = errno;
  nfct_callback_unregister(handle_.get());
  if (rc != 0) {
    if (err == ENOENT) return std::optional<ConntrackEntry>();
    return Error::fromErrno("conntrack lookup", err);
  }
  return found;
}

}  // namespace vnet::kernel
