// A guest port: a tap for QEMU or a veth into a container's netns, attached to a bridge.
#pragma once

#include <optional>
#include <string>

#include "base/ip.h"

namespace vnet::model {

enum class PortKind { Tap, Veth, Adopted };  // Adopted: created by someone else, seen on our bridge
const char* portKindName(PortKind k);        // "tap", "veth", "adopted"

struct Port {
  std::string network;
  std::string name;  // host-side interface name (vnetN)
  PortKind kind = PortKind::Tap;
  Mac guestMac;                   // the guest's MAC (tap: what QEMU should use; veth: the peer's)
  Mac hostMac;                    // host-side MAC (tap: guestMac with first byte 0xFE)
  std::optional<unsigned> owner;  // tap owner uid
  std::string netns;              // veth: netns name or path the peer lives in
  std::string peerName;           // veth: interface name inside the netns (eth0)
  std::optional<IpAddress> ip;    // runtime only: the guest's address from its DHCP lease
  std::string ipSource;           // runtime only: "lease" or "neighbour" (static guests)
};

}  // namespace vnet::model
