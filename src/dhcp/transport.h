// The socket side of the DHCP server: one UDP socket per network on 0.0.0.0:67, bound to the
// bridge with SO_BINDTODEVICE, driven by a single-threaded Boost.Asio io_context.
//
// Per wake-up the transport drains up to max_batch queued datagrams and hands each to
// Server::handle(). Replies that need no commit (OFFER, NAK) leave at once; then it calls
// Server::commit() once for the whole batch and only then sends the replies that depend on
// it (group commit: an ACK never leaves before its lease is durable). When the commit fails,
// those replies are dropped and the clients retransmit. The receive buffer is raised to
// 4 MiB so that bursts arriving during a commit's fsync are queued, not dropped.
//
// Reply addressing follows the Destination the server chose (RFC 2131 §4.1). A client that
// has no address yet and did not set the broadcast bit gets a unicast to yiaddr; as the
// kernel cannot resolve that address by ARP (the client does not own it yet), the transport
// first installs a neighbour entry yiaddr -> chaddr with ioctl(SIOCSARP), as dnsmasq does.
// This needs no AF_PACKET socket and no netlink; the entry is an ordinary (non-permanent)
// one that ages out. When SIOCSARP fails, the reply is broadcast instead.
#pragma once

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
};

struct TransportCounters {
  uint64_t batches = 0;
  uint64_t received = 0;
  uint64_t truncated = 0;  // larger than the receive buffer; dropped
  uint64_t sent = 0;
  uint64_t send_errors = 0;
  uint64_t dropped_uncommitted = 0;  // replies withheld because commit() failed
  uint64_t arp_fallbacks = 0;        // SIOCSARP failed; reply broadcast instead
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

  // Starts waiting for packets on io; each readiness runs one batch.
  void start();
  // Cancels the wait; the socket stays open until destruction.
  void stop();
  // Runs one batch now: everything queued, up to max_batch. Returns how many datagrams.
  size_t drainOnce();

  const TransportCounters& counters() const { return counters_; }

 private:
  struct Impl;
  explicit UdpTransport(std::unique_ptr<Impl> impl);
  void wait();
  void send(const Reply& reply);
  std::unique_ptr<Impl> impl_;
  TransportCounters counters_;
};

}  // namespace vnet::dhcp
