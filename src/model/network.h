// The network model: plain values, no I/O. One Network is one libvirt <network>.
// Field comments give the libvirt XML each field comes from. `line` fields hold the
// source line of the element a value came from (0 when built in code), so that
// validation errors can point at it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/ip.h"

namespace vnet::model {

// <forward mode='...'>; absent <forward> means Isolated (libvirt: "none").
enum class ForwardMode { Isolated, Nat, Route, Open, Bridge };
const char* forwardModeName(ForwardMode m);  // "none", "nat", "route", "open", "bridge"
std::optional<ForwardMode> parseForwardMode(std::string_view s);

// <nat><address start end/><port start end/></nat>, <nat ipv6='yes'>.
struct Nat {
  std::optional<Ipv4> addressStart;
  std::optional<Ipv4> addressEnd;
  uint16_t portStart = 1024;
  uint16_t portEnd = 65535;
  bool portsSet = false;  // <port> was given (kept for round trip)
  bool ipv6 = false;
  int line = 0;
};

// <bridge name stp delay/>
struct Bridge {
  std::string name;  // empty until assigned (vnbr%d)
  bool stp = true;
  unsigned delay = 0;
  int line = 0;
};

// <domain name localOnly/>
struct Domain {
  std::string name;
  bool localOnly = false;
  int line = 0;
};

// <dns><forwarder addr port domain/></dns>; a forwarder with only domain= means
// "resolve this domain locally" in libvirt.
struct DnsForwarder {
  std::optional<IpAddress> addr;
  std::optional<uint16_t> port;
  std::string domain;
  int line = 0;
};

// <dns><host ip><hostname>..</hostname></host></dns>
struct DnsHost {
  IpAddress ip;
  std::vector<std::string> hostnames;
  int line = 0;
};

// <dns><srv service protocol domain target port priority weight/></dns>
struct DnsSrv {
  std::string service;
  std::string protocol;  // "tcp" or "udp"
  std::string domain;
  std::string target;
  std::optional<uint16_t> port;
  std::optional<uint16_t> priority;
  std::optional<uint16_t> weight;
  int line = 0;
};

// <dns><txt name value/></dns>
struct DnsTxt {
  std::string name;
  std::string value;
  int line = 0;
};

// <dns enable forwardPlainNames>
struct Dns {
  std::optional<bool> enable;             // absent = enabled
  std::optional<bool> forwardPlainNames;  // absent = yes
  std::vector<DnsForwarder> forwarders;
  std::vector<DnsHost> hosts;
  std::vector<DnsSrv> srvs;
  std::vector<DnsTxt> txts;
  int line = 0;
  bool enabled() const { return enable.value_or(true); }
};

// <lease expiry unit/>: expiry 0 means infinite.
struct Lease {
  uint64_t expiry = 0;
  std::string unit = "minutes";  // seconds | minutes | hours
  // Lease length in seconds; 0 = infinite.
  uint64_t seconds() const;
};

// <range start end>[<lease/>]</range>
struct DhcpRange {
  IpAddress start;
  IpAddress end;
  std::optional<Lease> lease;
  int line = 0;
};

// <host mac id name ip>[<lease/>]</host>
struct DhcpHost {
  std::optional<Mac> mac;
  std::string id;  // DHCP client id (v4) / DUID (v6), as written
  std::string name;
  std::optional<IpAddress> ip;
  std::optional<Lease> lease;
  int line = 0;
};

// <bootp file server/>
struct Bootp {
  std::string file;
  std::optional<Ipv4> server;
  int line = 0;
};

// <ip address netmask|prefix family localPtr><dhcp>...</dhcp></ip>
struct IpConfig {
  Family family = Family::V4;
  IpAddress address;
  int prefix = 24;
  bool netmaskForm = false;  // written with netmask= (kept for round trip)
  bool familyWritten = false;
  bool localPtr = false;
  bool hasDhcp = false;  // a <dhcp> element is present
  std::vector<DhcpRange> ranges;
  std::vector<DhcpHost> hosts;
  std::optional<Bootp> bootp;
  int line = 0;
  int dhcpLine = 0;
  Cidr cidr() const { return Cidr{address, prefix}; }
};

// <route family address prefix|netmask gateway metric/>
struct Route {
  Family family = Family::V4;
  IpAddress address;
  int prefix = 0;
  IpAddress gateway;
  std::optional<unsigned> metric;
  bool familyWritten = false;
  int line = 0;
};

// An element we keep for round trip but do not implement (portgroup, bandwidth, vlan, ...).
struct UnsupportedElement {
  std::string path;  // e.g. "network/portgroup"
  std::string xml;   // the element's serialized XML, re-emitted verbatim by the formatter
  int line = 0;
};

struct Network {
  std::string name;
  std::string uuid;  // empty until assigned
  std::string title;
  std::string description;
  ForwardMode mode = ForwardMode::Isolated;
  bool hasForwardElement = false;
  std::string forwardDev;  // <forward dev='eth0'>
  // A forward mode we keep for round trip but cannot start (passthrough, private, vepa,
  // hostdev); `mode` is Isolated then and checkStartable() refuses the network.
  std::string forwardModeOther;
  int forwardLine = 0;
  std::optional<Nat> nat;
  Bridge bridge;
  std::optional<Mac> mac;
  std::optional<unsigned> mtu;
  std::optional<Domain> domain;
  std::optional<Dns> dnsElement;  // present when <dns> was written
  std::vector<IpConfig> ips;
  std::vector<Route> routes;
  std::vector<UnsupportedElement> unsupported;
  int line = 0;
  int nameLine = 0;  // lines of <name>, <mac>, <mtu>
  int macLine = 0;
  int mtuLine = 0;

