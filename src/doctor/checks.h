// The doctor's checks: pure functions from Facts to Findings (no I/O), one per problem
// class. Each finding names the exact object at fault (chain and rule, sysctl and value,
// process and pid, route) and a concrete fix.
//
// Scope: with `only` set, the findings of that network plus host-wide ones that matter to
// it; otherwise every network's. Host-wide forwarding checks (ip_forward, default route,
// uplink, accept_ra) apply when a network in scope is running and forwards (nat, route,
// open); missing kernel features are always reported.
#pragma once

#include <string>
#include <vector>

#include "doctor/facts.h"
#include "doctor/finding.h"
#include "doctor/traffic.h"

namespace vnet::doctor {

std::vector<Finding> runChecks(const Facts& facts, const std::string& only = {});

// The individual checks (runChecks calls them all), exposed for unit tests. `scope` holds
// the networks in scope.
void checkForwarding(const Facts& f, const std::vector<const NetworkFacts*>& scope,
                     std::vector<Finding>& out);  // ip-forward
void checkDefaultRoute(const Facts& f, const std::vector<const NetworkFacts*>& scope,
                       std::vector<Finding>& out);  // no-default-route, uplink-down
void checkAcceptRa(const Facts& f, const std::vector<const NetworkFacts*>& scope,
                   std::vector<Finding>& out);                                      // accept-ra
void checkPorts(const Facts& f, const NetworkFacts& n, std::vector<Finding>& out);  // port-taken
void checkSubnet(const Facts& f, const NetworkFacts& n,
                 std::vector<Finding>& out);                    // subnet-collision
void checkFeatures(const Facts& f, std::vector<Finding>& out);  // kernel-feature
// foreign-drop and br-netfilter (checks_firewall.cc).
void checkFirewall(const Facts& f, const NetworkFacts& n, std::vector<Finding>& out);

// The classes of traffic network `n` depends on (forwarded, DHCP, DNS, between guests,
// and their bridge-family views), given the uplink devices per family. `brNetfilter` adds
// the class of guest-to-guest frames that br_netfilter passes through the IP hooks.
struct TrafficClass {
  Traffic traffic;
  std::string allow;  // nft match selecting it, for fixes: iifname "vnbr0" udp dport 67
  bool viaBrNetfilter = false;
};
std::vector<TrafficClass> trafficOf(const NetworkFacts& n, const std::vector<std::string>& uplinks4,
                                    const std::vector<std::string>& uplinks6, bool brNetfilter4,
                                    bool brNetfilter6);

}  // namespace vnet::doctor
