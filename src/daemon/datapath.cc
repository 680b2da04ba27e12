#include "daemon/datapath.h"

#include <algorithm>
#include <cerrno>
#include <functional>
#include <vector>

namespace vnet::daemon {

namespace {

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

std::string confPath(Family f, const std::string& dev, const char* key) {
  return std::string(f == Family::V4 ? "net/ipv4/conf/" : "net/ipv6/conf/") + dev + "/" + key;
}

bool hasFamily(const model::Network& net, Family f) {
  for (const auto& ip : net.ips) {
    if (ip.family == f) return true;
  }
  return false;
}

kernel::RouteInfo toRouteInfo(const model::Route& r, const std::string& dev) {
  kernel::RouteInfo ri;
  ri.destination = Cidr{r.address, r.prefix}.network();
  ri.device = dev;
  ri.gateway = r.gateway;
  ri.metric = r.metric.value_or(0);
  return ri;
}

}  // namespace

Status Datapath::preflight(const model::Network& net) {
  VNET_TRY(model::checkStartable(net));
  const std::string& br = net.bridge.name;
  auto link = links_.findLink(br);
  if (!link) return std::move(link).error().context("looking up " + br);
  if (net.mode == model::ForwardMode::Bridge) {
    if (!*link) return Error::invalid("bridge " + br + " does not exist (forward mode='bridge' uses an existing bridge)");
    if ((*link)->kind != "bridge") return Error::conflict(br + " is not a bridge");
    return Status::success();
  }
  if (*link && (*link)->kind != "bridge") {
    return Error::conflict(model::elementLocation("network/bridge", net.bridge.line) +
                           ": the name " + br +
                           " is taken by a device that is not a bridge (kind '" +
                           ((*link)->kind.empty() ? "device" : (*link)->kind) + "')");
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

Status Datapath::start(const model::Network& net, const std::function<Status()>& commit) {
  if (net.mode == model::ForwardMode::Bridge) {
    VNET_TRY(preflight(net));
    return commit ? commit() : Status::success();
  }
  VNET_TRY(preflight(net));
  const std::string& br = net.bridge.name;
  UndoStack undo;
  auto fail = [&](Error e) -> Status {
    ErrorList errs = undo.unwind();
    if (errs.empty()) return e;
    std::string msg = e.message() + " (and while undoing: " + errs.toStatus().error().message() + ")";
    return Error(e.code(), msg);
  };

  kernel::BridgeSpec spec{br, net.mac, net.mtu, net.bridge.stp, net.bridge.delay};
  if (Status s = links_.addBridge(spec); !s.ok()) return fail(s.error().context("creating bridge " + br));
  undo.push([this, br] { return links_.deleteLink(br); });

  // Bridge sysctls (libvirt): no IPv6 at all when the network has none; never take RAs
  // or autoconfigure addresses on the bridge.
  bool v6 = hasFamily(net, Family::V6);
  std::vector<std::pair<std::string, std::string>> sysctls;
  if (v6) {
    sysctls.push_back({confPath(Family::V6, br, "accept_ra"), "0"});
    sysctls.push_back({confPath(Family::V6, br, "autoconf"), "0"});
    sysctls.push_back({confPath(Family::V6, br, "disable_ipv6"), "0"});
  } else {
    sysctls.push_back({confPath(Family::V6, br, "disable_ipv6"), "1"});
  }
  for (const auto& [path, value] : sysctls) {
    if (Status s = links_.setSysctl(path, value); !s.ok()) {
      // IPv6 may be disabled host-wide; then the knob does not exist and there is nothing to do.
      if (s.error().sysErrno() == ENOENT && !v6) continue;
      return fail(s.error().context("setting " + path));
    }
  }

  for (const auto& ip : net.ips) {
    Cidr c = ip.cidr();
    if (Status s = links_.addAddress(br, c); !s.ok()) {
      return fail(s.error().context("adding address " + c.toString() + " to " + br));
    }
  }
  if (Status s = links_.setUp(br, true); !s.ok()) return fail(s.error().context("bringing " + br + " up"));

  for (size_t i = 0; i < net.routes.size(); ++i) {
    const model::Route& r = net.routes[i];
    auto ri = toRouteInfo(r, br);
    if (Status s = links_.addRoute(ri); !s.ok()) {
      // The kernel edge names the route; this names the element it came from.
      return fail(s.error().context(
          model::elementLocation("network/route[" + std::to_string(i + 1) + "]", r.line)));
    }
    undo.push([this, ri] { return links_.deleteRoute(ri); });
  }

  if (net.forwards()) {
    // Forwarding is host-wide and other networks rely on it: never turned off again by a
    // stop. A start that fails puts back what it found.
    std::vector<std::string> knobs{"net/ipv4/ip_forward"};
    if (v6) knobs.push_back("net/ipv6/conf/all/forwarding");
    for (const std::string& knob : knobs) {
      auto before = links_.getSysctl(knob);
      if (Status s = links_.setSysctl(knob, "1"); !s.ok()) {
        std::string dotted = knob;
        std::replace(dotted.begin(), dotted.end(), '/', '.');
        return fail(s.error().context("enabling " + dotted));
      }
      if (before && *before != "1") {
        undo.push([this, knob, old = *before] { return links_.setSysctl(knob, old); });
      }
    }
  }

  if (Status s = fw_.addNetwork(net); !s.ok()) return fail(s.error().context("adding firewall rules"));
  undo.push([this, net] { return fw_.removeNetwork(net); });
  if (commit) {
    if (Status s = commit(); !s.ok()) return fail(s.error());
  }
  undo.release();
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

Status Datapath::adopt(const model::Network& net) {
  if (net.mode == model::ForwardMode::Bridge) return preflight(net);
  auto link = links_.findLink(net.bridge.name);
  if (!link) return std::move(link).error();
  if (!*link) return start(net);
  if ((*link)->kind != "bridge") return preflight(net);
  const std::string& br = net.bridge.name;
  auto have = links_.addresses(br);
  if (!have) return std::move(have).error().context("reading addresses of " + br);
  for (const auto& ip : net.ips) {
    Cidr c = ip.cidr();
    bool present = false;
    for (const auto& h : *have) present = present || h == c;
    if (!present) VNET_TRY(links_.addAddress(br, c));
  }
  if (!(*link)->up) VNET_TRY(links_.setUp(br, true));
  if (net.forwards()) VNET_TRY(links_.setSysctl("net/ipv4/ip_forward", "1"));
  return fw_.addNetwork(net);
}

}  // namespace vnet::daemon
