#include "config/json.h"

#include <cstdint>
#include <limits>
#include <string>

#include "config/xml.h"

namespace vnet::config {

namespace {

using model::Bootp;
using model::DhcpHost;
using model::DhcpRange;
using model::Dns;
using model::DnsForwarder;
using model::DnsHost;
using model::DnsSrv;
using model::DnsTxt;
using model::IpConfig;
using model::Lease;
using model::Nat;
using model::Network;
using model::Route;
using model::UnsupportedElement;
using nlohmann::json;

// ---------------------------------------------------------------------------------------
// To JSON

template <typename T>
void putIf(json& j, const char* key, const std::optional<T>& v) {
  if (v) j[key] = *v;
}

void putIf(json& j, const char* key, const std::string& v) {
  if (!v.empty()) j[key] = v;
}

template <typename T>
void putText(json& j, const char* key, const std::optional<T>& v) {
  if (v) j[key] = v->toString();
}

json leaseToJson(const Lease& l) {
  return {{"expiry", l.expiry}, {"unit", l.unit}};
}

json rangeToJson(const DhcpRange& r) {
  json j = {{"start", r.start.toString()}, {"end", r.end.toString()}};
  if (r.lease) j["lease"] = leaseToJson(*r.lease);
  return j;
}

json dhcpHostToJson(const DhcpHost& h) {
  json j = json::object();
  putText(j, "mac", h.mac);
  putIf(j, "id", h.id);
  putIf(j, "name", h.name);
  putText(j, "ip", h.ip);
  if (h.lease) j["lease"] = leaseToJson(*h.lease);
  return j;
}

json forwardToJson(const Network& net) {
  json j = {{"mode", net.forwardModeOther.empty() ? std::string(model::forwardModeName(net.mode))
                                                  : net.forwardModeOther}};
  putIf(j, "dev", net.forwardDev);
  if (net.nat) {
    json& n = j["nat"] = {{"ipv6", net.nat->ipv6}};
    putText(n, "addressStart", net.nat->addressStart);
    putText(n, "addressEnd", net.nat->addressEnd);
    if (net.nat->portsSet) {
      n["portStart"] = net.nat->portStart;
      n["portEnd"] = net.nat->portEnd;
    }
  }
  return j;
}

json dnsToJson(const Dns& dns) {
  json j = json::object();
  putIf(j, "enable", dns.enable);
  putIf(j, "forwardPlainNames", dns.forwardPlainNames);
  json& fwds = j["forwarders"] = json::array();
  for (const DnsForwarder& f : dns.forwarders) {
    json& o = fwds.emplace_back(json::object());
    putText(o, "addr", f.addr);
    putIf(o, "port", f.port);
    putIf(o, "domain", f.domain);
  }
  json& hosts = j["hosts"] = json::array();
  for (const DnsHost& h : dns.hosts) {
    hosts.push_back({{"ip", h.ip.toString()}, {"hostnames", h.hostnames}});
  }
  json& srvs = j["srvs"] = json::array();
  for (const DnsSrv& s : dns.srvs) {
    json& o = srvs.emplace_back(json::object());
    putIf(o, "service", s.service);
    putIf(o, "protocol", s.protocol);
    putIf(o, "domain", s.domain);
    putIf(o, "target", s.target);
    putIf(o, "port", s.port);
    putIf(o, "priority", s.priority);
    putIf(o, "weight", s.weight);
  }
  json& txts = j["txts"] = json::array();
  for (const DnsTxt& t : dns.txts) txts.push_back({{"name", t.name}, {"value", t.value}});
  return j;
}

json ipToJson(const IpConfig& ip) {
  json j = {{"address", ip.address.toString()}};
  if (ip.familyWritten || ip.family == Family::V6) j["family"] = familyName(ip.family);
  if (ip.netmaskForm && ip.family == Family::V4) {
    j["netmask"] = Ipv4::mask(ip.prefix).toString();
  } else {
    j["prefix"] = ip.prefix;
  }
  j["localPtr"] = ip.localPtr;
  if (ip.hasDhcp || !ip.ranges.empty() || !ip.hosts.empty() || ip.bootp) {
    json& d = j["dhcp"] = {{"ranges", json::array()}, {"hosts", json::array()}};
    for (const DhcpRange& r : ip.ranges) d["ranges"].push_back(rangeToJson(r));
    for (const DhcpHost& h : ip.hosts) d["hosts"].push_back(dhcpHostToJson(h));
    if (ip.bootp) {
      json& b = d["bootp"] = json::object();
      putIf(b, "file", ip.bootp->file);
      putText(b, "server", ip.bootp->server);
    }
  }
  return j;
}

json routeToJson(const Route& r) {
  json j = {
      {"address", r.address.toString()}, {"prefix", r.prefix}, {"gateway", r.gateway.toString()}};
  putIf(j, "metric", r.metric);
  if (r.familyWritten || r.family == Family::V6) j["family"] = familyName(r.family);
  return j;
}

// ---------------------------------------------------------------------------------------
// From JSON

Error badAt(const std::string& path, std::string_view message) {
  return Error::invalid((path.empty() ? std::string("/") : path) + ": " + std::string(message));
}

// A JSON object being read, with its JSON pointer for messages. Every getter leaves `out`
// unchanged when the key is absent or null.
class Obj {
 public:
  static Result<Obj> of(const json& j, std::string path) {
    if (!j.is_object()) return badAt(path, "must be an object");
    return Obj(j, std::move(path));
  }

