// The DNS query core: bytes in, reply bytes out, no sockets. The server's socket layer
// calls Resolver::handle for every datagram or TCP message; queries that need an upstream
// go through the Upstream seam (the Forwarder in production, a fake in tests).
//
// Per query, in order:
//   1. drop what is not a query (shorter than a header, QR set);
//   2. per-client rate limit: over the limit → drop (counted);
//   3. header readable but the rest malformed → FORMERR (header only);
//   4. client outside the allowed subnets → REFUSED;
//   5. opcode other than QUERY → NOTIMP; not exactly one question → FORMERR; EDNS
//      version > 0 → BADVERS (RFC 6891 §6.1.3); class other than IN, AXFR/IXFR → REFUSED;
//   6. the local zone: answer, NODATA or NXDOMAIN (AA set, SOA in negative answers);
//   7. ANY → one synthesized HINFO "RFC8482" (RFC 8482 §4.2), never forwarded;
//   8. forwarding off (isolated network) or no upstream for the name → REFUSED;
//   9. cache hit → answer with TTLs counted down;
//  10. otherwise forward: handle() returns Pending and the reply comes later.
// Replies carry an OPT record exactly when the query did (RFC 6891 §7), and UDP replies
// that do not fit the client's size are cut to header + question with TC set.
//
// Fast path (answer_cache.h): after step 2, a query of the common shape from an allowed
// client whose question and shape were answered before by step 6, 7 or 9 gets that reply
// replayed, byte for byte what steps 3-9 would produce now. Remembered replies are dropped
// when what they came from changes: the zone (Zone::generation()), the configuration, the
// forwarding cache entry (Cache::epoch(), and its expiry), the upstream servers
// (Upstream::generation()).
//
// Not thread-safe; one event-loop thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "base/error.h"
#include "base/ip.h"
#include "dns/answer_cache.h"
#include "dns/cache.h"
#include "dns/message.h"
#include "dns/rate_limiter.h"
#include "dns/zone.h"

namespace vnet::dns {

// A validated upstream response to one question.
struct UpstreamAnswer {
  std::vector<uint8_t> wire;
  MessageLayout layout;  // scanMessage(wire)
  uint64_t serial = 0;   // unique per upstream response (coalesced waiters share it)
};

using UpstreamCallback = std::function<void(Result<std::shared_ptr<const UpstreamAnswer>>)>;

// The resolver's view of its upstream servers.
class Upstream {
 public:
  Upstream() = default;
  Upstream(const Upstream&) = delete;
  Upstream& operator=(const Upstream&) = delete;
  Upstream(Upstream&&) = delete;
  Upstream& operator=(Upstream&&) = delete;
  virtual ~Upstream() = default;
  // Sends q upstream (EDNS DO bit = dnssecOk). Calls done exactly once, never from within
  // resolve() itself, with the answer or an Error (all servers failed or timed out). If the
  // Upstream is destroyed first, done is dropped without being called.
  virtual void resolve(const Question& q, bool dnssecOk, UpstreamCallback done) = 0;
  // True when some upstream server would take a query for qname.
  virtual bool canForward(const Name& qname) = 0;
  // Changes whenever canForward() may answer differently for some name (servers added or
  // removed, resolv.conf re-read). May look for such changes first, as canForward() does.
  virtual uint64_t generation() = 0;
};

struct ResolverConfig {
  ZoneConfig zone;
  // False for isolated networks: nothing is ever forwarded, non-local names get REFUSED.
  bool forwarding = true;
  RateLimit rateLimit;
  CacheOptions cache;
  // Our EDNS UDP payload size: UDP replies never exceed min(client's size, this).
  uint16_t maxUdpSize = 1232;
  // Replies remembered for the fast path (question × query shape); 0 turns it off.
  size_t answerCacheEntries = 4096;
};

struct ResolverCounters {
  uint64_t queries = 0;       // everything handle() saw
  uint64_t localAnswers = 0;  // answered from the local zone (and RFC 8482 ANY)
  uint64_t cacheHits = 0;
  uint64_t forwarded = 0;  // sent upstream (coalesced queries included)
  uint64_t refused = 0;
  uint64_t rateLimited = 0;
  uint64_t formErr = 0;
  uint64_t servFail = 0;  // upstream failed or timed out on every server
  uint64_t notImp = 0;
  uint64_t dropped = 0;   // not a query (too short, QR set)
  uint64_t replayed = 0;  // answered by the fast path (also counted in localAnswers or cacheHits)
};

enum class Transport { Udp, Tcp };

namespace detail {
struct ClientQuery;
}  // namespace detail

class Resolver {
 public:
  // Called once with the reply of a Pending query.
  using ReplyFn = std::function<void(std::vector<uint8_t>)>;
  // Makes the ReplyFn of a query that goes upstream; called only then.
  using MakeReplyFn = std::function<ReplyFn()>;

