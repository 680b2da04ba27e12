// Answer cache for forwarded queries: upstream responses are kept in wire form, keyed by
// (lower-cased qname, qtype, qclass, DO bit), with TTLs counted down on every answer,
// negative caching per RFC 2308, and LRU eviction at a fixed number of entries.
//
// Not thread-safe; used from the server's single event-loop thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <span>
#include <unordered_map>
#include <vector>

#include "dns/message.h"
#include "dns/name.h"

namespace vnet::dns {

using SteadyTime = std::chrono::steady_clock::time_point;
// Injectable monotonic clock (tests pass a fake).
using NowFn = std::function<SteadyTime()>;

struct CacheKey {
  Name name;  // compared case-insensitively
  RrType type = RrType::A;
  uint16_t qclass = kClassIn;
  bool dnssecOk = false;

  friend bool operator==(const CacheKey& a, const CacheKey& b) {
    return a.type == b.type && a.qclass == b.qclass && a.dnssecOk == b.dnssecOk && a.name == b.name;
  }
};

// Not noexcept on purpose: libstdc++'s unordered containers then keep each node's hash, and
// a lookup does not hash every name it walks past again (NameHash too).
struct CacheKeyHash {
  size_t operator()(const CacheKey& k) const {
    return k.name.hash() ^ (size_t(k.type) << 1) ^ (size_t(k.qclass) << 17) ^
           (k.dnssecOk ? 0x9e3779b9u : 0u);
  }
};

struct CacheOptions {
  size_t maxEntries = 10000;  // 0 disables the cache
  uint32_t maxTtl = 86400;    // TTLs above this are lowered on store
  uint32_t maxNegativeTtl = 3600;
};

// A stored response. ttlOffsets and the OPT position come from scanMessage.
struct CacheEntry {
  std::vector<uint8_t> wire;
  std::vector<uint32_t> ttlOffsets;
  bool hasOpt = false;
  bool optIsLast = false;
  size_t optOffset = 0;
  size_t optSize = 0;
  SteadyTime stored;
  SteadyTime expires;
  uint64_t serial = 0;  // identifies the upstream response it came from
};

class Cache {
 private:
  struct Node;

 public:
  // Names a live entry, so that it can be marked recently used without a lookup. Valid
  // while epoch() stays what it was when the handle was obtained.
  class Handle {
   private:
    friend class Cache;
    std::list<Node>::iterator it_;
  };

  Cache(CacheOptions options, NowFn now);

  // Stores a response to key. Cached: NOERROR with answers (for the smallest answer TTL),
  // and NXDOMAIN or NOERROR without answers that carry an SOA in the authority section
  // (RFC 2308 §5: for min(SOA TTL, SOA MINIMUM)). Not cached: TC set, other rcodes,
  // negative answers without SOA (RFC 2308 §5), TTL 0. Returns whether it was stored.
  // An entry for key with the same non-zero serial is left alone (coalesced waiters).
  bool insert(const CacheKey& key, std::span<const uint8_t> wire, const MessageLayout& layout,
              uint64_t serial = 0);

  // The live entry for key, or null (an expired entry is dropped). Marks it recently used.
  // elapsed receives the whole seconds since it was stored; handle (if given) its handle.
  const CacheEntry* lookup(const CacheKey& key, uint32_t& elapsed, Handle* handle = nullptr);

  // Marks the entry recently used, as a lookup would. REQUIRES: h is valid (see Handle).
  void touch(const Handle& h) { lru_.splice(lru_.begin(), lru_, h.it_); }

  // Changes whenever an entry is removed or replaced (expiry, eviction, flush, a new
  // response for a cached key); adding an entry for a new key leaves it alone. Copies of an
  // entry made under one epoch are exact while the epoch stays the same.
  uint64_t epoch() const { return epoch_; }

  void flush();
  size_t size() const { return map_.size(); }
  const CacheOptions& options() const { return options_; }
  // Applies new limits, evicting least-recently-used entries if the cache shrank.
  void setOptions(CacheOptions options);

 private:
  struct Node {
    CacheKey key;
    CacheEntry entry;
  };
  void evictToFit(size_t entries);

  CacheOptions options_;
  NowFn now_;
  uint64_t epoch_ = 0;
  std::list<Node> lru_;  // front = most recently used
  std::unordered_map<CacheKey, std::list<Node>::iterator, CacheKeyHash> map_;
};

}  // namespace vnet::dns
