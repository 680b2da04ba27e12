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
constexpr size_t kUdpBufferSize = 65535;
constexpr auto kResolvCheckInterval = std::chrono::seconds(1);

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

struct Forwarder::Query {
  explicit Query(asio::io_context& io) : timer(io), buf(kUdpBufferSize) {}

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
  std::unique_ptr<udp::socket> udpSocket;
  std::unique_ptr<tcp::socket> tcpSocket;
  udp::endpoint server;
  udp::endpoint from;
  asio::steady_timer timer;
  std::vector<uint8_t> buf;
  std::vector<UpstreamCallback> waiters;
  std::shared_ptr<UpstreamAnswer> fallback;  // a SERVFAIL/REFUSED kept while trying others

  void closeSockets() {
    boost::system::error_code ignored;
    if (udpSocket) udpSocket->close(ignored);
    if (tcpSocket) tcpSocket->close(ignored);
  }
};

Forwarder::Forwarder(asio::io_context& io, ForwarderConfig config)
    : io_(io), config_(std::move(config)) {
  refreshResolvConf();
  rebuildGroups();
}

Forwarder::~Forwarder() {
  for (auto& [key, q] : inflight_) {
    q->owner = nullptr;
    q->waiters.clear();
    q->timer.cancel();
    q->closeSockets();
  }
  *alive_ = false;
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
  q->closeSockets();
  q->udpSocket.reset();
  q->tcpSocket.reset();
  if (q->index >= q->servers.size()) {
    if (q->fallback) {
      finish(q, std::shared_ptr<const UpstreamAnswer>(q->fallback));
    } else {
      ++counters_.failures;
      finish(q, Error("no upstream server answered for " + q->question.name.toString()));
    }
    return;
  }
  q->id = uint16_t(randomU32());
  q->packet = buildQuery(q->id, q->question, q->useEdns, config_.ednsUdpSize, q->dnssecOk);
  const UpstreamServer& s = q->servers[q->index];
  q->server = udp::endpoint(toAsio(s.address), s.port);
  auto sock = std::make_unique<udp::socket>(io_);
  boost::system::error_code ec;
  sock->open(q->server.protocol(), ec);
  if (!ec) bindRandomPort(*sock, q->server.protocol(), ec);
  // connect(): the kernel then only delivers datagrams from the server's address and port.
  if (!ec) sock->connect(q->server, ec);
  if (!ec) sock->non_blocking(true, ec);
  if (!ec) sock->send(asio::buffer(q->packet), 0, ec);
  if (ec) return nextServer(q);
  ++counters_.upstreamQueries;
  q->udpSocket = std::move(sock);
  armTimer(q);
  receiveUdp(q);
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

void Forwarder::receiveUdp(const std::shared_ptr<Query>& q) {
  q->udpSocket->async_receive_from(
      asio::buffer(q->buf), q->from,
      [q, attempt = q->attempt](const boost::system::error_code& ec, size_t n) {
        Forwarder* self = q->owner;
        if (self == nullptr || attempt != q->attempt || ec == asio::error::operation_aborted) {
          return;
        }
        // ICMP port unreachable (ECONNREFUSED) and other socket errors: next server.
        if (ec) return self->nextServer(q);
        const std::span<const uint8_t> wire(q->buf.data(), n);
        auto layout = scanMessage(wire);
        if (q->from != q->server || !layout.ok() || !self->matches(*q, *layout)) {
          // RFC 5452 §9.1: a non-matching answer is ignored; keep waiting for the real one.
          ++self->counters_.badResponses;
          return self->receiveUdp(q);
        }
        self->onAnswer(q, std::vector<uint8_t>(wire.begin(), wire.end()), std::move(*layout),
                       false);
      });
}

void Forwarder::startTcp(const std::shared_ptr<Query>& q) {
  ++q->attempt;
  q->closeSockets();
  q->udpSocket.reset();
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
                                 asio::async_read(
                                     *q->tcpSocket, asio::buffer(q->buf.data(), len),
                                     [q, alive, len](const boost::system::error_code& ec4, size_t) {
                                       Forwarder* self = alive(ec4);
                                       if (self == nullptr) return;
                                       const std::span<const uint8_t> wire(q->buf.data(), len);
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
  q->closeSockets();
  q->owner = nullptr;
  if (auto it = inflight_.find(q->key); it != inflight_.end() && it->second == q) {
    inflight_.erase(it);
  }
  auto waiters = std::move(q->waiters);
  q->waiters.clear();
  for (auto& w : waiters) w(r);
}

}  // namespace vnet::dns
