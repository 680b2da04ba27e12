// Fuzzes the DNS wire codec and the resolver core.
//
// Invariants checked (a violation traps):
//  - parseMessage accepting the input implies scanMessage accepts it;
//  - serializeMessage(parseMessage(x)) parses again, and re-serializing that gives the
//    same bytes;
//  - parseSimpleQuery accepting the input implies scanMessage accepts it with the same
//    question and EDNS fields;
//  - the resolver never crashes on the input as a query (UDP, TCP, UDP again), and the
//    replies it builds parse; when it forwards, the input is also fed back as the upstream
//    answer (through the cache path). Upstream answers are checked for framing only
//    (scanMessage), so a reply made from one (forwarded, or later served from the cache)
//    must scan, and must parse fully when that answer did;
//  - a second resolver without the fast path (answer cache off), fed the same inputs, clock
//    and upstream answers, gives byte for byte the same replies.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "dns/answer_cache.h"
#include "dns/message.h"
#include "dns/resolver.h"

namespace {

using namespace vnet;
using namespace vnet::dns;

class HeldUpstream : public Upstream {
 public:
  void resolve(const Question&, bool, UpstreamCallback done) override { pending = std::move(done); }
  bool canForward(const Name&) override { return true; }
  uint64_t generation() override { return 0; }
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
  explicit World(bool fastPath) : resolver(&upstream, [this] { return now; }) {
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
    c.answerCacheEntries = fastPath ? 64 : 0;
    if (!resolver.configure(c).ok()) __builtin_trap();
  }
  HeldUpstream upstream;
  SteadyTime now{};
  Resolver resolver;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World* fast = new World(true);
  static World* full = new World(false);
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
  if (SimpleQuery sq; parseSimpleQuery(in, sq)) {
    check(l.ok() && l->qdcount == 1 && l->questionEnd == sq.questionEnd());
    check(l->question.name.wireSize() == sq.nameSize && uint16_t(l->question.type) == sq.qtype &&
          l->question.qclass == sq.qclass);
    check(l->hasEdns == sq.edns && l->dnssecOk == sq.dnssecOk && l->header.id == sq.id);
    check(!sq.edns || (l->ednsUdpSize == sq.ednsUdpSize && l->ednsVersion == 0));
  }

  // Text paths: names and dynamic host names from the same bytes.
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto n = Name::parse(text); n.ok()) {
    auto back = Name::parse(n->toString());
    check(back.ok() && *back == *n);
  }
  if (size > 0 && (data[0] & 1)) {
    const bool set = fast->resolver.zone().setDynamicHost(text, Ipv4(0xC0A87A32)).ok();
    check(full->resolver.zone().setDynamicHost(text, Ipv4(0xC0A87A32)).ok() == set);
    if (set) {
      fast->resolver.zone().removeDynamicHost(text);
      full->resolver.zone().removeDynamicHost(text);
    }
  }

  fast->now += std::chrono::seconds(size % 7);
  full->now = fast->now;
  for (Transport t : {Transport::Udp, Transport::Tcp, Transport::Udp}) {
    std::vector<uint8_t> laterFast, laterFull;
    const uint64_t hits = fast->resolver.counters().cacheHits;
    const IpAddress client = *IpAddress::parse("192.168.122.5");
    auto a = fast->resolver.handle(in, client, t,
                                   [&](std::vector<uint8_t> r) { laterFast = std::move(r); });
    auto b = full->resolver.handle(in, client, t,
                                   [&](std::vector<uint8_t> r) { laterFull = std::move(r); });
    check(a.kind == b.kind && a.reply == b.reply);
    // A cached answer came from an upstream answer, maybe an earlier input's: only its
    // framing was checked when it was accepted.
    const bool fromCache = fast->resolver.counters().cacheHits != hits;
    if (a.kind == Resolver::Outcome::Kind::Reply) checkReply(a.reply, !fromCache);
    if (a.kind == Resolver::Outcome::Kind::Pending) {
      check(fast->upstream.pending != nullptr && full->upstream.pending != nullptr);
      auto doneFast = std::move(fast->upstream.pending);
      auto doneFull = std::move(full->upstream.pending);
      fast->upstream.pending = nullptr;
      full->upstream.pending = nullptr;
      if (l.ok()) {
        auto ans = std::make_shared<UpstreamAnswer>();
        ans->wire.assign(in.begin(), in.end());
        ans->layout = *l;
        doneFast(std::shared_ptr<const UpstreamAnswer>(ans));
        doneFull(std::shared_ptr<const UpstreamAnswer>(ans));
      } else {
        doneFast(Error("fuzz"));
        doneFull(Error("fuzz"));
      }
      check(laterFast == laterFull);
      checkReply(laterFast, m.ok());
    }
  }
  return 0;
}
