// FakeTelemetry: kernel::Telemetry from values a test sets. Records each call as one
// line ("linkStats", "neighbours vnbr0", "conntrackBySource 10.0.0.0/24 ...") and can
// fail a verb.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "kernel/telemetry.h"

namespace vnet::testing {

class FakeTelemetry : public kernel::Telemetry {
 public:
  Result<std::map<std::string, kernel::LinkStats>> linkStats() override;
  Result<std::vector<kernel::Neighbour>> neighbours(const std::string& device) override;
  Result<std::vector<kernel::ConntrackCount>> conntrackBySource(
      const std::vector<Cidr>& sources) override;

  // State the fake reports.
  std::map<std::string, kernel::LinkStats> links;
  std::vector<kernel::Neighbour> neigh;
  // Original source address and whether it is source-NATed, one per conntrack entry.
  std::vector<std::pair<IpAddress, bool>> conntrack;

  // The next calls of `verb` ("linkStats", "neighbours", "conntrackBySource") fail.
  std::map<std::string, Error> failures;
  std::vector<std::string> calls;
};

}  // namespace vnet::testing
