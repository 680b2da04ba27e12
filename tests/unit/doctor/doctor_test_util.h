// Fabricated facts for the doctor's unit tests: a host as the lab builds it (uplink0 with
// the default route, a running NAT network 'default' on vnbr0 with DHCP and DNS served by
// vnetd) in which every check is quiet; tests then break one thing at a time.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "doctor/checks.h"
#include "doctor/facts.h"
#include "doctor/ruleset.h"

namespace vnet::doctor::testutil {

constexpr int kSelfPid = 100;

inline std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// tests/unit/doctor/data/NAME.{json,txt}: real `nft` listings (see data/regen.sh).
inline Ruleset fixture(const std::string& name) {
  const std::string base = std::string(VNET_SOURCE_DIR) + "/tests/unit/doctor/data/" + name;
  auto rs = parseRuleset(readFile(base + ".json"), readFile(base + ".txt"));
  EXPECT_TRUE(rs.ok()) << name << ": " << (rs.ok() ? "" : rs.error().message());
  return rs.ok() ? *rs : Ruleset{};
}

// A ruleset from JSON listing items: R"({"chain": {...}}, {"rule": {...}})".
inline Ruleset rulesetOf(const std::string& items) {
  auto rs = parseRuleset("{\"nftables\": [" + items + "]}", "");
  EXPECT_TRUE(rs.ok()) << (rs.ok() ? "" : rs.error().message());
  return rs.ok() ? *rs : Ruleset{};
}

inline model::Network network(const std::string& name, const std::string& bridge,
                              const std::string& cidr, model::ForwardMode mode, bool dhcp) {
  model::Network n;
  n.name = name;
  n.mode = mode;
  n.bridge.name = bridge;
  model::IpConfig ip;
  auto c = *Cidr::parse(cidr);
  ip.family = c.family();
  ip.address = c.address;
  ip.prefix = c.prefix;
  ip.hasDhcp = dhcp;
  n.ips.push_back(ip);
  return n;
}

inline kernel::LinkInfo linkInfo(int index, const std::string& name, const std::string& kind,
                                 int master = 0) {
  kernel::LinkInfo l;
  l.ifindex = index;
  l.name = name;
  l.kind = kind;
  l.up = true;
  l.lowerUp = true;
  l.masterIndex = master;
  return l;
}

inline kernel::RouteInfo route(const std::string& dst, const std::string& dev,
                               const std::string& via = "") {
  kernel::RouteInfo r;
  r.destination = Cidr::parse(dst)->network();
  r.device = dev;
  if (!via.empty()) r.gateway = IpAddress::parse(via);
  return r;
}

inline SocketFact socket(const std::string& proto, const std::string& addr, uint16_t port, int pid,
                         const std::string& comm, const std::string& device = "") {
  SocketFact s;
  s.proto = proto;
  s.address = *IpAddress::parse(addr);
  s.port = port;
  s.inode = 1000 + static_cast<uint64_t>(pid) * 10 + port;
  s.device = device;
  s.owners.push_back({pid, comm});
  return s;
}

// The clean lab: every check passes.
inline Facts cleanFacts() {
  Facts f;
  f.selfPid = kSelfPid;
  NetworkFacts def;
  def.def = network("default", "vnbr0", "192.168.122.1/24", model::ForwardMode::Nat, true);
  def.active = true;
  def.ports = {"vnet0", "vnet1"};
  f.networks.push_back(def);
  f.links = {linkInfo(1, "lo", ""), linkInfo(2, "uplink0", "veth"), linkInfo(3, "vnbr0", "bridge"),
             linkInfo(4, "vnet0", "veth", 3), linkInfo(5, "vnet1", "veth", 3)};
  f.routes = {route("0.0.0.0/0", "uplink0", "203.0.113.1"), route("203.0.113.0/24", "uplink0"),
              route("192.168.122.0/24", "vnbr0")};
  f.sysctls = {{"net/ipv4/ip_forward", "1"},
               {"net/ipv6/conf/all/forwarding", "0"},
               {"net/bridge/bridge-nf-call-iptables", "1"},
               {"net/bridge/bridge-nf-call-ip6tables", "1"},
               {"net/ipv6/conf/uplink0/accept_ra", "1"},
               {"net/ipv6/conf/uplink0/forwarding", "0"},
               {"net/ipv6/conf/uplink0/disable_ipv6", "0"}};
  f.sockets = {socket("udp", "192.168.122.1", 53, kSelfPid, "vnetd"),
               socket("tcp", "192.168.122.1", 53, kSelfPid, "vnetd"),
               socket("udp", "0.0.0.0", 67, kSelfPid, "vnetd", "vnbr0"),
               socket("udp", "127.0.0.53", 53, 7, "systemd-resolve"),
               socket("tcp", "0.0.0.0", 22, 8, "sshd")};
  f.ruleset = fixture("harmless");
  return f;
}

// Findings of check `check` in `all`.
inline std::vector<Finding> only(const std::vector<Finding>& all, const std::string& check) {
  std::vector<Finding> out;
  for (const auto& f : all) {
    if (f.check == check) out.push_back(f);
  }
  return out;
}

// All evidence, what and fix lines of a finding joined, for substring assertions.
inline std::string text(const Finding& f) {
  std::string s = f.what + "\n";
  for (const auto& e : f.evidence) s += e + "\n";
  for (const auto& x : f.fix) s += x + "\n";
  return s;
}

}  // namespace vnet::doctor::testutil
