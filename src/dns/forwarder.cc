#include "dns/forwarder.h"

#include <algorithm>
#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <fstream>
#include <sstream>

#include "base/bytes.h"
#include "base/random.h"

namespace vnet::dns {

namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;

namespace {

constexpr uint16_t kFlagRd = 0x0100;
constexpr auto kResolvCheckInterval = std::chrono::seconds(1);
// Upstream UDP sockets per server, and the queries one socket carries before it is retired
// (see forwarder.h). Datagrams read per readiness event before other handlers get a turn.
constexpr size_t kSocketsPerServer = 32;
constexpr uint32_t kQueriesPerSocket = 64;
constexpr auto kSocketLifetime = std::chrono::seconds(10);
constexpr size_t kReadsPerTurn = 64;

asio::ip::address toAsio(const IpAddress& a) {
  if (a.isV4()) return asio::ip::address_v4(a.v4().toUint());
  asio::ip::address_v6::bytes_type b;
  std::copy(a.v6().bytes().begin(), a.v6().bytes().end(), b.begin());
  return asio::ip::address_v6(b);
}

// A recursive query for q (RD set), with an OPT record when edns (RFC 6891 §6.1.2).
std::vector<uint8_t> buildQuery(uint16_t id, const Question& q, bool edns, uint16_t udpSize,
                                bool dnssecOk) {
  std::vector<uint8_t> b;
  b.reserve(kHeaderSize + q.name.wireSize() + 4 + 11);
  appendU16(b, id);
  appendU16(b, kFlagRd);
  appendU16(b, 1);
  appendU16(b, 0);
  appendU16(b, 0);
  appendU16(b, edns ? 1 : 0);
  b.insert(b.end(), q.name.wire().begin(), q.name.wire().end());
  appendU16(b, uint16_t(q.type));
  appendU16(b, q.qclass);
  if (edns) {
    b.push_back(0);
    appendU16(b, uint16_t(RrType::OPT));
    appendU16(b, udpSize);
    b.push_back(0);
    b.push_back(0);
    appendU16(b, dnssecOk ? 0x8000 : 0);
    appendU16(b, 0);
  }
  return b;
}

// RFC 5452 §9.2: the source port is drawn from the whole unprivileged range; the kernel's
// choice is the fallback when random picks keep colliding.
void bindRandomPort(udp::socket& s, const udp& proto, boost::system::error_code& ec) {
  const auto any = proto == udp::v4() ? asio::ip::address(asio::ip::address_v4::any())
                                      : asio::ip::address(asio::ip::address_v6::any());
  for (int i = 0; i < 8; ++i) {
    const auto port = uint16_t(1024 + randomU32() % (65536 - 1024));
    s.bind(udp::endpoint(any, port), ec);
    if (!ec || ec != asio::error::address_in_use) return;
  }
  s.bind(udp::endpoint(any, 0), ec);
}

}  // namespace

std::vector<IpAddress> parseResolvConf(std::string_view text) {
  std::vector<IpAddress> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    auto skipSpace = [&]() {
      while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    };
    skipSpace();
    constexpr std::string_view kKey = "nameserver";
    if (line.substr(0, kKey.size()) != kKey) continue;
    line.remove_prefix(kKey.size());
    if (line.empty() || (line.front() != ' ' && line.front() != '\t')) continue;
    skipSpace();
    size_t end = 0;
    while (end < line.size() && line[end] != ' ' && line[end] != '\t' && line[end] != '\r' &&
           line[end] != '#' && line[end] != ';') {
      ++end;
    }
    if (auto ip = IpAddress::parse(line.substr(0, end))) out.push_back(*ip);
  }
  return out;
}

// A UDP socket to one upstream server: bound to a random port, connected to the server (the
// kernel then delivers only the server's datagrams, and its ICMP errors), carrying queries
// under distinct IDs until it is retired (after kQueriesPerSocket, or picked when older than
// kSocketLifetime); closed when it is retired and its last query is done.
struct Forwarder::UpstreamSocket {
  explicit UpstreamSocket(asio::io_context& io) : socket(io) {}

  udp::socket socket;
  udp::endpoint server;
  std::unordered_map<uint16_t, std::shared_ptr<Query>> pending;  // by query ID
  std::chrono::steady_clock::time_point created;
  uint32_t uses = 0;
  bool waiting = false;
  bool retired = false;
};

struct Forwarder::Query {
  explicit Query(asio::io_context& io) : timer(io) {}

