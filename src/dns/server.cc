#include "dns/server.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <cstring>
#include <deque>

namespace vnet::dns {

namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;

namespace {

constexpr size_t kUdpBufferSize = 65535;
// Datagrams per recvmmsg/sendmmsg, and batches per readiness event before other handlers
// get a turn.
constexpr size_t kUdpBatch = 32;
constexpr size_t kUdpBatchesPerTurn = 8;

// One batch's buffers. A batch is handled to its end (the resolver never calls back into the
// server from handle()) before the next starts, so one set per thread serves every listener.
struct UdpBatch {
  // The slots are left uninitialized: a page is touched only when a datagram lands in it.
  UdpBatch() : in(new uint8_t[kUdpBatch * kUdpBufferSize]) {}
  uint8_t* slot(size_t i) { return in.get() + i * kUdpBufferSize; }

  std::unique_ptr<uint8_t[]> in;
  std::array<sockaddr_storage, kUdpBatch> peers{};
  std::array<iovec, kUdpBatch> inIov{};
  std::array<mmsghdr, kUdpBatch> inMsgs{};
  std::array<std::vector<uint8_t>, kUdpBatch> replies;  // capacity kept between batches
  std::array<iovec, kUdpBatch> outIov{};
  std::array<mmsghdr, kUdpBatch> outMsgs{};
};

UdpBatch& threadUdpBatch() {
  static thread_local UdpBatch batch;
  return batch;
}

asio::ip::address toAsio(const IpAddress& a) {
  if (a.isV4()) return asio::ip::address_v4(a.v4().toUint());
  asio::ip::address_v6::bytes_type b;
  std::copy(a.v6().bytes().begin(), a.v6().bytes().end(), b.begin());
  return asio::ip::address_v6(b);
}

IpAddress fromSockaddr(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) {
    sockaddr_in in;
    std::memcpy(&in, &ss, sizeof in);
    return Ipv4(ntohl(in.sin_addr.s_addr));
  }
  sockaddr_in6 in6;
  std::memcpy(&in6, &ss, sizeof in6);
  Ipv6::Bytes b;
  std::memcpy(b.data(), &in6.sin6_addr, b.size());
  if (IN6_IS_ADDR_V4MAPPED(&in6.sin6_addr)) {
    return Ipv4((uint32_t{b[12]} << 24) | (uint32_t{b[13]} << 16) | (uint32_t{b[14]} << 8) | b[15]);
  }
  return Ipv6(b);
}

IpAddress fromAsio(const asio::ip::address& a) {
  if (a.is_v4()) return Ipv4(a.to_v4().to_uint());
  const auto v6 = a.to_v6();
  if (v6.is_v4_mapped()) return Ipv4(asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_uint());
  Ipv6::Bytes b;
  const auto raw = v6.to_bytes();
  std::copy(raw.begin(), raw.end(), b.begin());
  return Ipv6(b);
}

// IP_FREEBIND: bind to an address the host does not have (yet). Best effort.
void setFreebind(int fd, bool v6) {
  int one = 1;
#ifdef IPV6_FREEBIND
  if (v6) {
    (void)::setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof(one));
    return;
  }
#endif
  (void)v6;
  (void)::setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
}

bool sameAddresses(const ServerConfig& a, const ServerConfig& b) {
  return a.port == b.port && a.listenAddresses == b.listenAddresses;
}

}  // namespace

// A UDP listener waits for readiness and then drains its socket in batches (recvmmsg, one
// sendmmsg per batch for the replies ready at once), instead of one receive per datagram.
struct Server::UdpListener : std::enable_shared_from_this<UdpListener> {
  explicit UdpListener(asio::io_context& io) : socket(io) {}
  Server* owner = nullptr;
  udp::socket socket;  // non-blocking

  void wait() {
    socket.async_wait(udp::socket::wait_read,
                      [self = shared_from_this()](const boost::system::error_code& ec) {
                        if (self->owner == nullptr || ec == asio::error::operation_aborted) return;
                        self->owner->drainUdp(self);
                      });
  }
};

struct Server::TcpListener : std::enable_shared_from_this<TcpListener> {
  explicit TcpListener(asio::io_context& io) : acceptor(io) {}
  Server* owner = nullptr;
  tcp::acceptor acceptor;

  void accept();
};

