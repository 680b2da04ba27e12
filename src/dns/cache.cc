#include "dns/cache.h"

#include <algorithm>
#include <unordered_map>

namespace vnet::dns {

#if defined(__GLIBCXX__)
// See CacheKeyHash: the containers keyed by names keep each node's hash.
static_assert(std::__cache_default<CacheKey, CacheKeyHash>::value);
static_assert(std::__cache_default<Name, NameHash>::value);
#endif

namespace {

uint32_t readU32(const std::vector<uint8_t>& b, size_t at) {
  return (uint32_t{b[at]} << 24) | (uint32_t{b[at + 1]} << 16) | (uint32_t{b[at + 2]} << 8) |
         b[at + 3];
}
void writeU32(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  b[at] = uint8_t(v >> 24);
  b[at + 1] = uint8_t(v >> 16);
  b[at + 2] = uint8_t(v >> 8);
  b[at + 3] = uint8_t(v);
}

}  // namespace

Cache::Cache(CacheOptions options, NowFn now) : options_(options), now_(std::move(now)) {}

bool Cache::insert(const CacheKey& key, std::span<const uint8_t> wire, const MessageLayout& layout,
                   uint64_t serial) {
  if (options_.maxEntries == 0 || layout.header.tc) return false;
  if (serial != 0) {
    if (auto it = map_.find(key); it != map_.end() && it->second->entry.serial == serial) {
      return true;
    }
  }
  const uint16_t rcode = layout.rcode();
  uint32_t ttl = 0;
  bool negative = false;
  if (rcode == uint16_t(Rcode::NoError) && layout.ancount > 0) {
    ttl = std::min(layout.minAnswerTtl, options_.maxTtl);
  } else if (rcode == uint16_t(Rcode::NxDomain) || rcode == uint16_t(Rcode::NoError)) {
    // RFC 2308 §5: without an SOA a negative answer is not cached.
    if (!layout.negativeTtl) return false;
    ttl = std::min(*layout.negativeTtl, options_.maxNegativeTtl);
    negative = true;
  } else {
    return false;
  }
  if (ttl == 0) return false;

  CacheEntry e;
  e.wire.assign(wire.begin(), wire.end());
  e.ttlOffsets = layout.ttlOffsets;
  // Stored TTLs never exceed the caps, so that counting down stays within them.
  const uint32_t cap = negative ? options_.maxNegativeTtl : options_.maxTtl;
  for (uint32_t off : e.ttlOffsets) {
    uint32_t t = readU32(e.wire, off);
    if (t & 0x80000000u) t = 0;  // RFC 2181 §8
    writeU32(e.wire, off, std::min(t, cap));
  }
  // RFC 2308 §5: the SOA of a cached negative answer carries the negative TTL.
  if (negative) writeU32(e.wire, layout.soaTtlOffset, ttl);
  e.hasOpt = layout.hasEdns;
  e.optIsLast = layout.optIsLast;
  e.optOffset = layout.optOffset;
  e.optSize = layout.optSize;
  e.stored = now_();
  e.expires = e.stored + std::chrono::seconds(ttl);
  e.serial = serial;

  if (auto it = map_.find(key); it != map_.end()) {
    ++epoch_;
    it->second->entry = std::move(e);
    lru_.splice(lru_.begin(), lru_, it->second);
    return true;
  }
  evictToFit(options_.maxEntries - 1);
  lru_.push_front(Node{key, std::move(e)});
  map_.emplace(key, lru_.begin());
  return true;
}

const CacheEntry* Cache::lookup(const CacheKey& key, uint32_t& elapsed, Handle* handle) {
  auto it = map_.find(key);
  if (it == map_.end()) return nullptr;
  const SteadyTime now = now_();
  CacheEntry& e = it->second->entry;
  if (now >= e.expires) {
    ++epoch_;
    lru_.erase(it->second);
    map_.erase(it);
    return nullptr;
  }
  const auto age = std::chrono::duration_cast<std::chrono::seconds>(now - e.stored).count();
  elapsed = age <= 0 ? 0 : uint32_t(age);
  lru_.splice(lru_.begin(), lru_, it->second);
  if (handle != nullptr) handle->it_ = it->second;
  return &e;
}

void Cache::flush() {
  ++epoch_;
  map_.clear();
  lru_.clear();
}

void Cache::setOptions(CacheOptions options) {
  options_ = options;
  evictToFit(options_.maxEntries);
}

void Cache::evictToFit(size_t entries) {
  while (map_.size() > entries && !lru_.empty()) {
    ++epoch_;
    map_.erase(lru_.back().key);
    lru_.pop_back();
  }
}

}  // namespace vnet::dns
