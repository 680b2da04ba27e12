// libvirt <network> XML ⇄ model::Network.
//
// Parsing checks syntax and value forms only (addresses, MACs, numbers, yes/no, known forward
// modes); it never calls model::validate(). Callers parse, then validate:
//   auto net = parseNetworkXml(text);  if (!net) ...;  VNET_TRY(model::validate(*net));
// Every error message starts with the element path and source line, as validate() does:
//   "network/ip[1]/dhcp/range[2] (line 12): start='192.168.1.x' is not a valid IP address"
// XML syntax errors read "line N, column M: <pugixml description>".
// Inputs larger than kMaxXmlBytes fail with ErrorCode::TooLarge.
//
// Elements we do not implement (portgroup, bandwidth, vlan, virtualport, forward/interface,
// ip/tftp, dnsmasq:options, any unknown child of network, forward, nat, dns, ip or dhcp) are
// kept verbatim in Network::unsupported and re-emitted by the formatter inside the same
// parent; forward modes passthrough/private/vepa/hostdev land in Network::forwardModeOther.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "base/error.h"
#include "model/network.h"

namespace vnet::config {

inline constexpr size_t kMaxXmlBytes = size_t{1} << 20;

Result<model::Network> parseNetworkXml(std::string_view xml);

// Normalized XML like `virsh net-dumpxml`: fixed element order (name, uuid, title,
// description, forward, bridge, mac, mtu, domain, dns, ip..., route..., then kept
// elements), 2-space indentation, single-quoted attributes, trailing newline.
// formatNetworkXml(parse(formatNetworkXml(n))) == formatNetworkXml(n) for every parsed n.
std::string formatNetworkXml(const model::Network& net);

// Fragments for `net-update` sections (ip-dhcp-host, ip-dhcp-range, dns-host, dns-srv,
// dns-txt). The root element must be <host>, <range>, <host>, <srv>, <txt> respectively;
// error paths start at that element ("host (line 1): ...").
Result<model::DhcpHost> parseDhcpHostXml(std::string_view xml);
Result<model::DhcpRange> parseDhcpRangeXml(std::string_view xml);
Result<model::DnsHost> parseDnsHostXml(std::string_view xml);
Result<model::DnsSrv> parseDnsSrvXml(std::string_view xml);
Result<model::DnsTxt> parseDnsTxtXml(std::string_view xml);

// passthrough, private, vepa, hostdev: libvirt forward modes kept for round trip only.
bool isKeptForwardMode(std::string_view mode);

// True when `xml` is well-formed and holds exactly one element (an UnsupportedElement::xml).
bool isSingleXmlElement(std::string_view xml);

std::string formatDhcpHostXml(const model::DhcpHost& host);
std::string formatDhcpRangeXml(const model::DhcpRange& range);
std::string formatDnsHostXml(const model::DnsHost& host);
std::string formatDnsSrvXml(const model::DnsSrv& srv);
std::string formatDnsTxtXml(const model::DnsTxt& txt);

}  // namespace vnet::config
