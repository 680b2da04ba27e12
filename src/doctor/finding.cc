#include "doctor/finding.h"

#include <algorithm>
#include <tuple>

namespace vnet::doctor {

const char* severityName(Severity s) {
  return s == Severity::Error ? "error" : "warning";
}

nlohmann::json toJson(const Finding& f) {
  nlohmann::json j{{"severity", severityName(f.severity)},
                   {"check", f.check},
                   {"network", nullptr},
                   {"what", f.what},
                   {"evidence", f.evidence},
                   {"fix", f.fix}};
  if (!f.network.empty()) j["network"] = f.network;
  return j;
}

void sortFindings(std::vector<Finding>& findings) {
  std::stable_sort(findings.begin(), findings.end(), [](const Finding& a, const Finding& b) {
    return std::make_tuple(a.severity != Severity::Error, !a.network.empty(), a.network, a.check) <
           std::make_tuple(b.severity != Severity::Error, !b.network.empty(), b.network, b.check);
  });
}

}  // namespace vnet::doctor
