// NftTracing: kernel::Tracing on libnftables (the trace chains, kernel/nft/trace_rules.h)
// and on a NETLINK_NETFILTER socket subscribed to NFNLGRP_NFTRACE, read on the event loop
// and decoded with libmnl + libnftnl (nftnl_trace_nlmsg_parse), as `nft monitor trace`
// does. Each event is annotated with its chain's hook, type and priority and its rule's
// text, listed through libnftables (`list chain ...` with handles) and cached per chain
// while listening. Works in the calling thread's network namespace. Single-threaded.
#pragma once

#include <memory>

#include "base/error.h"
#include "kernel/trace.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace vnet::kernel::nft {

class NftTracing final : public Tracing {
 public:
  // `io` must outlive the object.
  static Result<std::unique_ptr<NftTracing>> create(boost::asio::io_context& io);
  ~NftTracing() override;
  NftTracing(const NftTracing&) = delete;
  NftTracing& operator=(const NftTracing&) = delete;

  // Error contexts: "adding trace chains to table inet vnet", ...
  Status addTrace(const TraceMatch& m) override;
  Status followReplies(const TraceMatch& m) override;
  Status removeTrace(unsigned id) override;
  Status removeAllTraces() override;
  Status listen(TraceListener listener) override;
  void stopListening() override;

  struct Impl;

 private:
  explicit NftTracing(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vnet::kernel::nft
