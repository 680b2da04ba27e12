// Manager: drift repair, adoption of the firewall after a restart, and cleanup of starts
// interrupted by a crash. The pure comparisons are in daemon/reconcile.h and
// kernel/nft/listing.h; the timing (events, debounce, polling) is daemon/repairer.h.
#include <spdlog/spdlog.h>

#include "config/xml.h"
#include "daemon/events.h"
#include "daemon/manager.h"
#include "daemon/reconcile.h"

namespace vnet::daemon {

namespace {

std::string quoted(const std::string& name) {
  return "'" + name + "'";
}

std::string joined(const std::vector<std::string>& parts, size_t max = 0) {
  std::string out;
  size_t shown = max == 0 ? parts.size() : std::min(max, parts.size());
  for (size_t i = 0; i < shown; ++i) out += (i == 0 ? "" : "; ") + parts[i];
  if (shown < parts.size()) out += "; and " + std::to_string(parts.size() - shown) + " more";
  return out;
}

// Findings shown in a firewall repair's log line; the rest are counted.
constexpr size_t kShownFindings = 3;

// One repair as logged and reported: "<found>; <found> => <done>; <done> (<cause>)".
std::string repairText(const std::vector<std::string>& found, const std::vector<std::string>& done,
                       const std::string& cause) {
  return joined(found, kShownFindings) + " => " + joined(done) + cause;
}

}  // namespace

std::vector<std::string> Manager::portNamesOf(const std::string& network) {
  std::vector<std::string> out;
  auto stored = state_.ports();
  if (!stored) {
    spdlog::warn("network '{}': reading its ports: {}", network, stored.error().message());
    return out;
  }
  for (const auto& p : *stored) {
    if (p.network == network) out.push_back(p.name);
  }
  return out;
}

void Manager::cleanUpInterruptedStarts(const std::set<std::string>& active) {
  auto interrupted = state_.interruptedStarts();
  if (!interrupted) {
    spdlog::error("reading interrupted starts: {}", interrupted.error().message());
    return;
  }
  for (const auto& rec : *interrupted) {
    // Recorded active too: the start finished, only its record was left.
    if (active.count(rec.name) == 0) {
      auto net = config::parseNetworkXml(rec.xml);
      if (!net) {
        spdlog::error("network '{}': the record of an interrupted start is unreadable: {}",
                      rec.name, net.error().message());
      } else {
        spdlog::warn(
            "network '{}': vnetd stopped in the middle of starting it; removing what "
            "that start left (bridge {}, its rules)",
            rec.name, net->bridge.name);
        if (Status s = datapath_.stop(*net); !s.ok()) {
          spdlog::error("network '{}': cleaning up the interrupted start: {}", rec.name,
                        s.error().message());
          continue;  // keep the record: the next start tries again
        }
      }
    }
    if (Status s = state_.clearStarting(rec.name); !s.ok()) {
      spdlog::error("network '{}': clearing the start record: {}", rec.name, s.error().message());
    }
  }
}

void Manager::adoptFirewall() {
  std::vector<model::Network> live;
  for (const auto& [name, e] : nets_) {
    if (e.live) live.push_back(*e.live);
  }
  if (live.empty()) return;
  auto drift = fw_.verify(live);
  if (!drift) {
    // Cannot compare: replace every network's rules (atomically, per network).
    spdlog::warn("adopting firewall rules: {}; re-applying them all", drift.error().message());
    for (const auto& net : live) {
      if (Status s = fw_.addNetwork(net); !s.ok()) spdlog::error("{}", s.error().message());
    }
    return;
  }
  for (const auto& d : *drift) {
    Entry* e = find(d.network);
    if (!e || !e->live) continue;
    if (Status s = fw_.addNetwork(*e->live); !s.ok()) {
      spdlog::error("network '{}': re-applying its rules: {}", d.network, s.error().message());
      continue;
    }
    spdlog::warn("network '{}' adopted: {}", d.network,
                 repairText(d.found, {"re-applied its rules (one nft batch)"}, ""));
  }
}

Status Manager::setAutorepair(const std::string& name, bool on) {
  Entry* e = find(name);
  if (!e) return Error::notFound("network " + quoted(name) + " not found");
  VNET_TRY(state_.setAutorepair(name, on));
  const bool was = e->autorepair;
  e->autorepair = on;
  ++generation_;
  spdlog::info("network '{}': drift repair {}", name, on ? "on" : "off");
  if (on && !was && e->live) {
    ReconcileScope scope;
    scope.links.insert(name);
    scope.firewall = true;
    scope.forwarding = true;
    scope.cause = "drift repair turned on";
    (void)reconcile(scope);
  }
  return Status::success();
}

Result<RepairStats> Manager::repairStats(const std::string& name) const {
  const Entry* e = find(name);
  if (!e) return Error::notFound("network " + quoted(name) + " not found");
  return e->repairs;
}

std::vector<WatchedNetwork> Manager::watched() {
  std::vector<WatchedNetwork> out;
  for (const auto& [name, e] : nets_) {
    if (!e.live || !e.autorepair || e.live->mode == model::ForwardMode::Bridge) continue;
    out.push_back({name, e.live->bridge.name, {}});
  }
  if (out.empty()) return out;
  auto stored = state_.ports();
  if (!stored) return out;
  for (auto& w : out) {
    for (const auto& p : *stored) {
      if (p.network == w.name) w.ports.push_back(p.name);
    }
  }
  return out;
}

void Manager::recordRepair(const std::string& name, const std::string& what) {
  Entry* e = find(name);
  if (!e) return;
  ++e->repairs.count;
  e->repairs.last = what;
  spdlog::warn("network '{}': repaired: {}", name, what);
  if (onRepair_) onRepair_(name, what);
  publish(event_type::kRepair, name, {{"what", what}});
}

Status Manager::restartServices(Entry& e) {
  e.services.reset();
  return startServices(e, *e.live);
}

ReconcileResult Manager::reconcile(const ReconcileScope& scope) {
  ReconcileResult result;
  const std::string cause = scope.cause.empty() ? "" : " (" + scope.cause + ")";
  auto watchedEntry = [this](const std::string& name) -> Entry* {
    Entry* e = find(name);
    if (!e || !e->live || !e->autorepair || e->live->mode == model::ForwardMode::Bridge) {
      return nullptr;
    }
    return e;
  };

  for (const auto& name : scope.links) {
    Entry* e = watchedEntry(name);
    if (!e) continue;
    auto repair = datapath_.reconcileLinks(*e->live, portNamesOf(name));
    if (!repair) {
      spdlog::error("network '{}': repairing its links failed{}: {}", name, cause,
                    repair.error().message());
      ++result.failures;
      continue;
    }
    if (repair->empty()) continue;
    std::vector<std::string> done = repair->done;
    if (repair->bridgeRecreated) {
      if (Status s = restartServices(*e); !s.ok()) {
        spdlog::error("network '{}': restarting DHCP/DNS on the new bridge: {}", name,
                      s.error().message());
        ++result.failures;
      } else if (e->services) {
        done.push_back("restarted its DHCP/DNS on the new bridge");
      }
    }
    recordRepair(name, repairText(repair->found, done, cause));
    ++result.repairs;
  }

  if (scope.forwarding) {
    bool v4 = false, v6 = false;
    for (const auto& [name, e] : nets_) {
      if (!watchedEntry(name)) continue;
      v4 = v4 || needsForwarding(*e.live, Family::V4);
      v6 = v6 || needsForwarding(*e.live, Family::V6);
    }
    std::map<std::string, std::string> have;
    if (v4) {
      if (auto v = links_.getSysctl(kIpv4Forward)) have[kIpv4Forward] = *v;
    }
    if (v6) {
      if (auto v = links_.getSysctl(kIpv6Forward)) have[kIpv6Forward] = *v;
    }
    for (const auto& f : diffForwarding(v4, v6, have)) {
      if (Status s = links_.setSysctl(f.path, f.want); !s.ok()) {
        spdlog::error("repairing forwarding ({}) failed: {}", f.found, s.error().message());
        ++result.failures;
        continue;
      }
      const Family fam = f.path == kIpv4Forward ? Family::V4 : Family::V6;
      for (auto& [name, e] : nets_) {
        if (!watchedEntry(name) || !needsForwarding(*e.live, fam)) continue;
        recordRepair(name, repairText({f.found}, {"set it to " + f.want}, cause));
        ++result.repairs;
      }
    }
  }

  if (scope.firewall) {
    std::vector<model::Network> nets;
    for (const auto& [name, e] : nets_) {
      if (watchedEntry(name)) nets.push_back(*e.live);
    }
    if (nets.empty()) return result;
    spdlog::debug("checking table inet vnet for {} network(s){}", nets.size(), cause);
    auto drift = fw_.verify(nets);
    if (!drift) {
      spdlog::error("checking our firewall table failed{}: {}", cause, drift.error().message());
      ++result.failures;
      return result;
    }
    for (const auto& d : *drift) {
      Entry* e = watchedEntry(d.network);
      if (!e) continue;
      if (Status s = fw_.addNetwork(*e->live); !s.ok()) {
        spdlog::error("network '{}': re-applying its rules failed (found {}){}: {}", d.network,
                      joined(d.found, kShownFindings), cause, s.error().message());
        ++result.failures;
        continue;
      }
      recordRepair(d.network, repairText(d.found, {"re-applied its rules (one nft batch)"}, cause));
      ++result.repairs;
    }
  }
  return result;
}

}  // namespace vnet::daemon