  const std::string& path() const { return path_; }
  std::string path(std::string_view key) const { return path_ + "/" + std::string(key); }
  const json* find(const char* key) const {
    auto it = j_->find(key);
    return it == j_->end() || it->is_null() ? nullptr : &*it;
  }

  Status get(const char* key, std::string& out) const {
    const json* v = find(key);
    if (!v) return Status::success();
    if (!v->is_string()) return badAt(path(key), "must be a string");
    out = v->get<std::string>();
    return Status::success();
  }

  Status get(const char* key, bool& out) const {
    const json* v = find(key);
    if (!v) return Status::success();
    if (!v->is_boolean()) return badAt(path(key), "must be true or false");
    out = v->get<bool>();
    return Status::success();
  }

  Status get(const char* key, std::optional<bool>& out) const {
    bool b = false;
    if (!find(key)) return Status::success();
    VNET_TRY(get(key, b));
    out = b;
    return Status::success();
  }

  template <typename T>
  Status getNumber(const char* key, T& out, uint64_t max = std::numeric_limits<T>::max()) const {
    const json* v = find(key);
    if (!v) return Status::success();
    bool ok = v->is_number_unsigned() || (v->is_number_integer() && v->get<int64_t>() >= 0);
    if (!ok || v->get<uint64_t>() > max) {
      return badAt(path(key), "must be an integer in 0.." + std::to_string(max));
    }
    out = T(v->get<uint64_t>());
    return Status::success();
  }

  template <typename T>
  Status get(const char* key, std::optional<T>& out) const {
    if (!find(key)) return Status::success();
    if constexpr (std::is_unsigned_v<T>) {
      T n{};
      VNET_TRY(getNumber(key, n));
      out = n;
    } else {
      std::string s;
      VNET_TRY(get(key, s));
      out = T::parse(s);
      if (!out) return badAt(path(key), "'" + s + "' is not " + what<T>());
    }
    return Status::success();
  }

  template <typename T>
  Status require(const char* key, T& out) const {
    std::optional<T> v;
    VNET_TRY(get(key, v));
    if (!v) return badAt(path(key), "is required");
    out = *v;
    return Status::success();
  }

