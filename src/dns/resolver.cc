#include "dns/resolver.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "base/bytes.h"

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
  if (q.edns) appendOptRecord(r, ourUdpSize, q.dnssecOk, 0);
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
// when the client sent one (RFC 6891 §7), and truncated to maxSize. nameCopied (if given)
// tells whether the client's spelling of the question name was put in.
std::vector<uint8_t> buildAnswer(const ClientQuery& q, const WireAnswer& a, uint32_t elapsed,
                                 uint16_t ourUdpSize, size_t maxSize, bool* nameCopied = nullptr) {
  const uint16_t flags = forwardedFlags(q, getU16(a.wire, 2));
  std::vector<uint8_t> r;
  r.reserve(a.wire.size() + kOptRecordSize);
  r.assign(a.wire.begin(), a.wire.end());
  storeU16(r, 0, q.id);
  storeU16(r, 2, flags);
  const std::span<const uint8_t> qn = q.question.name.wire();
  const bool copyName = getU16(a.wire, 4) == 1 && a.wire.size() >= kHeaderSize + qn.size() &&
                        wireNamesEqual(a.wire.subspan(kHeaderSize, qn.size()), qn);
  if (copyName) std::memcpy(r.data() + kHeaderSize, qn.data(), qn.size());
  if (nameCopied != nullptr) *nameCopied = copyName;
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
      appendOptRecord(r, ourUdpSize, q.dnssecOk, 0);
      ++arcount;
    }
  } else if (a.hasOpt && a.optIsLast) {
    r.resize(a.optOffset);
    --arcount;
  }
  storeU16(r, 10, arcount);
  if (r.size() > maxSize) {
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
  // Remembered replies may depend on any of it (flags, sizes, forwarding).
  answers_.clear();
  answers_.setMaxEntries(cfg.answerCacheEntries);
  return Status::success();
}

Resolver::Outcome Resolver::handle(std::span<const uint8_t> query, const IpAddress& client,
                                   Transport transport, ReplyFn later) {
  Outcome out;
  out.kind = handle(query, client, transport, out.reply, [&later] { return std::move(later); });
  return out;
}

Resolver::Outcome::Kind Resolver::handle(std::span<const uint8_t> query, const IpAddress& client,
                                         Transport transport, std::vector<uint8_t>& reply,
                                         const MakeReplyFn& makeLater) {
  ++counters_.queries;
  reply.clear();
  // Not a query: nothing to answer (answering responses invites reflection loops).
  if (query.size() < kHeaderSize || (getU16(query, 2) & kFlagQr) != 0) {
    ++counters_.dropped;
    return Outcome::Kind::Drop;
  }
  const SteadyTime now = now_();
  if (!limiter_.allow(client, now)) {
    ++counters_.rateLimited;
    return Outcome::Kind::Drop;
  }
  SimpleQuery simple;
  const bool isSimple = parseSimpleQuery(query, simple);
  if (isSimple && replay(query, simple, client, transport, now, reply)) {
    return Outcome::Kind::Reply;
  }
  return handleFully(query, isSimple ? &simple : nullptr, client, transport, reply, makeLater);
}

size_t Resolver::maxReplySize(Transport transport, bool edns, uint16_t ednsUdpSize) const {
  if (transport == Transport::Tcp) return kMaxMessageSize;
  if (!edns) return kClassicUdpSize;
  // RFC 6891 §6.2.5: sizes below 512 are treated as 512.
  return std::clamp<size_t>(ednsUdpSize, kClassicUdpSize,
                            std::max<size_t>(config_.maxUdpSize, kClassicUdpSize));
}

bool Resolver::replay(std::span<const uint8_t> query, const SimpleQuery& q, const IpAddress& client,
                      Transport transport, SteadyTime now, std::vector<uint8_t>& reply) {
  if (zone_.generation() != answersZoneGeneration_) {
    // Local answers and the choice to forward may have changed for any name.
    answers_.clear();
    answersZoneGeneration_ = zone_.generation();
  }
  if (answers_.empty() || !zone_.clientAllowed(client)) return false;
  const AnswerTemplate* t = answers_.find(query, q, now);
  if (t == nullptr) return false;
  if (t->fromCache) {
    if (t->cacheEpoch != cache_.epoch() || upstream_ == nullptr ||
        t->upstreamGeneration != upstream_->generation()) {
      answers_.erase(query, q);
      return false;
    }
    cache_.touch(t->cacheEntry);
    ++counters_.cacheHits;
  } else {
    ++counters_.localAnswers;
  }
  ++counters_.replayed;
  replayAnswer(*t, query, q, now, maxReplySize(transport, q.edns, q.ednsUdpSize),
               config_.maxUdpSize, reply);
  return true;
}