  const IpConfig* ipv4() const;  // first IPv4 <ip>, if any
  const IpConfig* ipv6() const;  // first IPv6 <ip>, if any
  bool dnsEnabled() const { return !dnsElement || dnsElement->enabled(); }
  // Nat, route and open forward traffic beyond the host.
  bool forwards() const {
    return mode == ForwardMode::Nat || mode == ForwardMode::Route || mode == ForwardMode::Open;
  }
};

// "network/ip[1]/dhcp/range[2] (line 12)", or just the path when line is 0 (not from XML).
// The prefix of every config and validation error message.
std::string elementLocation(std::string_view path, int line);

// Checks one definition on its own. Every message names the element path and line:
//   "network/ip[1]/dhcp/range[2] (line 12): start 192.168.1.10 is outside 192.168.122.0/24"
Status validate(const Network& net);

// Checks a definition against the others already defined (names, UUIDs, bridge names,
// overlapping subnets). `others` must not contain `net` itself (same name is a conflict).
Status validateAgainst(const Network& net, const std::vector<const Network*>& others);

// Fills in what libvirt generates: uuid, bridge name (lowest free vnbr%d not in
// `usedBridges`), MAC (52:54:00:xx:xx:xx). Leaves given values alone.
void fillDefaults(Network& net, const std::vector<std::string>& usedBridges);

// Returns "not supported yet: <element> (line N)" when the definition holds elements we
// keep for round trip but cannot start.
Status checkStartable(const Network& net);

// Why `name` cannot be the name of a Linux interface we create or match in nft rules, or
// nullopt when it can: the kernel's rules (1..15 bytes, not "." or "..", no '/', ':' or
// whitespace), plus '%' (the kernel's name template: "br%d" would get another name),
// quotes, backslashes and control characters (nft strings cannot escape them).
// Example: "is longer than 15 bytes (the kernel's limit for interface names)".
std::optional<std::string> interfaceNameProblem(std::string_view name);

// Longest network name: the name is part of file names and of nft chain names.
inline constexpr size_t kMaxNetworkNameBytes = 64;
// Longest <bridge delay> in seconds: the kernel holds it in centiseconds in 32 bits.
inline constexpr unsigned kMaxBridgeDelay = 42949672;

// libvirt's rule for a tap's host-side MAC: the guest MAC with the first byte set to 0xFE.
Mac tapMacForGuest(const Mac& guest);

}  // namespace vnet::model