  Forwarder* owner = nullptr;  // null once finished or the forwarder is gone
  CacheKey key;
  Question question;
  bool dnssecOk = false;
  std::vector<UpstreamServer> servers;  // candidates, in order
  size_t index = 0;
  bool useEdns = true;
  uint16_t id = 0;
  uint64_t attempt = 0;  // handlers of earlier attempts see a different value and stop
  std::vector<uint8_t> packet;
  std::vector<uint8_t> tcpOut;
  std::array<uint8_t, 2> tcpLen{};
  std::shared_ptr<UpstreamSocket> udpSocket;  // the current attempt's, shared
  std::unique_ptr<tcp::socket> tcpSocket;
  udp::endpoint server;
  asio::steady_timer timer;
  std::vector<uint8_t> tcpBuf;
  std::vector<UpstreamCallback> waiters;
  std::shared_ptr<UpstreamAnswer> fallback;  // a SERVFAIL/REFUSED kept while trying others
};

Forwarder::Forwarder(asio::io_context& io, ForwarderConfig config)
    : io_(io), config_(std::move(config)) {
  refreshResolvConf();
  rebuildGroups();
}

Forwarder::~Forwarder() {
  boost::system::error_code ignored;
  // Every socket is either pooled or (retired) held by a query in flight on it. Clearing
  // `pending` breaks the socket <-> query reference cycle.
  auto close = [&](const std::shared_ptr<UpstreamSocket>& u) {
    u->pending.clear();
    u->socket.close(ignored);
  };
  for (auto& [key, q] : inflight_) {
    q->owner = nullptr;
    q->waiters.clear();
    q->timer.cancel();
    if (q->udpSocket) close(q->udpSocket);
    q->udpSocket.reset();
    q->tcpSocket.reset();
  }
  for (auto& [server, sockets] : pools_) {
    for (auto& u : sockets) close(u);
  }
  *alive_ = false;
}

void Forwarder::releaseAttempt(Query& q) {
  if (q.tcpSocket) {
    boost::system::error_code ignored;
    q.tcpSocket->close(ignored);
    q.tcpSocket.reset();
  }
  if (!q.udpSocket) return;
  std::shared_ptr<UpstreamSocket> u = std::move(q.udpSocket);
  q.udpSocket.reset();
  if (auto it = u->pending.find(q.id); it != u->pending.end() && it->second.get() == &q) {
    u->pending.erase(it);
  }
  if (u->retired && u->pending.empty()) {
    boost::system::error_code ignored;
    u->socket.close(ignored);
  }
}

void Forwarder::retire(const std::shared_ptr<UpstreamSocket>& u) {
  if (u->retired) return;
  u->retired = true;
  auto& sockets = pools_[u->server];
  sockets.erase(std::remove(sockets.begin(), sockets.end(), u), sockets.end());
  if (sockets.empty()) pools_.erase(u->server);
  // Otherwise the queries in flight on it hold it; the last one to leave closes it.
  if (u->pending.empty()) {
    boost::system::error_code ignored;
    u->socket.close(ignored);
  }
}

std::shared_ptr<Forwarder::UpstreamSocket> Forwarder::socketFor(const udp::endpoint& server,
                                                                boost::system::error_code& ec) {
  const auto now = std::chrono::steady_clock::now();
  auto& sockets = pools_[server];
  if (sockets.size() >= kSocketsPerServer) {
    auto picked = sockets[randomU32() % sockets.size()];
    if (now - picked->created < kSocketLifetime) return picked;
    retire(picked);  // too old: a new one takes its place (the pool keeps its other sockets)
  }
  auto u = std::make_shared<UpstreamSocket>(io_);
  u->server = server;
  u->created = now;
  u->socket.open(server.protocol(), ec);
  if (!ec) bindRandomPort(u->socket, server.protocol(), ec);
  if (!ec) u->socket.connect(server, ec);
  if (!ec) u->socket.non_blocking(true, ec);
  if (ec) {
    if (sockets.empty()) pools_.erase(server);
    return nullptr;
  }
  sockets.push_back(u);
  return u;
}

void Forwarder::waitUdp(const std::shared_ptr<UpstreamSocket>& u) {
  if (u->waiting || u->pending.empty() || !u->socket.is_open()) return;
  u->waiting = true;
  u->socket.async_wait(udp::socket::wait_read, [u, alive = std::weak_ptr<bool>(alive_),
                                                this](const boost::system::error_code& ec) {
    u->waiting = false;
    if (ec == asio::error::operation_aborted) return;
    if (auto a = alive.lock(); !a || !*a) return;
    drainUdp(u);
  });
}

