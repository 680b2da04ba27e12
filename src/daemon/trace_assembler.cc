#include "daemon/trace_assembler.h"

#include <netinet/in.h>

#include <algorithm>

#include "base/bytes.h"

namespace vnet::daemon {
namespace {

constexpr const char* kArrow = "\xe2\x86\x92";  // →

std::string protoName(uint8_t p) {
  switch (p) {
    case IPPROTO_ICMP:
      return "icmp";
    case IPPROTO_TCP:
      return "tcp";
    case IPPROTO_UDP:
      return "udp";
    case IPPROTO_ICMPV6:
      return "ipv6-icmp";
    case IPPROTO_SCTP:
      return "sctp";
    default:
      return std::to_string(p);
  }
}

std::string tcpFlags(uint8_t f) {
  static constexpr std::pair<uint8_t, char> kFlags[] = {{0x02, 'S'}, {0x10, 'A'}, {0x01, 'F'},
                                                        {0x04, 'R'}, {0x08, 'P'}, {0x20, 'U'}};
  std::string s;
  for (auto [bit, c] : kFlags) {
    if (f & bit) s += c;
  }
  return s.empty() ? "." : s;
}

bool isIcmp(uint8_t p) {
  return p == IPPROTO_ICMP || p == IPPROTO_ICMPV6;
}

struct Parsing {
  ParsedPacket& out;
  uint32_t l4identity = 0;
};

void parseTransport(uint8_t proto, std::span<const uint8_t> transport, Parsing& p,
                    const IpAddress& src, const IpAddress& dst) {
  ParsedPacket& out = p.out;
  uint32_t& l4identity = p.l4identity;
  ByteReader r(transport);
  kernel::FlowTuple t{src, dst, proto};
  if (proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP) {
    uint16_t sport = r.u16();
    uint16_t dport = r.u16();
    if (!r.ok()) return;
    out.info.sport = sport;
    out.info.dport = dport;
    t.sport = sport;
    t.dport = dport;
    if (proto == IPPROTO_TCP) {
      ByteReader f(transport);
      f.skip(4);
      l4identity = f.u32();  // sequence number
      f.skip(5);
      uint8_t flags = f.u8();
      if (f.ok()) out.info.tcpFlags = tcpFlags(flags);
    } else if (proto == IPPROTO_UDP) {
      l4identity = r.u16();  // length
    }
    out.tuple = t;
  } else if (isIcmp(proto)) {
    uint8_t type = r.u8();
    uint8_t code = r.u8();
    if (!r.ok()) return;
    out.info.icmpType = type;
    out.info.icmpCode = code;
    t.icmpType = type;
    t.icmpCode = code;
    r.skip(2);  // checksum
    uint16_t id = r.u16();
    uint16_t seq = r.u16();
    bool echo = proto == IPPROTO_ICMP ? (type == 0 || type == 8) : (type == 128 || type == 129);
    if (r.ok() && echo) {
      out.info.icmpId = id;
      out.info.icmpSeq = seq;
      t.sport = id;
      out.tuple = t;
      l4identity = uint32_t{type} << 16 | seq;  // NAT may change the id, not the sequence
    }
  }
}

std::string endpoint(const IpAddress& a, uint8_t proto, uint16_t port) {
  if (isIcmp(proto) || port == 0) return a.toString();
  return (a.isV6() ? "[" + a.toString() + "]" : a.toString()) + ":" + std::to_string(port);
}

}  // namespace

ParsedPacket parsePacket(std::span<const uint8_t> network, std::span<const uint8_t> transport) {
  ParsedPacket out;
  ByteReader r(network);
  uint8_t first = r.u8();
  if (!r.ok()) return out;
  if ((first >> 4) == 4) {
    size_t ihl = size_t{first & 0x0Fu} * 4;
    r.skip(1);
    uint16_t total = r.u16();
    uint16_t ipId = r.u16();
    r.skip(3);  // flags/fragment offset, ttl
    uint8_t proto = r.u8();
    r.skip(2);
    auto src = r.bytes(4);
    auto dst = r.bytes(4);
    if (!r.ok() || ihl < 20) return out;
    IpAddress s = Ipv4::fromBytes(src.data()), d = Ipv4::fromBytes(dst.data());
    out.info.family = "ipv4";
    out.info.src = s.toString();
    out.info.dst = d.toString();
    out.info.proto = protoName(proto);
    out.info.length = total;
    // A later fragment carries no transport header of its own.
    ByteReader frag(network);
    frag.skip(6);
    bool laterFragment = (frag.u16() & 0x1FFF) != 0;
    Parsing p{out};
    if (!laterFragment) parseTransport(proto, transport, p, s, d);
    out.identity =
        (uint64_t{proto} << 56) ^ (uint64_t{ipId} << 40) ^ (uint64_t{total} << 24) ^ p.l4identity;
  } else if ((first >> 4) == 6) {
    uint32_t flowHigh = r.u8() & 0x0Fu;
    uint32_t flow = (flowHigh << 16) | r.u16();
    uint16_t payload = r.u16();
    uint8_t next = r.u8();
    r.skip(1);
    auto src = r.bytes(16);
    auto dst = r.bytes(16);
    if (!r.ok()) return out;
    Ipv6::Bytes sb{}, db{};
    std::copy(src.begin(), src.end(), sb.begin());
    std::copy(dst.begin(), dst.end(), db.begin());
    IpAddress s = Ipv6(sb), d = Ipv6(db);
    out.info.family = "ipv6";
    out.info.src = s.toString();
    out.info.dst = d.toString();
    out.info.proto = protoName(next);
    out.info.length = payload + 40u;
    // With extension headers the next header names the first extension, not the
    // transport protocol; the transport bytes are then left unparsed.
    Parsing p{out};
    parseTransport(next, transport, p, s, d);
    out.identity =
        (uint64_t{next} << 56) ^ (uint64_t{flow} << 36) ^ (uint64_t{payload} << 20) ^ p.l4identity;
  }
  return out;
}

api::TraceFate fateOf(const std::vector<api::TraceStep>& steps) {
  api::TraceFate f;
  for (const auto& s : steps) {
    if (!s.oif.empty()) f.oif = s.oif;
    const char* decided = s.verdict == "drop"     ? "dropped"
                          : s.verdict == "queue"  ? "queued"
                          : s.verdict == "stolen" ? "stolen"
                                                  : nullptr;
    if (!decided || s.kind == "return") continue;
    f.verdict = decided;
    f.hook = s.hook;
    f.family = s.family;
    f.table = s.table;
    f.chain = s.chain;
    f.by = s.kind;
    f.rule = s.rule;
    f.handle = s.handle;
    f.oif.clear();
    return f;
  }
  return f;
}

std::optional<api::TraceNat> natFromConntrack(const kernel::FlowTuple& original,
                                              const kernel::ConntrackEntry& entry,
                                              const std::string& oif) {
  const kernel::FlowTuple& o = entry.original;
  const kernel::FlowTuple& r = entry.reply;
  // The reply is addressed to where the packet appeared to come from after NAT. For ICMP
  // only the addresses are known (the reply tuple's echo id is not).
  const bool icmp = isIcmp(o.proto);
  bool srcChanged = r.dst != o.src || (!icmp && r.dport != o.sport);
  bool dstChanged = r.src != o.dst || (!icmp && r.sport != o.dport);
  std::string flow = original.src.toString() + " " + kArrow + " " + original.dst.toString();
  if (srcChanged) {
    std::string after = endpoint(r.dst, o.proto, r.dport);
    std::string before = endpoint(o.src, o.proto, o.sport);
    std::string where = oif.empty() ? "the host" : oif;
    return api::TraceNat{"snat", before, after, oif,
                         flow + " leaves " + where + " as " + after + " (source NAT by conntrack)"};
  }
  if (dstChanged) {
    std::string after = endpoint(r.src, o.proto, icmp ? 0 : r.sport);
    return api::TraceNat{"dnat", endpoint(o.dst, o.proto, o.dport), after, oif,
                         flow + " is sent on to " + after + " (destination NAT by conntrack)"};
  }
  return std::nullopt;
}

std::vector<api::TraceNat> natFromHeaders(const ParsedPacket& first, const ParsedPacket& last,
                                          const std::string& lastHook) {
  std::vector<api::TraceNat> out;
  const auto& a = first.info;
  const auto& b = last.info;
  if (a.family.empty() || a.family != b.family) return out;
  std::string at = lastHook.empty() ? "" : " (seen at " + lastHook + ")";
  if (a.dst != b.dst || a.dport != b.dport) {
    auto ep = [](const api::PacketInfo& p) {
      return p.dport
                 ? (p.family == "ipv6" ? "[" + p.dst + "]" : p.dst) + ":" + std::to_string(*p.dport)
                 : p.dst;
    };
    out.push_back({"dnat", ep(a), ep(b), lastHook,
                   a.src + " " + kArrow + " " + ep(a) + " is delivered to " + ep(b) + at});
  }
  if (a.src != b.src || a.sport != b.sport) {
    out.push_back({"snat", a.src, b.src, lastHook, "source " + a.src + " became " + b.src + at});
  }
  return out;
}

namespace {

// The order in which a packet entering the host meets the hooks.
int hookRank(const std::string& hook) {
  if (hook == "prerouting" || hook == "ingress") return 0;
  if (hook == "input" || hook == "forward") return 1;
  if (hook == "output") return 2;
  if (hook == "postrouting") return 3;
  return -1;
}

}  // namespace

TraceAssembler::Open* TraceAssembler::continued(const kernel::TraceEvent& e,
                                                const ParsedPacket& parsed, Clock::time_point now) {
  if (!parsed.identity || hookRank(e.hook) < 0) return nullptr;
  const std::string base = e.family + " " + e.table + " " + e.chain;
  for (auto it = packets_.rbegin(); it != packets_.rend(); ++it) {
    Open& o = *it;
    if (o.done || now - o.last >= settle_ || !o.latest || o.latest->identity != parsed.identity) {
      continue;
    }
    if (hookRank(o.lastHook) > hookRank(e.hook)) continue;
    if (std::find(o.baseChains.begin(), o.baseChains.end(), base) != o.baseChains.end()) continue;
    const auto& a = o.latest->info;
    if (a.src == parsed.info.src || a.dst == parsed.info.dst) return &o;
  }
  return nullptr;
}

void TraceAssembler::add(const kernel::TraceEvent& e, Clock::time_point now) {
  const std::string base = e.family + " " + e.table + " " + e.chain;
  std::optional<ParsedPacket> parsed;
  if (!e.network.empty()) parsed = parsePacket(e.network, e.transport);

  Open* p = nullptr;
  for (auto it = packets_.rbegin(); it != packets_.rend() && !p; ++it) {
    if (!it->done && std::find(it->ids.begin(), it->ids.end(), e.id) != it->ids.end()) p = &*it;
  }
  if (p && e.hasPacket && !e.hook.empty() &&
      std::find(p->baseChains.begin(), p->baseChains.end(), base) != p->baseChains.end()) {
    p->done = true;  // the same id passing a base chain again: the next packet
    p = nullptr;
  }
  if (!p && parsed && e.hasPacket) {
    p = continued(e, *parsed, now);
    if (p) p->ids.push_back(e.id);
  }
  if (!p) {
    packets_.push_back(Open{});
    p = &packets_.back();
    p->ids.push_back(e.id);
  }
  p->last = now;

  const std::string tableKey = e.family + " " + e.table;
  if (!e.hook.empty()) {
    p->hookOf[tableKey] = e.hook;
    if (e.hasPacket) p->baseChains.push_back(base);
  }
  if (parsed) {
    if (!p->first) p->first = parsed;
    p->latest = std::move(parsed);
    p->lastHook = e.hook.empty() ? p->lastHook : e.hook;
  }
  // Recent kernels also report a rule event without a rule (the end of a base chain's
  // rules before its policy); like `nft monitor trace`, it is not shown.
  if (e.type == kernel::TraceEvent::Type::Rule && e.handle == 0) return;

  api::TraceStep s;
  auto hook = p->hookOf.find(tableKey);
  s.hook = e.hook.empty() ? (hook != p->hookOf.end() ? hook->second : "") : e.hook;
  s.family = e.family;
  s.table = e.table;
  s.chain = e.chain;
  s.priority = e.priority;
  s.kind = e.type == kernel::TraceEvent::Type::Rule     ? "rule"
           : e.type == kernel::TraceEvent::Type::Policy ? "policy"
                                                        : "return";
  s.handle = e.handle;
  s.rule = e.rule;
  s.verdict = e.verdict;
  s.target = e.target;
  s.iif = e.iif;
  s.oif = e.oif;
  s.ours = e.ourTable;
  s.trace = e.traceId != 0;
  p->steps.push_back(std::move(s));

  if (e.traceId != 0 && e.type == kernel::TraceEvent::Type::Rule) {
    if (std::find(p->traces.begin(), p->traces.end(), e.traceId) == p->traces.end()) {
      p->traces.push_back(e.traceId);
    }
    p->toGuest = p->toGuest || e.traceReply;
  }
}

std::vector<AssembledPacket> TraceAssembler::finish(size_t n) {
  std::vector<AssembledPacket> out;
  for (size_t i = 0; i < n; ++i) {
    Open o = std::move(packets_.front());
    packets_.pop_front();
    if (o.traces.empty()) continue;
    AssembledPacket a;
    a.traces = std::move(o.traces);
    a.toGuest = o.toGuest;
    a.packet.traceId = o.ids.front();
    a.packet.direction = o.toGuest ? "to-guest" : "from-guest";
    if (o.first) {
      a.first = *o.first;
      a.packet.packet = o.first->info;
      a.packet.nat = natFromHeaders(*o.first, *o.latest, o.lastHook);
      for (auto& nat : a.packet.nat) {
        if (o.toGuest && nat.kind == "dnat") nat.kind = "reply";  // the masquerade undone
      }
    }
    a.packet.fate = fateOf(o.steps);
    a.packet.steps = std::move(o.steps);
    out.push_back(std::move(a));
  }
  return out;
}

std::vector<AssembledPacket> TraceAssembler::take(Clock::time_point now) {
  size_t n = 0;
  while (n < packets_.size() && (packets_[n].done || now - packets_[n].last >= settle_)) ++n;
  return finish(n);
}

std::vector<AssembledPacket> TraceAssembler::takeAll() {
  return finish(packets_.size());
}

std::optional<TraceAssembler::Clock::time_point> TraceAssembler::nextDeadline() const {
  if (packets_.empty()) return std::nullopt;
  const Open& o = packets_.front();
  return o.done ? o.last : o.last + settle_;
}

}  // namespace vnet::daemon
