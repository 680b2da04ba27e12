// The trace resource of the REST API:
//   GET /v1/networks/NAME/trace?port=P[&to=ADDR][&proto=icmp|icmpv6|tcp|udp][&count=N][&duration=S]
// On success: 200 with a chunked body of JSON lines (api/trace_record.h: start, packet...,
// end), application/x-ndjson. The trace runs until count packets were shown, duration
// seconds passed, or the client disconnects. Errors (bad port, address, protocol, number;
// inactive network) are ordinary error responses and add nothing.
#pragma once

#include "api/router.h"
#include "daemon/tracer.h"

namespace vnet::daemon {

void addTraceRoutes(api::Router& router, Tracer& tracer);

}  // namespace vnet::daemon