void Forwarder::failSocket(const std::shared_ptr<UpstreamSocket>& u) {
  retire(u);
  std::vector<std::shared_ptr<Query>> queries;
  for (auto& [id, q] : u->pending) queries.push_back(q);
  for (auto& q : queries) {
    if (q->owner != nullptr && q->udpSocket == u) nextServer(q);
  }
}

// RFC 5452 §9.1: an answer is accepted only from the server (the socket is connected), for a
// query in flight on this socket with its ID and question; anything else is counted and
// ignored, and the wait goes on.
void Forwarder::drainUdp(const std::shared_ptr<UpstreamSocket>& u) {
  for (size_t i = 0; i < kReadsPerTurn && u->socket.is_open() && !u->pending.empty(); ++i) {
    boost::system::error_code ec;
    const size_t n = u->socket.receive(asio::buffer(rxBuf_), 0, ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) break;
    if (ec) return failSocket(u);
    const std::span<const uint8_t> wire(rxBuf_.data(), n);
    auto layout = scanMessage(wire);
    std::shared_ptr<Query> q;
    if (layout.ok()) {
      if (auto it = u->pending.find(layout->header.id); it != u->pending.end()) q = it->second;
    }
    if (!q || q->owner == nullptr || !matches(*q, *layout)) {
      ++counters_.badResponses;
      continue;
    }
    onAnswer(q, std::vector<uint8_t>(wire.begin(), wire.end()), std::move(*layout), false);
  }
  waitUdp(u);
}

void Forwarder::reconfigure(ForwarderConfig config) {
  const bool pathChanged = config.resolvConfPath != config_.resolvConfPath;
  config_ = std::move(config);
  if (pathChanged) {
    resolvSeen_ = false;
    resolvSize_ = -1;
    resolvServers_.clear();
  }
  refreshResolvConf();
  rebuildGroups();
}

bool Forwarder::refreshResolvConf() {
  nextResolvCheck_ = std::chrono::steady_clock::now() + kResolvCheckInterval;
  if (config_.resolvConfPath.empty()) return false;
  struct stat st {};
  if (::stat(config_.resolvConfPath.c_str(), &st) != 0) {
    if (!resolvSeen_) return false;
    resolvSeen_ = false;
    const bool had = !resolvServers_.empty();
    resolvServers_.clear();
    rebuildGroups();
    return had;
  }
  if (resolvSeen_ && st.st_mtim.tv_sec == resolvMtime_.tv_sec &&
      st.st_mtim.tv_nsec == resolvMtime_.tv_nsec && st.st_size == resolvSize_) {
    return false;
  }
  std::ifstream in(config_.resolvConfPath);
  std::stringstream ss;
  ss << in.rdbuf();
  resolvSeen_ = true;
  resolvMtime_ = st.st_mtim;
  resolvSize_ = st.st_size;
  auto servers = parseResolvConf(ss.str());
  if (servers == resolvServers_) return false;
  resolvServers_ = std::move(servers);
  rebuildGroups();
  return true;
}

void Forwarder::maybeRefresh() {
  if (config_.resolvConfPath.empty()) return;
  if (std::chrono::steady_clock::now() < nextResolvCheck_) return;
  refreshResolvConf();
}

void Forwarder::rebuildGroups() {
  auto excluded = [&](const UpstreamServer& s) {
    for (const auto& [ip, port] : config_.exclude) {
      if (ip == s.address && port == s.port) return true;
    }
    return false;
  };
  ++generation_;
  groups_.clear();
  // New servers or not, questions from now on go out on new sockets.
  std::vector<std::shared_ptr<UpstreamSocket>> pooled;
  for (const auto& [server, sockets] : pools_)
    pooled.insert(pooled.end(), sockets.begin(), sockets.end());
  for (const auto& u : pooled) retire(u);
  Group def;
  def.isDefault = true;
  for (const auto& s : config_.servers) {
    if (excluded(s)) continue;
    if (s.domain.empty()) {
      def.servers.push_back(s);
      continue;
    }
    auto d = Name::parse(s.domain);
    if (!d.ok()) continue;
    auto it = std::find_if(groups_.begin(), groups_.end(),
                           [&](const Group& g) { return g.domain == *d; });
    if (it == groups_.end()) {
      groups_.push_back(Group{*d, false, {}});
      it = groups_.end() - 1;
    }
    it->servers.push_back(s);
  }
  for (const auto& ip : resolvServers_) {
    UpstreamServer s{ip, 53, ""};
    if (!excluded(s)) def.servers.push_back(s);
  }
  groups_.push_back(std::move(def));
}

