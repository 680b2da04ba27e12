#include "dns/rate_limiter.h"

#include <algorithm>
#include <chrono>
#include <functional>

namespace vnet::dns {

size_t IpAddressHash::operator()(const IpAddress& a) const noexcept {
  if (a.isV4()) return std::hash<uint32_t>{}(a.v4().toUint());
  uint64_t h = 1469598103934665603ull;
  for (uint8_t b : a.v6().bytes()) {
    h ^= b;
    h *= 1099511628211ull;
  }
  return size_t(h);
}

bool RateLimiter::allow(const IpAddress& client, SteadyTime now) {
  if (limit_.rate <= 0) return true;
  auto it = buckets_.find(client);
  if (it == buckets_.end()) {
    if (buckets_.size() >= limit_.maxClients) prune(now);
    it = buckets_.emplace(client, Bucket{limit_.burst, now}).first;
  } else {
    const double secs = std::chrono::duration<double>(now - it->second.last).count();
    if (secs > 0) {
      it->second.tokens = std::min(limit_.burst, it->second.tokens + secs * limit_.rate);
      it->second.last = now;
    }
  }
  if (it->second.tokens < 1) return false;
  it->second.tokens -= 1;
  return true;
}

void RateLimiter::setLimit(RateLimit limit) {
  limit_ = limit;
  for (auto& [ip, b] : buckets_) b.tokens = std::min(b.tokens, limit_.burst);
}

void RateLimiter::prune(SteadyTime now) {
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    const double secs = std::chrono::duration<double>(now - it->second.last).count();
    if (it->second.tokens + secs * limit_.rate >= limit_.burst) {
      it = buckets_.erase(it);
    } else {
      ++it;
    }
  }
  if (buckets_.size() >= limit_.maxClients) buckets_.clear();
}

}  // namespace vnet::dns
