// The firewall cases shared by the golden test (rendered text) and the integration test
// (the same definitions applied to a real kernel). Built in code, not from XML.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "model/network.h"

namespace vnet::nfttest {

struct Case {
  std::string name;  // expected/<name>.nft, expected/<name>.batch.nft
  std::vector<model::Network> networks;
};

// gtest prints a parameter with this (test names and failure messages).
inline void PrintTo(const Case& c, std::ostream* os) {
  *os << c.name;
}

inline model::IpConfig ipConfig(const char* cidr, bool dhcp) {
  auto c = Cidr::parse(cidr).value();
  model::IpConfig ip;
  ip.family = c.family();
  ip.address = c.address;
  ip.prefix = c.prefix;
  ip.hasDhcp = dhcp;
  if (dhcp && c.family() == Family::V4) {
    Ipv4 base(c.network().address.v4().toUint());
    ip.ranges.push_back({Ipv4(base.toUint() + 2), Ipv4(base.toUint() + 254), {}, 0});
  }
  return ip;
}

inline model::Network network(const char* name, model::ForwardMode mode, const char* bridge,
                              std::vector<model::IpConfig> ips) {
  model::Network n;
  n.name = name;
  n.mode = mode;
  n.hasForwardElement = mode != model::ForwardMode::Isolated;
  n.bridge.name = bridge;
  n.ips = std::move(ips);
  if (mode == model::ForwardMode::Nat) n.nat = model::Nat{};
  return n;
}

inline model::Network defaultNat() {
  return network("default", model::ForwardMode::Nat, "vnbr0", {ipConfig("192.168.122.1/24", true)});
}

inline std::vector<Case> allCases() {
  using model::ForwardMode;
  std::vector<Case> cases;
  cases.push_back({"nat_default", {defaultNat()}});

  cases.push_back(
      {"nat_no_dhcp",
       {network("nodhcp", ForwardMode::Nat, "vnbr1", {ipConfig("192.168.100.1/24", false)})}});

  cases.push_back({"nat_several_ips",
                   {network("multi", ForwardMode::Nat, "vnbr2",
                            {ipConfig("192.168.130.1/24", true), ipConfig("10.0.5.1/24", false),
                             ipConfig("fd00:5::1/64", true)})}});

  auto natV6 = network("nat6", ForwardMode::Nat, "vnbr3",
                       {ipConfig("192.168.140.1/24", true), ipConfig("fd00:6::1/64", false)});
  natV6.nat->ipv6 = true;
  cases.push_back({"nat_ipv6", {natV6}});

  auto ports = network("ports", ForwardMode::Nat, "vnbr4", {ipConfig("192.168.150.1/24", true)});
  ports.nat->portStart = 20000;
  ports.nat->portEnd = 30000;
  ports.nat->portsSet = true;
  cases.push_back({"nat_port_range", {ports}});

  auto addr = network("snat", ForwardMode::Nat, "vnbr5", {ipConfig("192.168.160.1/24", true)});
  addr.nat->addressStart = Ipv4::parse("203.0.113.10");
  addr.nat->addressEnd = Ipv4::parse("203.0.113.20");
  cases.push_back({"nat_address_range", {addr}});

  auto dev = network("uplink", ForwardMode::Nat, "vnbr6", {ipConfig("192.168.170.1/24", true)});
  dev.forwardDev = "eth1";
  cases.push_back({"nat_forward_dev", {dev}});

  cases.push_back({"route",
                   {network("routed", ForwardMode::Route, "vnbr7",
                            {ipConfig("10.10.0.1/24", true), ipConfig("fd00:10::1/64", true)})}});

  cases.push_back(
      {"isolated",
       {network("hostonly", ForwardMode::Isolated, "vnbr8", {ipConfig("10.20.0.1/24", true)})}});

  cases.push_back(
      {"open", {network("open", ForwardMode::Open, "vnbr9", {ipConfig("10.30.0.1/24", true)})}});

  cases.push_back({"two_networks",
                   {defaultNat(), network("lab", ForwardMode::Isolated, "vnbr10",
                                          {ipConfig("10.40.0.1/24", true)})}});

  cases.push_back(
      {"odd_name",
       {network("my-net 1", ForwardMode::Nat, "vnbr11", {ipConfig("192.168.180.1/24", true)})}});
  return cases;
}

}  // namespace vnet::nfttest
