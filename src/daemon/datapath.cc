#include "daemon/datapath.h"

#include <algorithm>
#include <cerrno>
#include <functional>
#include <map>
#include <vector>

#include "daemon/crash_point.h"
#include "daemon/reconcile.h"

namespace vnet::daemon {

// Steps done so far, undone in reverse when a later step fails.
class UndoStack {
 public:
  void push(std::function<Status()> undo) { steps_.push_back(std::move(undo)); }
  // Runs every undo step in reverse order; returns all their errors.
  ErrorList unwind() {
    ErrorList errs;
    for (auto it = steps_.rbegin(); it != steps_.rend(); ++it) errs.add((*it)());
    steps_.clear();
    return errs;
  }
  void release() { steps_.clear(); }

 private:
  std::vector<std::function<Status()>> steps_;
};

namespace {

bool hasFamily(const model::Network& net, Family f) {
  for (const auto& ip : net.ips) {
    if (ip.family == f) return true;
  }
  return false;
}

// "a, b, c"
std::string joined(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ", ") + p;
  return out;
}

}  // namespace

Status Datapath::preflight(const model::Network& net) {
  VNET_TRY(model::checkStartable(net));
  const std::string& br = net.bridge.name;
  auto link = links_.findLink(br);
  if (!link) return std::move(link).error().context("looking up " + br);
  if (net.mode == model::ForwardMode::Bridge) {
    if (!*link)
      return Error::invalid("bridge " + br +
                            " does not exist (forward mode='bridge' uses an existing bridge)");
    if ((*link)->kind != "bridge") return Error::conflict(br + " is not a bridge");
    return Status::success();
  }
  if (*link && (*link)->kind != "bridge") {
    return Error::conflict(model::elementLocation("network/bridge", net.bridge.line) +
                           ": the name " + br +
                           " is taken by a device that is not a bridge (kind '" +
                           ((*link)->kind.empty() ? "device" : (*link)->kind) + "')");
  }
  if (*link) {
    // Not ours (a start records itself before it creates the bridge, and the next vnetd
    // removes what an interrupted start left), so it is not ours to take over or delete.
    return Error::conflict(model::elementLocation("network/bridge", net.bridge.line) +
                           ": a bridge named " + br + " already exists");
  }
  for (size_t i = 0; i < net.ips.size(); ++i) {
    const model::IpConfig& ip = net.ips[i];
    Cidr subnet = ip.cidr().network();
    auto routes = links_.routesOverlapping(subnet);
    if (!routes) return std::move(routes).error().context("reading routes");
    for (const auto& r : *routes) {
      if (r.device == br) continue;
      return Error::conflict(
          model::elementLocation("network/ip[" + std::to_string(i + 1) + "]", ip.line) + ": " +
          subnet.toString() + " is already routed on " +
          (r.device.empty() ? "another interface" : r.device) + " (" + r.destination.toString() +
          ")");
    }
  }
  return Status::success();
}

Status Datapath::start(const model::Network& net, const std::function<Status()>& commit,
                       const std::function<Status()>& before) {
  VNET_TRY(preflight(net));
  if (before) VNET_TRY(before());
  if (net.mode == model::ForwardMode::Bridge) return commit ? commit() : Status::success();
  UndoStack undo;
  auto fail = [&](Error e) -> Status {
    ErrorList errs = undo.unwind();
    if (errs.empty()) return e;
    std::string msg =
        e.message() + " (and while undoing: " + errs.toStatus().error().message() + ")";
    return Error(e.code(), msg);
  };
  if (Status s = startLinks(net, undo); !s.ok()) return fail(std::move(s).error());
  if (Status s = fw_.addNetwork(net); !s.ok()) {
    return fail(s.error().context("adding firewall rules"));
  }
  crashPoint("start:firewall");
  undo.push([this, net] { return fw_.removeNetwork(net); });
  if (commit) {
    if (Status s = commit(); !s.ok()) return fail(s.error());
  }
  undo.release();
  return Status::success();
}

Status Datapath::startLinks(const model::Network& net, UndoStack& undo) {
  const std::string& br = net.bridge.name;
  kernel::BridgeSpec spec{br, net.mac, net.mtu, net.bridge.stp, net.bridge.delay};
  if (Status s = links_.addBridge(spec); !s.ok()) return s.error().context("creating bridge " + br);
  undo.push([this, br] { return links_.deleteLink(br); });
  crashPoint("start:bridge");

  bool v6 = hasFamily(net, Family::V6);
  for (const auto& [path, value] : bridgeSysctls(net)) {
    if (Status s = links_.setSysctl(path, value); !s.ok()) {
      // IPv6 may be disabled host-wide; then the knob does not exist and there is nothing to do.
      if (s.error().sysErrno() == ENOENT && !v6) continue;
      return s.error().context("setting " + path);
    }
  }

  for (const auto& ip : net.ips) {
    Cidr c = ip.cidr();
    if (Status s = links_.addAddress(br, c); !s.ok()) {
      return s.error().context("adding address " + c.toString() + " to " + br);
    }
  }
  if (Status s = links_.setUp(br, true); !s.ok())
    return s.error().context("bringing " + br + " up");
  crashPoint("start:addresses");

  for (size_t i = 0; i < net.routes.size(); ++i) {
    const model::Route& r = net.routes[i];
    auto ri = toRouteInfo(r, br);
    if (Status s = links_.addRoute(ri); !s.ok()) {
      // The kernel edge names the route; this names the element it came from.
      return s.error().context(
          model::elementLocation("network/route[" + std::to_string(i + 1) + "]", r.line));
    }
    undo.push([this, ri] { return links_.deleteRoute(ri); });
  }

  // Forwarding is host-wide and other networks rely on it: never turned off again by a
  // stop. A start that fails puts back what it found.
  for (Family f : {Family::V4, Family::V6}) {
    if (!needsForwarding(net, f)) continue;
    const std::string knob = f == Family::V4 ? kIpv4Forward : kIpv6Forward;
    auto before = links_.getSysctl(knob);
    if (Status s = links_.setSysctl(knob, "1"); !s.ok()) {
      std::string dotted = knob;
      std::replace(dotted.begin(), dotted.end(), '/', '.');
      return s.error().context("enabling " + dotted);
    }
    if (before && *before != "1") {
      undo.push([this, knob, old = *before] { return links_.setSysctl(knob, old); });
    }
  }
  return Status::success();
}

