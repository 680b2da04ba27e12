#include "dhcp/transport.h"

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstring>
#include <vector>

#include "base/unique_fd.h"

namespace vnet::dhcp {

namespace asio = boost::asio;

// Datagrams larger than this are counted as truncated and dropped. Client messages are at
// most an Ethernet MTU (1500 bytes less the IP and UDP headers) in practice.
constexpr size_t kSlotBytes = 2048;
// IPv4 (20) + UDP (8) headers of a reply sent through the packet socket.
constexpr size_t kHeaderBytes = 28;
// Larger replies go through the UDP socket, which fragments them to the link's MTU when
// needed: every IPv4 link carries 576-byte datagrams (RFC 791), whatever the bridge's MTU.
constexpr size_t kMaxRawPayload = 576 - kHeaderBytes;

uint32_t sum16(uint32_t sum, const uint8_t* p, size_t n) {
  for (; n > 1; p += 2, n -= 2) sum += uint32_t(p[0] << 8 | p[1]);
  if (n) sum += uint32_t(p[0] << 8);
  return sum;
}

uint16_t fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(~sum);
}

void put16(uint8_t* p, uint16_t v) {
  p[0] = uint8_t(v >> 8);
  p[1] = uint8_t(v);
}

void put32(uint8_t* p, uint32_t v) {
  put16(p, uint16_t(v >> 16));
  put16(p + 2, uint16_t(v));
}

// The IPv4 and UDP headers (RFC 791, RFC 768, checksums included) for payload from src:sport
// to dst:dport.
void buildHeaders(std::array<uint8_t, kHeaderBytes>& h, uint16_t id, Ipv4 src, uint16_t sport,
                  Ipv4 dst, uint16_t dport, std::span<const uint8_t> payload) {
  uint8_t* ip = h.data();
  ip[0] = 0x45;  // version 4, 5 words
  ip[1] = 0;     // TOS
  put16(ip + 2, uint16_t(kHeaderBytes + payload.size()));
  put16(ip + 4, id);
  put16(ip + 6, 0);  // no flags, offset 0
  ip[8] = 64;        // TTL
  ip[9] = IPPROTO_UDP;
  put16(ip + 10, 0);
  put32(ip + 12, src.toUint());
  put32(ip + 16, dst.toUint());
  put16(ip + 10, fold(sum16(0, ip, 20)));
  uint8_t* udp = ip + 20;
  const uint16_t len = uint16_t(8 + payload.size());
  put16(udp, sport);
  put16(udp + 2, dport);
  put16(udp + 4, len);
  put16(udp + 6, 0);
  // Pseudo-header (source, destination, protocol, UDP length), header, payload.
  uint32_t sum = sum16(0, ip + 12, 8);
  sum += IPPROTO_UDP;
  sum += len;
  sum = sum16(sum, udp, 8);
  sum = sum16(sum, payload.data(), payload.size());
  const uint16_t c = fold(sum);
  put16(udp + 6, c == 0 ? 0xffff : c);
}

struct UdpTransport::Impl {
  Impl(asio::io_context& io, Server& s, TransportOptions o)
      : socket(io), server(s), options(std::move(o)) {}
  // Owns the fd once open() handed it over.
  asio::ip::udp::socket socket;
  Server& server;
  TransportOptions options;
  unsigned ifindex = 0;
  bool running = false;
  // AF_PACKET (SOCK_DGRAM, protocol 0: it receives nothing) bound to the bridge, for the
  // replies to broadcast and to a client's hardware address; invalid when it could not be
  // opened, and then every reply goes through the UDP socket.
  UniqueFd packet;
  uint16_t ip_id = 0;
  // Everything below is sized once (max_batch slots) and reused for every batch, so that
  // the steady state makes no heap allocation per packet.
  using Control = std::array<char, CMSG_SPACE(sizeof(in_pktinfo))>;
  std::vector<uint8_t> buffers;  // max_batch slots of kSlotBytes
  std::vector<mmsghdr> rx;
  std::vector<iovec> rx_iov;
  std::vector<sockaddr_in> rx_from;
  std::vector<Control> rx_control;
  std::vector<Reply> replies;  // replies[0, n_replies) belong to the current batch
  size_t n_replies = 0;
  // Expires with the transport: guards the continuation onReadable() posts.
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);
  std::vector<mmsghdr> tx;
  std::vector<iovec> tx_iov;
  std::vector<sockaddr_in> tx_to;
  std::vector<Control> tx_control;
  std::vector<mmsghdr> ptx;
  std::vector<std::array<iovec, 2>> ptx_iov;
  std::vector<sockaddr_ll> ptx_to;
  std::vector<std::array<uint8_t, kHeaderBytes>> ptx_headers;

  void allocate() {
    const size_t n = options.max_batch;
    buffers.resize(n * kSlotBytes);
    rx.resize(n);
    rx_iov.resize(n);
    rx_from.resize(n);
    rx_control.resize(n);
    replies.resize(n);
    tx.resize(n);
    tx_iov.resize(n);
    tx_to.resize(n);
    tx_control.resize(n);
    ptx.resize(n);
    ptx_iov.resize(n);
    ptx_to.resize(n);
    ptx_headers.resize(n);
  }
};