const Forwarder::Group* Forwarder::select(const Name& qname) const {
  const Group* best = nullptr;
  size_t bestLabels = 0;
  for (const auto& g : groups_) {
    if (g.isDefault || !qname.isUnder(g.domain)) continue;
    const size_t labels = g.domain.labelCount();
    if (best == nullptr || labels > bestLabels) {
      best = &g;
      bestLabels = labels;
    }
  }
  if (best != nullptr) return best;
  for (const auto& g : groups_) {
    if (g.isDefault) return g.servers.empty() ? nullptr : &g;
  }
  return nullptr;
}

bool Forwarder::canForward(const Name& qname) {
  maybeRefresh();
  return select(qname) != nullptr;
}

uint64_t Forwarder::generation() {
  maybeRefresh();
  return generation_;
}

std::vector<UpstreamServer> Forwarder::effectiveServers() {
  maybeRefresh();
  std::vector<UpstreamServer> out;
  for (const auto& g : groups_) out.insert(out.end(), g.servers.begin(), g.servers.end());
  return out;
}

void Forwarder::resolve(const Question& question, bool dnssecOk, UpstreamCallback done) {
  maybeRefresh();
  CacheKey key{question.name, question.type, question.qclass, dnssecOk};
  if (auto it = inflight_.find(key); it != inflight_.end()) {
    ++counters_.coalesced;
    it->second->waiters.push_back(std::move(done));
    return;
  }
  auto fail = [&](std::string why) {
    ++counters_.failures;
    asio::post(
        io_, [alive = std::weak_ptr<bool>(alive_), done = std::move(done), why = std::move(why)]() {
          if (auto a = alive.lock(); a && *a) done(Error(why));
        });
  };
  const Group* g = select(question.name);
  if (g == nullptr) return fail("no upstream server for " + question.name.toString());
  if (inflight_.size() >= config_.maxInFlight) return fail("too many upstream queries in flight");

  auto q = std::make_shared<Query>(io_);
  q->owner = this;
  q->key = key;
  q->question = question;
  q->dnssecOk = dnssecOk;
  q->servers = g->servers;
  q->waiters.push_back(std::move(done));
  inflight_.emplace(key, q);
  // Started from the loop so that no callback ever runs inside resolve().
  asio::post(io_, [q]() {
    if (q->owner != nullptr) q->owner->startAttempt(q);
  });
}

void Forwarder::startAttempt(const std::shared_ptr<Query>& q) {
  ++q->attempt;
  releaseAttempt(*q);
  if (q->index >= q->servers.size()) {
    if (q->fallback) {
      finish(q, std::shared_ptr<const UpstreamAnswer>(q->fallback));
    } else {
      ++counters_.failures;
      finish(q, Error("no upstream server answered for " + q->question.name.toString()));
    }
    return;
  }
  const UpstreamServer& s = q->servers[q->index];
  q->server = udp::endpoint(toAsio(s.address), s.port);
  std::shared_ptr<UpstreamSocket> u;
  // A pooled socket may hold an ICMP error from an earlier query (a connected UDP socket
  // reports it on the next send): that socket is retired and the send tried once more.
  for (int tries = 0; !u; ++tries) {
    boost::system::error_code ec;
    u = socketFor(q->server, ec);
    if (!u) return nextServer(q);
    // A random ID (RFC 5452 §9.2) not in use by another query on this socket.
    do {
      q->id = uint16_t(randomU32());
    } while (u->pending.count(q->id) != 0);
    q->packet = buildQuery(q->id, q->question, q->useEdns, config_.ednsUdpSize, q->dnssecOk);
    u->socket.send(asio::buffer(q->packet), 0, ec);
    if (ec) {
      failSocket(u);
      u.reset();
      if (tries == 1) return nextServer(q);
    }
  }
  ++counters_.upstreamQueries;
  u->pending.emplace(q->id, q);
  q->udpSocket = u;
  if (++u->uses >= kQueriesPerSocket) retire(u);
  armTimer(q);
  waitUdp(u);
}

void Forwarder::armTimer(const std::shared_ptr<Query>& q) {
  q->timer.expires_after(config_.timeout);
  q->timer.async_wait([q, attempt = q->attempt](const boost::system::error_code& ec) {
    if (ec || q->owner == nullptr || attempt != q->attempt) return;
    Forwarder* self = q->owner;
    ++self->counters_.upstreamTimeouts;
    self->nextServer(q);
  });
}

