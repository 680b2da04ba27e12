// Turns the kernel's trace events into packets (pure; no I/O, time passed in).
//
// The kernel sends one event per rule a traced packet matches, per regular chain it falls
// off and per base-chain policy it meets, each tagged with a trace id and, on the first
// event of every base chain, the packet's headers. The id is a hash over the skb, its flow
// hash and input interface: a later packet of the same flow may reuse it, and one packet
// may change it between hooks (Linux 6.x does between prerouting and forward). So:
//   - events of one id form one packet, until the id shows up again in a base chain the
//     packet already passed (then it is the next packet);
//   - a new id whose first event is at a later hook continues an open packet whose
//     latest headers match (same protocol, IP id/flow label and length, transport
//     identity such as the TCP sequence or ICMP echo sequence, and the same source or
//     the same destination: NAT may have rewritten the other side);
//   - a packet is complete when no event came for `settle`.
// A packet belongs to the traces whose trace rules marked it; other packets are dropped.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "api/trace_record.h"
#include "kernel/trace.h"

namespace vnet::daemon {

struct ParsedPacket {
  api::PacketInfo info;
  std::optional<kernel::FlowTuple> tuple;  // IPv4/IPv6 with a parsable transport header
  // What stays the same for one packet across hooks and NAT: protocol, IPv4 id / IPv6
  // flow label, length, and the transport's own sequence (TCP sequence number, ICMP echo
  // sequence, UDP length). nullopt when the headers are not parsable.
  std::optional<uint64_t> identity;
};

// Parses the headers the kernel dumped (the IP header, then up to 20 bytes from the
// transport header on). Hostile input: short or odd bytes give a partial result.
ParsedPacket parsePacket(std::span<const uint8_t> network, std::span<const uint8_t> transport);

// Where the packet went: the first drop, queue or steal decides; otherwise accepted, with
// the last output interface seen.
api::TraceFate fateOf(const std::vector<api::TraceStep>& steps);

// The source NAT conntrack applied to a packet sent with `original` (the entry's
// original tuple): nullopt when the reply tuple shows no translation. `oif` names the
// interface it leaves by.
std::optional<api::TraceNat> natFromConntrack(const kernel::FlowTuple& original,
                                              const kernel::ConntrackEntry& entry,
                                              const std::string& oif);

// Translations visible in the packet's own headers between the first and the last base
// chain (the destination of a masqueraded reply restored at prerouting, a port forward).
std::vector<api::TraceNat> natFromHeaders(const ParsedPacket& first, const ParsedPacket& last,
                                          const std::string& lastHook);

struct AssembledPacket {
  std::vector<unsigned> traces;  // the traces whose chains marked it
  bool toGuest = false;          // marked by a reply chain
  api::TracePacket packet;       // seq 0; nat from headers only
  ParsedPacket first;            // the headers at the first event
};

class TraceAssembler {
 public:
  using Clock = std::chrono::steady_clock;

  explicit TraceAssembler(Clock::duration settle = std::chrono::milliseconds(100))
      : settle_(settle) {}

  void add(const kernel::TraceEvent& e, Clock::time_point now);
  // Complete packets, in the order their first events arrived; a packet is returned
  // only when every older one is complete too.
  std::vector<AssembledPacket> take(Clock::time_point now);
  // Everything still open, complete or not.
  std::vector<AssembledPacket> takeAll();
  // When the oldest open packet completes if no event comes; nullopt when none is open.
  std::optional<Clock::time_point> nextDeadline() const;
  size_t open() const { return packets_.size(); }

 private:
  struct Open {
    std::vector<uint32_t> ids;  // the trace ids it had, first first
    Clock::time_point last;
    bool done = false;                          // superseded by a later packet with the same id
    std::vector<std::string> baseChains;        // "family table chain" passed
    std::map<std::string, std::string> hookOf;  // "family table" -> current hook
    std::vector<unsigned> traces;
    bool toGuest = false;
    std::vector<api::TraceStep> steps;
    std::optional<ParsedPacket> first;   // the headers at the first dump
    std::optional<ParsedPacket> latest;  // ... and at the latest one
    std::string lastHook;
  };
  std::vector<AssembledPacket> finish(size_t n);
  // The open packet a new id's first event continues, if any.
  Open* continued(const kernel::TraceEvent& e, const ParsedPacket& parsed, Clock::time_point now);

  Clock::duration settle_;
  std::deque<Open> packets_;  // in order of first event
};

}  // namespace vnet::daemon
