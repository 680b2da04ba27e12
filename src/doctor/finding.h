// doctor::Finding: one problem `vnetctl doctor` reports, with the evidence that shows it
// (the exact nft chain and rule, sysctl value, process, route, ...) and what fixes it.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace vnet::doctor {

enum class Severity {
  Warning,  // may break guests' traffic, or could not be proven harmless
  Error,    // breaks (or will break) guests' traffic
};
const char* severityName(Severity s);  // "warning", "error"

struct Finding {
  Severity severity = Severity::Error;
  // Stable identifier of the check: "ip-forward", "no-default-route", "uplink-down",
  // "foreign-drop", "br-netfilter", "port-taken", "subnet-collision", "accept-ra",
  // "kernel-feature", "probe".
  std::string check;
  std::string network;                // the network it concerns; "" for host-wide findings
  std::string what;                   // what is wrong and what it does to guests, in sentences
  std::vector<std::string> evidence;  // what was seen, one fact per line
  std::vector<std::string> fix;       // commands or actions, one per line
};

// {"severity", "check", "network" (null when host-wide), "what", "evidence", "fix"}.
nlohmann::json toJson(const Finding& f);

// The findings in a stable order: errors first, then host-wide before per-network, then
// by network name and check.
void sortFindings(std::vector<Finding>& findings);

}  // namespace vnet::doctor
