#include "dhcp/transport.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <cerrno>
#include <cstring>
#include <vector>

#include "base/unique_fd.h"

namespace vnet::dhcp {

namespace asio = boost::asio;

struct UdpTransport::Impl {
  Impl(asio::io_context& io, Server& s, TransportOptions o)
      : socket(io), server(s), options(std::move(o)) {}
  // Owns the fd once open() handed it over.
  asio::ip::udp::socket socket;
  Server& server;
  TransportOptions options;
  unsigned ifindex = 0;
  bool running = false;
  // Reused across batches so that the steady state does not allocate.
  std::array<uint8_t, 4096> buffer{};
  std::vector<Reply> replies;
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
  auto impl = std::make_unique<Impl>(io, server, std::move(options));
  impl->ifindex = ifindex;
  impl->replies.reserve(impl->options.max_batch);
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
                             drainOnce();
                             wait();
                           });
}

size_t UdpTransport::drainOnce() {
  Impl& m = *impl_;
  const int fd = m.socket.native_handle();
  m.replies.clear();
  size_t n = 0;
  bool handled = false;
  for (; n < m.options.max_batch; ++n) {
    iovec iov{m.buffer.data(), m.buffer.size()};
    alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(in_pktinfo))> control{};
    msghdr msg{};
    sockaddr_in from{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    const ssize_t len = ::recvmsg(fd, &msg, MSG_DONTWAIT);
    if (len < 0) break;  // EAGAIN: drained; other errors: retry on the next wake-up
    ++counters_.received;
    if (msg.msg_flags & MSG_TRUNC) {
      ++counters_.truncated;
      continue;
    }
    RxInfo rx;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
        in_pktinfo info;
        std::memcpy(&info, CMSG_DATA(c), sizeof info);
        rx.broadcast = Ipv4(ntohl(info.ipi_addr.s_addr)) != m.server.config().server_address;
      }
    }
    handled = true;
    if (auto reply = m.server.handle(std::span(m.buffer.data(), size_t(len)), rx)) {
      m.replies.push_back(std::move(*reply));
    }
  }
  if (!handled) return n;
  ++counters_.batches;
  // Replies that promise nothing durable (OFFER, NAK, INFORM's ACK) leave at once; only
  // those that acknowledge a lease wait for the commit.
  for (const Reply& r : m.replies) {
    if (!r.requires_commit) send(r);
  }
  const bool committed = m.server.commit().ok();
  for (const Reply& r : m.replies) {
    if (!r.requires_commit) continue;
    if (!committed) {
      ++counters_.dropped_uncommitted;
      continue;
    }
    send(r);
  }
  return n;
}

void UdpTransport::send(const Reply& reply) {
  Impl& m = *impl_;
  const int fd = m.socket.native_handle();
  Ipv4 to(0xffffffff);
  const Destination& d = reply.destination;
  if (d.kind == Destination::Kind::kUnicast) {
    to = d.ip;
  } else if (d.kind == Destination::Kind::kUnicastHardware) {
    // RFC 2131 §4.1: unicast to the client's hardware address and yiaddr.
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
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(m.options.client_port);
  dst.sin_addr.s_addr = htonl(to.toUint());
  iovec iov{const_cast<uint8_t*>(reply.bytes.data()), reply.bytes.size()};
  // Source address = ours on the bridge, even when the bridge has several addresses.
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(in_pktinfo))> control{};
  msghdr msg{};
  msg.msg_name = &dst;
  msg.msg_namelen = sizeof dst;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = IPPROTO_IP;
  c->cmsg_type = IP_PKTINFO;
  c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
  in_pktinfo info{};
  info.ipi_ifindex = int(m.ifindex);
  info.ipi_spec_dst.s_addr = htonl(m.server.config().server_address.toUint());
  std::memcpy(CMSG_DATA(c), &info, sizeof info);
  if (::sendmsg(fd, &msg, MSG_DONTWAIT) < 0) {
    ++counters_.send_errors;
  } else {
    ++counters_.sent;
  }
}

}  // namespace vnet::dhcp