// One client TCP connection (RFC 7766): length-prefixed messages, pipelined, answered in
// the order replies become ready, closed when idle.
struct Server::TcpConnection : std::enable_shared_from_this<TcpConnection> {
  TcpConnection(asio::io_context& io, tcp::socket s) : socket(std::move(s)), idle(io) {}
  Server* owner = nullptr;
  tcp::socket socket;
  asio::steady_timer idle;
  IpAddress client;
  std::array<uint8_t, 2> len{};
  std::vector<uint8_t> msg;
  std::deque<std::vector<uint8_t>> out;
  bool writing = false;

  void start() {
    armIdle();
    readLength();
  }
  void close() {
    boost::system::error_code ignored;
    socket.close(ignored);
    idle.cancel();
    if (owner != nullptr) owner->closeConnection(this);
    owner = nullptr;
  }
  void armIdle() {
    idle.expires_after(owner->config_.tcpIdleTimeout);
    idle.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec && self->owner != nullptr) self->close();
    });
  }
  void readLength() {
    asio::async_read(socket, asio::buffer(len),
                     [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                       if (self->owner == nullptr) return;
                       if (ec) return self->close();
                       const size_t n = (size_t(self->len[0]) << 8) | self->len[1];
                       if (n == 0) return self->close();
                       self->msg.resize(n);
                       self->readBody();
                     });
  }
  void readBody() {
    asio::async_read(socket, asio::buffer(msg),
                     [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                       if (self->owner == nullptr) return;
                       if (ec) return self->close();
                       self->armIdle();
                       self->handle();
                       if (self->owner != nullptr) self->readLength();
                     });
  }
  void handle() {
    std::weak_ptr<TcpConnection> weak = shared_from_this();
    auto outcome =
        owner->resolver_->handle(msg, client, Transport::Tcp, [weak](std::vector<uint8_t> reply) {
          if (auto s = weak.lock(); s && s->owner != nullptr) {
            s->send(std::move(reply));
          }
        });
    if (outcome.kind == Resolver::Outcome::Kind::Reply) send(std::move(outcome.reply));
  }
  void send(std::vector<uint8_t> reply) {
    if (reply.empty() || reply.size() > 0xFFFF) return;
    reply.insert(reply.begin(), {uint8_t(reply.size() >> 8), uint8_t(reply.size())});
    out.push_back(std::move(reply));
    if (!writing) writeNext();
  }
  void writeNext() {
    if (out.empty()) {
      writing = false;
      return;
    }
    writing = true;
    asio::async_write(socket, asio::buffer(out.front()),
                      [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                        if (self->owner == nullptr) return;
                        if (ec) return self->close();
                        self->out.pop_front();
                        self->writeNext();
                      });
  }
};

void Server::TcpListener::accept() {
  acceptor.async_accept(
      [self = shared_from_this()](const boost::system::error_code& ec, tcp::socket s) {
        if (self->owner == nullptr || ec == asio::error::operation_aborted) return;
        if (!ec) {
          auto c = std::make_shared<TcpConnection>(self->owner->io_, std::move(s));
          self->owner->onAccept(std::move(c));
        }
        if (self->owner != nullptr) self->accept();
      });
}

Result<std::unique_ptr<Server>> Server::create(asio::io_context& io, ServerConfig config) {
  std::unique_ptr<Server> s(new Server(io, std::move(config)));
  VNET_TRY(s->resolver_->configure(s->config_.resolver));
  auto l = s->bindAll(s->config_.listenAddresses, s->config_.port);
  if (!l.ok()) return std::move(l).error();
  s->listeners_ = std::move(*l);
  s->start(s->listeners_);
  return s;
}

Server::Server(asio::io_context& io, ServerConfig config) : io_(io), config_(std::move(config)) {
  forwarder_ = std::make_unique<Forwarder>(io_, forwarderConfigFor(config_));
  resolver_ =
      std::make_unique<Resolver>(forwarder_.get(), [] { return std::chrono::steady_clock::now(); });
}

Server::~Server() {
  stop(listeners_);
  for (auto& [ptr, weak] : connections_) {
    if (auto c = weak.lock()) {
      c->owner = nullptr;
      boost::system::error_code ignored;
      c->socket.close(ignored);
      c->idle.cancel();
    }
  }
  connections_.clear();
}