Status Datapath::stop(const model::Network& net) {
  ErrorList errs;
  if (net.mode == model::ForwardMode::Bridge) return Status::success();
  errs.add(fw_.removeNetwork(net));
  const std::string& br = net.bridge.name;
  auto link = links_.findLink(br);
  if (!link) {
    errs.add(std::move(link).error().context("looking up " + br));
  } else if (*link) {
    // Ports first: taps are persistent and would outlive the bridge.
    auto ports = links_.bridgePorts(br);
    if (ports) {
      for (const auto& p : *ports) errs.add(links_.deleteLink(p.name));
    } else {
      errs.add(std::move(ports).error());
    }
    errs.add(links_.deleteLink(br));
  }
  return errs.toStatus();
}

Result<LinkRepair> Datapath::adopt(const model::Network& net,
                                   const std::vector<std::string>& ports) {
  if (net.mode == model::ForwardMode::Bridge) {
    VNET_TRY(preflight(net));
    return LinkRepair{};
  }
  auto link = links_.findLink(net.bridge.name);
  if (!link) return std::move(link).error();
  if (*link && (*link)->kind != "bridge") {
    VNET_TRY(preflight(net));  // says what the name is taken by
  }
  auto repair = reconcileLinks(net, ports);
  if (!repair) return std::move(repair).error();
  // Forwarding is part of a started network: a reboot or another tool may have reset it.
  std::map<std::string, std::string> have;
  for (const char* path : {kIpv4Forward, kIpv6Forward}) {
    if (auto v = links_.getSysctl(path)) have[path] = *v;
  }
  for (const auto& f :
       diffForwarding(needsForwarding(net, Family::V4), needsForwarding(net, Family::V6), have)) {
    if (Status s = links_.setSysctl(f.path, f.want); !s.ok()) {
      return std::move(s).error().context("enabling " + f.path);
    }
    repair->found.push_back(f.found);
    repair->done.push_back("set it to " + f.want);
  }
  return repair;
}

Result<LinkObservation> Datapath::observe(const model::Network& net,
                                          const std::vector<std::string>& ports) {
  const std::string& br = net.bridge.name;
  LinkObservation have;
  auto link = links_.findLink(br);
  if (!link) return std::move(link).error().context("looking up " + br);
  have.bridge = *link;
  if (!have.bridge || have.bridge->kind != "bridge") return have;
  auto addrs = links_.addresses(br);
  if (!addrs) return std::move(addrs).error();
  have.addresses = std::move(*addrs);
  for (const auto& [path, value] : bridgeSysctls(net)) {
    if (auto v = links_.getSysctl(path)) have.sysctls[path] = *v;
  }
  if (!net.routes.empty()) {
    auto routes = links_.routes();
    if (!routes) return std::move(routes).error();
    have.routes = std::move(*routes);
  }
  for (const auto& name : ports) {
    auto port = links_.findLink(name);
    if (!port) return std::move(port).error().context("looking up port " + name);
    if (*port) have.ports.push_back(**port);
  }
  return have;
}

Result<LinkRepair> Datapath::reconcileLinks(const model::Network& net,
                                            const std::vector<std::string>& ports) {
  using Fix = LinkFinding::Fix;
  LinkRepair out;
  if (net.mode == model::ForwardMode::Bridge) return out;
  for (int round = 0; round < 3; ++round) {
    auto have = observe(net, ports);
    if (!have) return std::move(have).error();
    std::vector<LinkFinding> findings = diffLinks(net, *have);
    if (findings.empty()) break;
    bool progress = false;
    for (const auto& f : findings) {
      out.found.push_back(f.found);
      Status s;
      switch (f.fix) {
        case Fix::CreateBridge: {
          UndoStack undo;
          s = startLinks(net, undo);
          if (!s.ok()) (void)undo.unwind();
          out.bridgeRecreated = s.ok();
          break;
        }
        case Fix::SetSysctl:
          s = links_.setSysctl(f.name, f.value);
          break;
        case Fix::AddAddress:
          s = links_.addAddress(f.name, f.address);
          break;
        case Fix::SetUp:
          s = links_.setUp(f.name, true);
          break;
        case Fix::AddRoute:
          s = links_.addRoute(f.route);
          break;
        case Fix::AttachPort:
          s = links_.setMaster(f.name, net.bridge.name);
          break;
        case Fix::None:
          continue;
      }
      if (!s.ok()) {
        return std::move(s).error().context("found " + joined(out.found) +
                                            (out.done.empty() ? "" : "; did " + joined(out.done)) +
                                            "; then");
      }
      out.done.push_back(describeFix(net, f));
      progress = true;
    }
    if (!progress) break;  // only findings that cannot be repaired
  }
  return out;
}

}  // namespace vnet::daemon
