// The forwarder: sends questions the local zone does not answer to upstream servers.
//
// Server choice: servers with a domain serve only names under it, and the longest matching
// domain wins; otherwise the default servers (no domain: explicit ones first, then the
// `nameserver` lines of resolv.conf, re-read when the file's mtime changes).
//
// Per attempt (RFC 5452 §9): a UDP socket bound to a random source port and connected to the
// server, and a random ID. Sockets are pooled per server: up to 32 at once, a new one while
// fewer exist, else a random one of them; each carries at most 64 queries (distinct IDs among
// those in flight on it) and none is picked once 10 s old; it is then retired (all are on every
// reconfiguration) and closed when its last query is done, so ports keep changing while a
// socket's setup and teardown (six system calls) is paid once per 64 queries, not per query. An
// off-path spoofer must hit a (port, ID) pair in flight: their number is the number of queries in
// flight either way, so sharing a secret random port does not make that easier (dnsmasq shares its
// random ports the same way). A response is accepted only when it comes from the server's address
// and port (the kernel checks: the socket is connected) and its ID and question match a query in
// flight on that socket (anything else is counted and ignored, and the wait goes on). After
// `timeout` the next server in order is tried. TC in a UDP answer → the same server over TCP (RFC
// 7766 §5). FORMERR/NOTIMP to an EDNS query → the same server without EDNS (RFC 6891 §7).
// SERVFAIL/REFUSED → the next server, and that answer is given back only if no later server does
// better. Identical questions in flight share one upstream query.
//
// Single-threaded: everything runs on the io_context's thread.
#pragma once

#include <sys/stat.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/ip.h"
#include "dns/cache.h"
#include "dns/resolver.h"

namespace vnet::dns {

struct UpstreamServer {
  IpAddress address;
  uint16_t port = 53;
  std::string domain;  // empty: a default server; else only for names under this domain

  friend bool operator==(const UpstreamServer&, const UpstreamServer&) = default;
};

struct ForwarderConfig {
  std::vector<UpstreamServer> servers;
  // resolv.conf to take default servers from ("" for none). 127.0.0.53 (systemd-resolved's
  // stub) is an ordinary upstream.
  std::string resolvConfPath;
  std::chrono::milliseconds timeout{1500};  // per server attempt
  uint16_t ednsUdpSize = 1232;              // advertised upstream (RFC 6891 §6.2.5)
  size_t maxInFlight = 1024;                // distinct upstream questions at once
  // Never forward to these (our own listeners): a resolv.conf naming us would loop.
  std::vector<std::pair<IpAddress, uint16_t>> exclude;

  friend bool operator==(const ForwarderConfig&, const ForwarderConfig&) = default;
};

struct ForwarderCounters {
  uint64_t upstreamQueries = 0;  // attempts sent (UDP and TCP)
  uint64_t upstreamTimeouts = 0;
  uint64_t tcpFallbacks = 0;
  uint64_t coalesced = 0;     // questions that joined one already in flight
  uint64_t badResponses = 0;  // ignored: wrong ID, question or source, or malformed
  uint64_t failures = 0;      // questions for which every server failed
};

// The nameserver addresses of a resolv.conf (scoped IPv6 addresses are skipped).
std::vector<IpAddress> parseResolvConf(std::string_view text);

class Forwarder final : public Upstream {
 public:
  Forwarder(boost::asio::io_context& io, ForwarderConfig config);
  // Pending callbacks are dropped, not called; sockets and timers are closed.
  ~Forwarder() override;
  Forwarder(const Forwarder&) = delete;
  Forwarder& operator=(const Forwarder&) = delete;
  Forwarder(Forwarder&&) = delete;
  Forwarder& operator=(Forwarder&&) = delete;

  // New servers apply to new questions; questions in flight finish with the old list.
  void reconfigure(ForwarderConfig config);
  const ForwarderConfig& config() const { return config_; }

  void resolve(const Question& q, bool dnssecOk, UpstreamCallback done) override;
  bool canForward(const Name& qname) override;
  uint64_t generation() override;

  // The servers in effect (explicit ones, then resolv.conf's), after a resolv.conf check.
  std::vector<UpstreamServer> effectiveServers();
  // Re-reads resolv.conf when its mtime or size changed; true when the server list changed.
  bool refreshResolvConf();

  const ForwarderCounters& counters() const { return counters_; }
  size_t inFlight() const { return inflight_.size(); }

 private:
  struct Query;
  struct UpstreamSocket;
  struct Group {
    Name domain;  // root for the default group
    bool isDefault = false;
    std::vector<UpstreamServer> servers;
  };

  void rebuildGroups();
  void maybeRefresh();
  const Group* select(const Name& qname) const;
  void startAttempt(const std::shared_ptr<Query>& q);
  void startTcp(const std::shared_ptr<Query>& q);
  void nextServer(const std::shared_ptr<Query>& q);
  void armTimer(const std::shared_ptr<Query>& q);
  // A pooled socket for the server, a new one while the pool is not full; null with ec set
  // when a new socket cannot be made.
  std::shared_ptr<UpstreamSocket> socketFor(const boost::asio::ip::udp::endpoint& server,
                                            boost::system::error_code& ec);
  void waitUdp(const std::shared_ptr<UpstreamSocket>& u);
  void drainUdp(const std::shared_ptr<UpstreamSocket>& u);
  // Takes the socket out of its pool: no new queries; closed once none is in flight on it.
  void retire(const std::shared_ptr<UpstreamSocket>& u);
  // A socket error (ICMP port unreachable: ECONNREFUSED, and others): the socket is retired
  // and every query in flight on it moves to its next server.
  void failSocket(const std::shared_ptr<UpstreamSocket>& u);
  // Ends q's current attempt: leaves its UDP socket (closing it when retired and idle) and
  // closes its TCP connection.
  void releaseAttempt(Query& q);
  // Decides what to do with a response that passed validation.
  void onAnswer(const std::shared_ptr<Query>& q, std::vector<uint8_t> wire, MessageLayout layout,
                bool overTcp);
  void finish(const std::shared_ptr<Query>& q,
              const Result<std::shared_ptr<const UpstreamAnswer>>& r);
  bool matches(const Query& q, const MessageLayout& l) const;

  boost::asio::io_context& io_;
  ForwarderConfig config_;
  std::vector<IpAddress> resolvServers_;
  struct timespec resolvMtime_ {};
  off_t resolvSize_ = -1;
  bool resolvSeen_ = false;
  std::chrono::steady_clock::time_point nextResolvCheck_{};
  std::vector<Group> groups_;
  uint64_t generation_ = 0;  // bumped by rebuildGroups()
  std::unordered_map<CacheKey, std::shared_ptr<Query>, CacheKeyHash> inflight_;
  std::map<boost::asio::ip::udp::endpoint, std::vector<std::shared_ptr<UpstreamSocket>>> pools_;
  std::vector<uint8_t> rxBuf_ = std::vector<uint8_t>(65535);  // the datagram being read
  uint64_t serial_ = 0;
  ForwarderCounters counters_;
  // Posted callbacks check this so that none runs after the forwarder is gone.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace vnet::dns
