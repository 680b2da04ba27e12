// The socket side of the DHCP server: one UDP socket per network on 0.0.0.0:67, bound to the
// bridge with SO_BINDTODEVICE, driven by a single-threaded Boost.Asio io_context.
//
// Per wake-up the transport drains up to max_batch queued datagrams with one recvmmsg() and
// hands each to Server::handleInto(); buffers, replies and message headers are allocated once
// and reused, so the steady state allocates nothing per packet. Replies that need no commit (OFFER,
// NAK) leave at once; then it calls Server::commit() once for the whole batch and only then sends
// the replies that depend on it (group commit: an ACK never leaves before its lease is durable),
// each group with one sendmmsg(). When the commit fails, those replies are dropped and the clients
// retransmit. The receive buffer is raised to 4 MiB so that bursts arriving during a commit's fsync
// are queued, not dropped.
//
// Reply addressing follows the Destination the server chose (RFC 2131 §4.1). Broadcasts and
// unicasts to a client that has no address yet (to yiaddr at chaddr) leave through an
// AF_PACKET socket bound to the interface, with IPv4 and UDP headers built here: the link
// destination is known, so there is no route lookup, no neighbour entry, no netfilter
// output path and no local loopback copy of each broadcast, which made up most of the cost
// of a reply. Without the packet socket (no CAP_NET_RAW, or packet_replies off), replies go
// through the UDP socket: a unicast to yiaddr then first installs a neighbour entry
// yiaddr -> chaddr with ioctl(SIOCSARP), as dnsmasq does (an ordinary entry that ages out),
// and is broadcast when SIOCSARP fails. Unicasts to ciaddr always use the UDP socket.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>

#include "base/error.h"
#include "dhcp/server.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace vnet::dhcp {

struct TransportOptions {
  std::string interface;      // the bridge; SO_BINDTODEVICE and SIOCSARP use it
  uint16_t server_port = 67;  // tests may use other ports
  uint16_t client_port = 68;
  size_t max_batch = 64;  // datagrams handled per commit
  // Broadcast and hardware-unicast replies through an AF_PACKET socket on the interface
  // (when it can be opened: CAP_NET_RAW), else everything through the UDP socket.
  bool packet_replies = true;
};

struct TransportCounters {
  uint64_t batches = 0;
  uint64_t received = 0;
  uint64_t truncated = 0;  // larger than the receive buffer; dropped
  uint64_t sent = 0;
  uint64_t send_errors = 0;
  uint64_t dropped_uncommitted = 0;  // replies withheld because commit() failed
  uint64_t arp_fallbacks = 0;        // SIOCSARP failed; reply broadcast instead
  uint64_t raw_sent = 0;             // replies handed to the packet socket (part of sent)
};

class UdpTransport {
 public:
  // Opens and binds the socket. io and server must outlive the transport. Needs
  // CAP_NET_BIND_SERVICE (port 67) and CAP_NET_RAW (SO_BINDTODEVICE) or CAP_NET_ADMIN.
  static Result<std::unique_ptr<UdpTransport>> open(boost::asio::io_context& io, Server& server,
                                                    TransportOptions options);
  ~UdpTransport();
  UdpTransport(const UdpTransport&) = delete;
  UdpTransport& operator=(const UdpTransport&) = delete;

  // Starts waiting for packets on io; each readiness drains the socket, batch by batch.
  void start();
  // Cancels the wait; the socket stays open until destruction.
  void stop();
  // Runs one batch now: what is queued, up to max_batch datagrams (one recvmmsg), then the
  // commit and the replies. Returns how many datagrams it received.
  size_t drainOnce();

  const TransportCounters& counters() const { return counters_; }

 private:
  struct Impl;
  explicit UdpTransport(std::unique_ptr<Impl> impl);
  void wait();
  void onReadable();
  // Sends the batch's replies whose requires_commit equals committed (sendmmsg).
  void sendReplies(bool committed);
  void prepare(const Reply& reply, size_t& udp_slots, size_t& raw_slots);
  void sendAll(int fd, mmsghdr* msgs, size_t n);
  std::unique_ptr<Impl> impl_;
  TransportCounters counters_;
};

}  // namespace vnet::dhcp
