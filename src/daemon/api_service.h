// The REST API of vnetd: maps /v1 resources onto Manager verbs.
//   GET    /v1/networks[?all=1]            list (active only unless all)
//   POST   /v1/networks[?start=1]          define (start=1: create a transient network)
//   GET    /v1/networks/NAME               status + definition as JSON
//   PUT    /v1/networks/NAME               redefine
//   DELETE /v1/networks/NAME               undefine
//   POST   /v1/networks/NAME/start|stop    start / destroy
//   POST   /v1/networks/NAME/autostart     {"enabled": true|false}
//   GET    /v1/networks/NAME/xml[?inactive=1]
//   GET    /v1/networks/NAME/ports, POST .../ports, DELETE .../ports/PORT
//   GET    /v1/networks/NAME/leases[?mac=M]
//   GET    /v1/networks/NAME/stats[?port=P]   link, NAT, DHCP and DNS counters (daemon/stats.h)
//   POST   /v1/networks/NAME/update        {"command", "section", "xml"[, "parentIndex"]}
// Definitions are sent as {"xml": "<network>...</network>"}, as {"network": {...}} (the
// JSON form of config/json.h), or as a raw XML body (Content-Type application/xml, or a
// body starting with '<'). Bodies are checked strictly: unknown fields, wrong types and
// unknown query parameters are refused with a message naming them.
#pragma once

#include "api/router.h"
#include "daemon/manager.h"

namespace vnet::daemon {

api::Router makeApiRouter(Manager& manager);

}  // namespace vnet::daemon
