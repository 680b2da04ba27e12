#include "model/network.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <limits>
#include <string>

#include "base/random.h"

namespace vnet::model {

namespace {

std::string indexed(std::string_view path, size_t i) {
  return std::string(path) + "[" + std::to_string(i + 1) + "]";
}

Error invalidAt(std::string_view path, int line, std::string_view message) {
  return Error::invalid(elementLocation(path, line) + ": " + std::string(message));
}

// The subnet-wide addresses no host may take: the network address and, for IPv4, the
// broadcast address (only when the prefix leaves room for hosts).
bool isNetworkOrBroadcast(const Cidr& subnet, const IpAddress& a) {
  if (a == subnet.network().address) return true;
  if (!a.isV4() || subnet.prefix >= 31) return false;
  uint32_t host_mask = ~Ipv4::mask(subnet.prefix).toUint();
  return (a.v4().toUint() & host_mask) == host_mask;
}

// Common checks for an address that a guest will get from an <ip>'s DHCP service.
Status checkGuestAddress(const IpConfig& ip, const IpAddress& a, std::string_view what,
                         std::string_view path, int line) {
  Cidr subnet = ip.cidr();
  if (a.family() != ip.family) {
    return invalidAt(path, line,
                     std::string(what) + " " + a.toString() + " is not an " +
                         familyName(ip.family) + " address");
  }
  if (!subnet.contains(a)) {
    return invalidAt(
        path, line,
        std::string(what) + " " + a.toString() + " is outside " + subnet.network().toString());
  }
  if (isNetworkOrBroadcast(subnet, a)) {
    bool network = a == subnet.network().address;
    return invalidAt(path, line,
                     std::string(what) + " " + a.toString() + " is the " +
                         (network ? "network" : "broadcast") + " address of " +
                         subnet.network().toString());
  }
  if (a == ip.address) {
    return invalidAt(path, line,
                     std::string(what) + " " + a.toString() + " is the bridge's own address");
  }
  return Status::success();
}

bool isDomainLabel(std::string_view label) {
  if (label.empty() || label.size() > 63) return false;
  if (label.front() == '-' || label.back() == '-') return false;
  return std::all_of(label.begin(), label.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
  });
}

// RFC 1123 host/domain name: dot-separated labels, at most 253 characters.
bool isDomainName(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  size_t start = 0;
  while (true) {
    size_t dot = name.find('.', start);
    if (!isDomainLabel(name.substr(start, dot - start))) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// A name of the local DNS zone (<dns><host><hostname>, <txt name>, <srv domain/target>,
// <forwarder domain>): dot-separated labels of letters, digits, '-' and '_' (SRV owners and
// some guests use '_'), each 1..63 bytes, at most 253 in all; one trailing dot is allowed.
bool isDnsName(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > 253) return false;
  size_t start = 0;
  while (true) {
    size_t dot = name.find('.', start);
    std::string_view label = name.substr(start, dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (char c : label) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

std::string hexByte(unsigned char b) {
  static constexpr char kHex[] = "0123456789abcdef";
  return std::string("0x") + kHex[b >> 4] + kHex[b & 15];
}

// "':'", "a space", "byte 0x09": how a message names one character of a name.
std::string describeChar(char c) {
  auto u = static_cast<unsigned char>(c);
  if (c == ' ') return "a space";
  if (u <= 0x20 || u >= 0x7f) return "byte " + hexByte(u);
  return std::string("'") + c + "'";
}

Status checkName(const Network& net) {
  const char* path = "network/name";
  if (net.name.empty()) {
    return net.nameLine ? invalidAt(path, net.nameLine, "name must not be empty")
                        : invalidAt("network", net.line, "<name> is required");
  }
  if (net.name.find('/') != std::string::npos) {
    return invalidAt(path, net.nameLine, "name '" + net.name + "' must not contain '/'");
  }
  if (net.name.find('\n') != std::string::npos) {
    return invalidAt(path, net.nameLine, "name must not contain a newline");
  }
  for (char c : net.name) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      return invalidAt(path, net.nameLine,
                       "name must not contain control characters (" + describeChar(c) + ")");
    }
  }
  if (net.name.size() > kMaxNetworkNameBytes) {
    return invalidAt(path, net.nameLine,
                     "name is " + std::to_string(net.name.size()) + " bytes long; the limit is " +
                         std::to_string(kMaxNetworkNameBytes));
  }
  if (!net.uuid.empty() && !isUuid(net.uuid)) {
    return invalidAt("network/uuid", 0, "'" + net.uuid + "' is not a valid UUID");
  }
  return Status::success();
}

Status checkNat(const Network& net) {
  if (!net.nat) return Status::success();
  const Nat& nat = *net.nat;
  const char* path = "network/forward/nat";
  if (net.mode != ForwardMode::Nat) {
    return invalidAt(path, nat.line, "<nat> is only allowed with forward mode 'nat'");
  }
  if (nat.addressStart.has_value() != nat.addressEnd.has_value()) {
    return invalidAt("network/forward/nat/address", nat.line, "both start and end are required");
  }
  if (nat.addressStart && *nat.addressStart > *nat.addressEnd) {
    return invalidAt(
        "network/forward/nat/address", nat.line,
        "start " + nat.addressStart->toString() + " is after end " + nat.addressEnd->toString());
  }
  if (nat.portStart == 0 || nat.portEnd == 0) {
    return invalidAt("network/forward/nat/port", nat.line, "ports must be in 1..65535");
  }
  if (nat.portStart > nat.portEnd) {
    return invalidAt(
        "network/forward/nat/port", nat.line,
        "start " + std::to_string(nat.portStart) + " is after end " + std::to_string(nat.portEnd));
  }
  return Status::success();
}

Status checkForward(const Network& net) {
  const char* path = "network/forward";
  if (net.mode == ForwardMode::Open && !net.forwardDev.empty()) {
    return invalidAt(path, net.forwardLine, "forward mode 'open' does not allow dev");
  }
  if (!net.forwardDev.empty()) {
    if (auto problem = interfaceNameProblem(net.forwardDev)) {
      return invalidAt(path, net.forwardLine, "dev '" + net.forwardDev + "' " + *problem);
    }
  }
  if ((net.mode == ForwardMode::Nat || net.mode == ForwardMode::Route) && !net.ipv4()) {
    return invalidAt(
        path, net.forwardLine,
        std::string("forward mode '") + forwardModeName(net.mode) + "' needs an IPv4 <ip>");
  }
  return checkNat(net);
}

Status checkBridge(const Network& net) {
  const Bridge& br = net.bridge;
  const char* path = "network/bridge";
  if (net.mode == ForwardMode::Bridge && br.name.empty()) {
    return invalidAt(net.bridge.line ? path : "network/forward",
                     net.bridge.line ? br.line : net.forwardLine,
                     "forward mode 'bridge' needs <bridge name='...'/>");
  }
  if (br.delay > kMaxBridgeDelay) {
    return invalidAt(path, br.line,
                     "delay " + std::to_string(br.delay) + " is more than the kernel can hold (" +
                         std::to_string(kMaxBridgeDelay) + " seconds)");
  }
  if (br.name.empty()) return Status::success();
  if (auto problem = interfaceNameProblem(br.name)) {
    return invalidAt(path, br.line, "bridge name '" + br.name + "' " + *problem);
  }
  return Status::success();
}

Status checkMacMtuDomain(const Network& net) {
  if (net.mac) {
    if (net.mac->isMulticast() || net.mac->isZero()) {
      return invalidAt("network/mac", net.macLine,
                       net.mac->toString() + " is not a unicast MAC address");
    }
    if (net.mode == ForwardMode::Bridge) {
      return invalidAt("network/mac", net.macLine,
                       "<mac> is not allowed with forward mode 'bridge'");
    }
  }
  if (net.mtu && (*net.mtu < 68 || *net.mtu > 65535)) {
    return invalidAt("network/mtu", net.mtuLine,
                     "size " + std::to_string(*net.mtu) + " is outside 68..65535");
  }
  if (net.domain && !isDomainName(net.domain->name)) {
    return invalidAt("network/domain", net.domain->line,
                     "'" + net.domain->name + "' is not a valid domain name");
  }
  return Status::success();
}

Status checkDns(const Network& net) {
  if (!net.dnsElement) return Status::success();
  const Dns& dns = *net.dnsElement;
  if (!dns.enabled() &&
      (!dns.hosts.empty() || !dns.srvs.empty() || !dns.txts.empty() || !dns.forwarders.empty())) {
    return invalidAt("network/dns", dns.line,
                     "<dns enable='no'> cannot have forwarder, host, srv or txt entries");
  }
  for (size_t i = 0; i < dns.forwarders.size(); ++i) {
    const auto& f = dns.forwarders[i];
    std::string path = indexed("network/dns/forwarder", i);
    if (!f.addr && f.domain.empty()) return invalidAt(path, f.line, "needs addr or domain");
    if (!f.domain.empty() && !isDnsName(f.domain)) {
      return invalidAt(path, f.line, "domain '" + f.domain + "' is not a valid domain name");
    }
    if (f.port && *f.port == 0) return invalidAt(path, f.line, "port must be in 1..65535");
  }
  for (size_t i = 0; i < dns.hosts.size(); ++i) {
    const DnsHost& h = dns.hosts[i];
    std::string path = indexed("network/dns/host", i);
    if (h.hostnames.empty()) return invalidAt(path, h.line, "needs at least one <hostname>");
    for (size_t j = 0; j < h.hostnames.size(); ++j) {
      if (!isDnsName(h.hostnames[j])) {
        return invalidAt(indexed(path + "/hostname", j), h.line,
                         "'" + h.hostnames[j] + "' is not a valid host name");
      }
    }
  }
  for (size_t i = 0; i < dns.srvs.size(); ++i) {
    const auto& s = dns.srvs[i];
    std::string path = indexed("network/dns/srv", i);
    if (s.service.empty()) return invalidAt(path, s.line, "service is required");
    if (s.service.size() > 63 || !isDnsName(s.service) ||
        s.service.find('.') != std::string::npos) {
      return invalidAt(path, s.line,
                       "service '" + s.service +
                           "' is not a single DNS label (letters, digits, "
                           "'-', '_'; at most 63)");
    }
    if (s.protocol != "tcp" && s.protocol != "udp") {
      return invalidAt(path, s.line, "protocol must be 'tcp' or 'udp'");
    }
    if (!s.domain.empty() && !isDnsName(s.domain)) {
      return invalidAt(path, s.line, "domain '" + s.domain + "' is not a valid domain name");
    }
    if (!s.target.empty() && s.target != "." && !isDnsName(s.target)) {
      return invalidAt(path, s.line, "target '" + s.target + "' is not a valid host name");
    }
  }
  for (size_t i = 0; i < dns.txts.size(); ++i) {
    const DnsTxt& t = dns.txts[i];
    std::string path = indexed("network/dns/txt", i);
    if (t.name.empty()) return invalidAt(path, t.line, "name is required");
    if (!isDnsName(t.name)) {
      return invalidAt(path, t.line, "name '" + t.name + "' is not a valid DNS name");
    }
  }
  return Status::success();
}

Status checkLease(const std::optional<Lease>& lease, std::string_view path, int line) {
  if (!lease) return Status::success();
  if (lease->unit != "seconds" && lease->unit != "minutes" && lease->unit != "hours") {
    return invalidAt(std::string(path) + "/lease", line,
                     "unit '" + lease->unit + "' is not seconds, minutes or hours");
  }
  return Status::success();
}

Status checkRanges(const IpConfig& ip, const std::string& dhcp_path) {
  for (size_t i = 0; i < ip.ranges.size(); ++i) {
    const DhcpRange& r = ip.ranges[i];
    std::string path = indexed(dhcp_path + "/range", i);
    VNET_TRY(checkGuestAddress(ip, r.start, "start", path, r.line));
    VNET_TRY(checkGuestAddress(ip, r.end, "end", path, r.line));
    if (r.start > r.end) {
      return invalidAt(path, r.line,
                       "start " + r.start.toString() + " is after end " + r.end.toString());
    }
    VNET_TRY(checkLease(r.lease, path, r.line));
    for (size_t j = 0; j < i; ++j) {
      const DhcpRange& o = ip.ranges[j];
      if (r.start <= o.end && o.start <= r.end) {
        return invalidAt(path, r.line,
                         "range " + r.start.toString() + "-" + r.end.toString() + " overlaps " +
                             indexed("range", j) + " " + o.start.toString() + "-" +
                             o.end.toString());
      }
    }
  }
  return Status::success();
}

Status checkHostUnique(const IpConfig& ip, size_t i, const std::string& path) {
  const DhcpHost& h = ip.hosts[i];
  for (size_t j = 0; j < i; ++j) {
    const DhcpHost& o = ip.hosts[j];
    std::string other = indexed("host", j);
    if (h.mac && o.mac && *h.mac == *o.mac) {
      return invalidAt(path, h.line, "MAC " + h.mac->toString() + " is already used by " + other);
    }
    if (!h.id.empty() && h.id == o.id) {
      return invalidAt(path, h.line, "id '" + h.id + "' is already used by " + other);
    }
    if (h.ip && o.ip && *h.ip == *o.ip) {
      return invalidAt(path, h.line, "ip " + h.ip->toString() + " is already used by " + other);
    }
  }
  return Status::success();
}

Status checkHosts(const IpConfig& ip, const std::string& dhcp_path) {
  for (size_t i = 0; i < ip.hosts.size(); ++i) {
    const DhcpHost& h = ip.hosts[i];
    std::string path = indexed(dhcp_path + "/host", i);
    if (ip.family == Family::V4 && !h.mac && h.id.empty()) {
      return invalidAt(path, h.line, "needs mac or id");
    }
    if (ip.family == Family::V6 && h.id.empty() && h.name.empty()) {
      return invalidAt(path, h.line, "needs id or name");
    }
    if (!h.ip) return invalidAt(path, h.line, "needs ip");
    if (ip.family == Family::V4 && h.id.size() == 1) {
      // RFC 2132 section 9.14: a client identifier has at least 2 bytes.
      return invalidAt(path, h.line, "id '" + h.id + "' is shorter than 2 bytes");
    }
    if (h.mac && (h.mac->isMulticast() || h.mac->isZero())) {
      return invalidAt(path, h.line, "mac " + h.mac->toString() + " is not a unicast MAC address");
    }
    VNET_TRY(checkGuestAddress(ip, *h.ip, "ip", path, h.line));
    VNET_TRY(checkLease(h.lease, path, h.line));
    VNET_TRY(checkHostUnique(ip, i, path));
  }
  return Status::success();
}

Status checkIpAddress(const IpConfig& ip, const std::string& path) {
  if (ip.address.family() != ip.family) {
    return invalidAt(
        path, ip.line,
        "address " + ip.address.toString() + " does not match family " + familyName(ip.family));
  }
  int max_prefix = ip.family == Family::V4 ? 32 : 128;
  if (ip.prefix < 1 || ip.prefix > max_prefix) {
    return invalidAt(path, ip.line,
                     "prefix " + std::to_string(ip.prefix) + " is outside 1.." +
                         std::to_string(max_prefix) + " for " + familyName(ip.family));
  }
  if (ip.family == Family::V4 && ip.prefix <= 30 && isNetworkOrBroadcast(ip.cidr(), ip.address)) {
    return invalidAt(path, ip.line,
                     "address " + ip.address.toString() + " is not a host address of " +
                         ip.cidr().network().toString());
  }
  return Status::success();
}

Status checkIp(const Network& net, size_t index) {
  const IpConfig& ip = net.ips[index];
  std::string path = indexed("network/ip", index);
  VNET_TRY(checkIpAddress(ip, path));
  if (net.mode == ForwardMode::Bridge) {
    return invalidAt(path, ip.line, "<ip> is not allowed with forward mode 'bridge'");
  }
  for (size_t j = 0; j < index; ++j) {
    const IpConfig& o = net.ips[j];
    if (o.family == ip.family && o.cidr().overlaps(ip.cidr())) {
      return invalidAt(path, ip.line,
                       "subnet " + ip.cidr().network().toString() + " overlaps " +
                           o.cidr().network().toString() + " of " + indexed("network/ip", j));
    }
    if (o.family == ip.family && o.hasDhcp && ip.hasDhcp) {
      return invalidAt(path + "/dhcp", ip.dhcpLine,
                       std::string("only one ") + (ip.family == Family::V4 ? "IPv4" : "IPv6") +
                           " <ip> may have <dhcp> (" + indexed("network/ip", j) +
                           " already has one)");
    }
  }
  std::string dhcp_path = path + "/dhcp";
  if (ip.bootp && ip.family != Family::V4) {
    return invalidAt(dhcp_path + "/bootp", ip.bootp->line, "<bootp> is only allowed for IPv4");
  }
  if (ip.family == Family::V4 && ip.hasDhcp && ip.prefix > 30) {
    return invalidAt(dhcp_path, ip.dhcpLine,
                     "DHCP needs a subnet with room for guests (prefix 30 or shorter), not /" +
                         std::to_string(ip.prefix));
  }
  VNET_TRY(checkRanges(ip, dhcp_path));
  return checkHosts(ip, dhcp_path);
}

Status checkRoute(const Network& net, size_t index) {
  const Route& r = net.routes[index];
  std::string path = indexed("network/route", index);
  if (r.address.family() != r.family) {
    return invalidAt(
        path, r.line,
        "address " + r.address.toString() + " does not match family " + familyName(r.family));
  }
  int max_prefix = r.family == Family::V4 ? 32 : 128;
  if (r.prefix < 0 || r.prefix > max_prefix) {
    return invalidAt(path, r.line,
                     "prefix " + std::to_string(r.prefix) + " is outside 0.." +
                         std::to_string(max_prefix) + " for " + familyName(r.family));
  }
  if (r.gateway.family() != r.family) {
    return invalidAt(
        path, r.line,
        "gateway " + r.gateway.toString() + " is not an " + familyName(r.family) + " address");
  }
  bool reachable = std::any_of(net.ips.begin(), net.ips.end(),
                               [&](const IpConfig& ip) { return ip.cidr().contains(r.gateway); });
  if (!reachable) {
    return invalidAt(path, r.line,
                     "gateway " + r.gateway.toString() + " is not inside any <ip> subnet");
  }
  if (r.metric && *r.metric == 0) return invalidAt(path, r.line, "metric must be > 0");
  return Status::success();
}

bool hasDuplicate(const std::vector<std::string>& used, const std::string& s) {
  return std::find(used.begin(), used.end(), s) != used.end();
}

}  // namespace

const char* forwardModeName(ForwardMode m) {
  switch (m) {
    case ForwardMode::Isolated:
      return "none";
    case ForwardMode::Nat:
      return "nat";
    case ForwardMode::Route:
      return "route";
    case ForwardMode::Open:
      return "open";
    case ForwardMode::Bridge:
      return "bridge";
  }
  return "none";
}

std::optional<ForwardMode> parseForwardMode(std::string_view s) {
  static constexpr std::array kModes = {ForwardMode::Isolated, ForwardMode::Nat, ForwardMode::Route,
                                        ForwardMode::Open, ForwardMode::Bridge};
  for (ForwardMode m : kModes) {
    if (s == forwardModeName(m)) return m;
  }
  return std::nullopt;
}

uint64_t Lease::seconds() const {
  uint64_t unit_seconds = unit == "seconds" ? 1 : unit == "hours" ? 3600 : 60;
  if (expiry > std::numeric_limits<uint64_t>::max() / unit_seconds) {
    return std::numeric_limits<uint64_t>::max();
  }
  return expiry * unit_seconds;
}

const IpConfig* Network::ipv4() const {
  for (const auto& ip : ips) {
    if (ip.family == Family::V4) return &ip;
  }
  return nullptr;
}

const IpConfig* Network::ipv6() const {
  for (const auto& ip : ips) {
    if (ip.family == Family::V6) return &ip;
  }
  return nullptr;
}

std::string elementLocation(std::string_view path, int line) {
  std::string s(path);
  if (line > 0) s += " (line " + std::to_string(line) + ")";
  return s;
}

Status validate(const Network& net) {
  VNET_TRY(checkName(net));
  VNET_TRY(checkForward(net));
  VNET_TRY(checkBridge(net));
  VNET_TRY(checkMacMtuDomain(net));
  VNET_TRY(checkDns(net));
  for (size_t i = 0; i < net.ips.size(); ++i) VNET_TRY(checkIp(net, i));
  for (size_t i = 0; i < net.routes.size(); ++i) VNET_TRY(checkRoute(net, i));
  return Status::success();
}

Status validateAgainst(const Network& net, const std::vector<const Network*>& others) {
  for (const Network* o : others) {
    auto by = [o] { return " is already used by network '" + o->name + "'"; };
    if (o->name == net.name) {
      return Error::conflict(elementLocation("network/name", net.nameLine) + ": network '" +
                             net.name + "' already exists");
    }
    if (!net.uuid.empty() && o->uuid == net.uuid) {
      return Error::conflict("network/uuid: UUID " + net.uuid + by());
    }
    if (!net.bridge.name.empty() && o->bridge.name == net.bridge.name) {
      return Error::conflict(elementLocation("network/bridge", net.bridge.line) + ": bridge '" +
                             net.bridge.name + "'" + by());
    }
    for (size_t i = 0; i < net.ips.size(); ++i) {
      for (const IpConfig& oip : o->ips) {
        if (!net.ips[i].cidr().overlaps(oip.cidr())) continue;
        return Error::conflict(elementLocation(indexed("network/ip", i), net.ips[i].line) +
                               ": subnet " + net.ips[i].cidr().network().toString() + " overlaps " +
                               oip.cidr().network().toString() + " of network '" + o->name + "'");
      }
    }
  }
  return Status::success();
}

void fillDefaults(Network& net, const std::vector<std::string>& usedBridges) {
  if (net.uuid.empty()) net.uuid = randomUuid();
  if (net.mode == ForwardMode::Bridge) return;
  if (net.bridge.name.empty()) {
    for (int n = 0;; ++n) {
      std::string candidate = "vnbr" + std::to_string(n);
      if (!hasDuplicate(usedBridges, candidate)) {
        net.bridge.name = candidate;
        break;
      }
    }
  }
  if (!net.mac) {
    Mac::Bytes b{0x52, 0x54, 0x00, 0, 0, 0};
    randomBytes(b.data() + 3, 3);
    net.mac = Mac(b);
  }
}

Status checkStartable(const Network& net) {
  if (!net.forwardModeOther.empty()) {
    return Error::unsupported(
        "not supported yet: " +
        elementLocation("network/forward[@mode='" + net.forwardModeOther + "']", net.forwardLine));
  }
  if (!net.unsupported.empty()) {
    const UnsupportedElement& u = net.unsupported.front();
    return Error::unsupported("not supported yet: " + elementLocation(u.path, u.line));
  }
  return Status::success();
}

std::optional<std::string> interfaceNameProblem(std::string_view name) {
  if (name.empty()) return "is empty";
  if (name.size() > 15) return "is longer than 15 bytes (the kernel's limit for interface names)";
  if (name == "." || name == "..") return "is not allowed as an interface name";
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    if (c == '/' || c == ':' || c == '%' || c == '"' || c == '\'' || c == '\\' || u <= 0x20 ||
        u == 0x7f) {
      return "must not contain " + describeChar(c) +
             " (interface names cannot hold '/', ':', '%', quotes, backslashes, whitespace or "
             "control characters)";
    }
  }
  return std::nullopt;
}

Mac tapMacForGuest(const Mac& guest) {
  Mac::Bytes b = guest.bytes();
  b[0] = 0xFE;
  return Mac(b);
}

}  // namespace vnet::model
