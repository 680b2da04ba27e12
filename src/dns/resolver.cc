#include "dns/resolver.h"
#include "base/bytes.h"

#include <algorithm>
#include <cstring>

namespace vnet::dns {

namespace {

constexpr uint16_t kFlagQr = 0x8000;
constexpr uint16_t kFlagAa = 0x0400;
constexpr uint16_t kFlagTc = 0x0200;
constexpr uint16_t kFlagRd = 0x0100;
constexpr uint16_t kFlagRa = 0x0080;
constexpr uint16_t kFlagAd = 0x0020;
constexpr uint16_t kFlagCd = 0x0010;
constexpr uint16_t kOpcodeMask = 0x7800;
// RFC 8482 §4.2 leaves the synthesized HINFO's TTL to the implementation.
constexpr uint32_t kAnyHinfoTtl = 3600;
constexpr size_t kOptRecordSize = 11;

uint16_t getU16(std::span<const uint8_t> b, size_t at) {
  return uint16_t((b[at] << 8) | b[at + 1]);
}

// An OPT record advertising our payload size (RFC 6891 §6.1.2); rcode > 15 puts its upper
// bits in the extended-rcode octet.
void putOpt(std::vector<uint8_t>& out, uint16_t udpSize, bool dnssecOk, uint16_t rcode) {
  out.push_back(0);
  appendU16(out, uint16_t(RrType::OPT));
  appendU16(out, udpSize);
  out.push_back(uint8_t(rcode >> 4));
  out.push_back(0);  // version 0
  appendU16(out, dnssecOk ? 0x8000 : 0);
  appendU16(out, 0);
}

// A stored upstream response (fresh or cached) seen as bytes plus where its TTLs and OPT are.
struct WireAnswer {
  std::span<const uint8_t> wire;
  std::span<const uint32_t> ttlOffsets;
  bool hasOpt = false;
  bool optIsLast = false;
  size_t optOffset = 0;
};

}  // namespace

// What a reply needs to know about the query it answers.
struct detail::ClientQuery {
  uint16_t id = 0;
  uint16_t opcodeBits = 0;  // opcode field, in place
  bool rd = false;
  bool cd = false;
  bool adOrDo = false;  // RFC 6840 §5.8: AD only goes back to clients that show interest
  bool edns = false;
  bool dnssecOk = false;
  size_t maxSize = kClassicUdpSize;
  Question question;  // the name as the client sent it (case kept)
};

using detail::ClientQuery;

namespace {

// Header + the client's question (copied verbatim) + nothing else.
std::vector<uint8_t> startReply(std::span<const uint8_t> query, size_t questionEnd, uint16_t flags,
                                bool withQuestion, size_t reserve) {
  std::vector<uint8_t> out;
  out.reserve(reserve);
  const size_t copy = withQuestion ? questionEnd : kHeaderSize;
  out.assign(query.begin(), query.begin() + copy);
  storeU16(out, 2, flags);
  storeU16(out, 4, withQuestion ? 1 : 0);
  storeU16(out, 6, 0);
  storeU16(out, 8, 0);
  storeU16(out, 10, 0);
  return out;
}

// Header + the question rebuilt from q + OPT when the client sent one (replies to
// forwarded queries that have no answer bytes to start from, or that had to be truncated).
std::vector<uint8_t> questionOnlyReply(const ClientQuery& q, uint16_t flags, uint16_t ourUdpSize) {
  std::vector<uint8_t> r;
  r.reserve(kHeaderSize + q.question.name.wireSize() + 4 + kOptRecordSize);
  appendU16(r, q.id);
  appendU16(r, flags);
  appendU16(r, 1);
  appendU16(r, 0);
  appendU16(r, 0);
  appendU16(r, q.edns ? 1 : 0);
  r.insert(r.end(), q.question.name.wire().begin(), q.question.name.wire().end());
  appendU16(r, uint16_t(q.question.type));
  appendU16(r, q.question.qclass);
  if (q.edns) putOpt(r, ourUdpSize, q.dnssecOk, 0);
  return r;
}

uint16_t forwardedFlags(const ClientQuery& q, uint16_t upstreamFlags) {
  uint16_t f = uint16_t(kFlagQr | q.opcodeBits | (q.rd ? kFlagRd : 0) | (q.cd ? kFlagCd : 0) |
                        kFlagRa | (upstreamFlags & (kFlagTc | 0xF)));
  if (q.adOrDo) f |= upstreamFlags & kFlagAd;
  return f;
}

// An upstream response (fresh, or cached `elapsed` seconds ago) rewritten for one client:
// its ID, its flags, its spelling of the question, TTLs counted down, OPT present exactly
// when the client sent one (RFC 6891 §7), and truncated to the client's size.
std::vector<uint8_t> buildAnswer(const ClientQuery& q, const WireAnswer& a, uint32_t elapsed,
                                 uint16_t ourUdpSize) {
  const uint16_t flags = forwardedFlags(q, getU16(a.wire, 2));
  std::vector<uint8_t> r;
  r.reserve(a.wire.size() + kOptRecordSize);
  r.assign(a.wire.begin(), a.wire.end());
  storeU16(r, 0, q.id);
  storeU16(r, 2, flags);
  const std::span<const uint8_t> qn = q.question.name.wire();
  if (getU16(a.wire, 4) == 1 && a.wire.size() >= kHeaderSize + qn.size() &&
      wireNamesEqual(a.wire.subspan(kHeaderSize, qn.size()), qn)) {
    std::memcpy(r.data() + kHeaderSize, qn.data(), qn.size());
  }
  for (uint32_t off : a.ttlOffsets) {
    const uint32_t t = (uint32_t{r[off]} << 24) | (uint32_t{r[off + 1]} << 16) |
                       (uint32_t{r[off + 2]} << 8) | r[off + 3];
    const uint32_t left = t > elapsed ? t - elapsed : 0;
    r[off] = uint8_t(left >> 24);
    r[off + 1] = uint8_t(left >> 16);
    r[off + 2] = uint8_t(left >> 8);
    r[off + 3] = uint8_t(left);
  }
  uint16_t arcount = getU16(r, 10);
  if (q.edns) {
    if (a.hasOpt) {
      storeU16(r, a.optOffset + 3, ourUdpSize);  // OPT CLASS: our payload size
    } else {
      putOpt(r, ourUdpSize, q.dnssecOk, 0);
      ++arcount;
    }
  } else if (a.hasOpt && a.optIsLast) {
    r.resize(a.optOffset);
    --arcount;
  }
  storeU16(r, 10, arcount);
  if (r.size() > q.maxSize) {
    // RFC 2181 §9: too big for this client's UDP; TC asks it to come back over TCP.
    return questionOnlyReply(q, uint16_t(flags | kFlagTc), ourUdpSize);
  }
  return r;
}

}  // namespace

Resolver::Resolver(Upstream* upstream, NowFn now)
    : upstream_(upstream), now_(std::move(now)), cache_(CacheOptions{}, now_) {}

Status Resolver::configure(const ResolverConfig& cfg) {
  VNET_TRY(zone_.configure(cfg.zone));
  config_ = cfg;
  cache_.setOptions(cfg.cache);
  limiter_.setLimit(cfg.rateLimit);
  return Status::success();
}

Resolver::Outcome Resolver::handle(std::span<const uint8_t> query, const IpAddress& client,
                                   Transport transport, ReplyFn later) {
  ++counters_.queries;
  Outcome out;
  // Not a query: nothing to answer (answering responses invites reflection loops).
  if (query.size() < kHeaderSize || (getU16(query, 2) & kFlagQr) != 0) {
    ++counters_.dropped;
    return out;
  }
  if (!limiter_.allow(client, now_())) {
    ++counters_.rateLimited;
    return out;
  }
  const uint16_t qflags = getU16(query, 2);
  const bool ra = config_.forwarding && upstream_ != nullptr;
  const uint16_t baseFlags =
      uint16_t(kFlagQr | (qflags & (kOpcodeMask | kFlagRd | kFlagCd)) | (ra ? kFlagRa : 0));
  out.kind = Outcome::Kind::Reply;

  auto layout = scanMessage(query, /*collectTtls=*/false);
  if (!layout.ok()) {
    // RFC 1035 §4.1.1: FORMERR; the question could not be read, so only the header.
    ++counters_.formErr;
    out.reply = startReply(query, kHeaderSize, uint16_t(baseFlags | uint16_t(Rcode::FormErr)),
                           false, kHeaderSize);
    return out;
  }
  const MessageLayout& l = *layout;
  const bool oneQuestion = l.qdcount == 1;

  ClientQuery q;
  q.id = l.header.id;
  q.opcodeBits = qflags & kOpcodeMask;
  q.rd = l.header.rd;
  q.cd = l.header.cd;
  q.edns = l.hasEdns;
  q.dnssecOk = l.dnssecOk;
  q.adOrDo = l.header.ad || l.dnssecOk;
  if (transport == Transport::Tcp) {
    q.maxSize = kMaxMessageSize;
  } else if (l.hasEdns) {
    // RFC 6891 §6.2.5: sizes below 512 are treated as 512.
    q.maxSize = std::clamp<size_t>(l.ednsUdpSize, kClassicUdpSize,
                                   std::max<size_t>(config_.maxUdpSize, kClassicUdpSize));
  }
  q.question = l.question;

  // Negative replies: header + (question) + OPT when the client sent one.
  auto simple = [&](Rcode rc) {
    const uint16_t rcode = uint16_t(rc);
    std::vector<uint8_t> r = startReply(query, l.questionEnd, uint16_t(baseFlags | (rcode & 0xF)),
                                        oneQuestion, l.questionEnd + kOptRecordSize);
    if (q.edns || rcode > 0xF) {
      putOpt(r, config_.maxUdpSize, q.dnssecOk, rcode);
      storeU16(r, 10, 1);
    }
    return r;
  };

  if (!zone_.clientAllowed(client)) {
    ++counters_.refused;
    out.reply = simple(Rcode::Refused);
    return out;
  }
  if (l.header.opcode != uint8_t(Opcode::Query)) {
    ++counters_.notImp;
    out.reply = simple(Rcode::NotImp);
    return out;
  }
  if (!oneQuestion || l.question.type == RrType::OPT) {
    ++counters_.formErr;
    out.reply = simple(Rcode::FormErr);
    return out;
  }
  if (l.hasEdns && l.ednsVersion != 0) {
    ++counters_.formErr;
    out.reply = simple(Rcode::BadVers);
    return out;
  }
  if (l.question.qclass != kClassIn || l.question.type == RrType::AXFR ||
      l.question.type == RrType::IXFR) {
    ++counters_.refused;
    out.reply = simple(Rcode::Refused);
    return out;
  }

  const ZoneAnswer za = zone_.lookup(l.question.name, l.question.type);
  const bool synthAny = za.verdict == ZoneVerdict::Forward && l.question.type == RrType::ANY;
  if (za.verdict != ZoneVerdict::Forward || synthAny) {
    ++counters_.localAnswers;
    const bool aa = za.verdict != ZoneVerdict::Forward &&
                    (za.authoritative || za.verdict != ZoneVerdict::NxDomain);
    const uint16_t rcode = za.verdict == ZoneVerdict::NxDomain ? uint16_t(Rcode::NxDomain) : 0;
    std::vector<uint8_t> r = startReply(
        query, l.questionEnd, uint16_t(baseFlags | (aa ? kFlagAa : 0) | rcode), true, 512);
    uint16_t ancount = 0;
    auto putAnswer = [&](RrType type, uint32_t ttl, std::span<const uint8_t> rdata) {
      appendU16(r, 0xC000 | kHeaderSize);  // owner: the question name
      appendU16(r, uint16_t(type));
      appendU16(r, kClassIn);
      appendU32(r, ttl);
      appendU16(r, uint16_t(rdata.size()));
      r.insert(r.end(), rdata.begin(), rdata.end());
      ++ancount;
    };
    if (synthAny) {
      // RFC 8482 §4.2: HINFO with CPU "RFC8482" and an empty OS.
      static constexpr uint8_t kHinfo[] = {7, 'R', 'F', 'C', '8', '4', '8', '2', 0};
      putAnswer(RrType::HINFO, kAnyHinfoTtl, kHinfo);
    } else if (za.verdict == ZoneVerdict::Answer && za.records != nullptr) {
      for (const auto& rec : *za.records) {
        if (l.question.type == RrType::ANY || rec.type == l.question.type) {
          putAnswer(rec.type, rec.ttl, rec.rdata);
        }
      }
    }
    uint16_t nscount = 0;
    if (za.verdict != ZoneVerdict::Answer && !synthAny && za.soa != nullptr) {
      // RFC 2308 §3: negative answers carry the zone's SOA in the authority section.
      const Name& apex = za.soa->owner;
      if (l.question.name.isUnder(apex)) {
        appendU16(r, uint16_t(0xC000 | (kHeaderSize + l.question.name.wireSize() - apex.wireSize())));
      } else {
        r.insert(r.end(), apex.wire().begin(), apex.wire().end());
      }
      appendU16(r, uint16_t(RrType::SOA));
      appendU16(r, kClassIn);
      appendU32(r, za.soa->record.ttl);
      appendU16(r, uint16_t(za.soa->record.rdata.size()));
      r.insert(r.end(), za.soa->record.rdata.begin(), za.soa->record.rdata.end());
      nscount = 1;
    }
    storeU16(r, 6, ancount);
    storeU16(r, 8, nscount);
    if (q.edns) {
      putOpt(r, config_.maxUdpSize, q.dnssecOk, 0);
      storeU16(r, 10, 1);
    }
    if (r.size() > q.maxSize) {
      // RFC 2181 §9: what does not fit is dropped whole and TC tells the client to retry
      // over TCP.
      r = startReply(query, l.questionEnd,
                     uint16_t(baseFlags | (aa ? kFlagAa : 0) | kFlagTc | rcode), true, 0);
      if (q.edns) {
        putOpt(r, config_.maxUdpSize, q.dnssecOk, 0);
        storeU16(r, 10, 1);
      }
    }
    out.reply = std::move(r);
    return out;
  }

  if (!config_.forwarding || upstream_ == nullptr || !upstream_->canForward(l.question.name)) {
    ++counters_.refused;
    out.reply = simple(Rcode::Refused);
    return out;
  }

  const CacheKey key{l.question.name, l.question.type, l.question.qclass, l.dnssecOk};
  uint32_t elapsed = 0;
  if (const CacheEntry* e = cache_.lookup(key, elapsed)) {
    ++counters_.cacheHits;
    out.reply =
        buildAnswer(q, WireAnswer{e->wire, e->ttlOffsets, e->hasOpt, e->optIsLast, e->optOffset},
                    elapsed, config_.maxUdpSize);
    return out;
  }

  ++counters_.forwarded;
  out.kind = Outcome::Kind::Pending;
  upstream_->resolve(
      l.question, l.dnssecOk,
      [this, q, later = std::move(later)](const Result<std::shared_ptr<const UpstreamAnswer>>& r) {
        finishForward(q, r, later);
      });
  return out;
}

void Resolver::finishForward(const ClientQuery& q,
                             const Result<std::shared_ptr<const UpstreamAnswer>>& r,
                             const ReplyFn& later) {
  // Replies rewrite the answer's TTLs and OPT CLASS, now and when served from the cache; an
  // answer whose names read those octets would stop framing, so it is refused here, once,
  // like a failed upstream (no cache hit needs to check it again).
  if (!r.ok() || *r == nullptr || !namesSurviveFieldRewrite((*r)->wire, (*r)->layout)) {
    ++counters_.servFail;
    const uint16_t flags = uint16_t(kFlagQr | q.opcodeBits | (q.rd ? kFlagRd : 0) |
                                    (q.cd ? kFlagCd : 0) | kFlagRa | uint16_t(Rcode::ServFail));
    later(questionOnlyReply(q, flags, config_.maxUdpSize));
    return;
  }
  const UpstreamAnswer& a = **r;
  if (a.layout.rcode() == uint16_t(Rcode::ServFail)) ++counters_.servFail;
  cache_.insert(CacheKey{q.question.name, q.question.type, q.question.qclass, q.dnssecOk}, a.wire,
                a.layout, a.serial);
  later(buildAnswer(q,
                    WireAnswer{a.wire, a.layout.ttlOffsets, a.layout.hasEdns, a.layout.optIsLast,
                               a.layout.optOffset},
                    0, config_.maxUdpSize));
}

}  // namespace vnet::dns
