// The resolver's fast path: finished replies remembered per question and query shape, and
// replayed for later queries without parsing a Message, looking at the zone or the forwarding
// cache, or encoding anything.
//
// A reply depends on the query through: its ID, its spelling of the question name, the
// question's lower-cased name, type and class, the header bits RD, CD and AD, whether it has
// an OPT record and that record's DO bit, and the size the client can take (transport and
// EDNS UDP size). The key holds the question and those bits (the "shape"); replay writes the
// ID and the name as the query has them, and the size only decides truncation: entries hold
// untruncated replies, and one too big for the client is replayed as header + question (+ OPT)
// with TC set, exactly what the full path sends (RFC 2181 §9).
//
// Answers from the forwarding cache carry the times of the cache entry they copy: replay
// counts their TTLs down by the whole seconds since it was stored, as the full path does, and
// they are dropped at its expiry. What else they depend on (the zone, the cache entry still
// being there, the upstream servers) is checked by the resolver through the generation numbers
// kept in the entry.
//
// Only the common query shape takes this path (see parseSimpleQuery); everything else goes
// the full way. Not thread-safe; used from the server's single event-loop thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <list>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dns/cache.h"
#include "dns/message.h"

namespace vnet::dns {

// A query of the common shape, located in its wire bytes: header, one question whose name is
// uncompressed at offset 12, and nothing else but an optional OPT record.
struct SimpleQuery {
  uint16_t id = 0;
  uint16_t flags = 0;
  size_t nameSize = 0;  // wire size of the question name at offset kHeaderSize
  uint16_t qtype = 0;
  uint16_t qclass = 0;
  bool edns = false;
  uint16_t ednsUdpSize = 0;
  bool dnssecOk = false;

  size_t questionEnd() const { return kHeaderSize + nameSize + 4; }
};

// True when wire is a query of the common shape: QR clear, opcode QUERY, QDCOUNT 1, ANCOUNT
// and NSCOUNT 0, ARCOUNT 0 or 1, the question name uncompressed and well formed (labels of at
// most 63 octets, at most 255 octets in all), and the only additional record, if any, an OPT
// of EDNS version 0 owned by the root (a literal root label) that ends the message. Such a
// query is one scanMessage accepts, with the same question and EDNS fields; false means
// "let the full path decide", not "malformed".
bool parseSimpleQuery(std::span<const uint8_t> wire, SimpleQuery& q);

// A finished reply to replay, and what it was derived from.
struct AnswerTemplate {
  // The untruncated reply as sent to the query that made the entry.
  std::vector<uint8_t> wire;
  // Whether the question name at offset 12 is the client's (replay puts the current query's
  // spelling there). False when an upstream answer's question was not copied from the client.
  bool patchName = true;

  // Answers from the forwarding cache: the TTL fields to count down, the time their values
  // were current, and the end of the entry's life (SteadyTime::max() for local answers).
  std::vector<uint32_t> ttlOffsets;
  SteadyTime stored{};
  SteadyTime expires = SteadyTime::max();

  // Checked by the resolver before replaying an answer from the forwarding cache.
  bool fromCache = false;
  Cache::Handle cacheEntry;
  uint64_t cacheEpoch = 0;
  uint64_t upstreamGeneration = 0;
};

// Writes into out (its capacity reused) the reply to query (q, from parseSimpleQuery) that t
// stands for at time now: t's bytes with the query's ID and question name, TTLs counted down;
// or, when that is longer than maxSize, header + question + (when the query had one) an OPT
// advertising ourUdpSize, with TC set.
void replayAnswer(const AnswerTemplate& t, std::span<const uint8_t> query, const SimpleQuery& q,
                  SteadyTime now, size_t maxSize, uint16_t ourUdpSize, std::vector<uint8_t>& out);

class AnswerCache {
 public:
  // At most maxEntries templates (0: none); when full, the oldest entry makes room.
  explicit AnswerCache(size_t maxEntries = 0) : maxEntries_(maxEntries) {}

  // The template for query's question and shape, or null. An entry past its expiry is dropped.
  const AnswerTemplate* find(std::span<const uint8_t> query, const SimpleQuery& q, SteadyTime now);
  // Remembers t for query's question and shape (replacing what was there).
  void insert(std::span<const uint8_t> query, const SimpleQuery& q, AnswerTemplate t);
  void erase(std::span<const uint8_t> query, const SimpleQuery& q);
  void clear();

  size_t size() const { return map_.size(); }
  bool empty() const { return map_.empty(); }
  size_t maxEntries() const { return maxEntries_; }
  // Drops the oldest entries if the cache shrank.
  void setMaxEntries(size_t maxEntries);

 private:
  // Key bytes: the lower-cased question name, type, class, shape bits; hashed once.
  struct KeyRef {
    std::string_view bytes;
    size_t hash = 0;
  };
  struct KeyHash {
    size_t operator()(const KeyRef& k) const noexcept { return k.hash; }
  };
  // The hash first: other keys in a bucket then cost no visit to their bytes.
  struct KeyEq {
    bool operator()(const KeyRef& a, const KeyRef& b) const noexcept {
      return a.hash == b.hash && a.bytes == b.bytes;
    }
  };
  struct Node {
    std::string key;  // map keys point into this
    size_t hash = 0;
    AnswerTemplate answer;
  };
  // Room for the longest key: a 255-octet name and 5 octets.
  using KeyBuffer = std::array<char, kMaxNameLength + 5>;
  static KeyRef makeKey(std::span<const uint8_t> query, const SimpleQuery& q, KeyBuffer& buf);
  void evictToFit(size_t entries);

  size_t maxEntries_;
  std::list<Node> order_;  // front = newest
  std::unordered_map<KeyRef, std::list<Node>::iterator, KeyHash, KeyEq> map_;
};

}  // namespace vnet::dns
