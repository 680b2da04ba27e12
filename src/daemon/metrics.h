// GET /metrics: the daemon's counters in the Prometheus text format, built from one
// stats snapshot of every network (daemon/stats.h) and the event bus. Metric names:
// vnet_ prefix, base units in the name (bytes, packets), _total for counters; labels
// network="NAME" and port="PORT".
#pragma once

#include <string>

#include "daemon/events.h"
#include "daemon/manager.h"
#include "daemon/stats.h"

namespace vnet::daemon {

// The exposition for `all` (the active networks' stats), the defined networks of
// `manager` and the bus (may be null).
std::string renderMetrics(const std::vector<NetworkStats>& all,
                          const std::vector<NetworkStatus>& defined, const EventBus* bus);

// Collects and renders.
std::string metricsText(Manager& manager);

// The Content-Type of the text format.
inline constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace vnet::daemon
