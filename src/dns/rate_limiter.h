// Per-client token buckets: each client address may send `rate` queries per second on
// average and `burst` at once. Bounded memory: when more than maxClients addresses are
// tracked, idle buckets (refilled to full) are dropped, and if that is not enough the
// limiter starts afresh (a flood from many addresses then costs at most one burst each).
//
// Not thread-safe; used from the server's single event-loop thread.
#pragma once

#include <cstddef>
#include <unordered_map>

#include "base/ip.h"
#include "dns/cache.h"

namespace vnet::dns {

struct RateLimit {
  double rate = 200;   // queries per second; 0 disables limiting
  double burst = 400;  // bucket size
  size_t maxClients = 4096;
};

struct IpAddressHash {
  size_t operator()(const IpAddress& a) const noexcept;
};

class RateLimiter {
 public:
  explicit RateLimiter(RateLimit limit = {}) : limit_(limit) {}

  // Takes one token for client; false when its bucket is empty.
  bool allow(const IpAddress& client, SteadyTime now);

  void setLimit(RateLimit limit);
  const RateLimit& limit() const { return limit_; }
  size_t trackedClients() const { return buckets_.size(); }

 private:
  struct Bucket {
    double tokens = 0;
    SteadyTime last;
  };
  void prune(SteadyTime now);

  RateLimit limit_;
  std::unordered_map<IpAddress, Bucket, IpAddressHash> buckets_;
};

}  // namespace vnet::dns