  // Optional nested object.
  template <typename Fn>
  Status child(const char* key, Fn fn) const {
    const json* v = find(key);
    if (!v) return Status::success();
    auto o = Obj::of(*v, path(key));
    if (!o) return std::move(o).error();
    return fn(*o);
  }

  // Optional array of objects; fn(Obj) per element.
  template <typename Fn>
  Status each(const char* key, Fn fn) const {
    const json* v = find(key);
    if (!v) return Status::success();
    if (!v->is_array()) return badAt(path(key), "must be an array");
    for (size_t i = 0; i < v->size(); ++i) {
      auto o = Obj::of((*v)[i], path(key) + "/" + std::to_string(i));
      if (!o) return std::move(o).error();
      VNET_TRY(fn(*o));
    }
    return Status::success();
  }

 private:
  Obj(const json& j, std::string path) : j_(&j), path_(std::move(path)) {}

  template <typename T>
  static const char* what() {
    if constexpr (std::is_same_v<T, Mac>) return "a valid MAC address";
    if constexpr (std::is_same_v<T, Ipv4>) return "a valid IPv4 address";
    return "a valid IP address";
  }

  const json* j_;
  std::string path_;
};

Status familyFromJson(const Obj& o, const IpAddress& address, Family& family) {
  family = address.family();
  std::string f;
  VNET_TRY(o.get("family", f));
  if (f.empty()) return Status::success();
  if (f != "ipv4" && f != "ipv6") return badAt(o.path("family"), "must be 'ipv4' or 'ipv6'");
  family = f == "ipv4" ? Family::V4 : Family::V6;
  return Status::success();
}

Status leaseFields(const Obj& o, Lease& lease) {
  VNET_TRY(o.getNumber("expiry", lease.expiry));
  return o.get("unit", lease.unit);
}

Status leaseFromJson(const Obj& o, std::optional<Lease>& out) {
  return o.child("lease", [&](const Obj& l) { return leaseFields(l, out.emplace()); });
}

Status natFromJson(const Obj& o, Nat& nat) {
  VNET_TRY(o.get("ipv6", nat.ipv6));
  VNET_TRY(o.get("addressStart", nat.addressStart));
  VNET_TRY(o.get("addressEnd", nat.addressEnd));
  nat.portsSet = o.find("portStart") || o.find("portEnd");
  VNET_TRY(o.getNumber("portStart", nat.portStart));
  return o.getNumber("portEnd", nat.portEnd);
}

Status forwardFromJson(const Obj& o, Network& net) {
  net.hasForwardElement = true;
  std::string mode = "nat";
  VNET_TRY(o.get("mode", mode));
  if (auto m = model::parseForwardMode(mode)) {
    net.mode = *m;
  } else if (isKeptForwardMode(mode)) {
    net.forwardModeOther = mode;
  } else {
    return badAt(o.path("mode"), "'" + mode + "' is not a known forward mode");
  }
  VNET_TRY(o.get("dev", net.forwardDev));
  return o.child("nat", [&](const Obj& n) { return natFromJson(n, net.nat.emplace()); });
}

Status forwarderFromJson(const Obj& o, DnsForwarder& f) {
  VNET_TRY(o.get("addr", f.addr));
  VNET_TRY(o.get("port", f.port));
  return o.get("domain", f.domain);
}

Status dnsHostFromJson(const Obj& o, DnsHost& host) {
  VNET_TRY(o.require("ip", host.ip));
  const json* names = o.find("hostnames");
  if (!names) return Status::success();
  if (!names->is_array()) return badAt(o.path("hostnames"), "must be an array of strings");
  for (const json& n : *names) {
    if (!n.is_string()) return badAt(o.path("hostnames"), "must be an array of strings");
    host.hostnames.push_back(n.get<std::string>());
  }
  return Status::success();
}

Status srvFromJson(const Obj& o, DnsSrv& srv) {
  VNET_TRY(o.get("service", srv.service));
  VNET_TRY(o.get("protocol", srv.protocol));
  VNET_TRY(o.get("domain", srv.domain));
  VNET_TRY(o.get("target", srv.target));
  VNET_TRY(o.get("port", srv.port));
  VNET_TRY(o.get("priority", srv.priority));
  return o.get("weight", srv.weight);
}

Status txtFromJson(const Obj& o, DnsTxt& txt) {
  VNET_TRY(o.get("name", txt.name));
  return o.get("value", txt.value);
}

Status dnsFromJson(const Obj& o, Dns& dns) {
  VNET_TRY(o.get("enable", dns.enable));
  VNET_TRY(o.get("forwardPlainNames", dns.forwardPlainNames));
  VNET_TRY(o.each("forwarders", [&](const Obj& f) {
    return forwarderFromJson(f, dns.forwarders.emplace_back());
  }));
  VNET_TRY(
      o.each("hosts", [&](const Obj& h) { return dnsHostFromJson(h, dns.hosts.emplace_back()); }));
  VNET_TRY(o.each("srvs", [&](const Obj& v) { return srvFromJson(v, dns.srvs.emplace_back()); }));
  return o.each("txts", [&](const Obj& t) { return txtFromJson(t, dns.txts.emplace_back()); });
}

Status rangeFromJson(const Obj& o, DhcpRange& range) {
  VNET_TRY(o.require("start", range.start));
  VNET_TRY(o.require("end", range.end));
  return leaseFromJson(o, range.lease);
}

Status dhcpHostFromJson(const Obj& o, DhcpHost& host) {
  VNET_TRY(o.get("mac", host.mac));
  VNET_TRY(o.get("id", host.id));
  VNET_TRY(o.get("name", host.name));
  VNET_TRY(o.get("ip", host.ip));
  return leaseFromJson(o, host.lease);
}

Status bootpFromJson(const Obj& o, Bootp& bootp) {
  VNET_TRY(o.get("file", bootp.file));
  return o.get("server", bootp.server);
}

Status dhcpFromJson(const Obj& d, IpConfig& ip) {
  ip.hasDhcp = true;
  VNET_TRY(
      d.each("ranges", [&](const Obj& r) { return rangeFromJson(r, ip.ranges.emplace_back()); }));
  VNET_TRY(
      d.each("hosts", [&](const Obj& h) { return dhcpHostFromJson(h, ip.hosts.emplace_back()); }));
  return d.child("bootp", [&](const Obj& b) { return bootpFromJson(b, ip.bootp.emplace()); });
}

Status prefixFromJson(const Obj& o, const IpAddress& address, int& prefix, bool& netmask_form) {
  std::optional<Ipv4> mask;
  VNET_TRY(o.get("netmask", mask));
  if (mask && o.find("prefix")) return badAt(o.path(), "netmask and prefix are mutually exclusive");
  if (mask) {
    auto len = mask->maskToPrefix();
    if (!len || !address.isV4()) return badAt(o.path("netmask"), "is not a valid IPv4 netmask");
    prefix = *len;
    netmask_form = true;
    return Status::success();
  }
  prefix = address.isV4() ? 24 : 64;
  return o.getNumber("prefix", prefix, 128);
}

Status ipFromJson(const Obj& o, IpConfig& ip) {
  VNET_TRY(o.require("address", ip.address));
  VNET_TRY(familyFromJson(o, ip.address, ip.family));
  ip.familyWritten = o.find("family") != nullptr;
  VNET_TRY(prefixFromJson(o, ip.address, ip.prefix, ip.netmaskForm));
  VNET_TRY(o.get("localPtr", ip.localPtr));
  return o.child("dhcp", [&](const Obj& d) { return dhcpFromJson(d, ip); });
}

Status routeFromJson(const Obj& o, Route& r) {
  VNET_TRY(o.require("address", r.address));
  VNET_TRY(familyFromJson(o, r.address, r.family));
  r.familyWritten = o.find("family") != nullptr;
  bool netmask_form = false;
  VNET_TRY(prefixFromJson(o, r.address, r.prefix, netmask_form));
  VNET_TRY(o.require("gateway", r.gateway));
  return o.get("metric", r.metric);
}

Status unsupportedFromJson(const Obj& o, UnsupportedElement& u) {
  VNET_TRY(o.get("path", u.path));
  VNET_TRY(o.get("xml", u.xml));
  if (u.path.empty()) return badAt(o.path("path"), "is required");
  if (!isSingleXmlElement(u.xml)) return badAt(o.path("xml"), "must be one XML element");
  return Status::success();
}

Status bridgeFromJson(const Obj& o, model::Bridge& bridge) {
  VNET_TRY(o.get("name", bridge.name));
  VNET_TRY(o.get("stp", bridge.stp));
  return o.getNumber("delay", bridge.delay);
}

Status domainFromJson(const Obj& o, model::Domain& domain) {
  VNET_TRY(o.get("name", domain.name));
  return o.get("localOnly", domain.localOnly);
}

Status networkFields(const Obj& o, Network& net) {
  VNET_TRY(o.get("name", net.name));
  VNET_TRY(o.get("uuid", net.uuid));
  VNET_TRY(o.get("title", net.title));
  VNET_TRY(o.get("description", net.description));
  VNET_TRY(o.child("forward", [&](const Obj& f) { return forwardFromJson(f, net); }));
  VNET_TRY(o.child("bridge", [&](const Obj& b) { return bridgeFromJson(b, net.bridge); }));
  VNET_TRY(o.get("mac", net.mac));
  VNET_TRY(o.get("mtu", net.mtu));
  VNET_TRY(
      o.child("domain", [&](const Obj& d) { return domainFromJson(d, net.domain.emplace()); }));
  VNET_TRY(o.child("dns", [&](const Obj& d) { return dnsFromJson(d, net.dnsElement.emplace()); }));
  VNET_TRY(o.each("ips", [&](const Obj& i) { return ipFromJson(i, net.ips.emplace_back()); }));
  VNET_TRY(
      o.each("routes", [&](const Obj& r) { return routeFromJson(r, net.routes.emplace_back()); }));
  return o.each("unsupported", [&](const Obj& u) {
    return unsupportedFromJson(u, net.unsupported.emplace_back());
  });
}

}  // namespace

json networkToJson(const Network& net) {
  json j = {{"name", net.name}};
  putIf(j, "uuid", net.uuid);
  putIf(j, "title", net.title);
  putIf(j, "description", net.description);
  j["forward"] = forwardToJson(net);
  j["bridge"] = {{"name", net.bridge.name}, {"stp", net.bridge.stp}, {"delay", net.bridge.delay}};
  putText(j, "mac", net.mac);
  putIf(j, "mtu", net.mtu);
  if (net.domain) j["domain"] = {{"name", net.domain->name}, {"localOnly", net.domain->localOnly}};
  if (net.dnsElement) j["dns"] = dnsToJson(*net.dnsElement);
  json& ips = j["ips"] = json::array();
  for (const IpConfig& ip : net.ips) ips.push_back(ipToJson(ip));
  json& routes = j["routes"] = json::array();
  for (const Route& r : net.routes) routes.push_back(routeToJson(r));
  if (!net.unsupported.empty()) {
    json& kept = j["unsupported"] = json::array();
    for (const UnsupportedElement& u : net.unsupported) {
      kept.push_back({{"path", u.path}, {"xml", u.xml}});
    }
  }
  return j;
}

Result<Network> networkFromJson(const json& j) {
  try {
    auto o = Obj::of(j, "");
    if (!o) return std::move(o).error();
    Network net;
    VNET_TRY(networkFields(*o, net));
    return net;
  } catch (const json::exception& e) {
    return Error::invalid(std::string("JSON: ") + e.what());
  }
}

}  // namespace vnet::config
