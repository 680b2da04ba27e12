#include "daemon/translate.h"

#include "base/hex.h"

namespace vnet::daemon {

namespace {
uint32_t leaseSeconds(const std::optional<model::Lease>& lease, uint32_t fallback) {
  if (!lease) return fallback;
  uint64_t s = lease->seconds();
  return s > 0xFFFFFFFEu ? 0xFFFFFFFEu : static_cast<uint32_t>(s);
}
}  // namespace

std::vector<uint8_t> parseClientId(const std::string& id) {
  std::vector<uint8_t> out;
  bool hex = id.size() >= 2 && (id.size() + 1) % 3 == 0;
  for (size_t i = 0; hex && i < id.size(); i += 3) {
    int hi = hexDigitValue(id[i]), lo = hexDigitValue(id[i + 1]);
    if (hi < 0 || lo < 0 || (i + 2 < id.size() && id[i + 2] != ':')) {
      hex = false;
      break;
    }
    out.push_back(static_cast<uint8_t>(hi * 16 + lo));
  }
  if (hex) return out;
  return std::vector<uint8_t>(id.begin(), id.end());
}

std::string formatClientId(const std::vector<uint8_t>& id) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (uint8_t b : id) {
    if (!out.empty()) out += ':';
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

Result<std::optional<dhcp::ServerConfig>> dhcpConfigFor(const model::Network& net) {
  const model::IpConfig* ip = net.ipv4();
  if (!ip || !ip->hasDhcp || net.mode == model::ForwardMode::Bridge) {
    return std::optional<dhcp::ServerConfig>();
  }
  dhcp::ServerConfig c;
  c.server_address = ip->address.v4();
  c.subnet = ip->address.v4();
  c.prefix = ip->prefix;
  c.lease_seconds = 3600;
  if (!ip->ranges.empty() && ip->ranges.front().lease) {
    c.lease_seconds = leaseSeconds(ip->ranges.front().lease, 3600);
  }
  for (const auto& r : ip->ranges) c.ranges.push_back({r.start.v4(), r.end.v4()});
  for (const auto& h : ip->hosts) {
    if (!h.ip || !h.ip->isV4()) continue;
    dhcp::StaticHost s;
    s.mac = h.mac;
    if (!h.id.empty()) s.client_id = parseClientId(h.id);
    s.ip = h.ip->v4();
    s.hostname = h.name;
    if (h.lease) s.lease_seconds = leaseSeconds(h.lease, c.lease_seconds);
    c.hosts.push_back(std::move(s));
  }
  if (net.mode != model::ForwardMode::Isolated) c.routers.push_back(c.server_address);
  if (net.dnsEnabled()) c.dns_servers.push_back(c.server_address);
  if (net.domain) c.domain_name = net.domain->name;
  if (net.mtu) c.mtu = static_cast<uint16_t>(*net.mtu);
  if (ip->bootp) {
    c.boot_file = ip->bootp->file;
    c.next_server = ip->bootp->server.value_or(c.server_address);
  }
  for (const auto& r : net.routes) {
    if (!r.address.isV4() || !r.gateway.isV4()) continue;
    c.classless_routes.push_back(
        {Cidr{r.address, r.prefix}.network().address.v4(), r.prefix, r.gateway.v4()});
  }
  if (Status s = c.validate(); !s.ok()) {
    return std::move(s).error().context("DHCP configuration of network '" + net.name + "'");
  }
  return std::optional<dhcp::ServerConfig>(std::move(c));
}

std::optional<dns::ServerConfig> dnsConfigFor(const model::Network& net,
                                              const std::string& resolvConf) {
  if (!net.dnsEnabled() || net.ips.empty() || net.mode == model::ForwardMode::Bridge) {
    return std::nullopt;
  }
  dns::ServerConfig c;
  dns::ZoneConfig& zone = c.resolver.zone;
  for (const auto& ip : net.ips) {
    c.listenAddresses.push_back(ip.address);
    zone.allowedClients.push_back(ip.cidr().network());
    if (ip.localPtr) zone.reverseZones.push_back(ip.cidr().network());
  }
  if (net.domain) {
    zone.domain = net.domain->name;
    zone.localOnly = net.domain->localOnly;
  }
  c.forwarder.resolvConfPath = resolvConf;
  if (net.dnsElement) {
    const model::Dns& d = *net.dnsElement;
    zone.forwardPlainNames = d.forwardPlainNames.value_or(true);
    for (const auto& h : d.hosts) zone.hosts.push_back(dns::StaticHost{h.ip, h.hostnames});
    for (const auto& s : d.srvs) {
      zone.srvs.push_back(dns::SrvRecord{s.service, s.protocol, s.domain,
                                         s.target.empty() ? "." : s.target, s.port.value_or(0),
                                         s.priority.value_or(0), s.weight.value_or(0)});
    }
    for (const auto& t : d.txts) zone.txts.push_back(dns::TxtRecord{t.name, t.value});
    for (const auto& f : d.forwarders) {
      if (!f.addr) {
        if (!f.domain.empty()) zone.localDomains.push_back(f.domain);
        continue;
      }
      c.forwarder.servers.push_back(dns::UpstreamServer{*f.addr, f.port.value_or(53), f.domain});
      if (f.domain.empty()) c.forwarder.resolvConfPath.clear();
    }
  }
  // libvirt: an isolated network's dnsmasq never forwards.
  c.resolver.forwarding = net.mode != model::ForwardMode::Isolated;
  return c;
}

}  // namespace vnet::daemon