ForwarderConfig Server::forwarderConfigFor(const ServerConfig& c) const {
  ForwarderConfig f = c.forwarder;
  for (const auto& a : c.listenAddresses) f.exclude.emplace_back(a, c.port);
  return f;
}

Result<Server::Listeners> Server::bindAll(const std::vector<IpAddress>& addresses, uint16_t port) {
  Listeners l;
  for (const auto& a : addresses) {
    const std::string where = a.toString() + " port " + std::to_string(port);
    boost::system::error_code ec;
    auto u = std::make_shared<UdpListener>(io_);
    const udp::endpoint uep(toAsio(a), port);
    u->socket.open(uep.protocol(), ec);
    if (!ec) {
      u->socket.set_option(udp::socket::reuse_address(true), ec);
      if (a.isV6()) u->socket.set_option(asio::ip::v6_only(true), ec);
      setFreebind(u->socket.native_handle(), a.isV6());
      u->socket.bind(uep, ec);
    }
    if (!ec) u->socket.non_blocking(true, ec);
    if (ec) return Error::fromErrno("binding DNS UDP socket on " + where, ec.value());

    auto t = std::make_shared<TcpListener>(io_);
    const tcp::endpoint tep(toAsio(a), port);
    t->acceptor.open(tep.protocol(), ec);
    if (!ec) {
      t->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
      if (a.isV6()) t->acceptor.set_option(asio::ip::v6_only(true), ec);
      setFreebind(t->acceptor.native_handle(), a.isV6());
      t->acceptor.bind(tep, ec);
    }
    if (!ec) t->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return Error::fromErrno("binding DNS TCP socket on " + where, ec.value());
    l.udp.push_back(std::move(u));
    l.tcp.push_back(std::move(t));
  }
  return l;
}

void Server::start(Listeners& l) {
  for (auto& u : l.udp) {
    u->owner = this;
    u->wait();
  }
  for (auto& t : l.tcp) {
    t->owner = this;
    t->accept();
  }
}

void Server::stop(Listeners& l) {
  boost::system::error_code ignored;
  for (auto& u : l.udp) {
    u->owner = nullptr;
    u->socket.close(ignored);
  }
  for (auto& t : l.tcp) {
    t->owner = nullptr;
    t->acceptor.close(ignored);
  }
  l.udp.clear();
  l.tcp.clear();
}

Status Server::reconfigure(ServerConfig config) {
  {
    // Validate before touching anything, so that a bad config changes nothing.
    Zone probe;
    VNET_TRY(probe.configure(config.resolver.zone));
  }
  if (!sameAddresses(config, config_)) {
    // The old sockets go first: the new set may share an address and port with them.
    stop(listeners_);
    auto l = bindAll(config.listenAddresses, config.port);
    if (!l.ok()) {
      if (auto back = bindAll(config_.listenAddresses, config_.port); back.ok()) {
        listeners_ = std::move(*back);
        start(listeners_);
      }
      return std::move(l).error().context("reconfiguring DNS listeners");
    }
    listeners_ = std::move(*l);
    start(listeners_);
  }
  VNET_TRY(resolver_->configure(config.resolver));
  const ForwarderConfig fc = forwarderConfigFor(config);
  if (!(fc == forwarder_->config())) {
    const auto before = forwarder_->effectiveServers();
    forwarder_->reconfigure(fc);
    // Answers from other upstreams may differ: only then is the cache dropped.
    if (forwarder_->effectiveServers() != before) resolver_->flushCache();
  }
  config_ = std::move(config);
  return Status::success();
}

void Server::flushCache() {
  resolver_->flushCache();
}

Status Server::setDynamicHost(std::string_view name, Ipv4 ip) {
  return resolver_->zone().setDynamicHost(name, ip);
}

void Server::removeDynamicHost(std::string_view name) {
  resolver_->zone().removeDynamicHost(name);
}

ServerCounters Server::counters() const {
  const ResolverCounters& r = resolver_->counters();
  const ForwarderCounters& f = forwarder_->counters();
  ServerCounters c;
  c.queries = r.queries;
  c.localAnswers = r.localAnswers;
  c.cacheHits = r.cacheHits;
  c.forwarded = r.forwarded;
  c.refused = r.refused;
  c.rateLimited = r.rateLimited;
  c.formErr = r.formErr;
  c.servFail = r.servFail;
  c.notImp = r.notImp;
  c.dropped = r.dropped;
  c.upstreamQueries = f.upstreamQueries;
  c.upstreamTimeouts = f.upstreamTimeouts;
  c.tcpFallbacks = f.tcpFallbacks;
  c.coalesced = f.coalesced;
  c.tcpConnections = tcpConnections_;
  c.tcpRejected = tcpRejected_;
  c.cacheEntries = resolver_->cacheSize();
  return c;
}

