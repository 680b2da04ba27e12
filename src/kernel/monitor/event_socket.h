// EventSocket: one netlink socket subscribed to multicast groups, read on the Asio event
// loop. It is the only owner of its fd (held by the stream_descriptor, closed with it).
// Datagrams not sent by the kernel (nl_pid != 0) are dropped unread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/error.h"

namespace vnet::kernel::monitor {

class EventSocket {
 public:
  // Called with each datagram, in order.
  using OnData = std::function<void(std::span<const uint8_t>)>;
  // Called when the kernel dropped datagrams (ENOBUFS) or one was truncated.
  using OnLost = std::function<void()>;

  // Opens a NETLINK `protocol` socket in the calling thread's network namespace, joins
  // `groups` (NETLINK_ADD_MEMBERSHIP numbers) and starts reading on `io`. `what` names
  // the socket in errors.
  static Result<std::unique_ptr<EventSocket>> open(boost::asio::io_context& io, int protocol,
                                                   const std::vector<unsigned>& groups,
                                                   const std::string& what, OnData onData,
                                                   OnLost onLost);
  ~EventSocket();
  EventSocket(const EventSocket&) = delete;
  EventSocket& operator=(const EventSocket&) = delete;

 private:
  EventSocket(boost::asio::io_context& io, int fd, OnData onData, OnLost onLost);
  void arm();
  // Reads every queued datagram without blocking.
  void drain();

  boost::asio::posix::stream_descriptor sd_;
  OnData onData_;
  OnLost onLost_;
  std::vector<uint8_t> buf_;
  // Expires with the object: a completion queued before destruction must not touch it.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace vnet::kernel::monitor
