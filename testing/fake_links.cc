#include "testing/fake_links.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <utility>

namespace vnet::testing {
namespace {

using kernel::LinkInfo;
using kernel::RouteInfo;

constexpr size_t kMaxNameLength = 15;  // IFNAMSIZ - 1

const std::set<std::string, std::less<>> kReadOnlyVerbs = {"findLink",  "listLinks", "bridgePorts",
                                                           "addresses", "routes",    "getSysctl"};

// A zero MAC asks for a generated one, as the kernel picks a random one.
std::optional<Mac> nonZero(const Mac& mac) {
  return mac.isZero() ? std::nullopt : std::optional(mac);
}

bool validName(const std::string& name) {
  return !name.empty() && name.size() <= kMaxNameLength &&
         name.find_first_of("/: \t\n") == std::string::npos;
}

// The kernel's matching for RTM_DELROUTE: unset fields match anything.
bool routeMatches(const RouteInfo& pattern, const RouteInfo& r) {
  return pattern.destination == r.destination &&
         (pattern.device.empty() || pattern.device == r.device) &&
         (!pattern.gateway || pattern.gateway == r.gateway) &&
         (pattern.metric == 0 || pattern.metric == r.metric);
}

}  // namespace

FakeLinks::FakeLinks() {
  LinkInfo lo;
  lo.name = "lo";
  lo.mtu = 65536;
  lo.up = true;
  addExternalLink(lo);
  links_["lo"].info.mac = Mac();
  links_["lo"].addresses = {*Cidr::parse("127.0.0.1/8"), *Cidr::parse("::1/128")};
}

// --- Recording and failure injection ---

Status FakeLinks::record(const std::string& verb, const std::string& subject,
                         const std::string& line) {
  calls_.push_back(line);
  std::optional<Error> injected;
  for (auto it = countdowns_.begin(); it != countdowns_.end();) {
    if (--it->first == 0) {
      if (!injected) injected = std::move(it->second);
      it = countdowns_.erase(it);
    } else {
      ++it;
    }
  }
  if (injected) return *std::move(injected);
  for (const auto& f : failures_) {
    if (f.verb == verb && (f.name.empty() || f.name == subject)) return f.error;
  }
  return Status::success();
}

std::vector<std::string> FakeLinks::mutatingCalls() const {
  std::vector<std::string> out;
  for (const auto& call : calls_) {
    if (!kReadOnlyVerbs.contains(std::string_view(call).substr(0, call.find(' ')))) {
      out.push_back(call);
    }
  }
  return out;
}

void FakeLinks::failOn(std::string verb, std::string name, Error error) {
  failures_.push_back({std::move(verb), std::move(name), std::move(error)});
}

void FakeLinks::failNthCall(size_t n, Error error) {
  if (n == 0) return;
  countdowns_.emplace_back(n, std::move(error));
}

void FakeLinks::clearFailures() {
  failures_.clear();
  countdowns_.clear();
}

// --- State helpers ---

FakeLinks::Link* FakeLinks::find(const std::string& name) {
  auto it = links_.find(name);
  return it == links_.end() ? nullptr : &it->second;
}

const FakeLinks::Link* FakeLinks::link(const std::string& name) const {
  auto it = links_.find(name);
  return it == links_.end() ? nullptr : &it->second;
}

Result<FakeLinks::Link*> FakeLinks::require(const std::string& name) {
  if (Link* l = find(name)) return l;
  return Error(std::strerror(ENODEV), ENODEV);
}

FakeLinks::Link& FakeLinks::create(const std::string& name, const std::string& kind,
                                   const std::optional<Mac>& mac,
                                   const std::optional<unsigned>& mtu) {
  Link& l = links_[name];
  l.info.ifindex = nextIndex_++;
  l.info.name = name;
  l.info.kind = kind;
  l.info.mac =
      mac.value_or(Mac({0x02, 0, 0, 0, uint8_t(l.info.ifindex >> 8), uint8_t(l.info.ifindex)}));
  l.info.mtu = mtu.value_or(1500);
  return l;
}

int FakeLinks::addExternalLink(LinkInfo info) {
  const std::string name = info.name;
  Link& l = create(name, info.kind, nonZero(info.mac),
                   info.mtu == 0 ? std::nullopt : std::optional(info.mtu));
  l.info.up = info.up;
  l.info.masterIndex = info.masterIndex;
  return l.info.ifindex;
}

void FakeLinks::remove(const std::string& name) {
  auto it = links_.find(name);
  if (it == links_.end()) return;
  const Link gone = std::move(it->second);
  links_.erase(it);
  for (auto& [other, l] : links_) {
    if (l.info.masterIndex == gone.info.ifindex) l.info.masterIndex = 0;
  }
  std::erase_if(routes_, [&](const RouteInfo& r) { return r.device == name; });
  const std::string conf = "/conf/" + name + "/";
  std::erase_if(sysctls_, [&](const auto& kv) { return kv.first.find(conf) != std::string::npos; });
  if (gone.veth) peers_[gone.veth->netnsPath].erase(gone.veth->peerName);
}

// --- Links ---

Result<std::optional<LinkInfo>> FakeLinks::findLink(const std::string& name) {
  VNET_TRY(record("findLink", name, "findLink " + name));
  if (const Link* l = find(name)) return std::optional<LinkInfo>(l->info);
  return std::optional<LinkInfo>();
}

Result<std::vector<LinkInfo>> FakeLinks::listLinks() {
  VNET_TRY(record("listLinks", "", "listLinks"));
  std::vector<LinkInfo> out;
  for (const auto& [name, l] : links_) out.push_back(l.info);
  std::sort(out.begin(), out.end(),
            [](const LinkInfo& a, const LinkInfo& b) { return a.ifindex < b.ifindex; });
  return out;
}

Result<std::vector<LinkInfo>> FakeLinks::bridgePorts(const std::string& bridge) {
  VNET_TRY(record("bridgePorts", bridge, "bridgePorts " + bridge));
  auto br = require(bridge);
  if (!br.ok()) return std::move(br).error().context("listing ports of " + bridge);
  std::vector<LinkInfo> out;
  for (const auto& [name, l] : links_) {
    if (l.info.masterIndex == (*br)->info.ifindex) out.push_back(l.info);
  }
  std::sort(out.begin(), out.end(),
            [](const LinkInfo& a, const LinkInfo& b) { return a.ifindex < b.ifindex; });
  return out;
}

Status FakeLinks::addBridge(const kernel::BridgeSpec& spec) {
  VNET_TRY(record("addBridge", spec.name, "addBridge " + spec.name));
  const std::string ctx = "adding bridge " + spec.name;
  if (!validName(spec.name)) return Error::fromErrno(ctx, EINVAL);
  if (find(spec.name)) return Error::fromErrno(ctx, EEXIST);
  create(spec.name, "bridge", spec.mac, spec.mtu).bridge = spec;
  return Status::success();
}

Status FakeLinks::deleteLink(const std::string& name) {
  VNET_TRY(record("deleteLink", name, "deleteLink " + name));
  if (!find(name)) return Error::fromErrno("deleting link " + name, ENODEV);
  remove(name);
  return Status::success();
}

Status FakeLinks::setUp(const std::string& name, bool up) {
  VNET_TRY(record("setUp", name, "setUp " + name + (up ? " up" : " down")));
  auto l = require(name);
  if (!l.ok()) return std::move(l).error().context("setting " + name + (up ? " up" : " down"));
  (*l)->info.up = up;
  return Status::success();
}

Status FakeLinks::setMaster(const std::string& name, const std::string& master) {
  VNET_TRY(record("setMaster", name,
                  "setMaster " + name + " " + (master.empty() ? "nomaster" : master)));
  const std::string ctx = master.empty() ? "detaching " + name + " from its bridge"
                                         : "attaching " + name + " to " + master;
  auto l = require(name);
  if (!l.ok()) return std::move(l).error().context(ctx);
  int index = 0;
  if (!master.empty()) {
    auto br = require(master);
    if (!br.ok()) return std::move(br).error().context(ctx + ": looking up " + master);
    if ((*br)->info.kind != "bridge") return Error::fromErrno(ctx, EOPNOTSUPP);
    index = (*br)->info.ifindex;
  }
  (*l)->info.masterIndex = index;
  return Status::success();
}

// --- Addresses ---

Status FakeLinks::addAddress(const std::string& dev, const Cidr& address) {
  VNET_TRY(record("addAddress", dev, "addAddress " + dev + " " + address.toString()));
  const std::string ctx = "adding address " + address.toString() + " to " + dev;
  auto l = require(dev);
  if (!l.ok()) return std::move(l).error().context(ctx);
  auto& addrs = (*l)->addresses;
  if (std::any_of(addrs.begin(), addrs.end(),
                  [&](const Cidr& c) { return c.address == address.address; })) {
    return Error::fromErrno(ctx, EEXIST);
  }
  addrs.push_back(address);
  return Status::success();
}

Status FakeLinks::deleteAddress(const std::string& dev, const Cidr& address) {
  VNET_TRY(record("deleteAddress", dev, "deleteAddress " + dev + " " + address.toString()));
  const std::string ctx = "deleting address " + address.toString() + " from " + dev;
  auto l = require(dev);
  if (!l.ok()) return std::move(l).error().context(ctx);
  auto& addrs = (*l)->addresses;
  auto it = std::find(addrs.begin(), addrs.end(), address);
  if (it == addrs.end()) return Error::fromErrno(ctx, EADDRNOTAVAIL);
  addrs.erase(it);
  return Status::success();
}

Result<std::vector<Cidr>> FakeLinks::addresses(const std::string& dev) {
  VNET_TRY(record("addresses", dev, "addresses " + dev));
  auto l = require(dev);
  if (!l.ok()) return std::move(l).error().context("listing addresses of " + dev);
  return (*l)->addresses;
}

// --- Routes ---

Result<std::vector<RouteInfo>> FakeLinks::routes() {
  VNET_TRY(record("routes", "", "routes"));
  std::vector<const Link*> up;
  for (const auto& [name, l] : links_) {
    if (l.info.up && name != "lo") up.push_back(&l);
  }
  std::sort(up.begin(), up.end(),
            [](const Link* a, const Link* b) { return a->info.ifindex < b->info.ifindex; });
  std::vector<RouteInfo> out;
  for (const Link* l : up) {
    for (const Cidr& c : l->addresses) {
      RouteInfo r;
      r.destination = c.network();
      r.device = l->info.name;
      r.metric = c.address.isV4() ? 0 : 256;
      out.push_back(std::move(r));
    }
  }
  out.insert(out.end(), routes_.begin(), routes_.end());
  return out;
}

Status FakeLinks::addRoute(const RouteInfo& route) {
  VNET_TRY(record("addRoute", route.device, "addRoute " + describeRoute(route)));
  const std::string ctx = "adding route " + describeRoute(route);
  if (!route.device.empty() && !find(route.device)) {
    return Error::fromErrno(ctx + ": looking up " + route.device, ENODEV);
  }
  if (route.destination.network() != route.destination) return Error::fromErrno(ctx, EINVAL);
  for (const auto& r : routes_) {
    if (r.destination == route.destination && r.metric == route.metric) {
      return Error::fromErrno(ctx, EEXIST);
    }
  }
  routes_.push_back(route);
  return Status::success();
}

Status FakeLinks::deleteRoute(const RouteInfo& route) {
  VNET_TRY(record("deleteRoute", route.device, "deleteRoute " + describeRoute(route)));
  auto it = std::find_if(routes_.begin(), routes_.end(),
                         [&](const RouteInfo& r) { return routeMatches(route, r); });
  if (it == routes_.end()) return Error::fromErrno("deleting route " + describeRoute(route), ESRCH);
  routes_.erase(it);
  return Status::success();
}

// --- Ports ---

Status FakeLinks::addTap(const kernel::TapSpec& spec) {
  VNET_TRY(record("addTap", spec.name, "addTap " + spec.name));
  const std::string ctx = "adding tap " + spec.name;
  if (!validName(spec.name)) return Error::fromErrno(ctx, EINVAL);
  if (find(spec.name)) return Error::fromErrno(ctx, EEXIST);
  int master = 0;
  if (!spec.master.empty()) {
    const Link* br = find(spec.master);
    if (!br) {
      return Error::fromErrno(
          ctx + ": attaching " + spec.name + " to " + spec.master + ": looking up " + spec.master,
          ENODEV);
    }
    master = br->info.ifindex;
  }
  Link& l = create(spec.name, "tun", nonZero(spec.mac), spec.mtu);
  l.info.masterIndex = master;
  l.info.up = true;
  l.tap = spec;
  return Status::success();
}

Status FakeLinks::addVeth(const kernel::VethSpec& spec) {
  VNET_TRY(record("addVeth", spec.hostName, "addVeth " + spec.hostName + " peer " + spec.peerName));
  const std::string ctx =
      "adding veth " + spec.hostName + " (peer " + spec.peerName + " in " + spec.netnsPath + ")";
  if (!validName(spec.hostName) || !validName(spec.peerName)) return Error::fromErrno(ctx, EINVAL);
  if (spec.netnsPath.empty()) return Error::fromErrno(ctx + ": opening " + spec.netnsPath, ENOENT);
  if (find(spec.hostName) || peers_[spec.netnsPath].contains(spec.peerName)) {
    return Error::fromErrno(ctx, EEXIST);
  }
  int master = 0;
  if (!spec.master.empty()) {
    const Link* br = find(spec.master);
    if (!br) {
      return Error::fromErrno(ctx + ": attaching " + spec.hostName + " to " + spec.master +
                                  ": looking up " + spec.master,
                              ENODEV);
    }
    master = br->info.ifindex;
  }
  Link& l = create(spec.hostName, "veth", nonZero(spec.hostMac), spec.mtu);
  l.info.masterIndex = master;
  l.info.up = true;
  l.veth = spec;
  peers_[spec.netnsPath][spec.peerName] = spec;
  return Status::success();
}

// --- Sysctls ---

Status FakeLinks::setSysctl(const std::string& path, const std::string& value) {
  VNET_TRY(record("setSysctl", path, "setSysctl " + path + " " + value));
  sysctls_[path] = value;
  return Status::success();
}

Result<std::string> FakeLinks::getSysctl(const std::string& path) {
  VNET_TRY(record("getSysctl", path, "getSysctl " + path));
  auto it = sysctls_.find(path);
  if (it == sysctls_.end()) return Error::fromErrno("reading sysctl " + path, ENOENT);
  return it->second;
}

}  // namespace vnet::testing
