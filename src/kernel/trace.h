// kernel::Tracing and kernel::ConntrackLookup: what `vnetctl trace` needs from the kernel.
// Real implementations: kernel/nft/nft_tracing.h (nftables trace rules in our table and
// the NFNLGRP_NFTRACE event stream) and kernel/netlink/conntrack_lookup.h
// (libnetfilter-conntrack); fakes in testing/fake_tracing.h.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/ip.h"

namespace vnet::kernel {

// What trace `id` follows: packets a guest sends into its network's bridge, recognised by
// the guest's source MAC (at the IP hooks a bridged packet's input interface is the bridge,
// not the guest's port), optionally only those to `to` and of protocol `proto`; and, when
// `guestIp` is known, the replies conntrack sends back to that address.
struct TraceMatch {
  unsigned id = 0;
  std::string bridge;
  Mac guestMac;
  // True: compare only the last five bytes of the source MAC with guestMac (libvirt's taps
  // carry the guest's MAC with the first byte replaced by 0xFE; the guest's first byte is
  // not known).
  bool macLow5Only = false;
  std::optional<IpAddress> to;
  std::string proto;  // "", "icmp", "icmpv6", "tcp" or "udp"
  std::optional<IpAddress> guestIp;
};

// One nftables trace event, decoded and annotated with what the ruleset says about its
// chain and rule.
struct TraceEvent {
  enum class Type { Rule, Return, Policy };

  uint32_t id = 0;  // the kernel's per-packet trace id
  Type type = Type::Rule;
  std::string family;  // the table's family: "inet", "ip", "ip6", "bridge", "arp", "netdev"
  std::string table;
  std::string chain;
  // From the chain's definition: a base chain has a hook ("prerouting", ...), a type
  // ("filter", "nat", "route") and a priority; a regular chain has an empty hook.
  std::string hook;
  std::string chainType;
  std::optional<int> priority;
  uint64_t handle = 0;  // Rule: the rule's handle
  std::string rule;     // Rule: the rule as `nft list` prints it; "" when not found
  // Rule and Return: "accept", "drop", "queue", "stolen", "continue", "break", "jump",
  // "goto", "return"; Policy: the chain's policy ("accept" or "drop").
  std::string verdict;
  std::string target;       // jump/goto target chain
  bool ourTable = false;    // the table is vnet's own (inet vnet)
  unsigned traceId = 0;     // the chain is a trace chain: its trace's id (else 0)
  bool traceReply = false;  // ... and it is the reply chain of that trace
  // Set on the first event of each base chain evaluation (when the kernel dumps the
  // packet): interface names, the layer 3 protocol (2 IPv4, 10 IPv6) and the headers as
  // the packet was at that point.
  bool hasPacket = false;
  std::string iif;
  std::string oif;
  uint32_t mark = 0;
  uint8_t nfproto = 0;
  std::vector<uint8_t> network;
  std::vector<uint8_t> transport;
};

// Receives trace events; `problem` gets conditions that lose events (socket overflow).
struct TraceListener {
  std::function<void(const TraceEvent&)> event;
  std::function<void(const std::string&)> problem;
};

// The trace rules live in temporary base chains of our table (kernel/nft/trace_rules.h
// names them); every add or remove is one atomic batch that touches nothing else.
class Tracing {
 public:
  virtual ~Tracing() = default;

  // Adds the chains of trace m.id: the from-guest chain with its rule and the (possibly
  // empty) reply chain, with a rule when m.guestIp is set.
  virtual Status addTrace(const TraceMatch& m) = 0;
  // Sets the reply rule of trace m.id for m.guestIp (replacing any earlier one).
  virtual Status followReplies(const TraceMatch& m) = 0;
  // Deletes the chains of trace `id`; success when they are absent.
  virtual Status removeTrace(unsigned id) = 0;
  // Deletes every trace chain in our table (leftovers of a vnetd that did not stop).
  virtual Status removeAllTraces() = 0;

  // Starts delivering every trace event of this network namespace to `listener` (on the
  // event loop) until stopListening(). Calling it while listening replaces the listener.
  virtual Status listen(TraceListener listener) = 0;
  // Safe to call from inside a listener callback; no callback runs afterwards.
  virtual void stopListening() = 0;
};

// A connection as conntrack sees it. For ICMP, `sport` is the echo identifier and
// `dport` 0; icmpType/icmpCode are the direction's type and code (in a reply tuple from
// conntrack all three are 0: libnetfilter-conntrack does not expose them).
struct FlowTuple {
  IpAddress src;
  IpAddress dst;
  uint8_t proto = 0;  // IPPROTO_*
  uint16_t sport = 0;
  uint16_t dport = 0;
  uint8_t icmpType = 0;
  uint8_t icmpCode = 0;
  friend bool operator==(const FlowTuple&, const FlowTuple&) = default;
};

struct ConntrackEntry {
  FlowTuple original;
  FlowTuple reply;
};

class ConntrackLookup {
 public:
  virtual ~ConntrackLookup() = default;
  // The entry whose original-direction tuple is `t`; nullopt when conntrack has none
  // (yet: an entry exists once its first packet has left the host).
  virtual Result<std::optional<ConntrackEntry>> find(const FlowTuple& t) = 0;
};

}  // namespace vnet::kernel
