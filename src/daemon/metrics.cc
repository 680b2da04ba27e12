#include "daemon/metrics.h"

#include <spdlog/spdlog.h>

#include "metrics/exposition.h"

namespace vnet::daemon {

namespace {

using metrics::Exposition;
using metrics::Labels;
using metrics::Type;

// Known service counters: key in ServiceCounters -> metric name, type and help. Keys not
// listed (added later) are exported as vnet_<service>_<key>_total counters.
struct CounterDef {
  const char* key;
  const char* name;
  Type type;
  const char* help;
};

constexpr CounterDef kDhcpCounters[] = {
    {"offers", "vnet_dhcp_offers_total", Type::Counter, "DHCPOFFER messages sent."},
    {"acks", "vnet_dhcp_acks_total", Type::Counter, "DHCPACK messages sent."},
    {"naks", "vnet_dhcp_naks_total", Type::Counter, "DHCPNAK messages sent."},
    {"declines", "vnet_dhcp_declines_total", Type::Counter, "DHCPDECLINE messages received."},
    {"releases", "vnet_dhcp_releases_total", Type::Counter, "DHCPRELEASE messages received."},
    {"expired", "vnet_dhcp_expired_leases_total", Type::Counter, "Leases that expired."},
    {"pool_exhausted", "vnet_dhcp_pool_exhausted_total", Type::Counter,
     "DISCOVERs that got no offer because the pool was full."},
    {"received", "vnet_dhcp_received_packets_total", Type::Counter, "DHCP packets received."},
    {"sent", "vnet_dhcp_sent_packets_total", Type::Counter, "DHCP packets sent."},
    {"send_errors", "vnet_dhcp_send_errors_total", Type::Counter,
     "DHCP replies that failed to send."},
};

constexpr CounterDef kDnsCounters[] = {
    {"queries", "vnet_dns_queries_total", Type::Counter, "DNS queries received from guests."},
    {"local_answers", "vnet_dns_local_answers_total", Type::Counter,
     "Queries answered from the network's own names."},
    {"cache_hits", "vnet_dns_cache_hits_total", Type::Counter, "Queries answered from the cache."},
    {"forwarded", "vnet_dns_forwarded_total", Type::Counter, "Queries forwarded upstream."},
    {"refused", "vnet_dns_refused_total", Type::Counter, "Queries answered with REFUSED."},
    {"rate_limited", "vnet_dns_rate_limited_total", Type::Counter,
     "Queries dropped by the per-client rate limit."},
    {"formerr", "vnet_dns_formerr_total", Type::Counter, "Queries answered with FORMERR."},
    {"servfail", "vnet_dns_servfail_total", Type::Counter, "Queries answered with SERVFAIL."},
    {"notimp", "vnet_dns_notimp_total", Type::Counter, "Queries answered with NOTIMP."},
    {"dropped", "vnet_dns_dropped_total", Type::Counter, "Messages dropped as not queries."},
    {"upstream_queries", "vnet_dns_upstream_queries_total", Type::Counter,
     "Queries sent to upstream servers (with retries)."},
    {"upstream_timeouts", "vnet_dns_upstream_timeouts_total", Type::Counter,
     "Upstream queries that timed out."},
    {"tcp_connections", "vnet_dns_tcp_connections_total", Type::Counter,
     "TCP connections accepted."},
    {"tcp_rejected", "vnet_dns_tcp_rejected_total", Type::Counter,
     "TCP connections refused over the limit."},
    {"cache_entries", "vnet_dns_cache_entries", Type::Gauge, "Entries in the DNS cache."},
};

struct LinkMetric {
  const char* suffix;
  const char* help;
  uint64_t kernel::LinkStats::*field;
};

constexpr LinkMetric kLinkMetrics[] = {
    {"receive_bytes_total", "Bytes received", &kernel::LinkStats::rxBytes},
    {"receive_packets_total", "Packets received", &kernel::LinkStats::rxPackets},
    {"transmit_bytes_total", "Bytes transmitted", &kernel::LinkStats::txBytes},
    {"transmit_packets_total", "Packets transmitted", &kernel::LinkStats::txPackets},
    {"receive_drops_total", "Received packets dropped", &kernel::LinkStats::rxDropped},
    {"transmit_drops_total", "Packets dropped on transmit", &kernel::LinkStats::txDropped},
    {"receive_errors_total", "Receive errors", &kernel::LinkStats::rxErrors},
    {"transmit_errors_total", "Transmit errors", &kernel::LinkStats::txErrors},
};

class Builder {
 public:
  void declare(const std::string& name, Type type, const std::string& help) {
    check(e_.declare(name, type, help));
  }
  template <typename V>
  void add(const std::string& name, const Labels& labels, V value) {
    check(e_.add(name, labels, value));
  }
  std::string text() const { return e_.text(); }

