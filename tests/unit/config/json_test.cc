#include "config/json.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "config/xml.h"

namespace vnet::config {
namespace {

using nlohmann::json;

model::Network parseXml(std::string_view xml) {
  auto net = parseNetworkXml(xml);
  EXPECT_TRUE(net.ok()) << net.error().message();
  return net.ok() ? *net : model::Network{};
}

std::string jsonError(const json& j) {
  auto net = networkFromJson(j);
  return net.ok() ? "" : net.error().message();
}

TEST(configJson, DefaultNetworkFields) {
  json j = networkToJson(parseXml(R"(<network>
  <name>default</name>
  <forward mode='nat'><nat><port start='1024' end='65535'/></nat></forward>
  <bridge name='virbr0' stp='on' delay='0'/>
  <mac address='52:54:00:0a:cd:21'/>
  <ip address='192.168.122.1' netmask='255.255.255.0'>
    <dhcp><range start='192.168.122.2' end='192.168.122.254'/></dhcp>
  </ip>
</network>)"));
  json expected = json::parse(R"({
    "name": "default",
    "forward": {"mode": "nat", "nat": {"ipv6": false, "portStart": 1024, "portEnd": 65535}},
    "bridge": {"name": "virbr0", "stp": true, "delay": 0},
    "mac": "52:54:00:0a:cd:21",
    "ips": [{"address": "192.168.122.1", "netmask": "255.255.255.0",
             "localPtr": false,
             "dhcp": {"ranges": [{"start": "192.168.122.2", "end": "192.168.122.254"}],
                      "hosts": []}}],
    "routes": []
  })");
  EXPECT_EQ(j, expected) << j.dump(2);
}

// Every golden case survives XML -> model -> JSON -> model -> XML unchanged.
TEST(configJson, RoundTripsGoldenCases) {
  namespace fs = std::filesystem;
  int count = 0;
  for (const auto& e :
       fs::directory_iterator(fs::path(VNET_SOURCE_DIR) / "tests/golden/config/cases")) {
    std::string name = e.path().filename().string();
    if (!name.ends_with(".out.xml")) continue;
    SCOPED_TRACE(name);
    std::ifstream in(e.path());
    std::stringstream ss;
    ss << in.rdbuf();
    model::Network net = parseXml(ss.str());
    json j = networkToJson(net);
    auto back = networkFromJson(json::parse(j.dump()));
    ASSERT_TRUE(back.ok()) << back.error().message();
    EXPECT_EQ(formatNetworkXml(*back), ss.str()) << j.dump(2);
    EXPECT_EQ(networkToJson(*back), j);
    ++count;
  }
  EXPECT_GE(count, 10);
}

TEST(configJson, ErrorsNameTheJsonPath) {
  struct Case {
    const char* json;
    const char* error;
  } cases[] = {
      {R"([1])", "/: must be an object"},
      {R"({"name": 5})", "/name: must be a string"},
      {R"({"mtu": -1})", "/mtu: must be an integer in 0..4294967295"},
      {R"({"mtu": 1.5})", "/mtu: must be an integer in 0..4294967295"},
      {R"({"mac": "nope"})", "/mac: 'nope' is not a valid MAC address"},
      {R"({"forward": {"mode": "tunnel"}})", "/forward/mode: 'tunnel' is not a known forward mode"},
      {R"({"forward": {"nat": {"addressStart": "fd00::1"}}})",
       "/forward/nat/addressStart: 'fd00::1' is not a valid IPv4 address"},
      {R"({"forward": {"nat": {"portEnd": 70000}}})",
       "/forward/nat/portEnd: must be an integer in 0..65535"},
      {R"({"bridge": {"stp": "on"}})", "/bridge/stp: must be true or false"},
      {R"({"ips": {}})", "/ips: must be an array"},
      {R"({"ips": [{"prefix": 24}]})", "/ips/0/address: is required"},
      {R"({"ips": [{"address": "10.0.0.1", "prefix": 129}]})",
       "/ips/0/prefix: must be an integer in 0..128"},
      {R"({"ips": [{"address": "10.0.0.1", "family": "ipv5"}]})",
       "/ips/0/family: must be 'ipv4' or 'ipv6'"},
      {R"({"ips": [{"address": "10.0.0.1", "dhcp": {"ranges": [{"start": "10.0.0.2", "end": "10.0.0.3"}, {"start": "10.0.0.x", "end": "10.0.0.9"}]}}]})",
       "/ips/0/dhcp/ranges/1/start: '10.0.0.x' is not a valid IP address"},
      {R"({"ips": [{"address": "10.0.0.1", "dhcp": {"hosts": [{"lease": {"expiry": "1"}}]}}]})",
       "/ips/0/dhcp/hosts/0/lease/expiry: must be an integer in 0..18446744073709551615"},
      {R"({"dns": {"hosts": [{"ip": "10.0.0.5", "hostnames": [1]}]}})",
       "/dns/hosts/0/hostnames: must be an array of strings"},
      {R"({"routes": [{"address": "10.0.0.0", "prefix": 8}]})", "/routes/0/gateway: is required"},
      {R"({"unsupported": [{"path": "network/x", "xml": "<a><b></a>"}]})",
       "/unsupported/0/xml: must be one XML element"},
  };
  for (const Case& c : cases) EXPECT_EQ(jsonError(json::parse(c.json)), c.error) << c.json;
}

TEST(configJson, FromJsonDoesNotValidate) {
  auto net = networkFromJson(json::parse(R"({"name": "a/b", "mtu": 1})"));
  ASSERT_TRUE(net.ok());
  Status s = model::validate(*net);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message(), "network/name: name 'a/b' must not contain '/'");
}

}  // namespace
}  // namespace vnet::config
