#include "testing/trace_events.h"

namespace vnet::testing {

std::vector<uint8_t> ipv4Header(const std::string& src, const std::string& dst, uint8_t proto,
                                uint16_t totalLength) {
  std::vector<uint8_t> h = {
      0x45, 0, uint8_t(totalLength >> 8), uint8_t(totalLength), 0x12, 0x34, 0x40, 0, 64, proto,
      0,    0};
  for (const auto& a : {src, dst}) {
    auto b = Ipv4::parse(a)->toBytes();
    h.insert(h.end(), b.begin(), b.end());
  }
  return h;
}

std::vector<uint8_t> icmpEcho(uint8_t type, uint16_t id, uint16_t seq) {
  return {type,
          0,
          0xab,
          0xcd,
          uint8_t(id >> 8),
          uint8_t(id),
          uint8_t(seq >> 8),
          uint8_t(seq),
          1,
          2,
          3,
          4,
          5,
          6,
          7,
          8,
          9,
          10,
          11,
          12};
}

std::vector<uint8_t> tcpHeader(uint16_t sport, uint16_t dport, uint8_t flags) {
  std::vector<uint8_t> h(20, 0);
  h[0] = uint8_t(sport >> 8);
  h[1] = uint8_t(sport);
  h[2] = uint8_t(dport >> 8);
  h[3] = uint8_t(dport);
  h[12] = 0x50;
  h[13] = flags;
  return h;
}

kernel::TraceEvent ruleEvent(uint32_t id, std::string family, std::string table, std::string chain,
                             std::string hook, std::string rule, std::string verdict,
                             std::string target) {
  kernel::TraceEvent e;
  e.id = id;
  e.type = kernel::TraceEvent::Type::Rule;
  e.family = std::move(family);
  e.table = std::move(table);
  e.chain = std::move(chain);
  e.hook = std::move(hook);
  e.rule = std::move(rule);
  e.handle = 10 + e.rule.size();
  e.verdict = std::move(verdict);
  e.target = std::move(target);
  e.ourTable = e.family == "inet" && e.table == "vnet";
  return e;
}

kernel::TraceEvent policyEvent(uint32_t id, std::string family, std::string table,
                               std::string chain, std::string hook, std::string policy) {
  kernel::TraceEvent e = ruleEvent(id, std::move(family), std::move(table), std::move(chain),
                                   std::move(hook), "", std::move(policy));
  e.type = kernel::TraceEvent::Type::Policy;
  e.handle = 0;
  return e;
}

kernel::TraceEvent withPacket(kernel::TraceEvent e, std::vector<uint8_t> network,
                              std::vector<uint8_t> transport, std::string iif, std::string oif) {
  e.hasPacket = true;
  e.network = std::move(network);
  e.transport = std::move(transport);
  e.iif = std::move(iif);
  e.oif = std::move(oif);
  e.nfproto = 2;
  return e;
}

kernel::TraceEvent inTraceChain(kernel::TraceEvent e, unsigned traceId, bool reply) {
  e.traceId = traceId;
  e.traceReply = reply;
  return e;
}

}  // namespace vnet::testing