  struct Outcome {
    enum class Kind { Reply, Drop, Pending };
    Kind kind = Kind::Drop;
    std::vector<uint8_t> reply;  // for Reply
  };

  // upstream may be null (nothing is ever forwarded). It must outlive the Resolver or be
  // destroyed first (then pending replies are dropped).
  Resolver(Upstream* upstream, NowFn now);
  ~Resolver() = default;
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;
  Resolver(Resolver&&) = delete;
  Resolver& operator=(Resolver&&) = delete;

  // Applies a configuration; the cache is kept (its limits may change), dynamic hosts are
  // kept. On error nothing changes.
  Status configure(const ResolverConfig& cfg);
  const ResolverConfig& config() const { return config_; }

  // Handles one query from client. For Pending, `later` is called with the reply once the
  // upstream answered or failed; otherwise `later` is not used.
  Outcome handle(std::span<const uint8_t> query, const IpAddress& client, Transport transport,
                 ReplyFn later);
  // The same for the server's hot path: the reply of Kind::Reply goes into `reply` (cleared
  // first; replies from the fast path reuse its capacity), and makeLater is called only for
  // Kind::Pending.
  Outcome::Kind handle(std::span<const uint8_t> query, const IpAddress& client, Transport transport,
                       std::vector<uint8_t>& reply, const MakeReplyFn& makeLater);

  Zone& zone() { return zone_; }
  const Zone& zone() const { return zone_; }
  void flushCache() { cache_.flush(); }
  size_t cacheSize() const { return cache_.size(); }
  size_t answerCacheSize() const { return answers_.size(); }
  const ResolverCounters& counters() const { return counters_; }

 private:
  // Steps 3-10. simple: the query's fast-path view, if it has the common shape.
  Outcome::Kind handleFully(std::span<const uint8_t> query, const SimpleQuery* simple,
                            const IpAddress& client, Transport transport,
                            std::vector<uint8_t>& reply, const MakeReplyFn& makeLater);
  // The fast path: true when reply holds a remembered answer.
  bool replay(std::span<const uint8_t> query, const SimpleQuery& q, const IpAddress& client,
              Transport transport, SteadyTime now, std::vector<uint8_t>& reply);
  // The largest reply the client takes (RFC 6891 §6.2.5 for EDNS sizes).
  size_t maxReplySize(Transport transport, bool edns, uint16_t ednsUdpSize) const;
  void finishForward(const detail::ClientQuery& q,
                     const Result<std::shared_ptr<const UpstreamAnswer>>& r, const ReplyFn& later);

  Upstream* upstream_;
  NowFn now_;
  ResolverConfig config_;
  Zone zone_;
  Cache cache_;
  AnswerCache answers_;
  uint64_t answersZoneGeneration_ = 0;  // the zone generation answers_ was filled under
  RateLimiter limiter_;
  ResolverCounters counters_;
  // finishForward's check of the last upstream answer (by serial; 0 = unnumbered, always
  // checked), so that coalesced waiters do not repeat it.
  uint64_t checkedSerial_ = 0;
  bool checkedUsable_ = false;
};

}  // namespace vnet::dns
