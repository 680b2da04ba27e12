// The DNS service of one network: UDP and TCP listeners (Boost.Asio) in front of a
// Resolver (local zone, cache, rate limit) and a Forwarder.
//
// Single-threaded: create it, call it and destroy it on the thread that runs the
// io_context. Destroying the Server closes its sockets; replies still pending upstream are
// dropped.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/error.h"
#include "base/ip.h"
#include "dns/forwarder.h"
#include "dns/resolver.h"

namespace vnet::dns {

struct ServerConfig {
  // Addresses to listen on (UDP and TCP on each); IP_FREEBIND lets them be bound before
  // the address is configured on the bridge.
  std::vector<IpAddress> listenAddresses;
  uint16_t port = 53;
  ResolverConfig resolver;
  // Our own listen addresses are added to forwarder.exclude automatically.
  ForwarderConfig forwarder;
  size_t maxTcpConnections = 64;
  // RFC 7766 §6.2.3: idle TCP connections are closed after this.
  std::chrono::milliseconds tcpIdleTimeout{10000};
};

struct ServerCounters {
  uint64_t queries = 0;
  uint64_t localAnswers = 0;
  uint64_t cacheHits = 0;
  uint64_t forwarded = 0;
  uint64_t refused = 0;
  uint64_t rateLimited = 0;
  uint64_t formErr = 0;
  uint64_t servFail = 0;
  uint64_t notImp = 0;
  uint64_t dropped = 0;
  uint64_t upstreamQueries = 0;
  uint64_t upstreamTimeouts = 0;
  uint64_t tcpFallbacks = 0;
  uint64_t coalesced = 0;
  uint64_t tcpConnections = 0;  // accepted
  uint64_t tcpRejected = 0;     // over maxTcpConnections
  size_t cacheEntries = 0;
};

class Server {
 public:
  // Validates config and binds every listener; on any failure nothing stays bound.
  static Result<std::unique_ptr<Server>> create(boost::asio::io_context& io, ServerConfig config);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  Server(Server&&) = delete;
  Server& operator=(Server&&) = delete;

  // Applies a new configuration live. Listeners are rebound only when addresses or port
  // changed; the cache is flushed only when the upstream servers changed. On error the
  // old configuration stays in force.
  Status reconfigure(ServerConfig config);
  const ServerConfig& config() const { return config_; }

  void flushCache();
  // From DHCP leases (see Zone::setDynamicHost).
  Status setDynamicHost(std::string_view name, Ipv4 ip);
  void removeDynamicHost(std::string_view name);

  ServerCounters counters() const;
  Resolver& resolver() { return *resolver_; }
  Forwarder& forwarder() { return *forwarder_; }

 private:
  struct UdpListener;
  struct TcpListener;
  struct TcpConnection;
  struct Listeners {
    std::vector<std::shared_ptr<UdpListener>> udp;
    std::vector<std::shared_ptr<TcpListener>> tcp;
  };

  Server(boost::asio::io_context& io, ServerConfig config);
  Result<Listeners> bindAll(const std::vector<IpAddress>& addresses, uint16_t port);
  void start(Listeners& l);
  void stop(Listeners& l);
  ForwarderConfig forwarderConfigFor(const ServerConfig& c) const;
  // Reads and answers what l's socket has queued, in batches; then waits for readiness again.
  void drainUdp(const std::shared_ptr<UdpListener>& l);
  void onAccept(const std::shared_ptr<TcpConnection>& c);
  void closeConnection(TcpConnection* c);

  boost::asio::io_context& io_;
  ServerConfig config_;
  // Destroyed in reverse order: the forwarder (which drops pending callbacks) goes before
  // the resolver its callbacks point into.
  std::unique_ptr<Resolver> resolver_;
  std::unique_ptr<Forwarder> forwarder_;
  Listeners listeners_;
  std::unordered_map<TcpConnection*, std::weak_ptr<TcpConnection>> connections_;
  uint64_t tcpConnections_ = 0;
  uint64_t tcpRejected_ = 0;
};

}  // namespace vnet::dns
