#include "dns/zone.h"

#include <algorithm>
#include <cstdio>

#include "base/hex.h"

namespace vnet::dns {

namespace {

// SOA timers for local zones; only MINIMUM matters to clients (negative caching).
constexpr uint32_t kSoaRefresh = 1200;
constexpr uint32_t kSoaRetry = 180;
constexpr uint32_t kSoaExpire = 1209600;

bool isLdh(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

// RFC 1123 §2.1 host name label (letters, digits, hyphen, not at either end). Underscore is
// tolerated inside a label because some guests (Windows) send it.
bool validHostLabel(std::string_view l) {
  if (l.empty() || l.size() > kMaxLabelLength) return false;
  if (l.front() == '-' || l.back() == '-') return false;
  for (char c : l) {
    if (!isLdh(c) && c != '_') return false;
  }
  return true;
}

// A configured record or host name: text that parses as a name, not the root.
Result<Name> parseOwnerName(std::string_view text, std::string_view what) {
  auto n = Name::parse(text);
  if (!n.ok()) return std::move(n).error().context(std::string(what));
  if (n->isRoot()) return Error::invalid(std::string(what) + ": empty name");
  return n;
}

LocalSoa makeSoa(const Name& apex, uint32_t ttl) {
  Soa soa;
  soa.mname = apex;
  auto hostmaster = Name::parse("hostmaster");
  auto rname = hostmaster->concat(apex);
  soa.rname = rname.ok() ? *rname : apex;
  soa.serial = 1;
  soa.refresh = kSoaRefresh;
  soa.retry = kSoaRetry;
  soa.expire = kSoaExpire;
  soa.minimum = ttl;
  auto rdata = encodeRdata(RrType::SOA, soa);
  return LocalSoa{
      apex, LocalRecord{RrType::SOA, ttl, rdata.ok() ? std::move(*rdata) : std::vector<uint8_t>{}}};
}

Name reverseApex(const Cidr& subnet) {
  const Cidr net = subnet.network();
  if (net.address.isV4()) {
    const auto b = net.address.v4().toBytes();
    std::string text;
    for (int i = std::min(net.prefix, 32) / 8 - 1; i >= 0; --i) {
      text += std::to_string(b[size_t(i)]);
      text += '.';
    }
    text += "in-addr.arpa";
    return *Name::parse(text);
  }
  static const char kHex[] = "0123456789abcdef";
  const auto& b = net.address.v6().bytes();
  std::string text;
  for (int nib = std::min(net.prefix, 128) / 4 - 1; nib >= 0; --nib) {
    const uint8_t byte = b[size_t(nib / 2)];
    text += kHex[(nib % 2) ? (byte & 0xF) : (byte >> 4)];
    text += '.';
  }
  text += "ip6.arpa";
  return *Name::parse(text);
}

bool labelIs(std::string_view label, std::string_view lower) {
  if (label.size() != lower.size()) return false;
  for (size_t i = 0; i < label.size(); ++i) {
    if (foldCase(uint8_t(label[i])) != uint8_t(lower[i])) return false;
  }
  return true;
}

}  // namespace

Name reverseName(const IpAddress& ip) {
  return reverseApex(Cidr{ip, ip.isV4() ? 32 : 128});
}

bool parseReverseName(const Name& qname, IpAddress& address, int& prefixBits) {
  const size_t n = qname.labelCount();
  if (n < 2 || !labelIs(qname.label(n - 1), "arpa")) return false;
  const std::string_view zone = qname.label(n - 2);
  const size_t k = n - 2;  // address labels, most significant last
  if (labelIs(zone, "in-addr")) {
    if (k > 4) return false;
    std::array<uint8_t, 4> b{};
    for (size_t i = 0; i < k; ++i) {
      const std::string_view l = qname.label(k - 1 - i);
      if (l.empty() || l.size() > 3 || (l.size() > 1 && l[0] == '0')) return false;
      unsigned v = 0;
      for (char c : l) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + unsigned(c - '0');
      }
      if (v > 255) return false;
      b[i] = uint8_t(v);
    }
    address = Ipv4::fromBytes(b.data());
    prefixBits = int(8 * k);
    return true;
  }
  if (labelIs(zone, "ip6")) {
    if (k > 32) return false;
    Ipv6::Bytes b{};
    for (size_t i = 0; i < k; ++i) {
      const std::string_view l = qname.label(k - 1 - i);
      if (l.size() != 1) return false;
      const int v = hexDigitValue(l[0]);
      if (v < 0) return false;
      b[i / 2] = uint8_t(b[i / 2] | ((i % 2) ? v : (v << 4)));
    }
    address = Ipv6(b);
    prefixBits = int(4 * k);
    return true;
  }
  return false;
}

Status Zone::configure(const ZoneConfig& cfg) {
  Parsed p;
  if (!cfg.domain.empty()) {
    auto d = parseOwnerName(cfg.domain, "domain");
    if (!d.ok()) return std::move(d).error();
    p.hasDomain = true;
    p.domain = *d;
    if (cfg.localOnly) p.owned.push_back({*d, makeSoa(*d, cfg.localTtl)});
  }
  for (const auto& ld : cfg.localDomains) {
    auto d = parseOwnerName(ld, "local domain");
    if (!d.ok()) return std::move(d).error();
    p.owned.push_back({*d, makeSoa(*d, cfg.localTtl)});
  }
  // "name" and, for a dot-less name, "name.DOMAIN".
  auto expand = [&](const Name& n, auto&& add) -> Status {
    add(n);
    if (p.hasDomain && n.labelCount() == 1) {
      auto full = n.concat(p.domain);
      if (!full.ok()) return std::move(full).error();
      add(*full);
    }
    return Status::success();
  };
  for (const auto& h : cfg.hosts) {
    for (size_t i = 0; i < h.names.size(); ++i) {
      auto n = parseOwnerName(h.names[i], "host name");
      if (!n.ok()) return std::move(n).error();
      VNET_TRY(expand(*n, [&](const Name& x) { p.hostNames.push_back({x, h.ip, false}); }));
      // The PTR of an address names the host's first name, fully qualified when expanded
      // (expand() adds the qualified form last).
      if (i == 0) p.hostNames.back().ptr = true;
    }
  }
  for (const auto& s : cfg.srvs) {
    if (!validHostLabel(s.service) || (s.protocol != "tcp" && s.protocol != "udp")) {
      return Error::invalid("srv record: bad service '" + s.service + "' or protocol '" +
                            s.protocol + "'");
    }
    std::string owner = "_" + s.service + "._" + s.protocol;
    if (!s.domain.empty()) {
      owner += "." + s.domain;
    } else if (!cfg.domain.empty()) {
      owner += "." + cfg.domain;
    }
    auto n = parseOwnerName(owner, "srv record");
    if (!n.ok()) return std::move(n).error();
    auto target = Name::parse(s.target);
    if (!target.ok()) return std::move(target).error().context("srv target");
    p.srvs.emplace_back(*n, Srv{s.priority, s.weight, s.port, *target});
  }
  for (const auto& t : cfg.txts) {
    auto n = parseOwnerName(t.name, "txt record");
    if (!n.ok()) return std::move(n).error();
    Txt txt;
    for (size_t at = 0; at < t.value.size(); at += 255)
      txt.strings.push_back(t.value.substr(at, 255));
    if (txt.strings.empty()) txt.strings.emplace_back();
    VNET_TRY(expand(*n, [&](const Name& x) { p.txts.emplace_back(x, txt); }));
  }
  for (const auto& z : cfg.reverseZones) {
    const Cidr net = z.network();
    p.reverse.push_back({net, makeSoa(reverseApex(net), cfg.localTtl)});
  }
  config_ = cfg;
  parsed_ = std::move(p);
  dirty_ = true;
  ++generation_;
  return Status::success();
}

Status Zone::setDynamicHost(std::string_view name, Ipv4 ip) {
  std::string_view label = name;
  if (const size_t dot = name.find('.'); dot != std::string_view::npos) {
    // A fully qualified name is accepted only under our domain (dnsmasq does the same
    // for DHCP FQDNs); its domain part is dropped.
    auto full = Name::parse(name);
    if (!full.ok() || !parsed_.hasDomain || full->labelCount() != parsed_.domain.labelCount() + 1 ||
        !full->isUnder(parsed_.domain)) {
      return Error::invalid("dynamic host name '" + std::string(name.substr(0, 80)) +
                            "' is not a single label under the zone domain");
    }
    label = name.substr(0, dot);
  }
  if (!validHostLabel(label)) {
    return Error::invalid("dynamic host name '" + std::string(name.substr(0, 80)) +
                          "' is not a valid RFC 1123 host name");
  }
  auto n = Name::parse(label);
  if (!n.ok()) return std::move(n).error();
  const Name key = n->lowered();
  auto [it, inserted] = dynamic_.try_emplace(key, ip);
  if (!inserted && it->second == ip) return Status::success();
  it->second = ip;
  dirty_ = true;
  ++generation_;
  return Status::success();
}

void Zone::removeDynamicHost(std::string_view name) {
  const size_t dot = name.find('.');
  auto n = Name::parse(name.substr(0, dot));
  if (!n.ok()) return;
  if (dynamic_.erase(n->lowered()) > 0) {
    dirty_ = true;
    ++generation_;
  }
}

void Zone::clearDynamicHosts() {
  if (dynamic_.empty()) return;
  dynamic_.clear();
  dirty_ = true;
  ++generation_;
}

void Zone::addRecord(const Name& n, RrType type, std::vector<uint8_t> rdata) const {
  auto& list = names_[n];
  for (const auto& r : list) {
    if (r.type == type && r.rdata == rdata) return;
  }
  list.push_back(LocalRecord{type, config_.localTtl, std::move(rdata)});
}

void Zone::addHost(const Name& n, const IpAddress& ip, bool withPtr) const {
  if (ip.isV4()) {
    auto b = ip.v4().toBytes();
    addRecord(n, RrType::A, {b.begin(), b.end()});
  } else {
    const auto& b = ip.v6().bytes();
    addRecord(n, RrType::AAAA, {b.begin(), b.end()});
  }
  if (withPtr) addRecord(reverseName(ip), RrType::PTR, {n.wire().begin(), n.wire().end()});
}

void Zone::rebuild() const {
  names_.clear();
  for (const auto& h : parsed_.hostNames) addHost(h.name, h.ip, h.ptr);
  for (const auto& [label, ip] : dynamic_) {
    if (names_.count(label) != 0) continue;  // a static host of that name wins
    if (parsed_.hasDomain) {
      auto full = label.concat(parsed_.domain);
      if (full.ok()) {
        if (names_.count(*full) != 0) continue;
        addHost(label, ip, false);
        addHost(*full, ip, true);
        continue;
      }
    }
    addHost(label, ip, true);
  }
  for (const auto& [n, srv] : parsed_.srvs) {
    auto rdata = encodeRdata(RrType::SRV, srv);
    if (rdata.ok()) addRecord(n, RrType::SRV, std::move(*rdata));
  }
  for (const auto& [n, txt] : parsed_.txts) {
    auto rdata = encodeRdata(RrType::TXT, txt);
    if (rdata.ok()) addRecord(n, RrType::TXT, std::move(*rdata));
  }
  for (const auto& z : parsed_.owned) addRecord(z.apex, RrType::SOA, z.soa.record.rdata);
  for (const auto& z : parsed_.reverse) {
    const int unit = z.subnet.address.isV4() ? 8 : 4;
    if (z.subnet.prefix % unit == 0) addRecord(z.soa.owner, RrType::SOA, z.soa.record.rdata);
  }
  dirty_ = false;
}

ZoneAnswer Zone::lookup(const Name& qname, RrType qtype) const {
  if (dirty_) rebuild();
  ZoneAnswer a;
  // The zone (if any) we are authoritative for that contains qname.
  const LocalSoa* soa = nullptr;
  bool ownedNx = false;  // a missing name here is an authoritative NXDOMAIN
  for (const auto& z : parsed_.owned) {
    if (qname.isUnder(z.apex)) {
      soa = &z.soa;
      ownedNx = true;
      break;
    }
  }
  IpAddress revAddr;
  int revBits = 0;
  if (soa == nullptr && !parsed_.reverse.empty() && parseReverseName(qname, revAddr, revBits)) {
    for (const auto& z : parsed_.reverse) {
      if (z.subnet.family() == revAddr.family() && revBits >= z.subnet.prefix &&
          z.subnet.contains(revAddr)) {
        soa = &z.soa;
        // Only a full-length name can be a host; shorter names inside the zone are empty
        // non-terminals, answered NODATA.
        ownedNx = revBits == (revAddr.isV4() ? 32 : 128);
        if (!ownedNx) {
          a.verdict = ZoneVerdict::NoData;
          a.soa = soa;
          a.authoritative = true;
        }
        break;
      }
    }
  }

  if (auto it = names_.find(qname); it != names_.end()) {
    a.records = &it->second;
    a.soa = soa;
    a.authoritative = soa != nullptr;
    if (qtype == RrType::ANY) {
      a.verdict = ZoneVerdict::Answer;
      return a;
    }
    const bool has = std::any_of(it->second.begin(), it->second.end(),
                                 [&](const LocalRecord& r) { return r.type == qtype; });
    // dnsmasq answers NODATA for a local name without the asked type, never forwarding it.
    a.verdict = has ? ZoneVerdict::Answer : ZoneVerdict::NoData;
    return a;
  }
  if (a.verdict == ZoneVerdict::NoData) return a;
  if (ownedNx) {
    a.verdict = ZoneVerdict::NxDomain;
    a.soa = soa;
    a.authoritative = true;
    return a;
  }
  if (!config_.forwardPlainNames && isPlainName(qname)) {
    a.verdict = ZoneVerdict::NxDomain;
    return a;
  }
  a.verdict = ZoneVerdict::Forward;
  return a;
}

bool Zone::clientAllowed(const IpAddress& client) const {
  if (config_.allowedClients.empty()) return true;
  return std::any_of(config_.allowedClients.begin(), config_.allowedClients.end(),
                     [&](const Cidr& c) { return c.contains(client); });
}

}  // namespace vnet::dns
