#include "daemon/real_services.h"

#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <map>
#include <optional>

#include "daemon/translate.h"
#include "dhcp/lease_store.h"
#include "dhcp/server.h"
#include "dhcp/transport.h"
#include "dns/server.h"

namespace vnet::daemon {

namespace {

// Expired leases are reclaimed lazily on allocation and by this periodic sweep.
constexpr std::chrono::seconds kExpirySweep{10};

const char* eventName(dhcp::LeaseEvent::Kind k) {
  switch (k) {
    case dhcp::LeaseEvent::Kind::kGranted:
      return "granted";
    case dhcp::LeaseEvent::Kind::kRenewed:
      return "renewed";
    case dhcp::LeaseEvent::Kind::kReleased:
      return "released";
    case dhcp::LeaseEvent::Kind::kExpired:
      return "expired";
    case dhcp::LeaseEvent::Kind::kDeclined:
      return "declined";
  }
  return "?";
}

class DhcpService {
 public:
  static Result<std::unique_ptr<DhcpService>> start(boost::asio::io_context& io,
                                                    const std::string& dbPath,
                                                    const std::string& network,
                                                    const std::string& bridge,
                                                    dhcp::ServerConfig config, dhcp::LeaseSync sync,
                                                    dhcp::LeaseObserver onEvent) {
    auto svc = std::unique_ptr<DhcpService>(new DhcpService(io, network, config.prefix));
    auto store = dhcp::SqliteLeaseStore::open(dbPath, network, sync);
    if (!store) return std::move(store).error().context("opening lease database " + dbPath);
    svc->store_ = std::move(*store);
    auto server = dhcp::Server::create(std::move(config), *svc->store_);
    if (!server) return std::move(server).error();
    svc->server_ = std::move(*server);
    svc->server_->setObserver([name = network, onEvent](const dhcp::LeaseEvent& e) {
      // The arguments cost allocations: build them only when the line is logged.
      if (spdlog::should_log(spdlog::level::info)) {
        spdlog::info("network '{}': lease {} {} to {}{}", name, eventName(e.kind),
                     e.lease.ip.toString(), e.lease.mac.toString(),
                     e.lease.hostname.empty() ? "" : " (" + e.lease.hostname + ")");
      }
      onEvent(e);
    });
    dhcp::TransportOptions opts;
    opts.interface = bridge;
    auto transport = dhcp::UdpTransport::open(io, *svc->server_, opts);
    if (!transport) return std::move(transport).error().context("DHCP server on " + bridge);
    svc->transport_ = std::move(*transport);
    svc->transport_->start();
    svc->scheduleSweep();
    return svc;
  }

  ~DhcpService() {
    timer_.cancel();
    if (transport_) transport_->stop();
  }
  DhcpService(const DhcpService&) = delete;
  DhcpService& operator=(const DhcpService&) = delete;

  Status reconfigure(dhcp::ServerConfig config) {
    prefix_ = config.prefix;
    VNET_TRY(server_->reconfigure(std::move(config)));
    return server_->commit();
  }

  std::vector<dhcp::Lease> rawLeases() const { return server_->leases(); }

  std::vector<LeaseInfo> leases() const {
    std::vector<LeaseInfo> out;
    int64_t now = dhcp::systemClock()();
    const std::vector<dhcp::Lease> all = server_->leases();
    out.reserve(all.size());  // one allocation: the list may hold tens of thousands
    for (const auto& l : all) {
      if (l.state != dhcp::LeaseState::kActive) continue;
      if (l.expiry != 0 && l.expiry <= now) continue;
      out.push_back(
          LeaseInfo{l.ip, prefix_, l.mac, l.hostname, formatClientId(l.client_id), l.expiry});
    }
    return out;
  }

  void counters(ServiceCounters& c) const {
    const auto& s = server_->stats();
    const auto& t = transport_->counters();
    c.dhcp = {{"offers", s.offers},
              {"acks", s.acks},
              {"naks", s.naks},
              {"declines", s.declines},
              {"releases", s.releases},
              {"expired", s.expired},
              {"pool_exhausted", s.pool_exhausted},
              {"received", t.received},
              {"sent", t.sent},
              {"send_errors", t.send_errors}};
  }

