// Translation from the network model to the protocol libraries' own config structs
// (dhcp and dns never include model; the daemon translates, as networkd does).
#pragma once

#include <optional>

#include "base/error.h"
#include "dhcp/server.h"
#include "dns/server.h"
#include "model/network.h"

namespace vnet::daemon {

// The DHCPv4 server config of a network, or nullopt when its IPv4 <ip> has no <dhcp>.
// Router: the bridge address, except on isolated networks (libvirt gives them none).
// DNS server: the bridge address when DNS is enabled. Lease time: the first range's
// <lease>, else 1 hour. <route>s via a gateway become option 121 routes.
Result<std::optional<dhcp::ServerConfig>> dhcpConfigFor(const model::Network& net);

// The DNS service config of a network, or nullopt when DNS is off (<dns enable='no'>),
// the network has no address, or it is a bridge-mode network. Listens on the bridge
// addresses; answers only clients inside the network's subnets; isolated networks never
// forward; upstreams are the <forwarder addr>s, plus the host's resolv.conf unless a
// forwarder without domain is given (libvirt's no-resolv).
std::optional<dns::ServerConfig> dnsConfigFor(const model::Network& net,
                                              const std::string& resolvConf);

// libvirt's <host id='...'>: colon-separated hex bytes ("01:52:54:00:12:34:56") are the
// client identifier as sent in option 61; anything else is taken as the raw bytes.
std::vector<uint8_t> parseClientId(const std::string& id);
std::string formatClientId(const std::vector<uint8_t>& id);

}  // namespace vnet::daemon
