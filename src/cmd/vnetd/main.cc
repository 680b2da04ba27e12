// vnetd: owns bridges, rules, DHCP and DNS for every network. Foreground; logs to stderr.
#include <malloc.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <filesystem>

#include "api/http_server.h"
#include "base/service_notify.h"
#include "daemon/api_service.h"
#include "daemon/doctor_service.h"
#include "daemon/events.h"
#include "daemon/manager.h"
#include "daemon/metrics.h"
#include "daemon/observe_api.h"
#include "daemon/real_services.h"
#include "daemon/repairer.h"
#include "daemon/trace_api.h"
#include "daemon/tracer.h"
#include "kernel/monitor/kernel_monitor.h"
#include "kernel/netlink/conntrack_lookup.h"
#include "kernel/netlink/netlink_links.h"
#include "kernel/netlink/sock_diag.h"
#include "kernel/nft/nft_firewall.h"
#include "kernel/nft/nft_tracing.h"
#include "kernel/nft/ruleset_probe.h"
#include "kernel/telemetry.h"

namespace {

int fatal(const std::string& msg) {
  spdlog::critical("{}", msg);
  return 1;
}

// Traces without conntrack (ctnetlink unavailable) show no source NAT.
struct NoConntrack : vnet::kernel::ConntrackLookup {
  vnet::Result<std::optional<vnet::kernel::ConntrackEntry>> find(
      const vnet::kernel::FlowTuple&) override {
    return std::optional<vnet::kernel::ConntrackEntry>();
  }
};

}  // namespace

