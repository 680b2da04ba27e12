#include "testing/fake_telemetry.h"

namespace vnet::testing {

Result<std::map<std::string, kernel::LinkStats>> FakeTelemetry::linkStats() {
  calls.push_back("linkStats");
  if (auto it = failures.find("linkStats"); it != failures.end()) return it->second;
  return links;
}

Result<std::vector<kernel::Neighbour>> FakeTelemetry::neighbours(const std::string& device) {
  calls.push_back("neighbours " + device);
  if (auto it = failures.find("neighbours"); it != failures.end()) return it->second;
  std::vector<kernel::Neighbour> out;
  for (const auto& n : neigh) {
    if (n.device == device) out.push_back(n);
  }
  return out;
}

Result<std::vector<kernel::ConntrackCount>> FakeTelemetry::conntrackBySource(
    const std::vector<Cidr>& sources) {
  std::string line = "conntrackBySource";
  for (const auto& s : sources) line += " " + s.toString();
  calls.push_back(line);
  if (auto it = failures.find("conntrackBySource"); it != failures.end()) return it->second;
  std::vector<kernel::ConntrackCount> out(sources.size());
  for (const auto& [src, snat] : conntrack) {
    for (size_t i = 0; i < sources.size(); ++i) {
      if (!sources[i].contains(src)) continue;
      ++out[i].entries;
      if (snat) ++out[i].translated;
    }
  }
  return out;
}

}  // namespace vnet::testing
