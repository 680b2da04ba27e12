#include "daemon/repairer.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>

namespace vnet::daemon {

namespace {

// Causes named in one repair's log line; the rest are counted.
constexpr size_t kShownCauses = 3;

}  // namespace

Repairer::Repairer(boost::asio::io_context& io, Manager& manager, kernel::Links& links,
                   Options options)
    : manager_(manager), links_(links), options_(options), settle_(io), poll_(io) {
  if (options_.selfPid == 0) options_.selfPid = ::getpid();
}

Repairer::~Repairer() {
  alive_.reset();
  settle_.cancel();
  poll_.cancel();
}

void Repairer::start() {
  poll(options_.poll);
}

void Repairer::refresh() {
  if (generation_ == manager_.generation()) return;
  generation_ = manager_.generation();
  watched_.clear();
  byBridge_.clear();
  byPort_.clear();
  std::map<std::string, int> indexes;
  for (auto& w : manager_.watched()) {
    byBridge_[w.bridge] = w.name;
    for (const auto& p : w.ports) byPort_[p] = w.name;
    auto known = indexOf_.find(w.bridge);
    int index = known == indexOf_.end() ? 0 : known->second;
    if (index == 0) {
      if (auto link = links_.findLink(w.bridge); link && *link) index = (*link)->ifindex;
    }
    indexes[w.bridge] = index;
    std::string name = w.name;
    watched_.emplace(std::move(name), std::move(w));
  }
  indexOf_ = std::move(indexes);
}

void Repairer::onLink(const kernel::LinkEvent& e) {
  refresh();
  if (auto br = byBridge_.find(e.name); br != byBridge_.end()) {
    if (e.removed) {
      indexOf_[e.name] = 0;
      mark(br->second, "bridge " + e.name + " deleted");
      return;
    }
    indexOf_[e.name] = e.ifindex;
    if (!e.up) mark(br->second, "bridge " + e.name + " down");
    return;
  }
  if (auto port = byPort_.find(e.name); port != byPort_.end()) {
    if (e.removed) return;
    const std::string& bridge = watched_[port->second].bridge;
    if (e.master != indexOf_[bridge]) mark(port->second, "port " + e.name + " left " + bridge);
    return;
  }
  // Someone else's interface on (or off) a watched bridge: libvirt's <interface type='bridge'>.
  std::string network;
  if (!e.removed && e.master != 0) {
    for (const auto& [bridge, index] : indexOf_) {
      if (index == e.master) network = byBridge_[bridge];
    }
  }
  manager_.noteAdoptedPort(e.name, network);
}

void Repairer::onAddress(const kernel::AddressEvent& e) {
  if (!e.removed) return;
  refresh();
  for (const auto& [bridge, index] : indexOf_) {
    if (index != 0 && index == e.ifindex) {
      mark(byBridge_[bridge], "address " + (e.address ? e.address->toString() : std::string("?")) +
                                  " deleted from " + bridge);
      return;
    }
  }
}

void Repairer::onTable(const kernel::TableEvent& e) {
  if (e.pid == options_.selfPid) return;  // our own batch
  refresh();
  if (watched_.empty()) return;
  std::string who = e.process.empty() ? "another process" : e.process;
  if (e.pid != 0) who += " (pid " + std::to_string(e.pid) + ")";
  for (const auto& c : e.changes) spdlog::debug("table inet vnet changed by {}: {}", who, c);
  pending_.firewall = true;
  addCause("table inet vnet changed by " + who);
  arm(options_.settle);
}

void Repairer::onEventsLost(const std::string& source) {
  spdlog::warn("{} events were lost (receive buffer full); checking every network", source);
  markAll(source + " events lost");
}

void Repairer::mark(const std::string& network, const std::string& cause) {
  pending_.links.insert(network);
  addCause(cause);
  arm(options_.settle);
}

void Repairer::addCause(std::string cause) {
  if (std::find(causes_.begin(), causes_.end(), cause) == causes_.end()) {
    causes_.push_back(std::move(cause));
  }
}

void Repairer::markAll(const std::string& cause) {
  refresh();
  for (const auto& [name, w] : watched_) pending_.links.insert(name);
  pending_.firewall = true;
  pending_.forwarding = true;
  addCause(cause);
  arm(options_.settle);
}

void Repairer::arm(std::chrono::milliseconds after) {
  if (armed_) return;
  armed_ = true;
  settle_.expires_after(after);
  std::weak_ptr<bool> alive = alive_;
  settle_.async_wait([this, alive](const boost::system::error_code& ec) {
    if (alive.expired() || ec) return;
    armed_ = false;
    run();
  });
}

void Repairer::run() {
  ReconcileScope scope = std::move(pending_);
  pending_ = ReconcileScope{};
  size_t n = 0;
  for (const auto& c : causes_) {
    if (n++ == kShownCauses) {
      scope.cause += ", ...";
      break;
    }
    scope.cause += (scope.cause.empty() ? "" : ", ") + c;
  }
  causes_.clear();
  ReconcileResult r = manager_.reconcile(scope);
  if (r.failures == 0) return;
  // Try again later; new marks join this retry.
  pending_.links.insert(scope.links.begin(), scope.links.end());
  pending_.firewall = pending_.firewall || scope.firewall;
  pending_.forwarding = pending_.forwarding || scope.forwarding;
  addCause("retry after a failed repair");
  arm(options_.retry);
}

void Repairer::poll(std::chrono::milliseconds after) {
  poll_.expires_after(after);
  std::weak_ptr<bool> alive = alive_;
  poll_.async_wait([this, alive](const boost::system::error_code& ec) {
    if (alive.expired() || ec) return;
    ReconcileScope scope;
    scope.forwarding = true;
    ReconcileResult r = manager_.reconcile(scope);
    // A sysctl that cannot be written is logged once per retry period, not per poll.
    poll(r.failures == 0 ? options_.poll : options_.retry);
  });
}

}  // namespace vnet::daemon
