// KernelMonitor: the daemon's view of kernel changes. Two netlink event sockets on the
// event loop: rtnetlink (link and IPv4/IPv6 address groups) and nfnetlink
// (NFNLGRP_NFTABLES, as `nft monitor`). Events go to one ChangeSink, on the loop's thread.
// Dropping the monitor closes both sockets.
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>

#include "base/error.h"
#include "kernel/monitor.h"
#include "kernel/monitor/event_socket.h"
#include "kernel/monitor/nft_events.h"

namespace vnet::kernel::monitor {

class KernelMonitor {
 public:
  // Subscribes in the calling thread's network namespace (needs CAP_NET_ADMIN for the
  // nftables group). `sink` must outlive the monitor.
  static Result<std::unique_ptr<KernelMonitor>> start(boost::asio::io_context& io,
                                                      ChangeSink& sink);
  KernelMonitor(const KernelMonitor&) = delete;
  KernelMonitor& operator=(const KernelMonitor&) = delete;

 private:
  explicit KernelMonitor(ChangeSink& sink) : sink_(sink) {}

  ChangeSink& sink_;
  NftEventParser nft_;
  std::unique_ptr<EventSocket> route_;
  std::unique_ptr<EventSocket> nftables_;
};

}  // namespace vnet::kernel::monitor
