#include "kernel/monitor/event_socket.h"

#include <linux/netlink.h>
#include <sys/socket.h>

#include <cerrno>

#include "base/unique_fd.h"

namespace vnet::kernel::monitor {
namespace {

// Room for a burst (`nft flush ruleset` of a large table, many links going at once).
constexpr int kReceiveBuffer = 4 << 20;
// Larger than any single netlink datagram the kernel multicasts.
constexpr size_t kDatagram = 64 << 10;

}  // namespace

Result<std::unique_ptr<EventSocket>> EventSocket::open(boost::asio::io_context& io, int protocol,
                                                       const std::vector<unsigned>& groups,
                                                       const std::string& what, OnData onData,
                                                       OnLost onLost) {
  const std::string ctx = "opening the " + what + " event socket";
  UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol));
  if (!fd) return Error::fromErrno(ctx, errno);
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
    return Error::fromErrno(ctx + ": bind", errno);
  }
  // As root the limit does not apply (FORCE); otherwise take what rmem_max allows.
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUFFORCE, &kReceiveBuffer, sizeof kReceiveBuffer) !=
      0) {
    (void)::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &kReceiveBuffer, sizeof kReceiveBuffer);
  }
  for (unsigned g : groups) {
    if (::setsockopt(fd.get(), SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &g, sizeof g) != 0) {
      return Error::fromErrno(ctx + ": joining group " + std::to_string(g), errno);
    }
  }
  auto sock = std::unique_ptr<EventSocket>(
      new EventSocket(io, fd.release(), std::move(onData), std::move(onLost)));
  sock->arm();
  return sock;
}

EventSocket::EventSocket(boost::asio::io_context& io, int fd, OnData onData, OnLost onLost)
    : sd_(io, fd), onData_(std::move(onData)), onLost_(std::move(onLost)), buf_(kDatagram) {}

EventSocket::~EventSocket() {
  alive_.reset();
  boost::system::error_code ignored;
  sd_.cancel(ignored);
}

void EventSocket::arm() {
  std::weak_ptr<bool> alive = alive_;
  sd_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                 [this, alive](const boost::system::error_code& ec) {
                   if (alive.expired() || ec == boost::asio::error::operation_aborted) return;
                   drain();
                   if (!alive.expired()) arm();
                 });
}

void EventSocket::drain() {
  std::weak_ptr<bool> alive = alive_;
  for (;;) {
    sockaddr_nl from{};
    socklen_t fromLen = sizeof from;
    const ssize_t n =
        ::recvfrom(sd_.native_handle(), buf_.data(), buf_.size(), MSG_DONTWAIT | MSG_TRUNC,
                   reinterpret_cast<sockaddr*>(&from), &fromLen);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ENOBUFS) {
        onLost_();
        if (alive.expired()) return;
        continue;
      }
      return;  // EAGAIN: drained; anything else: wait for the next readiness
    }
    if (from.nl_pid != 0) continue;
    if (static_cast<size_t>(n) > buf_.size()) {
      onLost_();
    } else {
      onData_(std::span<const uint8_t>(buf_.data(), static_cast<size_t>(n)));
    }
    if (alive.expired()) return;
  }
}

}  // namespace vnet::kernel::monitor
