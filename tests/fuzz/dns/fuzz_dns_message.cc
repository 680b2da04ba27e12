// Fuzzes the DNS wire codec and the resolver core.
//
// Invariants checked (a violation traps):
//  - parseMessage accepting the input implies scanMessage accepts it;
//  - serializeMessage(parseMessage(x)) parses again, and re-serializing that gives the
//    same bytes;
//  - the resolver never crashes on the input as a query (UDP and TCP), and the replies it
//    builds parse; when it forwards, the input is also fed back as the upstream answer
//    (through the cache path). Upstream answers are checked for framing only (scanMessage),
//    so a reply made from one (forwarded, or later served from the cache) must scan, and
//    must parse fully when that answer did.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "dns/message.h"
#include "dns/resolver.h"

namespace {

using namespace vnet;
using namespace vnet::dns;

class HeldUpstream : public Upstream {
 public:
  void resolve(const Question&, bool, UpstreamCallback done) override { pending = std::move(done); }
  bool canForward(const Name&) override { return true; }
  UpstreamCallback pending;
};

void check(bool ok) {
  if (!ok) __builtin_trap();
}

void checkReply(const std::vector<uint8_t>& reply, bool mustParse = true) {
  if (reply.empty()) return;
  check(scanMessage(reply).ok());
  if (mustParse) check(parseMessage(reply).ok());
}

struct World {
  World() : resolver(&upstream, [this] { return now; }) {
    ResolverConfig c;
    c.zone.domain = "example.test";
    c.zone.hosts.push_back(StaticHost{*IpAddress::parse("192.168.122.10"), {"web", "www"}});
    c.zone.hosts.push_back(StaticHost{*IpAddress::parse("fd00::10"), {"web"}});
    c.zone.srvs.push_back(SrvRecord{"ldap", "tcp", "", "web.example.test", 389, 1, 1});
    c.zone.txts.push_back(TxtRecord{"info", "hello"});
    c.zone.reverseZones.push_back(*Cidr::parse("192.168.122.0/24"));
    c.zone.localOnly = true;
    c.zone.forwardPlainNames = false;
    c.zone.allowedClients.push_back(*Cidr::parse("192.168.122.0/24"));
    c.rateLimit.rate = 0;
    c.cache.maxEntries = 64;
    if (!resolver.configure(c).ok()) __builtin_trap();
  }
  HeldUpstream upstream;
  SteadyTime now{};
  Resolver resolver;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World* world = new World();
  const std::span<const uint8_t> in(data, size);

  auto m = parseMessage(in);
  auto l = scanMessage(in);
  if (m.ok()) {
    check(l.ok());
    auto w = serializeMessage(*m);
    if (w.ok()) {
      auto m2 = parseMessage(*w);
      check(m2.ok());
      auto w2 = serializeMessage(*m2);
      check(w2.ok() && *w2 == *w);
    }
  }

  // Text paths: names and dynamic host names from the same bytes.
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto n = Name::parse(text); n.ok()) {
    auto back = Name::parse(n->toString());
    check(back.ok() && *back == *n);
  }
  if (size > 0 && (data[0] & 1) &&
      world->resolver.zone().setDynamicHost(text, Ipv4(0xC0A87A32)).ok()) {
    world->resolver.zone().removeDynamicHost(text);
  }

  world->now += std::chrono::seconds(size % 7);
  for (Transport t : {Transport::Udp, Transport::Tcp}) {
    std::vector<uint8_t> later;
    const uint64_t hits = world->resolver.counters().cacheHits;
    auto out = world->resolver.handle(in, *IpAddress::parse("192.168.122.5"), t,
                                      [&](std::vector<uint8_t> r) { later = std::move(r); });
    // A cached answer came from an upstream answer, maybe an earlier input's: only its
    // framing was checked when it was accepted.
    const bool fromCache = world->resolver.counters().cacheHits != hits;
    if (out.kind == Resolver::Outcome::Kind::Reply) checkReply(out.reply, !fromCache);
    if (out.kind == Resolver::Outcome::Kind::Pending && world->upstream.pending) {
      auto done = std::move(world->upstream.pending);
      world->upstream.pending = nullptr;
      if (l.ok()) {
        auto a = std::make_shared<UpstreamAnswer>();
        a->wire.assign(in.begin(), in.end());
        a->layout = *l;
        done(std::shared_ptr<const UpstreamAnswer>(a));
      } else {
        done(Error("fuzz"));
      }
      checkReply(later, m.ok());
    }
  }
  return 0;
}
