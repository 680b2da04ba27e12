// model::Network ⇄ JSON for the REST API. Field names are lowerCamelCase and mirror the
// libvirt XML:
//   {"name": "default", "uuid": "...", "title": "...", "description": "...",
//    "forward": {"mode": "nat", "dev": "eth0",
//                "nat": {"ipv6": false, "addressStart": "...", "addressEnd": "...",
//                        "portStart": 1024, "portEnd": 65535}},
//    "bridge": {"name": "virbr0", "stp": true, "delay": 0},
//    "mac": "52:54:00:0a:cd:21", "mtu": 1500, "domain": {"name": "lan", "localOnly": false},
//    "dns": {"enable": true, "forwardPlainNames": true,
//            "forwarders": [{"addr": "...", "port": 53, "domain": "..."}],
//            "hosts": [{"ip": "...", "hostnames": ["..."]}],
//            "srvs": [{"service", "protocol", "domain", "target", "port", "priority", "weight"}],
//            "txts": [{"name": "...", "value": "..."}]},
//    "ips": [{"family": "ipv4", "address": "192.168.122.1", "prefix": 24 | "netmask": "...",
//             "localPtr": false,
//             "dhcp": {"ranges": [{"start", "end", "lease": {"expiry": 60, "unit": "minutes"}}],
//                      "hosts": [{"mac", "id", "name", "ip", "lease"}],
//                      "bootp": {"file", "server"}}}],
//    "routes": [{"family", "address", "prefix", "gateway", "metric"}],
//    "unsupported": [{"path": "network/portgroup", "xml": "<portgroup .../>"}]}
// Absent or null fields take the model defaults; unknown fields are ignored. As in the XML,
// "family" appears when it was written or is ipv6 (it follows from the address otherwise).
//
// Like the XML parser, networkFromJson checks forms only and never calls model::validate();
// callers parse, then validate. Errors name the JSON pointer of the bad value:
//   "/ips/0/dhcp/ranges/1/start: '192.168.1.x' is not a valid IP address"
#pragma once

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "model/network.h"

namespace vnet::config {

nlohmann::json networkToJson(const model::Network& net);
Result<model::Network> networkFromJson(const nlohmann::json& j);

}  // namespace vnet::config
