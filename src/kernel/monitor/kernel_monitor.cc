#include "kernel/monitor/kernel_monitor.h"

#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "kernel/monitor/route_events.h"

namespace vnet::kernel::monitor {

Result<std::unique_ptr<KernelMonitor>> KernelMonitor::start(boost::asio::io_context& io,
                                                            ChangeSink& sink) {
  auto m = std::unique_ptr<KernelMonitor>(new KernelMonitor(sink));
  KernelMonitor* self = m.get();
  auto route = EventSocket::open(
      io, NETLINK_ROUTE, {RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR}, "rtnetlink",
      [self](std::span<const uint8_t> d) { parseRouteEvents(d, self->sink_); },
      [self] { self->sink_.onEventsLost("rtnetlink"); });
  if (!route) return std::move(route).error();
  m->route_ = std::move(*route);
  auto nftables = EventSocket::open(
      io, NETLINK_NETFILTER, {NFNLGRP_NFTABLES}, "nftables",
      [self](std::span<const uint8_t> d) { self->nft_.feed(d, self->sink_); },
      [self] {
        self->nft_.reset();
        self->sink_.onEventsLost("nftables");
      });
  if (!nftables) return std::move(nftables).error();
  m->nftables_ = std::move(*nftables);
  return m;
}

}  // namespace vnet::kernel::monitor