UdpTransport::UdpTransport(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
UdpTransport::~UdpTransport() = default;

Result<std::unique_ptr<UdpTransport>> UdpTransport::open(asio::io_context& io, Server& server,
                                                         TransportOptions options) {
  const std::string ctx = "DHCP socket on " + options.interface;
  if (options.interface.empty() || options.interface.size() >= IFNAMSIZ) {
    return Error::invalid(ctx + ": bad interface name");
  }
  const unsigned ifindex = if_nametoindex(options.interface.c_str());
  if (ifindex == 0) return Error::fromErrno(ctx + ": if_nametoindex", errno);
  UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return Error::fromErrno(ctx + ": socket", errno);
  const int one = 1;
  auto setopt = [&](int level, int name, const void* value, socklen_t len,
                    const char* what) -> Status {
    if (::setsockopt(fd.get(), level, name, value, len) != 0) {
      return Error::fromErrno(ctx + ": " + what, errno);
    }
    return Status::success();
  };
  VNET_TRY(setopt(SOL_SOCKET, SO_REUSEADDR, &one, sizeof one, "SO_REUSEADDR"));
  VNET_TRY(setopt(SOL_SOCKET, SO_BROADCAST, &one, sizeof one, "SO_BROADCAST"));
  VNET_TRY(setopt(IPPROTO_IP, IP_PKTINFO, &one, sizeof one, "IP_PKTINFO"));
  // Room for bursts that arrive while a batch waits for its lease commit (an fsync):
  // with the default buffer the kernel drops requests during a slow sync. Best effort:
  // SO_RCVBUFFORCE needs CAP_NET_ADMIN, SO_RCVBUF is capped by rmem_max.
  const int rcvbuf = 4 << 20;
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0) {
    (void)::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  }
  VNET_TRY(setopt(SOL_SOCKET, SO_BINDTODEVICE, options.interface.c_str(),
                  socklen_t(options.interface.size()), "SO_BINDTODEVICE"));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(options.server_port);
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    return Error::fromErrno(ctx + ": bind port " + std::to_string(options.server_port), errno);
  }
  if (options.max_batch == 0) options.max_batch = 1;
  auto impl = std::make_unique<Impl>(io, server, std::move(options));
  impl->ifindex = ifindex;
  impl->allocate();
  if (impl->options.packet_replies) {
    // Best effort (needs CAP_NET_RAW): without it replies take the UDP socket.
    UniqueFd pfd(::socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    sockaddr_ll ll{};
    ll.sll_family = AF_PACKET;
    ll.sll_protocol = 0;
    ll.sll_ifindex = int(ifindex);
    if (pfd && ::bind(pfd.get(), reinterpret_cast<const sockaddr*>(&ll), sizeof ll) == 0) {
      impl->packet = std::move(pfd);
    }
  }
  boost::system::error_code ec;
  impl->socket.assign(asio::ip::udp::v4(), fd.get(), ec);
  if (ec) return Error(ctx + ": " + ec.message());
  (void)fd.release();  // the asio socket owns it now
  return std::unique_ptr<UdpTransport>(new UdpTransport(std::move(impl)));
}

void UdpTransport::start() {
  impl_->running = true;
  wait();
}

void UdpTransport::stop() {
  impl_->running = false;
  boost::system::error_code ec;
  impl_->socket.cancel(ec);
}

