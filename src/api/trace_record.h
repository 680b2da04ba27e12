// The records of a trace stream (GET /v1/networks/NAME/trace): one JSON object per line,
// {"type": "start"|"packet"|"note"|"end", ...}. vnetd writes them, vnetctl reads them and
// prints them as text (renderText) or passes the lines through (-o json).
//
//   start   what is traced: trace id, network, port, guest MAC/address, the rules added
//   packet  one packet: what it was, every hook/table/chain/rule/verdict it met in order,
//           address translations, and its fate (for a drop: who dropped it)
//   note    something the user should know mid-trace (replies now followed, lost events)
//   end     why the trace ended and how many packets it showed; the last line
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/error.h"

namespace vnet::api {

struct TraceStart {
  unsigned id = 0;
  std::string network;
  std::string port;
  std::string bridge;
  std::string guestMac;
  std::string guestIp;             // "" until known
  std::string to;                  // --to, "" for any
  std::string proto;               // --proto, "" for any
  unsigned count = 0;              // 0: no limit
  unsigned duration = 0;           // seconds, 0: no limit
  std::vector<std::string> rules;  // "chain: rule" of the trace rules added
};

// One rule, policy or chain end the packet met.
struct TraceStep {
  std::string hook;  // the hook being evaluated ("prerouting", ..., "" if unknown)
  std::string family;
  std::string table;
  std::string chain;
  std::optional<int> priority;  // base chains
  std::string kind;             // "rule", "policy" or "return"
  uint64_t handle = 0;
  std::string rule;     // rule text ("" unknown)
  std::string verdict;  // "accept", "drop", "continue", "jump", "goto", "return", ...
  std::string target;   // jump/goto target
  std::string iif;      // set where the packet was dumped (first step of a base chain)
  std::string oif;
  bool ours = false;   // table inet vnet
  bool trace = false;  // one of this trace's own chains
};

struct PacketInfo {
  std::string family;  // "ipv4", "ipv6" or "" (not parsed)
  std::string src;
  std::string dst;
  std::string proto;  // "icmp", "ipv6-icmp", "tcp", "udp" or the number
  std::optional<uint16_t> sport, dport;
  std::optional<int> icmpType, icmpCode;
  std::optional<uint16_t> icmpId, icmpSeq;
  std::string tcpFlags;  // "S", "SA", "A", "FA", ...
  unsigned length = 0;   // IP total length
  // Rendered from the fields: "icmp echo-request id 7 seq 1", "tcp 40000 → 80 [S]".
  std::string describe() const;
  // "192.168.122.10 → 198.51.100.1" (with ports for tcp/udp).
  std::string endpoints() const;
};

// One address translation the packet underwent.
struct TraceNat {
  std::string kind;    // "snat" (source rewritten on the way out), "dnat", "reply"
  std::string before;  // "192.168.122.10" or "192.168.122.10:40000"
  std::string after;
  std::string where;  // the interface it leaves by, or the hook where it showed
  std::string text;   // one line for people
};

struct TraceFate {
  // "accepted" (no chain dropped it), "dropped", "queued", "stolen".
  std::string verdict = "accepted";
  // Dropped/queued/stolen: the step that decided.
  std::string hook, family, table, chain;
  std::string by;  // "rule" or "policy"
  std::string rule;
  uint64_t handle = 0;
  std::string oif;  // accepted: the last output interface seen ("" for local delivery)
};

struct TracePacket {
  unsigned seq = 0;       // 1, 2, ... within the trace
  uint32_t traceId = 0;   // the kernel's trace id
  std::string direction;  // "from-guest" or "to-guest"
  PacketInfo packet;
  std::vector<TraceStep> steps;
  std::vector<TraceNat> nat;
  TraceFate fate;
};

struct TraceNote {
  std::string message;
};

struct TraceEnd {
  std::string reason;  // "count", "duration", "stopped" (vnetd stopping), "error"
  unsigned packets = 0;
  std::string detail;
};

using TraceRecord = std::variant<TraceStart, TracePacket, TraceNote, TraceEnd>;

// One JSON line (with '\n').
std::string traceLine(const TraceRecord& r);
// Parses one line; errors name what is wrong.
Result<TraceRecord> parseTraceLine(std::string_view line);

// Human text for one record (ends with '\n'; a packet is a paragraph followed by a blank
// line).
std::string renderText(const TraceRecord& r);

}  // namespace vnet::api