void Server::drainUdp(const std::shared_ptr<UdpListener>& l) {
  UdpBatch& b = threadUdpBatch();
  const int fd = l->socket.native_handle();
  bool drained = false;
  for (size_t turn = 0; turn < kUdpBatchesPerTurn && !drained; ++turn) {
    for (size_t i = 0; i < kUdpBatch; ++i) {
      b.inIov[i] = iovec{b.slot(i), kUdpBufferSize};
      msghdr& h = b.inMsgs[i].msg_hdr;
      h = msghdr{};
      h.msg_name = &b.peers[i];
      h.msg_namelen = sizeof b.peers[i];
      h.msg_iov = &b.inIov[i];
      h.msg_iovlen = 1;
    }
    const int n = ::recvmmsg(fd, b.inMsgs.data(), kUdpBatch, MSG_DONTWAIT, nullptr);
    // EAGAIN: drained (other errors: try again on the next readiness). Fewer than asked:
    // the queue was empty too. Either way a datagram arriving from now on makes the socket
    // ready again; waiting with datagrams still queued could stall them, as the reactor's
    // epoll is edge-triggered.
    if (n <= 0) {
      drained = true;
      break;
    }
    drained = size_t(n) < kUdpBatch;
    size_t out = 0;
    for (size_t i = 0; i < size_t(n); ++i) {
      const std::span<const uint8_t> query(b.slot(i), b.inMsgs[i].msg_len);
      const sockaddr_storage& peer = b.peers[i];
      const socklen_t peerLen = b.inMsgs[i].msg_hdr.msg_namelen;
      const auto kind = resolver_->handle(
          query, fromSockaddr(peer), Transport::Udp, b.replies[i],
          [&l, &peer, peerLen]() -> Resolver::ReplyFn {
            return [weak = std::weak_ptr<UdpListener>(l), peer, peerLen](std::vector<uint8_t> r) {
              auto s = weak.lock();
              if (!s || s->owner == nullptr) return;
              // A full socket buffer drops the reply, as UDP may.
              (void)::sendto(s->socket.native_handle(), r.data(), r.size(), MSG_DONTWAIT,
                             reinterpret_cast<const sockaddr*>(&peer), peerLen);
            };
          });
      if (kind != Resolver::Outcome::Kind::Reply || b.replies[i].empty()) continue;
      b.outIov[out] = iovec{b.replies[i].data(), b.replies[i].size()};
      msghdr& h = b.outMsgs[out].msg_hdr;
      h = msghdr{};
      h.msg_name = &b.peers[i];
      h.msg_namelen = peerLen;
      h.msg_iov = &b.outIov[out];
      h.msg_iovlen = 1;
      ++out;
    }
    for (size_t sent = 0; sent < out;) {
      const int r = ::sendmmsg(fd, &b.outMsgs[sent], unsigned(out - sent), MSG_DONTWAIT);
      // A reply that cannot go (full socket buffer, ...) is dropped, as UDP may.
      sent += r > 0 ? size_t(r) : 1;
    }
  }
  if (l->owner == nullptr) return;
  if (drained) {
    l->wait();
    return;
  }
  // Still busy: go on after the handlers already waiting for their turn.
  asio::post(io_, [self = l] {
    if (self->owner != nullptr) self->owner->drainUdp(self);
  });
}

void Server::onAccept(const std::shared_ptr<TcpConnection>& c) {
  if (connections_.size() >= config_.maxTcpConnections) {
    ++tcpRejected_;
    boost::system::error_code ignored;
    c->socket.close(ignored);
    return;
  }
  ++tcpConnections_;
  boost::system::error_code ec;
  const auto ep = c->socket.remote_endpoint(ec);
  if (ec) return;
  c->client = fromAsio(ep.address());
  c->owner = this;
  connections_.emplace(c.get(), c);
  c->start();
}

void Server::closeConnection(TcpConnection* c) {
  connections_.erase(c);
}

}  // namespace vnet::dns
