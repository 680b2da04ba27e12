// Pure renderer: model::Network -> nft script text for our table `inet vnet`.
// No I/O: the same input always gives the same text (golden-tested).
//
// Layout (design: ARCHITECTURE.md, "Firewall design"): a FIXED set of chains and rules,
// created once, whose matches look packets up in named sets; starting or stopping a
// network only adds or deletes set elements. Why: the kernel re-validates the whole table
// (every chain reachable from a base chain) in each batch that adds a jump or a rule with
// reject/masquerade, and libnftables lists every chain and interval set before each batch,
// so per-network chains make each start cost grow with the number of networks. Set
// elements of hash sets and concatenated-interval (pipapo) sets cost neither.
//
//   forward (filter)     guest_pairs → accept; oif in @guests → to_guests;
//                        iif in @guests → from_guests; else policy accept
//   to_guests            replies (nat, established/related) and inbound (route) `return`,
//                        so the sending network's from_guests is consulted too; else reject
//   from_guests          outbound (nat, route) accept; else reject
//   input / output       DHCP, DHCPv6, DNS from/to the bridges in @dhcp4/@dhcp6/@dns
//   postrouting (nat)    @nat_custom (jump to a network's own chain when its <nat> sets
//                        addresses or ports), then @nat_local (no NAT inside the subnet),
//                        local multicast/broadcast, then masquerade of @masq4/@masq6
//                        (tcp/udp source ports 1024-65535, then other protocols)
//
// Every element carries comment "<chainId(network)>": the owner, shown by `nft list` and
// used to find a network's elements after a restart. Sets with a `_dev` suffix add the
// network's `forward dev` as a field (libvirt then accepts only through that device).
// Keys start with the bridge name; in postrouting that is the input device (`iifname`),
// which the kernel sets for forwarded packets.
//
// Semantics are libvirt's, with these differences on purpose: a packet between two of our
// bridges must pass both networks' policies (the receiving network first), so an isolated
// network stays isolated even towards a routed one; DHCP ports are opened only for a family
// whose <ip> has <dhcp> and DNS only when DNS is enabled; `reject` is libvirt's REJECT
// (ICMP port unreachable); masquerade is keyed by the input bridge and the subnet.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "model/network.h"

namespace vnet::kernel::nft {

inline constexpr std::string_view kFamily = "inet";
inline constexpr std::string_view kTableName = "vnet";

// One element of one of our sets or maps. `key` is nft syntax ("\"vnbr0\"",
// "\"vnbr0\" . 192.168.122.0/24"); `chain` is the chain a verdict-map element jumps to
// ("" for a plain set element); `owner` is the element's comment (chainId of the network).
struct MapElement {
  std::string map;
  std::string key;
  std::string chain;
  std::string owner;
  friend bool operator==(const MapElement&, const MapElement&) = default;
};

// What one network owns in the table: its set elements and its own chains (only a network
// whose <nat> sets addresses or ports has one). Deleting the elements then the chains
// removes the network and nothing else.
struct NetworkObjects {
  std::vector<std::string> chains;
  std::vector<MapElement> elements;
  bool empty() const { return chains.empty() && elements.empty(); }
};

// The prefix of every chain of network `name`: [A-Za-z0-9] kept, every other byte (and a
// leading digit) written as `_xx` (lower-case hex). Injective, always a valid nft
// identifier, and never ambiguous with our suffixes: "default" -> "default",
// "my-net" -> "my_2dnet".
std::string chainId(std::string_view networkName);

// True for the chains of the fixed layout (forward, to_guests, ...), which no network owns.
bool isFixedChain(std::string_view chain);

// The chain names a network with this name may own (all kinds, whether present or not).
std::vector<std::string> possibleChains(std::string_view networkName);

// Checks what the renderer embeds verbatim: the bridge name and forward dev must be
// usable interface names (1..15 bytes, printable ASCII without space, '"', '\\', '/').
// Networks without rules (open, bridge) always pass.
Status checkRenderable(const model::Network& net);

// True when the network gets rules at all (every mode but open and bridge).
bool hasRules(const model::Network& net);

// The objects renderAddNetwork creates for `net` (empty for open/bridge).
NetworkObjects objectsOf(const model::Network& net);

// The table, its sets and its fixed chains, created if missing; the fixed chains are
// flushed and their rules re-added, so applying it again changes nothing.
std::string renderBase();

// ONE batch that installs `net`: with `withBase`, renderBase() first (needed when the table
// may be missing or altered); then deletes what `replacing` (what the table held for this
// network before) has and the new definition has not; then flushes and fills the network's
// own chains and adds all its elements (adding an existing element is a no-op). Applied
// atomically, this adds or replaces the network.
std::string renderAddNetwork(const model::Network& net, const NetworkObjects& replacing = {},
                             bool withBase = true);

// A batch deleting `objects`: the elements first (they reference the chains), then the
// chains. Empty text for empty objects.
std::string renderRemove(const NetworkObjects& objects);

// renderRemove(objectsOf(net)).
std::string renderRemoveNetwork(const model::Network& net);

// The whole table holding `networks`, in `nft list table inet vnet` layout (loadable with
// `nft -f`). Map elements are listed in network order, one per line.
std::string renderRuleset(const std::vector<model::Network>& networks);

}  // namespace vnet::kernel::nft

namespace vnet::kernel::nft {

// One rule of our table as `nft list` prints it, split for people.
struct RuleView {
  std::string chain;
  std::string hook;     // the chain's "type ... hook ..." line; "" for a regular chain
  std::string rule;     // the rule without its comment
  std::string comment;  // what it is for
};

// The rules of `listing` (`nft list table inet vnet` text) that act on network `net`'s
// traffic: those that look up a set holding one of its elements, and those without set
// lookups in the chains its packets pass (final rejects, multicast/broadcast exceptions).
// In listing order. A rule from a set `net` has no element in is left out.
std::vector<RuleView> rulesUsedBy(std::string_view listing, const model::Network& net);

}  // namespace vnet::kernel::nft