 private:
  DhcpService(boost::asio::io_context& io, std::string network, int prefix)
      : timer_(io), network_(std::move(network)), prefix_(prefix) {}

  void scheduleSweep() {
    timer_.expires_after(kExpirySweep);
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      server_->expire(dhcp::systemClock()());
      if (Status s = server_->commit(); !s.ok()) {
        spdlog::warn("network '{}': recording expired leases: {}", network_, s.error().message());
      }
      // One line per sweep, not per packet: a full pool under a DISCOVER flood must not
      // flood the log too.
      uint64_t exhausted = server_->stats().pool_exhausted;
      if (exhausted > reportedExhausted_) {
        spdlog::warn(
            "network '{}': DHCP pool exhausted: {} DISCOVER(s) got no offer in the last {} s",
            network_, exhausted - reportedExhausted_, kExpirySweep.count());
        reportedExhausted_ = exhausted;
      }
      scheduleSweep();
    });
  }

  boost::asio::steady_timer timer_;
  std::string network_;
  int prefix_;
  uint64_t reportedExhausted_ = 0;
  std::unique_ptr<dhcp::SqliteLeaseStore> store_;
  std::unique_ptr<dhcp::Server> server_;
  std::unique_ptr<dhcp::UdpTransport> transport_;
};

class Services final : public NetworkServices {
 public:
  Services(std::string name, boost::asio::io_context& io, std::string dbPath,
           dhcp::LeaseSync leaseSync, std::string resolvConf, EventBus* events)
      : name_(std::move(name)),
        io_(io),
        dbPath_(std::move(dbPath)),
        leaseSync_(leaseSync),
        resolvConf_(std::move(resolvConf)),
        events_(events) {}

  // Brings DNS and DHCP in line with `net`: starts, reconfigures or stops each.
  Status apply(const model::Network& net) {
    auto dhcpCfg = dhcpConfigFor(net);
    if (!dhcpCfg) return std::move(dhcpCfg).error();
    auto dnsCfg = dnsConfigFor(net, resolvConf_);
    staticNames_.clear();
    if (*dhcpCfg) {
      for (const auto& h : (*dhcpCfg)->hosts) {
        if (!h.hostname.empty()) staticNames_[h.ip] = h.hostname;
      }
    }

    if (!dnsCfg) {
      dns_.reset();
    } else if (dns_) {
      VNET_TRY(dns_->reconfigure(std::move(*dnsCfg)));
    } else {
      auto d = dns::Server::create(io_, std::move(*dnsCfg));
      if (!d) return std::move(d).error().context("DNS service");
      dns_ = std::move(*d);
    }

    if (!*dhcpCfg) {
      dhcp_.reset();
    } else if (dhcp_) {
      VNET_TRY(dhcp_->reconfigure(std::move(**dhcpCfg)));
    } else {
      auto d = DhcpService::start(io_, dbPath_, net.name, net.bridge.name, std::move(**dhcpCfg),
                                  leaseSync_, [this](const dhcp::LeaseEvent& e) {
                                    publishLease(e);
                                    onLease(e);
                                  });
      if (!d) return std::move(d).error();
      dhcp_ = std::move(*d);
    }
    syncNames();
    applied_ = net;
    return Status::success();
  }

