// Builders of fabricated nftables trace events and packet headers for unit tests.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/ip.h"
#include "kernel/trace.h"

namespace vnet::testing {

// An IPv4 header (20 bytes, no options) for proto from src to dst.
std::vector<uint8_t> ipv4Header(const std::string& src, const std::string& dst, uint8_t proto,
                                uint16_t totalLength = 84);
// ICMP echo request (type 8) or reply (type 0) header bytes.
std::vector<uint8_t> icmpEcho(uint8_t type, uint16_t id, uint16_t seq);
// TCP header start with ports and flags (20 bytes).
std::vector<uint8_t> tcpHeader(uint16_t sport, uint16_t dport, uint8_t flags);

// A rule event. `hook` empty: a regular chain.
kernel::TraceEvent ruleEvent(uint32_t id, std::string family, std::string table, std::string chain,
                             std::string hook, std::string rule, std::string verdict,
                             std::string target = "");
kernel::TraceEvent policyEvent(uint32_t id, std::string family, std::string table,
                               std::string chain, std::string hook, std::string policy);
// Marks `e` as the first event of a base chain evaluation, carrying the packet.
kernel::TraceEvent withPacket(kernel::TraceEvent e, std::vector<uint8_t> network,
                              std::vector<uint8_t> transport, std::string iif,
                              std::string oif = "");
// Marks `e` as an event of trace `traceId`'s chain (reply chain when `reply`).
kernel::TraceEvent inTraceChain(kernel::TraceEvent e, unsigned traceId, bool reply = false);

}  // namespace vnet::testing
