// Whether a base chain of someone else's table drops a class of guest traffic.
//
// netfilter runs every base chain registered on a hook, in priority order, and each gives
// its own verdict: an accept ends only that chain, a drop anywhere is final. So our
// table's accepts cannot override a drop in another table; the doctor must find such
// drops itself. It walks the chain (jumps, gotos, returns, verdict maps) for concrete
// packets of the class, deciding each match as never / maybe / always true for them.
// Matches it understands: iifname/oifname (and iif/oif, with wildcards), ibrname/obrname,
// ip/ip6 saddr/daddr (addresses, prefixes, ranges, anonymous and named sets), meta l4proto,
// ip protocol, ip6 nexthdr, tcp/udp/th sport/dport, meta nfproto, meta protocol, ether type,
// ct state; implied protocol dependencies (`udp dport` is never true for tcp). Anything else
// (marks, fib, limits, xt matches, ...) is "maybe". Pure: no I/O.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/ip.h"
#include "doctor/ruleset.h"

namespace vnet::doctor {

enum class Tri { Never, Maybe, Always };

// A class of packets of one network as the hooks see them. A list holds every value the
// packets may have; nullopt means any value. An empty interface list means "no such
// interface at this hook".
struct Traffic {
  std::string what;  // "guests' traffic to the outside"
  Family family = Family::V4;
  bool bridged = false;  // frames seen by bridge-family chains (interfaces are bridge ports)
  std::vector<std::string> hooks;
  std::optional<std::vector<std::string>> iif;
  std::optional<std::vector<std::string>> oif;
  std::string bridge;       // the network's bridge (meta ibrname/obrname of bridged frames)
  std::vector<Cidr> saddr;  // empty: any address
  std::vector<Cidr> daddr;
  std::optional<std::vector<std::string>> l4;  // "tcp", "udp", "icmp", "ipv6-icmp"
  std::optional<std::vector<uint16_t>> sport;
  std::optional<std::vector<uint16_t>> dport;
  std::vector<std::string> ct{"new", "established", "related"};  // empty: unknown
};

// One concrete packet of a Traffic at one chain: every field one value or unknown
// (nullopt). iif/oif "" means the hook has no such interface.
struct Packet {
  Family family = Family::V4;
  bool bridged = false;
  std::optional<std::string> iif;
  std::optional<std::string> oif;
  std::string bridge;
  std::optional<Cidr> saddr;
  std::optional<Cidr> daddr;
  std::optional<std::string> l4;
  std::optional<uint16_t> sport;
  std::optional<uint16_t> dport;
  std::optional<std::string> ct;  // unknown in bridge chains and before conntrack (prio < -200)
};

// "new udp 0.0.0.0 -> 255.255.255.255 dport 67 in vnbr0"
std::string describe(const Packet& p);

// True when `chain` is a base chain whose family and hook see packets of `t`.
bool chainSees(const NftChain& chain, const Traffic& t);

// The packets of `t` as `chain` sees them: one per combination of listed values (lists are
// turned into "any" when the combinations would exceed 512). Nat chains see only new
// connections.
std::vector<Packet> packetsAt(const Traffic& t, const NftChain& chain);

// A place that drops (or may drop) packets: a rule, or the base chain's policy.
struct DropSource {
  std::vector<std::string> via;   // chains walked, from the base chain to the one holding the rule
  const NftRule* rule = nullptr;  // nullptr: the base chain's policy
  std::string verdict;            // "drop", "reject", "queue", "policy drop", ...
  bool certain = false;           // the packet surely reaches it and matches
};

struct ChainVerdict {
  bool mayDrop = false;   // some path through the chain drops the packet
  bool dropsAll = false;  // every path drops it: the packet is dropped
  std::vector<DropSource> sources;
};

// Walks base chain `base` of `rs` for packet `p`.
ChainVerdict evaluate(const Ruleset& rs, const NftChain& base, const Packet& p);

}  // namespace vnet::doctor
