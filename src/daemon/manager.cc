#include "daemon/manager.h"

#include <spdlog/spdlog.h>

#include <cerrno>

#include "base/random.h"
#include "config/xml.h"
#include "daemon/crash_point.h"

namespace vnet::daemon {

namespace {

std::string quoted(const std::string& name) {
  return "'" + name + "'";
}

Mac randomGuestMac() {
  uint8_t b[3];
  randomBytes(b, sizeof(b));
  return Mac(Mac::Bytes{0x52, 0x54, 0x00, b[0], b[1], b[2]});
}

std::string netnsPath(const std::string& netns) {
  if (netns.find('/') != std::string::npos) return netns;
  return "/run/netns/" + netns;
}

}  // namespace

Manager::Manager(kernel::Links& links, kernel::Firewall& firewall, ServiceFactory& services,
                 DefinitionStore defs, StateStore state)
    : links_(links),
      fw_(firewall),
      serviceFactory_(services),
      datapath_(links, firewall),
      defs_(std::move(defs)),
      state_(std::move(state)) {}

std::string Manager::defaultNetworkXml(int thirdOctet) {
  std::string net = "192.168." + std::to_string(thirdOctet);
  return "<network>\n"
         "  <name>default</name>\n"
         "  <forward mode='nat'/>\n"
         "  <bridge name='vnbr0' stp='on' delay='0'/>\n"
         "  <ip address='" +
         net +
         ".1' netmask='255.255.255.0'>\n"
         "    <dhcp>\n"
         "      <range start='" +
         net + ".2' end='" + net +
         ".254'/>\n"
         "    </dhcp>\n"
         "  </ip>\n"
         "</network>\n";
}

Status Manager::load() {
  VNET_TRY(defs_.init());
  std::vector<Error> errors;
  for (auto& d : defs_.loadAll(errors)) {
    auto net = prepare(d.xml, nullptr);
    if (!net) {
      spdlog::error("skipping definition {}: {}", d.path, net.error().message());
      continue;
    }
    if (net->name != d.name) {
      spdlog::error("skipping definition {}: it defines network '{}', not '{}'", d.path, net->name,
                    d.name);
      continue;
    }
    Entry e;
    e.config = std::move(*net);
    e.persistent = true;
    e.autostart = d.autostart;
    nets_.emplace(d.name, std::move(e));
  }
  for (const auto& err : errors) spdlog::error("{}", err.message());

  auto active = state_.activeNetworks();
  if (!active) return std::move(active).error().context("reading state");
  std::set<std::string> activeNames;
  for (const auto& rec : *active) activeNames.insert(rec.name);
  cleanUpInterruptedStarts(activeNames);
  std::map<std::string, bool> autorepair;
  if (auto stored = state_.autorepairSettings()) {
    autorepair = std::move(*stored);
  } else {
    spdlog::error("reading autorepair settings (repair stays on): {}", stored.error().message());
  }

  for (const auto& rec : *active) {
    auto parsed = config::parseNetworkXml(rec.xml);
    if (!parsed) {
      spdlog::error("state of network '{}' is unreadable, forgetting it: {}", rec.name,
                    parsed.error().message());
      (void)state_.clearActive(rec.name);
      continue;
    }
    Entry* e = find(rec.name);
    if (!e) {
      if (rec.persistent) {
        spdlog::warn("network '{}' was active but is no longer defined; stopping it", rec.name);
        if (Status s = datapath_.stop(*parsed); !s.ok()) spdlog::error("{}", s.error().message());
        (void)state_.clearActive(rec.name);
        (void)state_.removePortsOf(rec.name);
        continue;
      }
      Entry t;
      t.config = *parsed;
      t.persistent = false;
      e = &nets_.emplace(rec.name, std::move(t)).first->second;
    }
    // What is already right stays untouched: no bridge, port, address or rule is
    // recreated, so guests keep forwarding across the restart.
    auto adopted = datapath_.adopt(*parsed, portNamesOf(rec.name));
    if (!adopted) {
      spdlog::error("bringing back network '{}': {}", rec.name, adopted.error().message());
      continue;
    }
    e->live = std::move(*parsed);
    if (Status s = startServices(*e, *e->live); !s.ok()) {
      spdlog::error("network '{}': starting DHCP/DNS: {}", rec.name, s.error().message());
    }
    if (adopted->empty()) {
      spdlog::info("network '{}' is active (adopted as it was)", rec.name);
    } else {
      std::string found, done;
      for (const auto& f : adopted->found) found += (found.empty() ? "" : "; ") + f;
      for (const auto& d : adopted->done) done += (done.empty() ? "" : "; ") + d;
      spdlog::warn("network '{}' is active (adopted: {} => {})", rec.name, found, done);
    }
  }
  for (auto& [name, e] : nets_) {
    if (auto it = autorepair.find(name); it != autorepair.end()) e.autorepair = it->second;
  }
  adoptFirewall();
  ++generation_;

  if (nets_.empty()) VNET_TRY(defineDefault());

  for (auto& [name, e] : nets_) {
    if (e.autostart && !e.live) {
      if (Status s = startEntry(e); !s.ok()) {
        spdlog::error("autostarting network '{}': {}", name, s.error().message());
      } else {
        spdlog::info("network '{}' started (autostart)", name);
      }
    }
  }
  return Status::success();
}

Status Manager::defineDefault() {
  auto routes = links_.routes();
  if (!routes) return std::move(routes).error().context("choosing the default network's subnet");
  for (int x = 122; x <= 254; ++x) {
    Cidr candidate{Ipv4((192u << 24) | (168u << 16) | (unsigned(x) << 8)), 24};
    bool taken = false;
    for (const auto& r : *routes) {
      if (r.destination.prefix > 0 && r.destination.overlaps(candidate)) {
        taken = true;
        break;
      }
    }
    if (taken) continue;
    auto defined = define(defaultNetworkXml(x));
    if (!defined) {
      // Another definition may use the subnet (or the bridge name): try the next one.
      if (defined.error().code() == ErrorCode::Conflict) continue;
      return std::move(defined).error().context("defining the default network");
    }
    VNET_TRY(setAutostart("default", true));
    spdlog::info("defined network 'default' on {} (first free 192.168.X.0/24)",
                 candidate.toString());
    return Status::success();
  }
  return Error("defining the default network: no free 192.168.X.0/24 subnet (X = 122..254)");
}

Result<model::Network> Manager::prepare(std::string_view xml, const Entry* existing) const {
  auto parsed = config::parseNetworkXml(xml);
  if (!parsed) return std::move(parsed).error();
  model::Network net = std::move(*parsed);
  if (existing) {
    if (!net.uuid.empty() && net.uuid != existing->config.uuid) {
      return Error::conflict("network/uuid: network " + quoted(net.name) +
                             " already exists with uuid " + existing->config.uuid +
                             "; a new definition of it must have that uuid or none");
    }
    if (net.uuid.empty()) net.uuid = existing->config.uuid;
    if (net.bridge.name.empty()) net.bridge.name = existing->config.bridge.name;
    if (!net.mac && existing->config.mac) net.mac = existing->config.mac;
  }
  model::fillDefaults(net, usedBridges(net.name));
  VNET_TRY(model::validate(net));
  VNET_TRY(fitsStore(net));
  VNET_TRY(checkAgainstOthers(net, false));
  return net;
}

Status Manager::fitsStore(const model::Network& net) {
  // Definitions are read back with the limit of any XML input; the normalized form
  // (uuid, bridge and MAC added) must not grow past it.
  size_t size = config::formatNetworkXml(net).size();
  if (size <= config::kMaxXmlBytes) return Status::success();
  return Error(ErrorCode::TooLarge, "network " + quoted(net.name) +
                                        ": the normalized definition has " + std::to_string(size) +
                                        " bytes, over the limit of " +
                                        std::to_string(config::kMaxXmlBytes) + " bytes");
}

Status Manager::checkAgainstOthers(const model::Network& net, bool liveOnly) const {
  std::vector<const model::Network*> others;
  for (const auto& [name, e] : nets_) {
    if (name == net.name) continue;
    if (e.live) others.push_back(&*e.live);
    if (!liveOnly) others.push_back(&e.config);
  }
  return model::validateAgainst(net, others);
}

std::vector<std::string> Manager::usedBridges(const std::string& except) const {
  std::vector<std::string> out;
  for (const auto& [name, e] : nets_) {
    if (name == except) continue;
    out.push_back(e.config.bridge.name);
    if (e.live) out.push_back(e.live->bridge.name);
  }
  // Bridges that exist in the kernel but are not ours are taken too.
  if (auto links = links_.listLinks()) {
    for (const auto& l : *links) out.push_back(l.name);
  }
  return out;
}

Manager::Entry* Manager::find(const std::string& name) {
  auto it = nets_.find(name);
  return it == nets_.end() ? nullptr : &it->second;
}
const Manager::Entry* Manager::find(const std::string& name) const {
  auto it = nets_.find(name);
  return it == nets_.end() ? nullptr : &it->second;
}

NetworkStatus Manager::statusOf(const Entry& e) const {
  const model::Network& n = e.live ? *e.live : e.config;
  NetworkStatus s{
      n.name,       n.uuid,     n.bridge.name, model::forwardModeName(n.mode), e.live.has_value(),
      e.persistent, e.autostart};
  s.autorepair = e.autorepair;
  return s;
}

Result<NetworkStatus> Manager::define(std::string_view xml) {
  auto parsedName = config::parseNetworkXml(xml);
  if (!parsedName) return std::move(parsedName).error();
  Entry* existing = find(parsedName->name);
  auto net = prepare(xml, existing);
  if (!net) return std::move(net).error();
  std::string name = net->name;
  VNET_TRY(defs_.save(name, config::formatNetworkXml(*net)));
  if (existing) {
    existing->config = std::move(*net);
    existing->persistent = true;
    spdlog::info("network '{}' redefined", name);
    publish(event_type::kNetworkDefined, name, {{"redefined", "true"}});
    return statusOf(*existing);
  }
  Entry e;
  e.config = std::move(*net);
  auto& placed = nets_.emplace(name, std::move(e)).first->second;
  spdlog::info("network '{}' defined", name);
  publish(event_type::kNetworkDefined, name);
  return statusOf(placed);
}

Result<NetworkStatus> Manager::create(std::string_view xml) {
  auto parsedName = config::parseNetworkXml(xml);
  if (!parsedName) return std::move(parsedName).error();
  if (find(parsedName->name)) {
    return Error::conflict("network " + quoted(parsedName->name) + " already exists");
  }
  auto net = prepare(xml, nullptr);
  if (!net) return std::move(net).error();
  Entry e;
  e.config = std::move(*net);
  e.persistent = false;
  std::string name = e.config.name;
  if (Status s = startEntry(e); !s.ok()) return std::move(s).error();
  auto& placed = nets_.emplace(name, std::move(e)).first->second;
  spdlog::info("network '{}' created (transient) and started", name);
  return statusOf(placed);
}

Status Manager::startEntry(Entry& e) {
  const std::string& name = e.config.name;
  if (e.live) return Error::conflict("network " + quoted(name) + " is already active");
  // Another active network may have taken the subnet or bridge since this was defined.
  if (Status s = checkAgainstOthers(e.config, true); !s.ok()) {
    return std::move(s).error().context("starting network " + quoted(name));
  }
  const ActiveNetworkRecord rec{name, config::formatNetworkXml(e.config), e.persistent};
  bool recorded = false;
  // Services and the state record are the last steps of the datapath's transaction: if
  // either fails, the kernel steps are undone too.
  Status started = datapath_.start(
      e.config,
      [&]() -> Status {
        VNET_TRY(startServices(e, e.config));
        crashPoint("start:services");
        if (Status st = state_.setActive(rec); !st.ok()) {
          e.services.reset();
          return std::move(st).error().context("recording state");
        }
        return Status::success();
      },
      // Recorded after the checks, before the kernel is touched: if vnetd dies during the
      // start, the next vnetd knows what to clean up (cleanUpInterruptedStarts).
      [&]() -> Status {
        if (Status st = state_.setStarting(rec); !st.ok()) {
          return std::move(st).error().context("recording state");
        }
        recorded = true;
        crashPoint("start:recorded");
        return Status::success();
      });
  if (!started.ok()) {
    ErrorList errs;
    errs.add(started);
    if (recorded) errs.add(state_.clearStarting(name));
    return errs.toStatus("starting network " + quoted(name));
  }
  if (Status s = state_.clearStarting(name); !s.ok()) {
    // Harmless: the next load sees the network active and just drops the record.
    spdlog::warn("network '{}': clearing the start record: {}", name, s.error().message());
  }
  e.live = e.config;
  ++generation_;
  publish(event_type::kNetworkStarted, name,
          {{"bridge", e.config.bridge.name},
           {"mode", model::forwardModeName(e.config.mode)},
           {"persistent", e.persistent ? "true" : "false"}});
  return Status::success();
}

Status Manager::startServices(Entry& e, const model::Network& net) {
  auto svc = serviceFactory_.start(net);
  if (!svc) return std::move(svc).error();
  e.services = std::move(*svc);
  return Status::success();
}

Status Manager::start(const std::string& name) {
  Entry* e = find(name);
  if (!e) return Error::notFound("network " + quoted(name) + " not found");
  VNET_TRY(startEntry(*e));
  spdlog::info("network '{}' started", name);
  return Status::success();
}

Status Manager::destroy(const std::string& name) {
  Entry* e = find(name);
  if (!e) return Error::notFound("network " + quoted(name) + " not found");
  if (!e->live) return Error::conflict("network " + quoted(name) + " is not active");
  ErrorList errs;
  e->services.reset();
  if (e->live->mode == model::ForwardMode::Bridge) {
    // The bridge is not ours, so stopping leaves it; the ports we put on it go.
    if (auto stored = state_.ports()) {
      for (const auto& p : *stored) {
        if (p.network == name) errs.add(links_.deleteLink(p.name));
      }
    }
  }
  errs.add(datapath_.stop(*e->live));
  errs.add(state_.removePortsOf(name));
  errs.add(state_.clearActive(name));
  e->live.reset();
  ++generation_;
  if (!e->persistent) {
    errs.add(state_.removeOptions(name));
    nets_.erase(name);
  }
  spdlog::info("network '{}' destroyed", name);
  publish(event_type::kNetworkStopped, name);
  return errs.toStatus("stopping network " + quoted(name));
}

Status Manager::undefine(const std::string& name) {
  Entry* e = find(name);
  if (!e) return Error::notFound("network " + quoted(name) + " not found");
  if (!e->persistent)
    return Error::conflict("network " + quoted(name) + " is transient; use net-destroy");
  VNET_TRY(defs_.remove(name));
  if (e->live) {
    // Like libvirt: an active network becomes transient and goes away when destroyed.
    e->persistent = false;
    e->autostart = false;
    (void)state_.setActive({name, config::formatNetworkXml(*e->live), false});
  } else {
    if (Status s = state_.removeOptions(name); !s.ok()) {
      spdlog::warn("network '{}': forgetting its options: {}", name, s.error().message());
    }
    nets_.erase(name);
  }
  spdlog::info("network '{}' undefined", name);
  publish(event_type::kNetworkUndefined, name);
  return Status::success();
}

Status Manager::setAutostart(const std::string& name, bool on) {
  Entry* e = find(name);
  if (!e) return Error::notFound("network " + quoted(name) + " not found");
  if (!e->persistent)
    return Error::conflict("cannot set autostart for transient network " + quoted(name));
  VNET_TRY(defs_.setAutostart(name, on));
  e->autostart = on;
  return Status::success();
}

std::vector<NetworkStatus> Manager::list(bool all) const {
  std::vector<NetworkStatus> out;
  for (const auto& [name, e] : nets_) {
    if (all || e.live) out.push_back(statusOf(e));
  }
  return out;
}

Result<NetworkStatus> Manager::status(const std::string& name) const {
  const Entry* e = find(name);
  if (!e) return Error::notFound("network " + quoted(name) + " not found");
  return statusOf(*e);
}

Result<const model::Network*> Manager::definition(const std::string& name, bool inactive) const {
  const Entry* e = find(name);
  if (!e) return Error::notFound("network " + quoted(name) + " not found");
  if (e->live && !inactive) return &*e->live;
  return &e->config;
}

Result<std::string> Manager::lookupByUuid(const std::string& uuid) const {
  for (const auto& [name, e] : nets_) {
    if (e.config.uuid == uuid || (e.live && e.live->uuid == uuid)) return name;
  }
  return Error::notFound("no network with uuid " + uuid);
}

Result<std::string> Manager::nextPortName() {
  for (int tries = 0; tries < 100000; ++tries) {
    auto n = state_.nextCounter("port");
    if (!n) return std::move(n).error();
    std::string name = "vnet" + std::to_string(*n);
    auto link = links_.findLink(name);
    if (!link) return std::move(link).error();
    if (!*link) return name;
  }
  return Error("no free vnetN interface name");
}

Result<model::Port> Manager::addPort(const PortRequest& req) {
  Entry* e = find(req.network);
  if (!e) return Error::notFound("network " + quoted(req.network) + " not found");
  if (!e->live) return Error::conflict("network " + quoted(req.network) + " is not active");
  const model::Network& net = *e->live;
  std::string ctx = "adding a port to network " + quoted(req.network);

  // The whole request is checked before anything is allocated (a vnetN number) or made.
  if (!req.name.empty()) {
    if (auto problem = model::interfaceNameProblem(req.name)) {
      return Error::invalid(ctx + ": name '" + req.name + "' " + *problem);
    }
  }
  if (req.mac && (req.mac->isMulticast() || req.mac->isZero())) {
    return Error::invalid(ctx + ": MAC " + req.mac->toString() + " is not a unicast address");
  }
  std::string peerName = req.ifname.empty() ? "eth0" : req.ifname;
  if (!req.tap) {
    if (req.netns.empty()) return Error::invalid(ctx + ": a veth port needs a netns (--netns)");
    if (auto problem = model::interfaceNameProblem(peerName)) {
      return Error::invalid(ctx + ": ifname '" + peerName + "' " + *problem);
    }
  }

  model::Port p;
  p.network = req.network;
  if (req.name.empty()) {
    auto name = nextPortName();
    if (!name) return std::move(name).error().context(ctx);
    p.name = *name;
  } else {
    p.name = req.name;
  }
  p.guestMac = req.mac.value_or(randomGuestMac());
  p.hostMac = model::tapMacForGuest(p.guestMac);
  p.owner = req.owner;

  Status made;
  if (req.tap) {
    p.kind = model::PortKind::Tap;
    made = links_.addTap(kernel::TapSpec{p.name, p.hostMac, p.owner, net.mtu, net.bridge.name});
  } else {
    p.kind = model::PortKind::Veth;
    p.netns = req.netns;
    p.peerName = peerName;
    made = links_.addVeth(kernel::VethSpec{p.name, p.hostMac, p.peerName, p.guestMac,
                                           netnsPath(p.netns), net.mtu, net.bridge.name});
  }
  if (!made.ok()) {
    if (made.error().sysErrno() == EEXIST) {
      return Error::conflict(ctx + ": an interface named " + p.name + " exists already");
    }
    return std::move(made).error().context(ctx + ": creating " + p.name);
  }
  if (Status s = state_.addPort(p); !s.ok()) {
    (void)links_.deleteLink(p.name);
    return std::move(s).error().context(ctx + ": recording state");
  }
  ++generation_;
  spdlog::info("port {} ({}) added to network '{}'", p.name, model::portKindName(p.kind),
               req.network);
  publish(
      event_type::kPortAdded, req.network,
      {{"port", p.name}, {"kind", model::portKindName(p.kind)}, {"mac", p.guestMac.toString()}});
  return p;
}

void Manager::noteAdoptedPort(const std::string& port, const std::string& network) {
  auto it = adopted_.find(port);
  const std::string before = it == adopted_.end() ? "" : it->second;
  if (before == network) return;
  if (!before.empty()) {
    adopted_.erase(it);
    publish(event_type::kPortRemoved, before, {{"port", port}});
  }
  if (!network.empty()) {
    adopted_[port] = network;
    spdlog::info("port {} (adopted) joined network '{}'", port, network);
    publish(event_type::kPortAdded, network, {{"port", port}, {"kind", "adopted"}});
  }
}

Status Manager::removePort(const std::string& network, const std::string& port) {
  auto all = ports(network);
  if (!all) return std::move(all).error();
  for (const auto& p : *all) {
    if (p.name != port) continue;
    ErrorList errs;
    errs.add(links_.deleteLink(port));
    if (p.kind != model::PortKind::Adopted) errs.add(state_.removePort(network, port));
    ++generation_;
    adopted_.erase(port);  // its link event must not announce the removal again
    spdlog::info("port {} removed from network '{}'", port, network);
    publish(event_type::kPortRemoved, network, {{"port", port}});
    return errs.toStatus("removing port " + port);
  }
  return Error::notFound("network " + quoted(network) + " has no port " + port);
}

Result<std::vector<model::Port>> Manager::ports(const std::string& network) {
  Entry* e = find(network);
  if (!e) return Error::notFound("network " + quoted(network) + " not found");
  auto stored = state_.ports();
  if (!stored) return std::move(stored).error();
  std::vector<model::Port> out;
  for (auto& p : *stored) {
    if (p.network == network) out.push_back(std::move(p));
  }
  if (!e->live) return out;
  std::vector<LeaseInfo> leased = e->services ? e->services->leases() : std::vector<LeaseInfo>{};
  auto ipOf = [&leased](const Mac& mac) -> std::optional<IpAddress> {
    for (const auto& l : leased) {
      if (l.mac == mac) return l.ip;
    }
    return std::nullopt;
  };
  for (auto& p : out) {
    p.ip = ipOf(p.guestMac);
    if (p.ip) p.ipSource = "lease";
  }
  // Guests with static addresses have no lease: the host learned them as neighbours.
  if (telemetry_) {
    if (auto neigh = telemetry_->neighbours(e->live->bridge.name)) {
      for (auto& p : out) {
        if (p.ip) continue;
        for (const auto& n : *neigh) {
          // IPv4 first: a guest's link-local IPv6 neighbour says less than its IPv4.
          if (n.mac == p.guestMac && (!p.ip || (n.ip.isV4() && !p.ip->isV4()))) p.ip = n.ip;
        }
        if (p.ip) p.ipSource = "neighbour";
      }
    }
  }
  // Interfaces someone else enslaved to our bridge (libvirt <interface type='bridge'>).
  auto onBridge = links_.bridgePorts(e->live->bridge.name);
  if (!onBridge) return out;
  for (const auto& l : *onBridge) {
    bool known = false;
    for (const auto& p : out) known = known || p.name == l.name;
    if (known) continue;
    model::Port p;
    p.network = network;
    p.name = l.name;
    p.kind = model::PortKind::Adopted;
    p.hostMac = l.mac;
    out.push_back(std::move(p));
  }
  return out;
}

void Manager::publish(const char* type, const std::string& network,
                      std::vector<std::pair<std::string, std::string>> details) {
  if (events_) events_->publish(type, network, std::move(details));
}

Result<std::vector<LeaseInfo>> Manager::leases(const std::string& name) const {
  const Entry* e = find(name);
  if (!e) return Error::notFound("network " + quoted(name) + " not found");
  if (!e->services) return std::vector<LeaseInfo>{};
  return e->services->leases();
}

Result<ServiceCounters> Manager::counters(const std::string& name) const {
  const Entry* e = find(name);
  if (!e) return Error::notFound("network " + quoted(name) + " not found");
  if (!e->services) return ServiceCounters{};
  return e->services->counters();
}

Status Manager::update(const std::string& name, const UpdateRequest& req) {
  Entry* e = find(name);
  if (!e) return Error::notFound("network " + quoted(name) + " not found");
  std::string ctx = "updating network " + quoted(name);
  model::Network config = e->config;
  if (Status s = applyUpdate(config, req); !s.ok()) return std::move(s).error().context(ctx);
  if (Status s = model::validate(config); !s.ok()) return std::move(s).error().context(ctx);
  if (Status s = fitsStore(config); !s.ok()) return std::move(s).error().context(ctx);
  std::optional<model::Network> live;
  if (e->live) {
    live = *e->live;
    if (Status s = applyUpdate(*live, req); !s.ok()) return std::move(s).error().context(ctx);
    if (Status s = model::validate(*live); !s.ok()) return std::move(s).error().context(ctx);
  }
  // Apply in three steps, each undone when a later one fails, so that a failed update
  // leaves services, state and definition as they were: the running services, the
  // recorded live definition, the persistent definition.
  std::unique_ptr<NetworkServices> started;  // services the update needs and did not run yet
  if (live) {
    if (e->services) {
      if (Status s = e->services->reconfigure(*live); !s.ok()) {
        return std::move(s).error().context(ctx);
      }
    } else {
      auto svc = serviceFactory_.start(*live);
      if (!svc) return std::move(svc).error().context(ctx);
      started = std::move(*svc);
    }
  }
  auto undoServices = [&]() -> Status {
    // Services started for this update stop when `started` is dropped.
    if (!live || !e->services) return Status::success();
    if (Status s = e->services->reconfigure(*e->live); !s.ok()) {
      return std::move(s).error().context("restoring the running services");
    }
    return Status::success();
  };
  if (live) {
    if (Status s = state_.setActive({name, config::formatNetworkXml(*live), e->persistent});
        !s.ok()) {
      ErrorList errs;
      errs.add(std::move(s).error().context("recording state"));
      errs.add(undoServices());
      return errs.toStatus(ctx);
    }
  }
  if (e->persistent) {
    if (Status s = defs_.save(name, config::formatNetworkXml(config)); !s.ok()) {
      ErrorList errs;
      errs.add(s);
      errs.add(undoServices());
      if (live) {
        errs.add(state_.setActive({name, config::formatNetworkXml(*e->live), e->persistent}));
      }
      return errs.toStatus(ctx);
    }
  }
  e->config = std::move(config);
  if (live) e->live = std::move(live);
  if (started) e->services = std::move(started);
  spdlog::info("network '{}' updated: {} {}", name, req.command, req.section);
  return Status::success();
}

}  // namespace vnet::daemon