void UdpTransport::wait() {
  impl_->socket.async_wait(asio::ip::udp::socket::wait_read,
                           [this](const boost::system::error_code& ec) {
                             if (ec || !impl_->running) return;
                             onReadable();
                           });
}

// Readiness is edge-triggered: the socket is drained until a batch comes back short, or
// else the wait could sleep on queued datagrams. After kRoundsPerTurn full batches the loop
// yields to the other handlers of the io_context and resumes without waiting for an edge.
void UdpTransport::onReadable() {
  constexpr int kRoundsPerTurn = 8;
  for (int round = 0; round < kRoundsPerTurn; ++round) {
    if (drainOnce() < impl_->options.max_batch) {
      wait();
      return;
    }
  }
  asio::post(impl_->socket.get_executor(), [this, alive = std::weak_ptr<bool>(impl_->alive)] {
    if (alive.expired() || !impl_->running) return;
    onReadable();
  });
}

size_t UdpTransport::drainOnce() {
  Impl& m = *impl_;
  const int fd = m.socket.native_handle();
  const size_t cap = m.options.max_batch;
  for (size_t i = 0; i < cap; ++i) {
    m.rx_iov[i] = iovec{m.buffers.data() + i * kSlotBytes, kSlotBytes};
    msghdr& h = m.rx[i].msg_hdr;
    h = msghdr{};
    h.msg_name = &m.rx_from[i];
    h.msg_namelen = sizeof(sockaddr_in);
    h.msg_iov = &m.rx_iov[i];
    h.msg_iovlen = 1;
    h.msg_control = m.rx_control[i].data();
    h.msg_controllen = m.rx_control[i].size();
    m.rx[i].msg_len = 0;
  }
  // One system call for everything queued, up to max_batch datagrams.
  const int got = ::recvmmsg(fd, m.rx.data(), unsigned(cap), MSG_DONTWAIT, nullptr);
  if (got <= 0) return 0;  // EAGAIN: nothing queued; other errors: retry on the next wake-up
  const size_t n = size_t(got);
  counters_.received += n;
  m.n_replies = 0;
  bool handled = false;
  const Ipv4 own = m.server.config().server_address;
  for (size_t i = 0; i < n; ++i) {
    msghdr& h = m.rx[i].msg_hdr;
    if (h.msg_flags & MSG_TRUNC) {
      ++counters_.truncated;
      continue;
    }
    RxInfo rx;
    for (cmsghdr* c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c)) {
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
        in_pktinfo info;
        std::memcpy(&info, CMSG_DATA(c), sizeof info);
        rx.broadcast = Ipv4(ntohl(info.ipi_addr.s_addr)) != own;
      }
    }
    handled = true;
    Reply& reply = m.replies[m.n_replies];
    if (m.server.handleInto(std::span(m.buffers.data() + i * kSlotBytes, m.rx[i].msg_len), rx,
                            reply)) {
      ++m.n_replies;
    }
  }
  if (!handled) return n;
  ++counters_.batches;
  // Replies that promise nothing durable (OFFER, NAK, INFORM's ACK) leave at once; only
  // those that acknowledge a lease wait for the commit.
  sendReplies(false);
  const bool committed = m.server.commit().ok();
  if (committed) {
    sendReplies(true);
  } else {
    for (size_t i = 0; i < m.n_replies; ++i) {
      if (m.replies[i].requires_commit) ++counters_.dropped_uncommitted;
    }
  }
  return n;
}

