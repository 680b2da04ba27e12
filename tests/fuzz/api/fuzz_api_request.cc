// Fuzzes the API request path: raw bytes -> Beast's HTTP parser (with our limits) ->
// target parsing -> the real router and handlers over a Manager on fake kernel parts.
//
// An input is one or more pipelined HTTP requests (up to kMaxRequests), as one client
// connection would carry them, so that sequences (define, start, update, port-add, stop)
// are explored. Every input starts from the same world: the `default` network active and
// `lab` defined (with DHCP hosts and DNS records), so a crash reproduces from its input
// alone. The world is rebuilt at the end of an input that may have changed it (a 2xx answer
// to a request that is not a GET), which keeps most executions free of file and database
// work: state is in an in-memory SQLite database, definitions on tmpfs, logging is off.
// Every input frees what it allocated (the fakes' call logs are cleared, a changed world
// is replaced), so libFuzzer's leak check runs only when something really leaks.
//
// Invariants (a violation aborts):
//  - every answer has a status in 200..599; JSON bodies parse; errors carry error/detail;
//  - no exception escapes a handler;
//  - a refused request (4xx) changes nothing: the networks, their state, the fake kernel
//    and firewall look the same before and after it.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>

#include "api/http.h"
#include "daemon/api_service.h"
#include "daemon/manager.h"
#include "testing/fake_firewall.h"
#include "testing/fake_links.h"
#include "testing/fake_services.h"

namespace {

namespace http = boost::beast::http;
namespace fs = std::filesystem;
using namespace vnet;

constexpr int kMaxRequests = 8;

const char* kDefault = R"(<network>
  <name>default</name>
  <uuid>a9a6a4b2-3c4d-4e5f-8a9b-000000000001</uuid>
  <forward mode='nat'/>
  <bridge name='vnbr0' stp='on' delay='0'/>
  <mac address='52:54:00:00:01:01'/>
  <ip address='192.168.122.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.122.2' end='192.168.122.254'/>
    </dhcp>
  </ip>
</network>
)";

const char* kLab = R"(<network>
  <name>lab</name>
  <uuid>a9a6a4b2-3c4d-4e5f-8a9b-000000000003</uuid>
  <forward mode='route'/>
  <bridge name='labbr'/>
  <dns>
    <txt name='info' value='hello'/>
    <host ip='10.77.0.5'>
      <hostname>web</hostname>
    </host>
  </dns>
  <ip address='10.77.0.1' prefix='24'>
    <dhcp>
      <range start='10.77.0.100' end='10.77.0.199'/>
      <host mac='52:54:00:00:00:01' name='a' ip='10.77.0.10'/>
    </dhcp>
  </ip>
  <ip family='ipv6' address='fd00:77::1' prefix='64'/>
</network>
)";

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "%s\n", what.c_str());
  std::abort();
}