int main(int argc, char** argv) {
  // Memory that goes back to the OS: vnetd is single-threaded (one malloc arena is enough),
  // and fixed thresholds stop glibc from raising them after a large temporary buffer (a
  // lease listing), which would keep later ones on the heap after they are freed.
  mallopt(M_ARENA_MAX, 1);
  mallopt(M_MMAP_THRESHOLD, 128 << 10);
  mallopt(M_TRIM_THRESHOLD, 512 << 10);
  CLI::App app{"vnetd: virtual networks for KVM/QEMU guests and containers"};
  std::string configDir = "/etc/vnet", stateDir = "/var/lib/vnet", runDir = "/run/vnet";
  std::string socketPath, logLevel = "info", resolvConf = "/etc/resolv.conf";
  app.add_option("--config-dir", configDir, "network definitions (CONFIG_DIR/networks/*.xml)")
      ->capture_default_str();
  app.add_option("--state-dir", stateDir, "leases and state (SQLite)")->capture_default_str();
  app.add_option("--run-dir", runDir, "runtime files")->capture_default_str();
  app.add_option("--socket", socketPath, "API socket (default RUN_DIR/vnetd.sock)");
  app.add_option("--resolv-conf", resolvConf, "upstream DNS servers for forwarding")
      ->capture_default_str();
  std::string metricsListen;
  app.add_option("--metrics-listen", metricsListen,
                 "also serve GET /metrics over TCP at ADDRESS:PORT (e.g. 127.0.0.1:9477)");
  std::string leaseSync = "full";
  app.add_option("--lease-sync", leaseSync,
                 "full: a DHCP lease is fsynced before its ACK (survives power loss); normal: "
                 "written before its ACK, fsynced at checkpoints (survives vnetd crashing, "
                 "like Kea's memfile)")
      ->capture_default_str()
      ->check(CLI::IsMember({"full", "normal"}));
  app.add_option("--log-level", logLevel, "trace, debug, info, warn, error")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  CLI11_PARSE(app, argc, argv);
  if (socketPath.empty()) socketPath = runDir + "/vnetd.sock";

  auto logger = spdlog::stderr_logger_st("vnetd");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_level(spdlog::level::from_str(logLevel));

  std::error_code ec;
  for (const auto& dir : {configDir, stateDir, runDir}) {
    std::filesystem::create_directories(dir, ec);
    if (ec) return fatal("creating " + dir + ": " + ec.message());
  }

  auto links = vnet::kernel::makeNetlinkLinks();
  if (!links) return fatal("netlink: " + links.error().message());
  auto firewall = vnet::kernel::nft::makeNftFirewall();
  if (!firewall) return fatal("nftables: " + firewall.error().message());
  auto state = vnet::daemon::StateStore::open(stateDir + "/vnet.db");
  if (!state) return fatal(state.error().message());

  auto telemetry = vnet::kernel::makeKernelTelemetry();
  if (!telemetry) return fatal("telemetry: " + telemetry.error().message());

  // The bus outlives the io_context: event streams still queued on it at exit detach
  // from it when the io_context destroys them.
  vnet::daemon::EventBus events;
  boost::asio::io_context io;
  vnet::daemon::RealServiceFactory services(
      io, stateDir + "/leases.db", resolvConf,
      leaseSync == "full" ? vnet::dhcp::LeaseSync::kFull : vnet::dhcp::LeaseSync::kNormal);
  services.setEventBus(&events);
  vnet::daemon::Manager manager(**links, **firewall, services,
                                vnet::daemon::DefinitionStore(configDir), std::move(*state));
  manager.setEventBus(&events);
  manager.setTelemetry(telemetry->get());
  // Subscribed before load() so that nothing changed during it goes unseen; what load()
  // itself changes is ours and compares equal to the definitions.
  vnet::daemon::Repairer repairer(io, manager, **links);
  auto monitor = vnet::kernel::monitor::KernelMonitor::start(io, repairer);
  if (!monitor) spdlog::error("drift repair is off: {}", monitor.error().message());
  if (vnet::Status s = manager.load(); !s.ok())
    return fatal("loading networks: " + s.error().message());
  if (monitor) repairer.start();

  auto tracing = vnet::kernel::nft::NftTracing::create(io);
  if (!tracing) return fatal("nftables tracing: " + tracing.error().message());
  NoConntrack noConntrack;
  auto conntrack = vnet::kernel::NfConntrackLookup::open();
  if (!conntrack) spdlog::warn("traces will show no NAT: {}", conntrack.error().message());
  vnet::daemon::Tracer tracer(
      io, manager, **tracing,
      conntrack ? static_cast<vnet::kernel::ConntrackLookup&>(**conntrack) : noConntrack);
  if (vnet::Status s = tracer.removeLeftovers(); !s.ok()) spdlog::warn("{}", s.error().message());

  vnet::api::Router router = vnet::daemon::makeApiRouter(manager);
  vnet::daemon::addObserveRoutes(router, {io, manager, **links, events});
  vnet::daemon::addTraceRoutes(router, tracer);
  vnet::doctor::ProbeEnv doctorEnv;
  doctorEnv.links = links->get();
  doctorEnv.listRuleset = []() -> vnet::Result<vnet::doctor::RulesetText> {
    auto l = vnet::kernel::nft::listRuleset();
    if (!l) return std::move(l).error();
    return vnet::doctor::RulesetText{std::move(l->json), std::move(l->text)};
  };
  doctorEnv.checkNat = vnet::kernel::nft::checkNatUsable;
  doctorEnv.boundDevices = vnet::kernel::socketBoundDevices;
  vnet::daemon::addDoctorRoutes(router, manager, doctorEnv);
  auto server = vnet::api::HttpServer::listenUnix(
      io, socketPath, 0660, [&router](const vnet::api::Request& r) { return router.route(r); });
  if (!server) return fatal(server.error().message());

  std::unique_ptr<vnet::api::HttpServer> metricsServer;
  if (!metricsListen.empty()) {
    auto colon = metricsListen.rfind(':');
    std::string host = colon == std::string::npos ? "" : metricsListen.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
    }
    int port = 0;
    try {
      port = colon == std::string::npos ? -1 : std::stoi(metricsListen.substr(colon + 1));
    } catch (const std::exception&) {
      port = -1;
    }
    if (host.empty() || port <= 0 || port > 65535) {
      return fatal("--metrics-listen: '" + metricsListen + "' is not ADDRESS:PORT");
    }
    // Only /metrics is served there: the API stays on the unix socket.
    auto m = vnet::api::HttpServer::listenTcp(
        io, host, static_cast<uint16_t>(port), [&manager](const vnet::api::Request& r) {
          if (r.path != "/metrics") {
            return vnet::api::errorResponse(vnet::Error::notFound("only /metrics is served here"));
          }
          if (r.method != "GET") {
            vnet::api::Response resp = vnet::api::errorResponse(
                vnet::Error::invalid(r.method + " is not allowed on /metrics"));
            resp.status = 405;
            return resp;
          }
          return vnet::api::Response{200, vnet::daemon::metricsText(manager),
                                     vnet::daemon::kMetricsContentType};
        });
    if (!m) return fatal("--metrics-listen: " + m.error().message());
    metricsServer = std::move(*m);
    spdlog::info("metrics on http://{}/metrics", metricsListen);
  }

  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code&, int sig) {
    spdlog::info("signal {}: stopping (networks stay up)", sig);
    tracer.stopAll("stopped");  // trace rules go; network rules stay
    (*server)->close();
    if (metricsServer) metricsServer->close();
    io.stop();
  });

  spdlog::info("vnetd ready on {}", socketPath);
  if (vnet::Status s = vnet::notifyServiceManager("READY=1"); !s.ok()) {
    spdlog::warn("{}", s.error().message());
  }
  io.run();
  (void)vnet::notifyServiceManager("STOPPING=1");
  return 0;
}
