// libFuzzer target: the DHCP codec (parse, serialize, re-parse) and the server core.
// Invariants checked: a parsed message re-encodes to bytes that parse again to the same
// options; the server never crashes, and every reply it builds parses as a BOOTREPLY.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "dhcp/lease_store.h"
#include "dhcp/message.h"
#include "dhcp/server.h"

namespace {

using namespace vnet::dhcp;  // NOLINT

void check(bool ok) {
  if (!ok) std::abort();
}

ServerConfig fuzzConfig() {
  ServerConfig c;
  c.server_address = vnet::Ipv4(0xC0000201);  // 192.0.2.1
  c.subnet = vnet::Ipv4(0xC0000200);
  c.prefix = 24;
  c.ranges = {{vnet::Ipv4(0xC0000264), vnet::Ipv4(0xC0000270)}};  // .100-.112: small, exhausts
  c.routers = {c.server_address};
  c.dns_servers = {c.server_address};
  c.domain_name = "fuzz.test";
  c.classless_routes = {{vnet::Ipv4(0xC6336400), 24, vnet::Ipv4(0xC00002FE)}};
  StaticHost h;
  h.mac = vnet::Mac({0x52, 0x54, 0, 0x12, 0x34, 0x56});  // the MAC of the seed packets
  h.ip = vnet::Ipv4(0xC0000214);
  h.hostname = "static";
  c.hosts.push_back(h);
  return c;
}

void checkReply(const std::optional<Reply>& r) {
  if (!r) return;
  auto m = parse(r->bytes);
  check(m.ok());
  check(m->op == kBootReply);
  check(r->bytes.size() >= 300);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> input(data, size);
  auto parsed = parse(input);
  if (parsed.ok()) {
    const auto bytes = serialize(*parsed, 1500);
    auto again = parse(bytes);
    check(again.ok());
    check(again->xid == parsed->xid && again->chaddr == parsed->chaddr);
    check(serialize(*again, 1500) == bytes);
    // A small limit must still produce a valid message within 548 bytes.
    const auto small = serialize(*parsed, 0);
    check(small.size() <= 548 && parse(small).ok());
  }

  MemoryLeaseStore store;
  int64_t now = 1'700'000'000;
  auto server = Server::create(fuzzConfig(), store, [&now] { return now; });
  check(server.ok());
  Server& s = **server;
  checkReply(s.handle(input));
  check(s.commit().ok());
  if (!parsed.ok()) return 0;
  // Walk the same client through the state machine: each message type in turn, with the
  // fuzzed options, so that later handlers see the state earlier ones left.
  Message m = std::move(parsed).value();
  m.op = kBootRequest;
  m.giaddr = vnet::Ipv4();
  for (uint8_t t : {1, 3, 3, 4, 1, 3, 8, 7, 3}) {
    m.setMessageType(MessageType(t));
    checkReply(s.handle(serialize(m, 1500), RxInfo{.broadcast = (t & 1) != 0}));
    check(s.commit().ok());
    now += 700;
  }
  s.expire(now + 100000);
  check(s.commit().ok());
  return 0;
}