void writeFile(const std::string& path, const char* text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

struct World {
  testing::FakeLinks links;
  testing::FakeFirewall fw;
  testing::FakeServices services;
  std::unique_ptr<daemon::Manager> manager;
  std::unique_ptr<api::Router> router;
  std::string dir = "/dev/shm/vnet-fuzz-api-" + std::to_string(::getpid());
  bool dirty = false;
  // fingerprint() of the current state when known: a fresh world always has the same one,
  // a refused request leaves it, an accepted mutating request (2xx) or a 5xx forgets it.
  std::optional<std::string> known;
  std::string fresh;

  void rebuild() {
    router.reset();
    manager.reset();
    fs::remove_all(dir);
    fs::create_directories(dir + "/etc/networks/autostart");
    writeFile(dir + "/etc/networks/default.xml", kDefault);
    writeFile(dir + "/etc/networks/autostart/default", "");
    writeFile(dir + "/etc/networks/lab.xml", kLab);
    links = testing::FakeLinks();
    kernel::LinkInfo eth0;
    eth0.name = "eth0";
    eth0.up = true;
    links.addExternalLink(eth0);
    if (!links.addAddress("eth0", *Cidr::parse("203.0.113.2/24")).ok()) fail("setup");
    // Knobs a real kernel always has (the fake creates unknown ones on write).
    for (const char* knob : {"net/ipv4/ip_forward", "net/ipv6/conf/all/forwarding"}) {
      if (!links.setSysctl(knob, "0").ok()) fail("setup");
    }
    fw = testing::FakeFirewall();
    auto state = daemon::StateStore::open(":memory:");
    if (!state) fail("state: " + state.error().message());
    manager = std::make_unique<daemon::Manager>(
        links, fw, services, daemon::DefinitionStore(dir + "/etc"), std::move(*state));
    if (Status s = manager->load(); !s.ok()) fail("load: " + s.error().message());
    router = std::make_unique<api::Router>(daemon::makeApiRouter(*manager));
    dirty = false;
    if (fresh.empty()) fresh = fingerprint();
    known = fresh;
  }

  const std::string& current() {
    if (!known) known = fingerprint();
    return *known;
  }

  // What a refused request must leave as it was.
  std::string fingerprint() {
    std::ostringstream out;
    for (const auto& s : manager->list(true)) {
      out << s.name << s.uuid << s.bridge << s.mode << s.active << s.persistent << s.autostart;
      if (auto def = manager->definition(s.name, false)) out << (*def)->ips.size();
      if (auto ports = manager->ports(s.name)) out << ports->size();
    }
    if (auto l = links.listLinks()) {
      for (const auto& link : *l) out << link.name << link.up << link.masterIndex;
    }
    for (const auto& [k, v] : links.sysctls()) out << k << v;
    for (const auto& n : fw.active()) out << n;
    for (const auto& [n, net] : services.running()) out << n << net.ips.size();
    return out.str();
  }
};

World& world() {
  static World* w = [] {
    spdlog::set_level(spdlog::level::off);
    auto* x = new World;
    x->rebuild();
    return x;
  }();
  return *w;
}

void checkAnswer(const api::Response& resp) {
  if (resp.status < 200 || resp.status > 599) fail("status " + std::to_string(resp.status));
  if (resp.contentType != "application/json") return;
  auto j = nlohmann::json::parse(resp.body, nullptr, false);
  if (j.is_discarded()) fail("answer is not JSON: " + resp.body);
  if (resp.status >= 400 && !(j.is_object() && j.contains("error") && j.contains("detail"))) {
    fail("error answer without error/detail: " + resp.body);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  World& w = world();

  boost::asio::const_buffer input(data, size);
  for (int n = 0; n < kMaxRequests && input.size() > 0; ++n) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(api::kMaxBodyBytes);
    parser.header_limit(api::kMaxHeaderBytes);
    parser.eager(true);
    boost::beast::error_code ec;
    size_t used = parser.put(input, ec);
    if (ec || !parser.is_done()) break;
    input += used;
    auto& req = parser.get();
    api::Request r;
    r.method = std::string(req.method_string());
    if (!api::parseTarget(std::string(req.target()), r).ok()) continue;
    r.body = req.body();
    boost::beast::string_view type = req[http::field::content_type];
    r.contentType = api::mediaType(std::string_view(type.data(), type.size()));
    bool mutating = r.method != "GET";
    std::string before = mutating ? w.current() : std::string();
    api::Response resp = w.router->route(r);
    checkAnswer(resp);
    if (!mutating) continue;
    if (resp.status >= 200 && resp.status < 300) {
      w.dirty = true;  // rebuilt before the next input
      w.known.reset();
    } else if (resp.status >= 400 && resp.status < 500) {
      if (w.fingerprint() != before) {
        fail("a refused " + r.method + " " + r.path + " changed state: " + resp.body);
      }
    } else {
      w.known.reset();
    }
  }
  w.links.clearCalls();
  w.fw.clearCalls();
  w.services.clearCalls();
  if (w.dirty) w.rebuild();
  return 0;
}
