#include "dhcp/server.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <utility>

namespace vnet::dhcp {
namespace {

constexpr int64_t kForever = std::numeric_limits<int64_t>::max();
constexpr uint32_t kInfiniteLease = 0xffffffff;

// Client identity (RFC 2131 §4.2): option 61 when present, else htype + chaddr.
std::string clientKey(std::span<const uint8_t> client_id, uint8_t htype,
                      std::span<const uint8_t> chaddr) {
  std::string key;
  if (!client_id.empty()) {
    key.reserve(1 + client_id.size());
    key += 'i';
    key.append(client_id.begin(), client_id.end());
  } else {
    key.reserve(2 + chaddr.size());
    key += 'h';
    key += char(htype);
    key.append(chaddr.begin(), chaddr.end());
  }
  return key;
}

std::string leaseKey(const Lease& l) {
  return clientKey(l.client_id, 1, l.mac.bytes());
}

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

// Option 12 is stored (and later published in DNS) only when it is a plain host label.
std::string sanitizeHostname(std::optional<std::string_view> name) {
  if (!name) return {};
  std::string_view n = *name;
  while (!n.empty() && n.back() == '\0') n.remove_suffix(1);  // some clients NUL-terminate
  if (n.empty() || n.size() > 63) return {};
  for (char c : n) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok) return {};
  }
  return std::string(n);
}

void appendIp(std::vector<uint8_t>& out, Ipv4 a) {
  const auto b = a.toBytes();
  out.insert(out.end(), b.begin(), b.end());
}

// RFC 3442 §3: prefix length, significant octets of the destination, then the router.
void appendRoute(std::vector<uint8_t>& out, const ClasslessRoute& r) {
  out.push_back(uint8_t(r.prefix));
  const auto d = Ipv4(r.destination.toUint() & Ipv4::mask(r.prefix).toUint()).toBytes();
  out.insert(out.end(), d.begin(), d.begin() + (r.prefix + 7) / 8);
  appendIp(out, r.gateway);
}

bool inList(std::span<const uint8_t> list, uint8_t code) {
  return std::find(list.begin(), list.end(), code) != list.end();
}

}  // namespace