// Puts reply into the next slot of the packet-socket batch (broadcast or hardware unicast:
// the link-layer destination is known, so no route, ARP entry or IP output path is needed)
// or of the UDP-socket batch.
void UdpTransport::prepare(const Reply& reply, size_t& kudp, size_t& kraw) {
  Impl& m = *impl_;
  const Destination& d = reply.destination;
  const Ipv4 own = m.server.config().server_address;
  if (m.packet && d.kind != Destination::Kind::kUnicast && reply.bytes.size() <= kMaxRawPayload) {
    const size_t k = kraw++;
    const bool bcast = d.kind == Destination::Kind::kBroadcast;
    const Ipv4 to = bcast ? Ipv4(0xffffffff) : d.ip;
    buildHeaders(m.ptx_headers[k], m.ip_id++, own, m.options.server_port, to, m.options.client_port,
                 reply.bytes);
    sockaddr_ll& ll = m.ptx_to[k];
    ll = sockaddr_ll{};
    ll.sll_family = AF_PACKET;
    ll.sll_protocol = htons(ETH_P_IP);
    ll.sll_ifindex = int(m.ifindex);
    ll.sll_halen = 6;
    if (bcast) {
      std::memset(ll.sll_addr, 0xff, 6);
    } else {
      std::memcpy(ll.sll_addr, d.mac.bytes().data(), 6);
    }
    m.ptx_iov[k][0] = iovec{m.ptx_headers[k].data(), kHeaderBytes};
    m.ptx_iov[k][1] = iovec{const_cast<uint8_t*>(reply.bytes.data()), reply.bytes.size()};
    msghdr& msg = m.ptx[k].msg_hdr;
    msg = msghdr{};
    msg.msg_name = &ll;
    msg.msg_namelen = sizeof ll;
    msg.msg_iov = m.ptx_iov[k].data();
    msg.msg_iovlen = 2;
    return;
  }
  const size_t k = kudp++;
  const int fd = m.socket.native_handle();
  Ipv4 to(0xffffffff);
  if (d.kind == Destination::Kind::kUnicast) {
    to = d.ip;
  } else if (d.kind == Destination::Kind::kUnicastHardware) {
    // RFC 2131 §4.1: unicast to the client's hardware address and yiaddr. Through the UDP
    // socket that takes a neighbour entry, as the client cannot answer ARP yet.
    arpreq req{};
    sockaddr_in pa{};
    pa.sin_family = AF_INET;
    pa.sin_addr.s_addr = htonl(d.ip.toUint());
    std::memcpy(&req.arp_pa, &pa, sizeof pa);
    req.arp_ha.sa_family = ARPHRD_ETHER;
    std::memcpy(req.arp_ha.sa_data, d.mac.bytes().data(), 6);
    req.arp_flags = ATF_COM;
    std::memcpy(req.arp_dev, m.options.interface.c_str(), m.options.interface.size() + 1);
    if (::ioctl(fd, SIOCSARP, &req) == 0) {
      to = d.ip;
    } else {
      ++counters_.arp_fallbacks;
    }
  }
  sockaddr_in& dst = m.tx_to[k];
  dst = sockaddr_in{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(m.options.client_port);
  dst.sin_addr.s_addr = htonl(to.toUint());
  m.tx_iov[k] = iovec{const_cast<uint8_t*>(reply.bytes.data()), reply.bytes.size()};
  // Source address = ours on the bridge, even when the bridge has several addresses.
  Impl::Control& control = m.tx_control[k];
  control.fill(0);
  msghdr& msg = m.tx[k].msg_hdr;
  msg = msghdr{};
  msg.msg_name = &dst;
  msg.msg_namelen = sizeof dst;
  msg.msg_iov = &m.tx_iov[k];
  msg.msg_iovlen = 1;
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = IPPROTO_IP;
  c->cmsg_type = IP_PKTINFO;
  c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
  in_pktinfo info{};
  info.ipi_ifindex = int(m.ifindex);
  info.ipi_spec_dst.s_addr = htonl(own.toUint());
  std::memcpy(CMSG_DATA(c), &info, sizeof info);
}

// sendmmsg() of msgs[0, n) on fd; a datagram the kernel refuses is counted and skipped.
void UdpTransport::sendAll(int fd, mmsghdr* msgs, size_t n) {
  size_t done = 0;
  while (done < n) {
    const int sent = ::sendmmsg(fd, msgs + done, unsigned(n - done), MSG_DONTWAIT);
    if (sent < 0) {
      if (errno == EINTR) continue;
      ++counters_.send_errors;
      ++done;
      continue;
    }
    counters_.sent += size_t(sent);
    done += size_t(sent);
  }
}

void UdpTransport::sendReplies(bool committed) {
  Impl& m = *impl_;
  size_t kudp = 0;
  size_t kraw = 0;
  for (size_t i = 0; i < m.n_replies; ++i) {
    if (m.replies[i].requires_commit == committed) prepare(m.replies[i], kudp, kraw);
  }
  if (kraw) {
    counters_.raw_sent += kraw;
    sendAll(m.packet.get(), m.ptx.data(), kraw);
  }
  if (kudp) sendAll(m.socket.native_handle(), m.tx.data(), kudp);
}

}  // namespace vnet::dhcp
