// The observability endpoints of vnetd, added to the API router next to makeApiRouter's:
//   GET /metrics                              Prometheus text format (daemon/metrics.h)
//   GET /v1/events[?network=NET&recent=N]     JSON lines, streamed until the client goes
//   GET /v1/networks/NAME/capture?ports=vnet0,vnet1&bridge=1&uplink=1&count=N
//       &duration=S&filter=EXPR&snaplen=N     a pcapng stream (see CaptureRequest)
// Streams run on the daemon's event loop and never block it.
#pragma once

#include <boost/asio/io_context.hpp>
#include <string>
#include <vector>

#include "api/router.h"
#include "base/error.h"
#include "daemon/events.h"
#include "daemon/manager.h"
#include "kernel/links.h"

namespace vnet::daemon {

struct ObserveContext {
  boost::asio::io_context& io;
  Manager& manager;
  kernel::Links& links;  // for the uplink (default route's device)
  EventBus& events;
};

void addObserveRoutes(api::Router& router, ObserveContext ctx);

// What to capture, from the query of GET .../capture.
struct CaptureRequest {
  std::vector<std::string> ports;  // host-side port names
  bool bridge = false;
  bool uplink = false;
  uint64_t count = 0;      // stop after this many packets in total (0: no limit)
  double durationSec = 0;  // stop after this long (0: no limit)
  std::string filter;      // pcap filter expression
  uint32_t snaplen = 262144;
};

// Parses and checks the query (numbers, ranges); interfaces are checked by the handler.
Result<CaptureRequest> parseCaptureRequest(const std::map<std::string, std::string>& query);

// The interfaces a capture of `network` covers: the ports asked for (each must be one of
// the network's), the bridge, the uplink (the network's <forward dev>, else the device
// of the IPv4 default route). Nothing asked for means all ports, the bridge and the
// uplink (when there is one). Each entry is {interface, description}.
Result<std::vector<std::pair<std::string, std::string>>> captureInterfaces(
    Manager& manager, kernel::Links& links, const std::string& network, const CaptureRequest& req);

}  // namespace vnet::daemon