  // apply(), and when it fails half-way (say DNS reconfigured, then the DHCP server cannot
  // start), apply() of the configuration that ran before, so that nothing changed.
  Status reconfigure(const model::Network& net) override {
    Status s = apply(net);
    if (s.ok() || !applied_) return s;
    model::Network previous = *applied_;
    if (Status back = apply(previous); !back.ok()) {
      return Error(s.error().code(), s.error().message() +
                                         " (and while restoring the previous configuration: " +
                                         back.error().message() + ")");
    }
    return s;
  }
  std::vector<LeaseInfo> leases() const override {
    return dhcp_ ? dhcp_->leases() : std::vector<LeaseInfo>{};
  }
  ServiceCounters counters() const override {
    ServiceCounters c;
    if (dhcp_) dhcp_->counters(c);
    if (dns_) {
      const dns::ServerCounters d = dns_->counters();
      c.dns = {{"queries", d.queries},
               {"local_answers", d.localAnswers},
               {"cache_hits", d.cacheHits},
               {"forwarded", d.forwarded},
               {"refused", d.refused},
               {"rate_limited", d.rateLimited},
               {"formerr", d.formErr},
               {"servfail", d.servFail},
               {"notimp", d.notImp},
               {"dropped", d.dropped},
               {"upstream_queries", d.upstreamQueries},
               {"upstream_timeouts", d.upstreamTimeouts},
               {"tcp_connections", d.tcpConnections},
               {"tcp_rejected", d.tcpRejected},
               {"cache_entries", d.cacheEntries}};
    }
    return c;
  }

 private:
  // The DNS name a lease publishes: the client's option 12, else the static host's name.
  std::string nameFor(const dhcp::Lease& l) const {
    if (!l.hostname.empty()) return l.hostname;
    auto it = staticNames_.find(l.ip);
    return it == staticNames_.end() ? std::string() : it->second;
  }

  void publishLease(const dhcp::LeaseEvent& e) {
    if (!events_) return;
    std::vector<std::pair<std::string, std::string>> details = {{"ip", e.lease.ip.toString()},
                                                                {"mac", e.lease.mac.toString()}};
    if (!e.lease.hostname.empty()) details.emplace_back("hostname", e.lease.hostname);
    if (e.lease.expiry != 0) details.emplace_back("expiry", std::to_string(e.lease.expiry));
    events_->publish(std::string(event_type::kLeasePrefix) + eventName(e.kind), name_,
                     std::move(details));
  }

  void onLease(const dhcp::LeaseEvent& e) {
    if (!dns_) return;
    bool gone = e.kind == dhcp::LeaseEvent::Kind::kReleased ||
                e.kind == dhcp::LeaseEvent::Kind::kExpired ||
                e.kind == dhcp::LeaseEvent::Kind::kDeclined;
    auto old = published_.find(e.lease.ip);
    if (old != published_.end()) {
      dns_->removeDynamicHost(old->second);
      published_.erase(old);
    }
    if (gone) return;
    std::string name = nameFor(e.lease);
    if (name.empty()) return;
    if (Status s = dns_->setDynamicHost(name, e.lease.ip); !s.ok()) {
      spdlog::warn("network '{}': not publishing '{}' in DNS: {}", name_, name,
                   s.error().message());
      return;
    }
    published_[e.lease.ip] = name;
  }

  // Publishes the names of all current leases (after a start, restart or reconfigure).
  void syncNames() {
    published_.clear();
    if (!dns_ || !dhcp_) return;
    for (const auto& l : dhcp_->rawLeases()) {
      if (l.state != dhcp::LeaseState::kActive) continue;
      if (l.expiry != 0 && l.expiry <= dhcp::systemClock()()) continue;
      onLease(dhcp::LeaseEvent{dhcp::LeaseEvent::Kind::kGranted, l});
    }
  }

  std::string name_;
  boost::asio::io_context& io_;
  std::string dbPath_;
  dhcp::LeaseSync leaseSync_;
  std::string resolvConf_;
  EventBus* events_;
  std::optional<model::Network> applied_;  // the last configuration apply() completed
  std::map<Ipv4, std::string> staticNames_;
  std::map<Ipv4, std::string> published_;
  // DNS outlives DHCP: lease events of a stopping DHCP server still find it.
  std::unique_ptr<dns::Server> dns_;
  std::unique_ptr<DhcpService> dhcp_;
};

}  // namespace

Result<std::unique_ptr<NetworkServices>> RealServiceFactory::start(const model::Network& net) {
  auto svc =
      std::make_unique<Services>(net.name, io_, leaseDbPath_, leaseSync_, resolvConf_, events_);
  if (Status s = svc->apply(net); !s.ok()) return std::move(s).error();
  return std::unique_ptr<NetworkServices>(std::move(svc));
}

}  // namespace vnet::daemon
