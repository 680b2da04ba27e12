// Shared helpers for the DHCP unit tests: a scripted client that builds requests, a fixed
// server configuration on TEST-NET-1 (192.0.2.0/24), and golden packet loading.
#pragma once

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "base/ip.h"
#include "dhcp/message.h"
#include "dhcp/server.h"

namespace vnet::dhcp::testing {

inline Ipv4 ip(const char* text) {
  return *Ipv4::parse(text);
}
inline Mac mac(const char* text) {
  return *Mac::parse(text);
}

inline std::vector<uint8_t> readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline std::string goldenPath(const std::string& name) {
  return std::string(VNET_SOURCE_DIR) + "/tests/golden/dhcp/packets/" + name;
}

// 192.0.2.1/24, pool .100-.199, router .1, DNS .1, domain "lab.test", 1 h leases.
inline ServerConfig basicConfig() {
  ServerConfig c;
  c.server_address = ip("192.0.2.1");
  c.subnet = ip("192.0.2.0");
  c.prefix = 24;
  c.ranges = {{ip("192.0.2.100"), ip("192.0.2.199")}};
  c.routers = {ip("192.0.2.1")};
  c.dns_servers = {ip("192.0.2.1")};
  c.domain_name = "lab.test";
  c.lease_seconds = 3600;
  return c;
}

// A client as a sequence of requests; each call returns a fresh Message to tweak and send.
struct Client {
  Mac hw = mac("52:54:00:00:00:01");
  std::vector<uint8_t> client_id;  // option 61 when non-empty
  std::string hostname;
  uint32_t xid = 0x1234;

  Message base(MessageType type) const {
    Message m;
    m.xid = xid;
    m.setMac(hw);
    m.setMessageType(type);
    if (!client_id.empty()) m.options.set(opt::kClientId, client_id);
    if (!hostname.empty()) {
      m.options.set(opt::kHostName,
                    std::span(reinterpret_cast<const uint8_t*>(hostname.data()), hostname.size()));
    }
    return m;
  }
  Message discover() const { return base(MessageType::kDiscover); }
  // SELECTING: server id + requested IP, ciaddr 0.
  Message select(Ipv4 server, Ipv4 addr) const {
    Message m = base(MessageType::kRequest);
    m.setIpv4(opt::kServerId, server);
    m.setIpv4(opt::kRequestedIp, addr);
    return m;
  }
  // INIT-REBOOT: requested IP, no server id, ciaddr 0.
  Message initReboot(Ipv4 addr) const {
    Message m = base(MessageType::kRequest);
    m.setIpv4(opt::kRequestedIp, addr);
    return m;
  }
  // RENEWING / REBINDING: ciaddr, no server id, no requested IP.
  Message renew(Ipv4 addr) const {
    Message m = base(MessageType::kRequest);
    m.ciaddr = addr;
    return m;
  }
  Message decline(Ipv4 server, Ipv4 addr) const {
    Message m = base(MessageType::kDecline);
    m.setIpv4(opt::kServerId, server);
    m.setIpv4(opt::kRequestedIp, addr);
    return m;
  }
  Message release(Ipv4 server, Ipv4 addr) const {
    Message m = base(MessageType::kRelease);
    m.setIpv4(opt::kServerId, server);
    m.ciaddr = addr;
    return m;
  }
  Message inform(Ipv4 addr) const {
    Message m = base(MessageType::kInform);
    m.ciaddr = addr;
    return m;
  }
};

inline std::vector<uint8_t> bytesOf(std::string_view s) {
  return {s.begin(), s.end()};
}

// A minimal valid DISCOVER: header, cookie, 53=1, END.
inline std::vector<uint8_t> minimalDiscover() {
  std::vector<uint8_t> p(240, 0);
  p[0] = 1;
  p[1] = 1;
  p[2] = 6;
  p[28] = 0x52;
  p[236] = 99;
  p[237] = 130;
  p[238] = 83;
  p[239] = 99;
  p.insert(p.end(), {53, 1, 1, 255});
  return p;
}

struct BadInput {
  const char* name;
  std::vector<uint8_t> bytes;
};

inline std::vector<BadInput> badInputs() {
  std::vector<BadInput> v;
  v.push_back({"empty", {}});
  {
    auto p = minimalDiscover();
    p.resize(239);
    v.push_back({"truncated_header", p});
  }
  {
    auto p = minimalDiscover();
    p[239] = 98;
    v.push_back({"bad_cookie", p});
  }
  {
    auto p = minimalDiscover();
    p.resize(241);
    p[240] = 12;  // code without a length byte
    v.push_back({"length_byte_past_end", p});
  }
  {
    auto p = minimalDiscover();
    p.pop_back();
    p.insert(p.end(), {12, 10, 'a', 'b'});
    v.push_back({"option_data_past_end", p});
  }
  {
    auto p = minimalDiscover();
    p[2] = 17;
    v.push_back({"hlen_over_16", p});
  }
  {
    auto p = minimalDiscover();
    p[2] = 8;
    v.push_back({"ethernet_hlen_8", p});
  }
  {
    auto p = minimalDiscover();
    p.pop_back();
    p.insert(p.end(), {52, 1, 7, 255});
    v.push_back({"overload_bad_value", p});
  }
  {
    auto p = minimalDiscover();
    p.pop_back();
    p.insert(p.end(), {52, 1, 1, 52, 1, 2, 255});
    v.push_back({"overload_repeated", p});
  }
  {
    auto p = minimalDiscover();
    p.pop_back();
    p.insert(p.end(), {52, 1, 1, 255});
    p[108] = 12;
    p[109] = 200;  // runs past the end of 'file'
    v.push_back({"overloaded_file_option_past_field", p});
  }
  {
    auto p = minimalDiscover();
    p.pop_back();
    std::vector<uint8_t> tail(70000, 0);  // oversize: pads, then an option past the end
    tail.back() = 3;
    p.insert(p.end(), tail.begin(), tail.end());
    v.push_back({"oversize_option_past_end", p});
  }
  return v;
}

}  // namespace vnet::dhcp::testing
