// The probe: gathers doctor::Facts at the kernel edge, in the calling thread's network
// namespace (vnetd's). Read-only: it changes nothing in the kernel.
//
// Links, addresses and routes come through kernel::Links (netlink); the ruleset and the
// NAT check through injected functions (libnftables, kernel/nft/ruleset_probe.h); sysctls,
// sockets and processes from files under the roots below, so that unit tests can point
// the probe at a fabricated tree (and simulate missing features).
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "base/error.h"
#include "doctor/facts.h"
#include "kernel/links.h"

namespace vnet::doctor {

struct RulesetText {
  std::string json;  // `nft -j list ruleset`
  std::string text;  // `nft -a -s list ruleset`
};

struct ProbeEnv {
  kernel::Links* links = nullptr;
  std::function<Result<RulesetText>()> listRuleset;
  // Success when nf_tables NAT works (a check-only batch), else why not.
  std::function<Status()> checkNat;
  // Socket inode -> ifindex of its bound device (sock_diag); unset: devices unknown.
  std::function<Result<std::map<uint64_t, int>>()> boundDevices;
  std::string procRoot = "/proc";
  std::string sysRoot = "/sys";
  std::string devRoot = "/dev";
  std::string modulesRoot = "/lib/modules";
  std::string kernelRelease;  // "" : uname -r
  int selfPid = 0;            // 0 : getpid()
};

// Gathers everything the checks need about `networks` (definitions and whether they run)
// and the host. Facts that cannot be read are recorded in Facts::probeErrors.
Facts gatherFacts(const ProbeEnv& env, std::vector<NetworkFacts> networks);

// Sysctl paths (relative to /proc/sys) read for every probe; uplink devices add
// net/ipv6/conf/DEV/{accept_ra,forwarding,disable_ipv6}.
std::vector<std::string> hostSysctls();

}  // namespace vnet::doctor
