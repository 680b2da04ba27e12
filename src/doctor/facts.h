// doctor::Facts: a snapshot of what the checks reason about, gathered by the probe in
// vnetd's network namespace (probe.h) or fabricated by unit tests. Plain values.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/ip.h"
#include "doctor/ruleset.h"
#include "kernel/links.h"
#include "model/network.h"

namespace vnet::doctor {

struct NetworkFacts {
  model::Network def;  // the running definition when active, else the persistent one
  bool active = false;
  std::vector<std::string> ports;  // interfaces enslaved to its bridge now
};

struct ProcessRef {
  int pid = 0;
  std::string comm;  // /proc/PID/comm
};

// A bound UDP socket (not connected) or a listening TCP socket.
struct SocketFact {
  std::string proto;  // "udp" or "tcp"
  IpAddress address;  // 0.0.0.0 / :: for wildcard binds
  uint16_t port = 0;
  uint64_t inode = 0;
  std::string device;              // the device it is bound to (SO_BINDTODEVICE); "" for none
  std::vector<ProcessRef> owners;  // processes holding it (empty: none found)
};

// A kernel feature vnet needs; `evidence` says how presence or absence was established.
struct FeatureFact {
  bool present = true;
  std::string evidence;
};

struct Facts {
  int selfPid = 0;  // vnetd's pid: its own sockets are not conflicts
  std::vector<NetworkFacts> networks;

  // /proc/sys values by path relative to /proc/sys ("net/ipv4/ip_forward"); a key is absent
  // when the file could not be read (e.g. net/bridge/... without br_netfilter).
  std::map<std::string, std::string> sysctls;
  std::vector<kernel::LinkInfo> links;
  std::map<std::string, std::vector<Cidr>> addresses;  // by link name
  std::vector<kernel::RouteInfo> routes;               // main table
  std::optional<Ruleset> ruleset;                      // absent when it could not be listed
  std::vector<SocketFact> sockets;

  FeatureFact natFeature;     // nf_tables NAT (masquerade in an inet nat chain)
  FeatureFact bridgeFeature;  // the bridge driver
  FeatureFact tunFeature;     // /dev/net/tun

  // Facts the probe could not gather ("listing the ruleset: ..."); the checks that need
  // them are skipped and the doctor reports why.
  std::vector<std::string> probeErrors;

  std::optional<std::string> sysctl(const std::string& path) const {
    auto it = sysctls.find(path);
    if (it == sysctls.end()) return std::nullopt;
    return it->second;
  }
  const kernel::LinkInfo* link(const std::string& name) const {
    for (const auto& l : links) {
      if (l.name == name) return &l;
    }
    return nullptr;
  }
};

}  // namespace vnet::doctor