Resolver::Outcome::Kind Resolver::handleFully(std::span<const uint8_t> query,
                                              const SimpleQuery* simple, const IpAddress& client,
                                              Transport transport, std::vector<uint8_t>& reply,
                                              const MakeReplyFn& makeLater) {
  const uint16_t qflags = getU16(query, 2);
  const bool ra = config_.forwarding && upstream_ != nullptr;
  const uint16_t baseFlags =
      uint16_t(kFlagQr | (qflags & (kOpcodeMask | kFlagRd | kFlagCd)) | (ra ? kFlagRa : 0));

  auto layout = scanMessage(query, /*collectTtls=*/false);
  if (!layout.ok()) {
    // RFC 1035 §4.1.1: FORMERR; the question could not be read, so only the header.
    ++counters_.formErr;
    reply = startReply(query, kHeaderSize, uint16_t(baseFlags | uint16_t(Rcode::FormErr)), false,
                       kHeaderSize);
    return Outcome::Kind::Reply;
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
  q.maxSize = maxReplySize(transport, l.hasEdns, l.ednsUdpSize);
  q.question = l.question;

  // Negative replies: header + (question) + OPT when the client sent one.
  auto rcodeReply = [&](Rcode rc) {
    const uint16_t rcode = uint16_t(rc);
    reply = startReply(query, l.questionEnd, uint16_t(baseFlags | (rcode & 0xF)), oneQuestion,
                       l.questionEnd + kOptRecordSize);
    if (q.edns || rcode > 0xF) {
      appendOptRecord(reply, config_.maxUdpSize, q.dnssecOk, rcode);
      storeU16(reply, 10, 1);
    }
    return Outcome::Kind::Reply;
  };

  if (!zone_.clientAllowed(client)) {
    ++counters_.refused;
    return rcodeReply(Rcode::Refused);
  }
  if (l.header.opcode != uint8_t(Opcode::Query)) {
    ++counters_.notImp;
    return rcodeReply(Rcode::NotImp);
  }
  if (!oneQuestion || l.question.type == RrType::OPT) {
    ++counters_.formErr;
    return rcodeReply(Rcode::FormErr);
  }
  if (l.hasEdns && l.ednsVersion != 0) {
    ++counters_.formErr;
    return rcodeReply(Rcode::BadVers);
  }
  if (l.question.qclass != kClassIn || l.question.type == RrType::AXFR ||
      l.question.type == RrType::IXFR) {
    ++counters_.refused;
    return rcodeReply(Rcode::Refused);
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
        appendU16(r,
                  uint16_t(0xC000 | (kHeaderSize + l.question.name.wireSize() - apex.wireSize())));
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
      appendOptRecord(r, config_.maxUdpSize, q.dnssecOk, 0);
      storeU16(r, 10, 1);
    }
    if (simple != nullptr) {
      // Valid until the zone or the configuration changes.
      AnswerTemplate t;
      t.wire = r;
      answers_.insert(query, *simple, std::move(t));
    }
    if (r.size() > q.maxSize) {
      // RFC 2181 §9: what does not fit is dropped whole and TC tells the client to retry
      // over TCP.
      r = startReply(query, l.questionEnd,
                     uint16_t(baseFlags | (aa ? kFlagAa : 0) | kFlagTc | rcode), true, 0);
      if (q.edns) {
        appendOptRecord(r, config_.maxUdpSize, q.dnssecOk, 0);
        storeU16(r, 10, 1);
      }
    }
    reply = std::move(r);
    return Outcome::Kind::Reply;
  }

  if (!config_.forwarding || upstream_ == nullptr || !upstream_->canForward(l.question.name)) {
    ++counters_.refused;
    return rcodeReply(Rcode::Refused);
  }

  const CacheKey key{l.question.name, l.question.type, l.question.qclass, l.dnssecOk};
  uint32_t elapsed = 0;
  Cache::Handle handle;
  if (const CacheEntry* e = cache_.lookup(key, elapsed, &handle)) {
    ++counters_.cacheHits;
    const WireAnswer a{e->wire, e->ttlOffsets, e->hasOpt, e->optIsLast, e->optOffset};
    if (simple != nullptr) {
      // The reply as at the time of storing, untruncated, to be counted down on replay.
      AnswerTemplate t;
      t.wire = buildAnswer(q, a, 0, config_.maxUdpSize, SIZE_MAX, &t.patchName);
      t.ttlOffsets = e->ttlOffsets;
      t.stored = e->stored;
      t.expires = e->expires;
      t.fromCache = true;
      t.cacheEntry = handle;
      t.cacheEpoch = cache_.epoch();
      t.upstreamGeneration = upstream_->generation();
      answers_.insert(query, *simple, std::move(t));
    }
    reply = buildAnswer(q, a, elapsed, config_.maxUdpSize, q.maxSize);
    return Outcome::Kind::Reply;
  }

  ++counters_.forwarded;
  upstream_->resolve(
      l.question, l.dnssecOk,
      [this, q, later = makeLater()](const Result<std::shared_ptr<const UpstreamAnswer>>& r) {
        finishForward(q, r, later);
      });
  return Outcome::Kind::Pending;
}

void Resolver::finishForward(const ClientQuery& q,
                             const Result<std::shared_ptr<const UpstreamAnswer>>& r,
                             const ReplyFn& later) {
  // Replies rewrite the answer's TTLs and OPT CLASS, now and when served from the cache; an
  // answer whose names read those octets would stop framing, so it is refused here, once per
  // upstream answer (coalesced waiters share it; no cache hit needs to check it again), like
  // a failed upstream.
  bool usable = r.ok() && *r != nullptr;
  if (usable) {
    if ((*r)->serial != checkedSerial_ || (*r)->serial == 0) {
      checkedSerial_ = (*r)->serial;
      checkedUsable_ = namesSurviveFieldRewrite((*r)->wire, (*r)->layout);
    }
    usable = checkedUsable_;
  }
  if (!usable) {
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
                    0, config_.maxUdpSize, q.maxSize));
}

}  // namespace vnet::dns
