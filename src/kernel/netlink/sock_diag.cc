#include "kernel/netlink/sock_diag.h"

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "base/unique_fd.h"

namespace vnet::kernel {
namespace {

// One SOCK_DIAG_BY_FAMILY dump of (family, protocol); adds bound sockets to `out`.
Status dump(int fd, uint8_t family, uint8_t protocol, std::map<uint64_t, int>& out) {
  struct {
    nlmsghdr nh;
    inet_diag_req_v2 req;
  } msg{};
  msg.nh.nlmsg_len = sizeof msg;
  msg.nh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  msg.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  msg.nh.nlmsg_seq = 1;
  msg.req.sdiag_family = family;
  msg.req.sdiag_protocol = protocol;
  msg.req.idiag_states = ~0u;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd, &msg, sizeof msg, 0, reinterpret_cast<const sockaddr*>(&kernel), sizeof kernel) <
      0) {
    return Error::fromErrno("sock_diag request", errno);
  }
  std::vector<char> buf(32768);
  for (;;) {
    ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::fromErrno("sock_diag reply", errno);
    if (n == 0) return Error("sock_diag: connection closed");
    // Walks the messages by hand: the NLMSG_* macros use C casts.
    size_t off = 0;
    const size_t len = static_cast<size_t>(n);
    while (off + sizeof(nlmsghdr) <= len) {
      nlmsghdr h;
      std::memcpy(&h, buf.data() + off, sizeof h);
      if (h.nlmsg_len < sizeof(nlmsghdr) || off + h.nlmsg_len > len) break;
      const char* data = buf.data() + off + NLMSG_HDRLEN;
      const size_t dataLen = h.nlmsg_len - NLMSG_HDRLEN;
      off += NLMSG_ALIGN(h.nlmsg_len);
      if (h.nlmsg_type == NLMSG_DONE) return Status::success();
      if (h.nlmsg_type == NLMSG_ERROR) {
        nlmsgerr err{};
        std::memcpy(&err, data, std::min(dataLen, sizeof err));
        // No such protocol (e.g. IPv6 disabled): nothing is bound there.
        if (err.error == -ENOENT || err.error == -EAFNOSUPPORT) return Status::success();
        return Error::fromErrno("sock_diag", -err.error);
      }
      if (h.nlmsg_type != SOCK_DIAG_BY_FAMILY || dataLen < sizeof(inet_diag_msg)) continue;
      inet_diag_msg d;
      std::memcpy(&d, data, sizeof d);
      if (d.id.idiag_if != 0) out[d.idiag_inode] = static_cast<int>(d.id.idiag_if);
    }
  }
}

}  // namespace

Result<std::map<uint64_t, int>> socketBoundDevices() {
  UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (!fd) return Error::fromErrno("opening a sock_diag socket", errno);
  std::map<uint64_t, int> out;
  for (uint8_t family : {uint8_t{AF_INET}, uint8_t{AF_INET6}}) {
    for (uint8_t proto : {uint8_t{IPPROTO_UDP}, uint8_t{IPPROTO_TCP}}) {
      VNET_TRY(dump(fd.get(), family, proto, out));
    }
  }
  return out;
}

}  // namespace vnet::kernel