 private:
  // A failure here is a bug in this file (a bad name); log it and keep the rest.
  static void check(const Status& s) {
    if (!s.ok()) spdlog::error("metrics: {}", s.error().message());
  }
  Exposition e_;
};

void serviceCounters(Builder& b, const char* service, const CounterDef* defs, size_t n,
                     const std::vector<NetworkStats>& all,
                     std::vector<std::pair<std::string, uint64_t>> ServiceCounters::*member) {
  for (size_t i = 0; i < n; ++i) b.declare(defs[i].name, defs[i].type, defs[i].help);
  for (const auto& s : all) {
    for (const auto& [key, value] : s.services.*member) {
      const CounterDef* def = nullptr;
      for (size_t i = 0; i < n; ++i) {
        if (key == defs[i].key) def = &defs[i];
      }
      std::string name = def ? def->name : "vnet_" + std::string(service) + "_" + key + "_total";
      if (!def) b.declare(name, Type::Counter, std::string(service) + " counter " + key + ".");
      b.add(name, {{"network", s.name}}, value);
    }
  }
}

}  // namespace

std::string renderMetrics(const std::vector<NetworkStats>& all,
                          const std::vector<NetworkStatus>& defined, const EventBus* bus) {
  Builder b;
  b.declare("vnet_network_info", Type::Gauge,
            "Defined networks (value 1) with their bridge and forward mode.");
  b.declare("vnet_network_active", Type::Gauge, "1 when the network is started, else 0.");
  for (const auto& d : defined) {
    b.add("vnet_network_info", {{"network", d.name}, {"bridge", d.bridge}, {"mode", d.mode}},
          uint64_t{1});
    b.add("vnet_network_active", {{"network", d.name}}, uint64_t{d.active ? 1u : 0u});
  }

  for (const auto& m : kLinkMetrics) {
    b.declare(
        std::string("vnet_network_") + m.suffix, Type::Counter,
        std::string(m.help) + " by the network's bridge device (rx: from guests to the host).");
  }
  for (const auto& s : all) {
    if (!s.bridgeLink) continue;
    for (const auto& m : kLinkMetrics) {
      b.add(std::string("vnet_network_") + m.suffix, {{"network", s.name}},
            (*s.bridgeLink).*(m.field));
    }
  }

  b.declare("vnet_port_info", Type::Gauge, "Guest ports (value 1) with their kind and guest MAC.");
  for (const auto& m : kLinkMetrics) {
    b.declare(std::string("vnet_port_") + m.suffix, Type::Counter,
              std::string(m.help) + " by a port's host end (rx: sent by the guest).");
  }
  for (const auto& s : all) {
    for (const auto& p : s.ports) {
      b.add("vnet_port_info",
            {{"network", s.name},
             {"port", p.name},
             {"kind", p.kind},
             {"mac", p.mac ? p.mac->toString() : ""}},
            uint64_t{1});
      if (!p.link) continue;
      for (const auto& m : kLinkMetrics) {
        b.add(std::string("vnet_port_") + m.suffix, {{"network", s.name}, {"port", p.name}},
              (*p.link).*(m.field));
      }
    }
  }

  b.declare("vnet_nat_sessions", Type::Gauge,
            "Conntrack entries whose original source is in the network's subnets.");
  b.declare("vnet_nat_translated_sessions", Type::Gauge,
            "Of those, entries whose source address is translated (masquerade).");
  for (const auto& s : all) {
    if (!s.nat) continue;
    b.add("vnet_nat_sessions", {{"network", s.name}}, s.nat->entries);
    b.add("vnet_nat_translated_sessions", {{"network", s.name}}, s.nat->translated);
  }

  b.declare("vnet_repairs_total", Type::Counter,
            "Drift repairs of the network's kernel state since vnetd started.");
  for (const auto& s : all) {
    if (s.active) b.add("vnet_repairs_total", {{"network", s.name}}, s.repairs);
  }

  b.declare("vnet_dhcp_leases", Type::Gauge, "Active DHCP leases.");
  for (const auto& s : all) {
    if (!s.services.dhcp.empty())
      b.add("vnet_dhcp_leases", {{"network", s.name}}, uint64_t{s.leases});
  }
  serviceCounters(b, "dhcp", kDhcpCounters, std::size(kDhcpCounters), all, &ServiceCounters::dhcp);
  serviceCounters(b, "dns", kDnsCounters, std::size(kDnsCounters), all, &ServiceCounters::dns);

  b.declare("vnet_events_published_total", Type::Counter, "Events published on the event bus.");
  b.declare("vnet_events_dropped_total", Type::Counter,
            "Events dropped because a subscriber's queue was full.");
  b.declare("vnet_event_subscribers", Type::Gauge, "Clients following GET /v1/events.");
  if (bus) {
    auto c = bus->counters();
    b.add("vnet_events_published_total", {}, c.published);
    b.add("vnet_events_dropped_total", {}, c.dropped);
    b.add("vnet_event_subscribers", {}, uint64_t{c.subscribers});
  }
  return b.text();
}

std::string metricsText(Manager& manager) {
  auto all = collectAllStats(manager);
  for (const auto& s : all) {
    for (const auto& e : s.errors) spdlog::debug("metrics: network '{}': {}", s.name, e);
  }
  return renderMetrics(all, manager.list(true), manager.eventBus());
}

}  // namespace vnet::daemon
