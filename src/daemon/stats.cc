#include "daemon/stats.h"

namespace vnet::daemon {

namespace {

using nlohmann::json;

json linkJson(const kernel::LinkStats& l) {
  return json{{"rx_packets", l.rxPackets}, {"rx_bytes", l.rxBytes},     {"tx_packets", l.txPackets},
              {"tx_bytes", l.txBytes},     {"rx_dropped", l.rxDropped}, {"tx_dropped", l.txDropped},
              {"rx_errors", l.rxErrors},   {"tx_errors", l.txErrors}};
}

json countersJson(const std::vector<std::pair<std::string, uint64_t>>& c) {
  json j = json::object();
  for (const auto& [k, v] : c) j[k] = v;
  return j;
}

std::vector<Cidr> subnetsOf(const model::Network& net) {
  std::vector<Cidr> out;
  for (const auto& ip : net.ips) out.push_back(ip.cidr().network());
  return out;
}

// What one snapshot shares between networks: one link dump, one conntrack dump.
struct KernelView {
  std::optional<std::map<std::string, kernel::LinkStats>> links;
  std::string linksError;
};

NetworkStats assemble(Manager& m, const std::string& name, const KernelView& view) {
  NetworkStats s;
  s.name = name;
  auto st = m.status(name);
  if (!st) return s;
  s.active = st->active;
  s.bridge = st->bridge;
  if (!s.active) return s;
  if (!view.linksError.empty()) s.errors.push_back(view.linksError);
  if (view.links) {
    if (auto it = view.links->find(s.bridge); it != view.links->end()) s.bridgeLink = it->second;
  }
  if (auto ports = m.ports(name)) {
    for (const auto& p : *ports) {
      PortStats ps;
      ps.name = p.name;
      ps.kind = model::portKindName(p.kind);
      if (p.kind != model::PortKind::Adopted) ps.mac = p.guestMac;
      ps.ip = p.ip;
      ps.ipSource = p.ipSource;
      if (view.links) {
        if (auto it = view.links->find(p.name); it != view.links->end()) ps.link = it->second;
      }
      s.ports.push_back(std::move(ps));
    }
  } else {
    s.errors.push_back(ports.error().message());
  }
  if (auto c = m.counters(name)) s.services = std::move(*c);
  if (auto l = m.leases(name)) s.leases = l->size();
  if (auto r = m.repairStats(name)) {
    s.repairs = r->count;
    s.lastRepair = r->last;
  }
  return s;
}

KernelView readLinks(Manager& m) {
  KernelView v;
  kernel::Telemetry* t = m.telemetry();
  if (!t) return v;
  auto links = t->linkStats();
  if (links) {
    v.links = std::move(*links);
  } else {
    v.linksError = links.error().message();
  }
  return v;
}

// Fills `nat` of every stats entry from one conntrack dump.
void readConntrack(Manager& m, std::vector<NetworkStats>& all) {
  kernel::Telemetry* t = m.telemetry();
  if (!t) return;
  std::vector<Cidr> subnets;
  std::vector<size_t> owner;  // index into `all` per subnet
  for (size_t i = 0; i < all.size(); ++i) {
    if (!all[i].active) continue;
    auto def = m.definition(all[i].name, false);
    if (!def) continue;
    for (const auto& c : subnetsOf(**def)) {
      subnets.push_back(c);
      owner.push_back(i);
    }
  }
  if (subnets.empty()) return;
  auto counts = t->conntrackBySource(subnets);
  if (!counts) {
    for (auto& s : all) {
      if (s.active) s.errors.push_back(counts.error().message());
    }
    return;
  }
  for (size_t k = 0; k < subnets.size(); ++k) {
    auto& nat = all[owner[k]].nat;
    if (!nat) nat = kernel::ConntrackCount{};
    nat->entries += (*counts)[k].entries;
    nat->translated += (*counts)[k].translated;
  }
}

}  // namespace

Result<NetworkStats> collectStats(Manager& manager, const std::string& name) {
  if (auto st = manager.status(name); !st) return std::move(st).error();
  std::vector<NetworkStats> one{assemble(manager, name, readLinks(manager))};
  readConntrack(manager, one);
  return std::move(one.front());
}

std::vector<NetworkStats> collectAllStats(Manager& manager) {
  KernelView view = readLinks(manager);
  std::vector<NetworkStats> all;
  for (const auto& st : manager.list(false)) all.push_back(assemble(manager, st.name, view));
  readConntrack(manager, all);
  return all;
}

json statsJson(const NetworkStats& s) {
  json j{{"name", s.name}, {"active", s.active}};
  if (!s.bridge.empty()) j["bridge"] = s.bridge;
  if (s.bridgeLink) j["network"] = linkJson(*s.bridgeLink);
  json ports = json::array();
  for (const auto& p : s.ports) {
    json pj{{"name", p.name}, {"kind", p.kind}};
    if (p.mac) pj["mac"] = p.mac->toString();
    if (p.ip) pj["ip"] = p.ip->toString();
    if (!p.ipSource.empty()) pj["ipSource"] = p.ipSource;
    if (p.link) pj["link"] = linkJson(*p.link);
    ports.push_back(std::move(pj));
  }
  j["ports"] = std::move(ports);
  if (s.nat) j["nat"] = json{{"sessions", s.nat->entries}, {"translated", s.nat->translated}};
  j["dhcp"] = countersJson(s.services.dhcp);
  j["dhcp"]["leases"] = s.leases;
  j["dns"] = countersJson(s.services.dns);
  j["repairs"] = s.repairs;
  if (!s.lastRepair.empty()) j["lastRepair"] = s.lastRepair;
  if (!s.errors.empty()) j["errors"] = s.errors;
  return j;
}

}  // namespace vnet::daemon
