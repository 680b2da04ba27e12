// Tracer: `vnetctl trace` inside vnetd. Each trace adds its trace chains to our table
// (kernel::Tracing), and while any trace runs one subscription to the kernel's trace
// events feeds a TraceAssembler; every finished packet goes, with the source NAT conntrack
// applied to it, to the output of each trace that marked it. A trace ends when its packet
// count or duration is reached, when its client goes away (cancel) or when vnetd stops
// (stopAll); its chains are then deleted in one batch. Traces are independent: each has
// its own chains, and ending one leaves the others (and every network's rules) alone.
// Single-threaded: everything runs on the daemon's io_context.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "api/trace_record.h"
#include "base/error.h"
#include "daemon/manager.h"
#include "daemon/trace_assembler.h"
#include "kernel/trace.h"

namespace vnet::daemon {

struct TraceRequest {
  std::string network;
  std::string port;
  std::string to;         // "" or an IPv4/IPv6 address
  std::string proto;      // "", "icmp", "icmpv6", "tcp", "udp"
  unsigned count = 0;     // packets; 0: no limit
  unsigned duration = 0;  // seconds; 0: no limit
};

// Where one trace's records go. send() and close() never call back into the Tracer.
class TraceOutput {
 public:
  virtual ~TraceOutput() = default;
  virtual void send(const api::TraceRecord& record) = 0;
  // No more records: the end record was the last.
  virtual void close() = 0;
};

struct TracerOptions {
  std::chrono::milliseconds settle{100};  // see TraceAssembler
  unsigned maxTraces = 8;
  unsigned maxCount = 100000;
  unsigned maxDuration = 24 * 3600;
};

class Tracer {
 public:
  // All references must outlive the Tracer.
  Tracer(boost::asio::io_context& io, Manager& manager, kernel::Tracing& tracing,
         kernel::ConntrackLookup& conntrack, TracerOptions options = {});
  // Ends every trace ("stopped").
  ~Tracer();
  Tracer(const Tracer&) = delete;
  Tracer& operator=(const Tracer&) = delete;

  // Checks the request (active network, a port of it whose guest MAC is known, address,
  // protocol, limits), adds the trace's chains, and sends the start record to `out`.
  // On error nothing was added and `out` got nothing. Returns the trace id.
  Result<unsigned> start(const TraceRequest& req, std::shared_ptr<TraceOutput> out);
  // The client of trace `id` went away: deletes its chains, sends nothing more. No-op for
  // an unknown (already ended) id.
  void cancel(unsigned id);
  // Ends every trace with an end record of `reason`.
  void stopAll(const std::string& reason);
  // Deletes trace chains an earlier vnetd left behind (it was killed mid-trace).
  Status removeLeftovers();
  size_t active() const { return sessions_.size(); }

 private:
  struct Session {
    kernel::TraceMatch match;
    std::shared_ptr<TraceOutput> out;
    unsigned count = 0;
    unsigned shown = 0;
    std::unique_ptr<boost::asio::steady_timer> timer;
  };

  Result<kernel::TraceMatch> resolve(const TraceRequest& req, unsigned id);
  void onEvent(const kernel::TraceEvent& e);
  void onProblem(const std::string& message);
  void learnGuestAddress(Session& s, const kernel::TraceEvent& e);
  void deliver(std::vector<AssembledPacket> packets);
  void armSettle();
  // Removes trace `id`'s chains; with `reason`, sends the end record and closes.
  void end(unsigned id, const std::string* reason, const std::string& detail = {});

  boost::asio::io_context& io_;
  Manager& manager_;
  kernel::Tracing& tracing_;
  kernel::ConntrackLookup& conntrack_;
  TracerOptions options_;
  TraceAssembler assembler_;
  boost::asio::steady_timer settle_;
  bool settleArmed_ = false;
  bool listening_ = false;
  unsigned nextId_ = 1;
  std::map<unsigned, Session> sessions_;
};

}  // namespace vnet::daemon