void Forwarder::startTcp(const std::shared_ptr<Query>& q) {
  ++q->attempt;
  releaseAttempt(*q);
  q->tcpSocket = std::make_unique<tcp::socket>(io_);
  q->tcpOut.clear();
  appendU16(q->tcpOut, uint16_t(q->packet.size()));
  q->tcpOut.insert(q->tcpOut.end(), q->packet.begin(), q->packet.end());
  ++counters_.upstreamQueries;
  armTimer(q);
  const uint64_t attempt = q->attempt;
  auto alive = [q, attempt](const boost::system::error_code& ec) -> Forwarder* {
    if (q->owner == nullptr || attempt != q->attempt || ec == asio::error::operation_aborted) {
      return nullptr;
    }
    if (ec) {
      q->owner->nextServer(q);
      return nullptr;
    }
    return q->owner;
  };
  q->tcpSocket->async_connect(
      tcp::endpoint(q->server.address(), q->server.port()),
      [q, alive](const boost::system::error_code& ec) {
        if (alive(ec) == nullptr) return;
        asio::async_write(
            *q->tcpSocket, asio::buffer(q->tcpOut),
            [q, alive](const boost::system::error_code& ec2, size_t) {
              if (alive(ec2) == nullptr) return;
              asio::async_read(*q->tcpSocket, asio::buffer(q->tcpLen),
                               [q, alive](const boost::system::error_code& ec3, size_t) {
                                 if (alive(ec3) == nullptr) return;
                                 const size_t len = (size_t(q->tcpLen[0]) << 8) | q->tcpLen[1];
                                 q->tcpBuf.resize(len);
                                 asio::async_read(
                                     *q->tcpSocket, asio::buffer(q->tcpBuf),
                                     [q, alive, len](const boost::system::error_code& ec4, size_t) {
                                       Forwarder* self = alive(ec4);
                                       if (self == nullptr) return;
                                       const std::span<const uint8_t> wire(q->tcpBuf.data(), len);
                                       auto layout = scanMessage(wire);
                                       if (!layout.ok() || !self->matches(*q, *layout)) {
                                         ++self->counters_.badResponses;
                                         return self->nextServer(q);
                                       }
                                       self->onAnswer(
                                           q, std::vector<uint8_t>(wire.begin(), wire.end()),
                                           std::move(*layout), true);
                                     });
                               });
            });
      });
}

bool Forwarder::matches(const Query& q, const MessageLayout& l) const {
  return l.header.qr && l.header.id == q.id && l.header.opcode == 0 && l.qdcount == 1 &&
         l.hasQuestion && l.question.type == q.question.type &&
         l.question.qclass == q.question.qclass && l.question.name == q.question.name;
}

void Forwarder::onAnswer(const std::shared_ptr<Query>& q, std::vector<uint8_t> wire,
                         MessageLayout layout, bool overTcp) {
  const uint16_t rcode = layout.rcode();
  if (!overTcp && layout.header.tc) {
    ++counters_.tcpFallbacks;
    return startTcp(q);
  }
  // RFC 6891 §7: a server that does not know EDNS answers FORMERR (or NOTIMP) without
  // an OPT record; ask it again without one.
  if (q->useEdns && !layout.hasEdns &&
      (rcode == uint16_t(Rcode::FormErr) || rcode == uint16_t(Rcode::NotImp))) {
    q->useEdns = false;
    return startAttempt(q);
  }
  auto answer = std::make_shared<UpstreamAnswer>();
  answer->wire = std::move(wire);
  answer->layout = std::move(layout);
  answer->serial = ++serial_;
  if ((rcode == uint16_t(Rcode::ServFail) || rcode == uint16_t(Rcode::Refused)) &&
      q->index + 1 < q->servers.size()) {
    q->fallback = std::move(answer);
    return nextServer(q);
  }
  finish(q, std::shared_ptr<const UpstreamAnswer>(std::move(answer)));
}

void Forwarder::nextServer(const std::shared_ptr<Query>& q) {
  ++q->index;
  q->useEdns = true;
  startAttempt(q);
}

void Forwarder::finish(const std::shared_ptr<Query>& q,
                       const Result<std::shared_ptr<const UpstreamAnswer>>& r) {
  ++q->attempt;
  q->timer.cancel();
  releaseAttempt(*q);
  q->owner = nullptr;
  if (auto it = inflight_.find(q->key); it != inflight_.end() && it->second == q) {
    inflight_.erase(it);
  }
  auto waiters = std::move(q->waiters);
  q->waiters.clear();
  for (auto& w : waiters) w(r);
}

}  // namespace vnet::dns