Clock systemClock() {
  return [] {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
}

const char* dropReasonName(DropReason r) {
  switch (r) {
    case DropReason::kMalformed:
      return "malformed";
    case DropReason::kWrongOp:
      return "wrong_op";
    case DropReason::kNoMessageType:
      return "no_message_type";
    case DropReason::kUnexpectedType:
      return "unexpected_type";
    case DropReason::kRelayed:
      return "relayed";
    case DropReason::kNotForUs:
      return "not_for_us";
    case DropReason::kBadRequest:
      return "bad_request";
    case DropReason::kUnknownLease:
      return "unknown_lease";
    case DropReason::kCount:
      break;
  }
  return "unknown";
}

// ---- configuration ----

Status ServerConfig::validate() const {
  if (prefix < 1 || prefix > 30) return Error::invalid("prefix: must be 1..30");
  const uint32_t mask = Ipv4::mask(prefix).toUint();
  const uint32_t net = subnet.toUint() & mask;
  const uint32_t bcast = net | ~mask;
  auto usable = [&](Ipv4 a) {
    return (a.toUint() & mask) == net && a.toUint() != net && a.toUint() != bcast;
  };
  if (!usable(server_address)) {
    return Error::invalid("server_address: " + server_address.toString() +
                          " is not a host address of the subnet");
  }
  for (size_t i = 0; i < ranges.size(); ++i) {
    const auto& r = ranges[i];
    const std::string where = "ranges[" + std::to_string(i) + "]: ";
    if (r.start > r.end) return Error::invalid(where + "start after end");
    if (!usable(r.start) || !usable(r.end)) {
      return Error::invalid(where + "not inside the subnet's host addresses");
    }
    for (size_t j = 0; j < i; ++j) {
      if (r.start <= ranges[j].end && ranges[j].start <= r.end) {
        return Error::invalid(where + "overlaps ranges[" + std::to_string(j) + "]");
      }
    }
  }
  for (size_t i = 0; i < hosts.size(); ++i) {
    const auto& h = hosts[i];
    const std::string where = "hosts[" + std::to_string(i) + "]: ";
    if (!h.mac && h.client_id.empty()) return Error::invalid(where + "needs a MAC or client id");
    if (!h.client_id.empty() && h.client_id.size() < 2) {
      return Error::invalid(where + "client id shorter than 2 bytes");
    }
    if (!usable(h.ip) || h.ip == server_address) {
      return Error::invalid(where + h.ip.toString() + " is not a usable address of the subnet");
    }
    for (size_t j = 0; j < i; ++j) {
      if (hosts[j].ip == h.ip) {
        return Error::invalid(where + "address also used by hosts[" + std::to_string(j) + "]");
      }
      if (h.mac && hosts[j].mac == h.mac && h.client_id == hosts[j].client_id) {
        return Error::invalid(where + "same identity as hosts[" + std::to_string(j) + "]");
      }
    }
  }
  for (size_t i = 0; i < classless_routes.size(); ++i) {
    if (classless_routes[i].prefix < 0 || classless_routes[i].prefix > 32) {
      return Error::invalid("classless_routes[" + std::to_string(i) + "]: prefix must be 0..32");
    }
  }
  if (mtu && *mtu < 68) return Error::invalid("mtu: must be at least 68 (RFC 2132 §5.1)");
  if (boot_file.size() > 127) return Error::invalid("boot_file: longer than 127 bytes");
  if (domain_name.size() > 255) return Error::invalid("domain_name: longer than 255 bytes");
  return Status::success();
}

// Everything derived from a ServerConfig once, so that handle() only copies bytes.
struct Server::Prepared {
  uint32_t mask = 0;
  uint32_t network = 0;
  uint32_t broadcast = 0;
  std::vector<AddressRange> pool;
  uint64_t pool_size = 0;
  std::unordered_map<std::string, size_t> host_by_key;  // "i"+client id or "h\1"+mac
  std::unordered_map<Ipv4, size_t> host_by_ip;
  // Option bytes sent to every client, in reply order; 121 only when requested (RFC 3442).
  struct Opt {
    uint8_t code;
    std::vector<uint8_t> data;
  };
  std::vector<Opt> options;
  std::array<uint8_t, 128> file{};
  std::array<uint8_t, 4> server_id{};

  bool inSubnet(Ipv4 a) const { return (a.toUint() & mask) == network; }
  Ipv4 poolAt(uint64_t idx) const {
    for (const auto& r : pool) {
      const uint64_t n = uint64_t(r.end.toUint()) - r.start.toUint() + 1;
      if (idx < n) return Ipv4(r.start.toUint() + uint32_t(idx));
      idx -= n;
    }
    return Ipv4();
  }
};

struct Server::Request {
  const Message& msg;
  MessageType type;
  std::string key;
  const StaticHost* host;
  int64_t now;
  Reply& out;  // the reply being built (its buffer is reused)
};

Server::Server(LeaseStore& store, Clock clock) : store_(store), clock_(std::move(clock)) {}
Server::~Server() = default;

Result<std::unique_ptr<Server>> Server::create(ServerConfig config, LeaseStore& store,
                                               Clock clock) {
  std::unique_ptr<Server> s(new Server(store, std::move(clock)));
  VNET_TRY(s->applyConfig(std::move(config)));
  auto leases = store.load();
  if (!leases.ok()) return std::move(leases).error().context("loading leases");
  s->rebuild(*leases);
  return s;
}

void Server::rebuild(const std::vector<Lease>& leases) {
  table_.clear();
  for (const Lease& l : leases) {
    if (table_.find(l.ip) != LeaseTable::kNone) continue;  // the primary key forbids it
    const int64_t until = l.expiry == 0 ? kForever : l.expiry;
    if (l.state == LeaseState::kDeclined) {
      table_.insert(l.ip, LeaseTable::State::kDeclined, {}, l.mac, until);
    } else {
      const LeaseTable::Ref r =
          table_.insert(l.ip, LeaseTable::State::kActive, leaseKey(l), l.mac, until);
      table_.setHostname(r, l.hostname);
      table_.setCurrent(r);
    }
  }
}

Lease Server::leaseAt(LeaseTable::Ref r) const {
  Lease l;
  l.ip = table_.ip(r);
  l.mac = table_.mac(r);
  l.client_id = table_.clientId(r);
  l.hostname.assign(table_.hostname(r));
  const auto st = table_.state(r);
  const int64_t until = table_.until(r);
  l.expiry = st == LeaseTable::State::kOffered || until == kForever ? 0 : until;
  l.state = st == LeaseTable::State::kDeclined ? LeaseState::kDeclined : LeaseState::kActive;
  return l;
}

Status Server::reconfigure(ServerConfig config) {
  return applyConfig(std::move(config));
}

Status Server::applyConfig(ServerConfig config) {
  VNET_TRY(config.validate());
  auto p = std::make_unique<Prepared>();
  p->mask = Ipv4::mask(config.prefix).toUint();
  p->network = config.subnet.toUint() & p->mask;
  p->broadcast = p->network | ~p->mask;
  p->pool = config.ranges;
  for (const auto& r : p->pool) p->pool_size += uint64_t(r.end.toUint()) - r.start.toUint() + 1;
  for (size_t i = 0; i < config.hosts.size(); ++i) {
    const auto& h = config.hosts[i];
    if (!h.client_id.empty()) {
      p->host_by_key.emplace(clientKey(h.client_id, 1, {}), i);
    } else {
      p->host_by_key.emplace(clientKey({}, 1, h.mac->bytes()), i);
    }
    p->host_by_ip.emplace(h.ip, i);
  }
  auto add = [&](uint8_t code, std::vector<uint8_t> data) {
    p->options.push_back(Prepared::Opt{code, std::move(data)});
  };
  {
    std::vector<uint8_t> d;
    appendIp(d, Ipv4(p->mask));
    add(opt::kSubnetMask, std::move(d));
  }
  {
    std::vector<uint8_t> d;
    appendIp(d, config.broadcast_address.value_or(Ipv4(p->broadcast)));
    add(opt::kBroadcastAddress, std::move(d));
  }
  if (!config.routers.empty()) {
    std::vector<uint8_t> d;
    for (Ipv4 r : config.routers) appendIp(d, r);
    add(opt::kRouter, std::move(d));
  }
  if (!config.dns_servers.empty()) {
    std::vector<uint8_t> d;
    for (Ipv4 r : config.dns_servers) appendIp(d, r);
    add(opt::kDnsServers, std::move(d));
  }
  if (!config.domain_name.empty()) {
    add(opt::kDomainName,
        std::vector<uint8_t>(config.domain_name.begin(), config.domain_name.end()));
  }
  if (config.mtu) {
    add(opt::kInterfaceMtu, {uint8_t(*config.mtu >> 8), uint8_t(*config.mtu)});
  }
  if (!config.classless_routes.empty()) {
    std::vector<uint8_t> d;
    bool has_default = false;
    for (const auto& r : config.classless_routes) {
      appendRoute(d, r);
      has_default = has_default || r.prefix == 0;
    }
    // RFC 3442 §3: a client that gets option 121 ignores option 3, so the default route
    // must travel inside 121 too.
    if (!has_default && !config.routers.empty()) {
      appendRoute(d, ClasslessRoute{Ipv4(), 0, config.routers.front()});
    }
    add(opt::kClasslessRoutes, std::move(d));
  }
  std::copy_n(config.boot_file.begin(), std::min<size_t>(config.boot_file.size(), 127),
              p->file.begin());
  p->server_id = config.server_address.toBytes();
  prepared_ = std::move(p);
  config_ = std::move(config);
  return Status::success();
}

// ---- bookkeeping ----

void Server::reclaimIfExpired(Ipv4 ip, int64_t now) {
  const LeaseTable::Ref r = table_.find(ip);
  if (r == LeaseTable::kNone || table_.until(r) > now) return;
  const auto st = table_.state(r);
  if (st == LeaseTable::State::kActive) {
    ++stats_.expired;
    emit(LeaseEvent::Kind::kExpired, leaseAt(r));
  }
  if (st != LeaseTable::State::kOffered) store_.stageErase(ip);
  table_.erase(r);
}

size_t Server::expire(int64_t now) {
  std::vector<Ipv4> due;
  table_.forEach([&](LeaseTable::Ref r) {
    if (table_.until(r) <= now) due.push_back(table_.ip(r));
  });
  std::sort(due.begin(), due.end());
  const uint64_t before = stats_.expired;
  for (Ipv4 ip : due) reclaimIfExpired(ip, now);
  return size_t(stats_.expired - before);
}

void Server::emit(LeaseEvent::Kind kind, const Lease& lease) {
  if (observer_) pending_events_.push_back(LeaseEvent{kind, lease});
}

Status Server::commit() {
  Status s = store_.commit();
  if (!s.ok()) {
    ++stats_.commit_failures;
    pending_events_.clear();
    // Memory is ahead of the store now: rebuild it from what is durable. Offers are lost,
    // which only costs the affected clients a retransmission.
    auto leases = store_.load();
    if (leases.ok()) rebuild(*leases);
    return s;
  }
  if (pending_events_.empty()) return s;
  // Swapped with a kept buffer, so that delivering events allocates nothing in the steady
  // state; an observer may not call back into the server.
  delivering_.swap(pending_events_);
  for (const auto& e : delivering_) observer_(e);
  delivering_.clear();
  return s;
}

std::vector<Lease> Server::leases() const {
  std::vector<LeaseTable::Ref> active;
  table_.forEach([&](LeaseTable::Ref r) {
    if (table_.state(r) == LeaseTable::State::kActive) active.push_back(r);
  });
  std::sort(active.begin(), active.end(),
            [this](LeaseTable::Ref a, LeaseTable::Ref b) { return table_.ip(a) < table_.ip(b); });
  std::vector<Lease> out;
  out.reserve(active.size());
  for (LeaseTable::Ref r : active) out.push_back(leaseAt(r));
  return out;
}

size_t Server::leaseCount() const {
  size_t n = 0;
  table_.forEach([&](LeaseTable::Ref r) { n += table_.state(r) == LeaseTable::State::kActive; });
  return n;
}

bool Server::inPool(Ipv4 ip) const {
  for (const auto& r : prepared_->pool) {
    if (r.start <= ip && ip <= r.end) return true;
  }
  return false;
}

const StaticHost* Server::staticHostFor(const Request& req) const {
  const auto& by_key = prepared_->host_by_key;
  if (by_key.empty()) return nullptr;
  if (auto cid = req.msg.clientId()) {
    if (auto it = by_key.find(clientKey(*cid, 1, {})); it != by_key.end()) {
      return &config_.hosts[it->second];
    }
  }
  if (req.msg.isEthernet()) {
    const auto mac = std::span<const uint8_t>(req.msg.chaddr).first(6);
    if (auto it = by_key.find(clientKey({}, 1, mac)); it != by_key.end()) {
      return &config_.hosts[it->second];
    }
  }
  return nullptr;
}

uint32_t Server::leaseSecondsFor(const StaticHost* host) const {
  return host && host->lease_seconds ? *host->lease_seconds : config_.lease_seconds;
}

// True when ip may be leased to the client of req now: a host address of our subnet, not
// ours, not another client's (offer, lease, static reservation) and not quarantined.
bool Server::assignable(const Request& req, Ipv4 ip) {
  const Prepared& p = *prepared_;
  if (!p.inSubnet(ip) || ip.toUint() == p.network || ip.toUint() == p.broadcast ||
      ip == config_.server_address) {
    return false;
  }
  if (req.host) {
    if (req.host->ip != ip) return false;  // a static host gets its address and no other
  } else {
    if (p.host_by_ip.contains(ip)) return false;  // reserved for a static host
    if (!inPool(ip)) return false;
  }
  reclaimIfExpired(ip, req.now);
  const LeaseTable::Ref r = table_.find(ip);
  if (r == LeaseTable::kNone) return true;
  return table_.state(r) != LeaseTable::State::kDeclined && table_.ownedBy(r, req.key);
}

// Address choice (RFC 2131 §4.3.1): the static reservation; else the client's current offer
// or lease; else the address it asks for (option 50); else a stable start point hashed from
// the client identity, then the next free address. The hash keeps a client on the same
// address even after the lease database is lost.
std::optional<Ipv4> Server::chooseAddress(const Request& req) {
  if (req.host) {
    if (assignable(req, req.host->ip)) return req.host->ip;
    return std::nullopt;
  }
  if (const LeaseTable::Ref r = table_.findClient(req.key); r != LeaseTable::kNone) {
    const Ipv4 current = table_.ip(r);  // assignable() may reclaim it and invalidate r
    if (assignable(req, current)) return current;
  }
  if (auto want = req.msg.requestedIp(); want && assignable(req, *want)) return *want;
  const uint64_t n = prepared_->pool_size;
  if (n == 0) return std::nullopt;
  const uint64_t start = fnv1a(req.key) % n;
  for (uint64_t i = 0; i < n; ++i) {
    const Ipv4 ip = prepared_->poolAt((start + i) % n);
    if (assignable(req, ip)) return ip;
  }
  return std::nullopt;
}

// ---- replies ----

bool Server::makeReply(Request& req, MessageType type, Ipv4 yiaddr, uint32_t lease_seconds,
                       const StaticHost* host) {
  const Message& in = req.msg;
  const Prepared& p = *prepared_;
  const bool nak = type == MessageType::kNak;
  const bool inform = req.type == MessageType::kInform;
  // A kept message, so that its option buffers are reused from reply to reply.
  Message& out = reply_msg_;
  out.op = kBootReply;
  out.htype = in.htype;
  out.hlen = in.hlen;
  out.hops = 0;
  out.xid = in.xid;
  out.secs = 0;
  out.flags = in.flags;
  out.ciaddr = Ipv4();
  out.yiaddr = Ipv4();
  out.siaddr = Ipv4();
  out.giaddr = in.giaddr;
  out.chaddr = in.chaddr;
  out.sname.fill(0);
  out.file.fill(0);
  out.options.clear();
  // RFC 2131 §4.3.1 Table 3.
  if (!nak) {
    if (type == MessageType::kAck) out.ciaddr = in.ciaddr;
    out.yiaddr = yiaddr;
    out.siaddr = config_.next_server.value_or(Ipv4());
    out.file = p.file;
  }
  out.options.reserve(16, 128);
  out.setMessageType(type);
  out.options.set(opt::kServerId, p.server_id);
  if (nak) {
    static constexpr std::string_view kText = "address not available";
    out.options.set(opt::kMessage,
                    std::span(reinterpret_cast<const uint8_t*>(kText.data()), kText.size()));
  } else {
    const auto prl = in.parameterRequestList();
    // RFC 2131 §4.3.1: send the parameters the client asked for; without a list, all.
    auto wanted = [&](uint8_t code) { return !prl || inList(*prl, code); };
    if (!inform) {
      // RFC 2131 §4.3.1 Table 3: lease time MUST be in OFFER and ACK (not INFORM);
      // T1/T2 per §4.4.5 (0.5 and 0.875 of the lease) unless the lease is infinite.
      if (lease_seconds == 0) {
        out.setU32(opt::kLeaseTime, kInfiniteLease);
      } else {
        out.setU32(opt::kLeaseTime, lease_seconds);
        out.setU32(opt::kRenewalTime, lease_seconds / 2);
        out.setU32(opt::kRebindingTime, uint32_t(uint64_t(lease_seconds) * 7 / 8));
      }
    }
    for (const auto& o : p.options) {
      if (o.code == opt::kSubnetMask ||
          (o.code == opt::kClasslessRoutes ? prl && wanted(o.code) : wanted(o.code))) {
        out.options.set(o.code, o.data);
      }
    }
    if (host && !host->hostname.empty() && wanted(opt::kHostName)) {
      out.options.set(opt::kHostName,
                      std::span(reinterpret_cast<const uint8_t*>(host->hostname.data()),
                                host->hostname.size()));
    }
  }
  // RFC 6842 §3: echo the client identifier unaltered.
  if (auto cid = in.options.get(opt::kClientId)) out.options.set(opt::kClientId, *cid);

  Reply& reply = req.out;
  reply.type = type;
  reply.requires_commit = false;
  reply.destination = Destination{};
  serializeInto(out, in.maxMessageSize().value_or(kMinMaxMessageSize), reply.bytes);
  // RFC 2131 §4.1 (giaddr is zero: relayed requests were dropped before):
  //  - NAK: broadcast;
  //  - ciaddr set: unicast to ciaddr;
  //  - broadcast bit set: broadcast;
  //  - else unicast to the client's hardware address and yiaddr.
  Destination& d = reply.destination;
  if (nak) {
    d.kind = Destination::Kind::kBroadcast;
  } else if (in.ciaddr != Ipv4()) {
    d.kind = Destination::Kind::kUnicast;
    d.ip = in.ciaddr;
  } else if (in.broadcastFlag() || !in.isEthernet() || yiaddr == Ipv4()) {
    d.kind = Destination::Kind::kBroadcast;
  } else {
    d.kind = Destination::Kind::kUnicastHardware;
    d.ip = yiaddr;
    d.mac = in.mac();
  }
  return true;
}

bool Server::nak(Request& req, const char* /*why*/) {
  ++stats_.naks;
  return makeReply(req, MessageType::kNak, Ipv4(), 0, nullptr);
}

bool Server::ack(Request& req, Ipv4 ip, bool renewal) {
  const uint32_t secs = leaseSecondsFor(req.host);
  // assignable(req, ip) held: the record at ip is absent or this client's.
  LeaseTable::Ref r = table_.find(ip);
  const bool was_ours = r != LeaseTable::kNone && table_.state(r) == LeaseTable::State::kActive &&
                        table_.ownedBy(r, req.key);
  // A client switching address gives up its previous offer or lease.
  if (const LeaseTable::Ref o = table_.findClient(req.key);
      o != LeaseTable::kNone && table_.ip(o) != ip) {
    const Ipv4 old = table_.ip(o);
    if (table_.state(o) == LeaseTable::State::kActive) {
      store_.stageErase(old);
      emit(LeaseEvent::Kind::kReleased, leaseAt(o));
    }
    table_.erase(o);
  }
  const int64_t until = secs == 0 ? kForever : req.now + secs;
  if (r == LeaseTable::kNone) {
    r = table_.insert(ip, LeaseTable::State::kActive, req.key,
                      req.msg.isEthernet() ? req.msg.mac() : Mac(), until);
  } else {
    table_.setState(r, LeaseTable::State::kActive);
    table_.setUntil(r, until);
    if (req.msg.isEthernet()) table_.setMac(r, req.msg.mac());
  }
  if (const auto name = sanitizeHostname(req.msg.hostname()); !name.empty() || !renewal) {
    table_.setHostname(r, name);
  }
  table_.setCurrent(r);
  const Lease lease = leaseAt(r);
  store_.stage(lease);
  emit(was_ours ? LeaseEvent::Kind::kRenewed : LeaseEvent::Kind::kGranted, lease);
  ++stats_.acks;
  makeReply(req, MessageType::kAck, ip, secs, req.host);
  req.out.requires_commit = true;
  return true;
}

// ---- message handlers ----

std::optional<Reply> Server::handle(std::span<const uint8_t> packet, const RxInfo& rx) {
  Reply reply;
  if (!handleInto(packet, rx, reply)) return std::nullopt;
  return reply;
}

bool Server::handleInto(std::span<const uint8_t> packet, const RxInfo& /*rx*/, Reply& out) {
  // A kept message: parsing reuses its option buffers.
  Message& msg = request_msg_;
  if (!parseInto(packet, msg).ok()) {
    ++stats_.received[0];
    drop(DropReason::kMalformed);
    return false;
  }
  const auto type = msg.messageType();
  ++stats_.received[type ? size_t(*type) : 0];
  if (msg.op != kBootRequest) {
    drop(DropReason::kWrongOp);
    return false;
  }
  if (!type) {
    drop(DropReason::kNoMessageType);  // BOOTP (RFC 951) clients are not served
    return false;
  }
  if (msg.giaddr != Ipv4()) {
    drop(DropReason::kRelayed);
    return false;
  }
  const auto cid = msg.clientId();
  Request req{msg,
              *type,
              clientKey(cid.value_or(std::span<const uint8_t>()), msg.htype,
                        std::span<const uint8_t>(msg.chaddr).first(msg.hlen)),
              nullptr,
              clock_(),
              out};
  req.host = staticHostFor(req);
  switch (*type) {
    case MessageType::kDiscover:
      return onDiscover(req);
    case MessageType::kRequest:
      return onRequest(req);
    case MessageType::kDecline:
      return onDecline(req);
    case MessageType::kRelease:
      return onRelease(req);
    case MessageType::kInform:
      return onInform(req);
    case MessageType::kOffer:
    case MessageType::kAck:
    case MessageType::kNak:
      break;
  }
  drop(DropReason::kUnexpectedType);
  return false;
}

// RFC 2131 §4.3.1: DHCPDISCOVER -> DHCPOFFER, reserving the address for offer_hold_seconds.
bool Server::onDiscover(Request& req) {
  const auto ip = chooseAddress(req);
  if (!ip) {
    ++stats_.pool_exhausted;
    return false;
  }
  // Drop an older offer of this client at another address.
  if (const LeaseTable::Ref o = table_.findClient(req.key);
      o != LeaseTable::kNone && table_.ip(o) != *ip &&
      table_.state(o) == LeaseTable::State::kOffered) {
    table_.erase(o);
  }
  LeaseTable::Ref r = table_.find(*ip);
  if (r == LeaseTable::kNone || table_.state(r) != LeaseTable::State::kActive ||
      !table_.ownedBy(r, req.key)) {
    if (r != LeaseTable::kNone) table_.erase(r);
    r = table_.insert(*ip, LeaseTable::State::kOffered, req.key, req.msg.mac(),
                      req.now + config_.offer_hold_seconds);
  }
  table_.setCurrent(r);
  ++stats_.offers;
  return makeReply(req, MessageType::kOffer, *ip, leaseSecondsFor(req.host), req.host);
}

bool Server::onRequest(Request& req) {
  const Message& m = req.msg;
  const auto server_id = m.serverId();
  const auto requested = m.requestedIp();
  if (server_id) {
    // RFC 2131 §4.3.2 SELECTING: the client chose the server named in option 54.
    if (*server_id != config_.server_address) {
      // It chose another server: our offer is free again.
      if (const LeaseTable::Ref o = table_.findClient(req.key);
          o != LeaseTable::kNone && table_.state(o) == LeaseTable::State::kOffered) {
        table_.erase(o);
      }
      drop(DropReason::kNotForUs);
      return false;
    }
    // 'requested IP address' MUST be filled in; tolerate clients that use ciaddr.
    const Ipv4 ip = requested.value_or(m.ciaddr);
    if (ip == Ipv4()) {
      drop(DropReason::kBadRequest);
      return false;
    }
    if (!assignable(req, ip)) return nak(req, "selected address not available");
    return ack(req, ip, false);
  }
  if (requested && m.ciaddr == Ipv4()) {
    // RFC 2131 §4.3.2 INIT-REBOOT: the client verifies a remembered address. We are
    // authoritative for the subnet: NAK a wrong subnet or somebody else's address, and ACK a
    // free one even without a record (the lease database may have been lost).
    if (!prepared_->inSubnet(*requested)) return nak(req, "wrong network");
    if (!assignable(req, *requested)) return nak(req, "address not available");
    return ack(req, *requested, false);
  }
  if (m.ciaddr != Ipv4()) {
    // RFC 2131 §4.3.2 RENEWING (unicast) and REBINDING (broadcast): extend the lease on
    // ciaddr. Authoritative: NAK an address the client may not have, so that it restarts.
    if (!assignable(req, m.ciaddr)) return nak(req, "address not available");
    return ack(req, m.ciaddr, true);
  }
  drop(DropReason::kBadRequest);
  return false;
}

// RFC 2131 §4.3.3: the client found the address in use. Quarantine it; no reply.
bool Server::onDecline(Request& req) {
  const auto server_id = req.msg.serverId();
  if (server_id && *server_id != config_.server_address) {
    drop(DropReason::kNotForUs);
    return false;
  }
  const auto ip = req.msg.requestedIp();
  const LeaseTable::Ref r = ip ? table_.find(*ip) : LeaseTable::kNone;
  if (r == LeaseTable::kNone || !table_.ownedBy(r, req.key) ||
      table_.state(r) == LeaseTable::State::kDeclined) {
    drop(DropReason::kUnknownLease);
    return false;
  }
  if (table_.state(r) == LeaseTable::State::kActive) {
    emit(LeaseEvent::Kind::kDeclined, leaseAt(r));
  }
  table_.erase(r);
  const LeaseTable::Ref q = table_.insert(*ip, LeaseTable::State::kDeclined, {}, Mac(),
                                          req.now + config_.decline_quarantine_seconds);
  store_.stage(leaseAt(q));
  ++stats_.declines;
  return false;
}

// RFC 2131 §4.3.4: the client gives its lease (ciaddr) back; no reply.
bool Server::onRelease(Request& req) {
  const auto server_id = req.msg.serverId();
  if (server_id && *server_id != config_.server_address) {
    drop(DropReason::kNotForUs);
    return false;
  }
  const Ipv4 ip = req.msg.ciaddr;
  const LeaseTable::Ref r = table_.find(ip);
  if (r == LeaseTable::kNone || !table_.ownedBy(r, req.key) ||
      table_.state(r) != LeaseTable::State::kActive) {
    drop(DropReason::kUnknownLease);
    return false;
  }
  emit(LeaseEvent::Kind::kReleased, leaseAt(r));
  store_.stageErase(ip);
  table_.erase(r);
  ++stats_.releases;
  return false;
}

// RFC 2131 §4.3.5: configuration only. DHCPACK without lease time and without yiaddr,
// unicast to ciaddr (broadcast when the client left ciaddr empty).
bool Server::onInform(Request& req) {
  ++stats_.acks;
  return makeReply(req, MessageType::kAck, Ipv4(), 0, req.host);
}

}  // namespace vnet::dhcp
