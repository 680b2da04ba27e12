// Pure renderer: model::Network -> nft script text for our table `inet vnet`.
// No I/O: the same input always gives the same text (golden-tested).
//
// Layout (design: ARCHITECTURE.md, "Firewall design"):
//   base chains   forward (filter), input (filter), output (filter), postrouting (nat),
//                 all `policy accept`: we reject only traffic of our own bridges and never
//                 act as the host firewall.
//   verdict maps  forward_oif, forward_iif, input_iif, output_oif  (type ifname : verdict)
//                 postrouting_saddr4, postrouting_saddr6           (prefix : verdict)
//                 One lookup per packet per base chain whatever the number of networks.
//   per network   <id>_fwd_out  forwarded traffic going out the bridge (to guests)
//                 <id>_fwd_in   forwarded traffic coming in the bridge (from guests)
//                 <id>_in       traffic from guests to the host (DHCP, DNS)
//                 <id>_out      traffic from the host to guests (DHCP, DNS replies)
//                 <id>_nat      source NAT of the network's subnets (nat mode only)
//                 where <id> is chainId(network name).
//
// `forward` first jumps by oifname, then by iifname. The to-guests chain ends with
// `reject` and ends permitted traffic with `return` (not `accept`), so that a packet
// between two of our bridges must pass both networks' policies: a guest of network A
// reaches a guest of network B only when A lets it out AND B lets it in. With nat on B
// (established only) and any A, A's guests cannot open connections to B's guests; an
// isolated A stays isolated even towards a routed B (libvirt's iptables order lets that
// one through; we don't).
//
// Differences from libvirt, on purpose: DHCP ports are opened only for a family whose
// <ip> has <dhcp>, DNS only when DNS is enabled (libvirt opens both always; with policy
// accept the effect is the same, the listing is just honest); tcp and udp share one
// masquerade rule (`meta l4proto { tcp, udp }`) where libvirt has two. `reject` is
// libvirt's REJECT: ICMP(v6) port unreachable.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "model/network.h"

namespace vnet::kernel::nft {

inline constexpr std::string_view kFamily = "inet";
inline constexpr std::string_view kTableName = "vnet";

// One element of one of our verdict maps. `key` is nft syntax ("\"vnbr0\"",
// "192.168.122.0/24"); `chain` is the regular chain the element jumps to.
struct MapElement {
  std::string map;
  std::string key;
  std::string chain;
  friend bool operator==(const MapElement&, const MapElement&) = default;
};

// What one network owns in the table: its regular chains and the map elements that jump
// to them. Deleting the elements then the chains removes the network and nothing else.
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

// The table, its maps and base chains, created if missing; base chains are flushed and
// their dispatch rules re-added, so applying it again changes nothing.
std::string renderBase();

// ONE batch that installs `net`: declares its chains, then renderBase(), then deletes
// `replacing` (what the table held for this network before: its map elements, and its
// chains the new definition no longer has), then flushes and fills the network's chains
// and adds its map elements. Applied atomically, this adds or replaces the network.
// Chains are declared before the maps because nft 1.0.6 fails (ENOENT) to add an
// element jumping to a chain declared after an interval map created in the same batch.
std::string renderAddNetwork(const model::Network& net, const NetworkObjects& replacing = {});

// A batch deleting `objects`: the elements first (they reference the chains), then the
// chains. Empty text for empty objects.
std::string renderRemove(const NetworkObjects& objects);

// renderRemove(objectsOf(net)).
std::string renderRemoveNetwork(const model::Network& net);

// The whole table holding `networks`, in `nft list table inet vnet` layout (loadable with
// `nft -f`). Map elements are listed in network order, one per line.
std::string renderRuleset(const std::vector<model::Network>& networks);

}  // namespace vnet::kernel::nft
