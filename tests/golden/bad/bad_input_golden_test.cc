// tests/golden/bad: malformed network definitions and API requests, each with the answer
// vnetd gives, sent the way a client sends them: over a unix socket to the real HttpServer,
// router and Manager, with the kernel and the DHCP/DNS services faked.
//
//   define/NAME.xml  POST /v1/networks with NAME.xml as body         -> NAME.err
//   start/NAME.xml   POST /v1/networks (accepted), POST .../start     -> NAME.err
//                    (then the definition is removed again)
//   api/NAME.req     "METHOD TARGET", header lines, a blank line, the body (its final
//                    newline dropped); Content-Length and Connection: close are added
//   api/NAME.http    raw bytes, sent as they are                       -> NAME.err
//
// NAME.err is "STATUS DETAIL": the HTTP status and the "detail" of the JSON error answer.
// Every case runs against the same world (see World), one after the other. After each case
// the test checks that nothing changed: the definition files, the recorded state, the fake
// kernel (links, addresses, routes, sysctls, firewall), the configuration the services run,
// and what the API shows; and that the server still answers.
// VNET_UPDATE_GOLDEN=1 rewrites the .err files instead of comparing.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "api/http_server.h"
#include "config/xml.h"
#include "daemon/api_service.h"
#include "daemon/manager.h"
#include "testing/fake_firewall.h"
#include "testing/fake_links.h"
#include "testing/fake_services.h"

namespace vnet {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kDir = fs::path(VNET_SOURCE_DIR) / "tests/golden/bad";

std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void writeFile(const fs::path& p, const std::string& s) {
  std::ofstream out(p, std::ios::binary);
  out << s;
}

bool updating() {
  const char* v = std::getenv("VNET_UPDATE_GOLDEN");
  return v && std::string(v) == "1";
}

std::vector<fs::path> casesIn(const fs::path& dir, const std::vector<std::string>& exts) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (std::find(exts.begin(), exts.end(), e.path().extension().string()) != exts.end()) {
      out.push_back(e.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Sends `raw` on a new connection to `socketPath` and returns everything read until the
// server closes (or 10 s pass). Runs on its own thread while the test thread runs the server.
std::string roundTrip(const std::string& socketPath, const std::string& raw) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "socket failed";
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", socketPath.c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return "connect failed";
  }
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  size_t sent = 0;
  while (sent < raw.size()) {
    ssize_t n = ::send(fd, raw.data() + sent, raw.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may refuse before reading everything
    sent += static_cast<size_t>(n);
  }
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

struct HttpAnswer {
  int status = 0;
  std::string body;
};

HttpAnswer parseAnswer(const std::string& raw) {
  HttpAnswer a;
  if (raw.compare(0, 9, "HTTP/1.1 ") == 0 && raw.size() >= 12)
    a.status = std::stoi(raw.substr(9, 3));
  size_t end = raw.find("\r\n\r\n");
  if (end != std::string::npos) a.body = raw.substr(end + 4);
  return a;
}

// "METHOD TARGET\nHeader: v\n\nbody" -> an HTTP/1.1 request with Content-Length (unless the
// case gives its own) and Connection: close.
std::string requestFromCase(const std::string& text) {
  size_t headEnd = text.find("\n\n");
  std::string head = text.substr(0, headEnd);
  std::string body = headEnd == std::string::npos ? "" : text.substr(headEnd + 2);
  if (!body.empty() && body.back() == '\n') body.pop_back();
  std::istringstream lines(head);
  std::string line, out;
  std::getline(lines, line);
  out = line + " HTTP/1.1\r\nHost: vnetd\r\nConnection: close\r\n";
  bool hasLength = false;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    std::string lower = line;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    hasLength = hasLength || lower.rfind("content-length:", 0) == 0;
    out += line + "\r\n";
  }
  if (!hasLength) out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  return out + "\r\n" + body;
}

// A request with Connection: close; Content-Type is `type`, or JSON when there is a body.
std::string request(const std::string& method, const std::string& target,
                    const std::string& body = "", std::string type = "") {
  if (type.empty() && !body.empty()) type = "application/json";
  return method + " " + target + " HTTP/1.1\r\nHost: vnetd\r\nConnection: close\r\n" +
         (type.empty() ? "" : "Content-Type: " + type + "\r\n") +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// The networks present before every case. Fixed UUIDs and MACs keep messages stable.
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

const char* kOther = R"(<network>
  <name>other</name>
  <uuid>a9a6a4b2-3c4d-4e5f-8a9b-000000000002</uuid>
  <forward mode='route'/>
  <bridge name='otherbr'/>
  <mac address='52:54:00:00:01:02'/>
  <ip address='10.99.0.1' prefix='24'>
    <dhcp>
      <range start='10.99.0.10' end='10.99.0.20'/>
    </dhcp>
  </ip>
</network>
)";

const char* kLab = R"(<network>
  <name>lab</name>
  <uuid>a9a6a4b2-3c4d-4e5f-8a9b-000000000003</uuid>
  <forward mode='nat'/>
  <bridge name='labbr'/>
  <mac address='52:54:00:00:01:03'/>
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
</network>
)";

// One vnetd: `default` (active), `other` (defined, inactive), `lab` (active, a tap port
// vnet0, static DHCP host and DNS records), in a kernel that also has eth1 (a veth with
// 10.88.0.1/24, so that subnet is routed) and takenbr (a dummy, not a bridge).
class World {
 public:
  World() {
    char tmpl[] = "/tmp/vnet-bad-golden-XXXXXX";
    if (!::mkdtemp(tmpl)) std::abort();
    dir_ = tmpl;
    fs::create_directories(dir_ + "/etc/networks/autostart");
    writeFile(dir_ + "/etc/networks/default.xml", kDefault);
    writeFile(dir_ + "/etc/networks/other.xml", kOther);
    writeFile(dir_ + "/etc/networks/lab.xml", kLab);
    writeFile(dir_ + "/etc/networks/autostart/default", "");
    writeFile(dir_ + "/etc/networks/autostart/lab", "");

    kernel::LinkInfo eth1;
    eth1.name = "eth1";
    eth1.kind = "veth";
    eth1.up = true;
    links_.addExternalLink(eth1);
    if (!links_.addAddress("eth1", *Cidr::parse("10.88.0.1/24")).ok()) std::abort();
    kernel::LinkInfo taken;
    taken.name = "takenbr";
    taken.kind = "dummy";
    links_.addExternalLink(taken);
    if (!links_.setSysctl("net/ipv4/ip_forward", "0").ok()) std::abort();

    auto state = daemon::StateStore::open(dir_ + "/vnet.db");
    if (!state) std::abort();
    manager_ = std::make_unique<daemon::Manager>(
        links_, fw_, services_, daemon::DefinitionStore(dir_ + "/etc"), std::move(*state));
    if (Status s = manager_->load(); !s.ok()) {
      ADD_FAILURE() << s.error().message();
    }
    router_ = std::make_unique<api::Router>(daemon::makeApiRouter(*manager_));
    socket_ = dir_ + "/vnetd.sock";
    auto server = api::HttpServer::listenUnix(
        io_, socket_, 0600, [this](const api::Request& r) { return router_->route(r); });
    if (!server) std::abort();
    server_ = std::move(*server);
    HttpAnswer port = send(request("POST", "/v1/networks/lab/ports",
                                   R"({"name": "vnet0", "mac": "52:54:00:aa:bb:01"})"));
    if (port.status != 201) ADD_FAILURE() << "port-add in setup: " << port.body;
  }
  ~World() {
    server_.reset();
    manager_.reset();
    fs::remove_all(dir_);
  }
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  // Sends raw bytes and runs the server until the answer is complete.
  std::string sendRaw(const std::string& raw) {
    auto answer = std::async(std::launch::async, [this, raw] {
      std::string got = roundTrip(socket_, raw);
      boost::asio::post(io_, [this] { io_.stop(); });
      return got;
    });
    io_.run();
    io_.restart();
    return answer.get();
  }
  HttpAnswer send(const std::string& raw) { return parseAnswer(sendRaw(raw)); }

  // Everything a bad request must leave alone, as text.
  std::string snapshot() {
    std::ostringstream out;
    out << "== files\n";
    std::vector<std::string> files;
    for (const auto& e : fs::recursive_directory_iterator(dir_ + "/etc")) {
      files.push_back(e.path().string());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      out << f.substr(dir_.size()) << "\n";
      if (fs::is_regular_file(f)) out << readFile(f);
    }
    out << "== state\n";
    auto state = daemon::StateStore::open(dir_ + "/vnet.db");
    if (state) {
      if (auto active = state->activeNetworks()) {
        for (const auto& a : *active) out << a.name << " " << a.persistent << "\n" << a.xml;
      }
      if (auto ports = state->ports()) {
        for (const auto& p : *ports) {
          out << "port " << p.network << " " << p.name << " " << p.guestMac.toString() << "\n";
        }
      }
      // The next vnetN number: a refused port-add must not use one up.
      auto row = state->db().prepare("SELECT key, value FROM counters ORDER BY key");
      if (row) {
        while (row->step()) out << row->text(0) << "=" << row->integer(1) << "\n";
      }
    }
    out << "== kernel\n";
    auto links = links_.listLinks();
    for (const auto& l : *links) {
      const auto* link = links_.link(l.name);
      out << l.name << " " << l.kind << " up=" << l.up << " master=" << l.masterIndex
          << " mac=" << l.mac.toString() << " mtu=" << l.mtu;
      for (const auto& a : link->addresses) out << " " << a.toString();
      out << "\n";
    }
    auto routes = links_.routes();
    for (const auto& r : *routes) {
      out << "route " << r.destination.toString() << " dev " << r.device << "\n";
    }
    for (const auto& [k, v] : links_.sysctls()) out << k << "=" << v << "\n";
    out << *fw_.listTable();
    out << "== services\n";
    for (const auto& [name, net] : services_.running()) {
      out << name << "\n" << config::formatNetworkXml(net);
    }
    out << "== api\n";
    HttpAnswer list = send(request("GET", "/v1/networks?all=1"));
    out << list.status << " " << list.body;
    for (const auto& n : json::parse(list.body, nullptr, false)) {
      std::string name = n.value("name", "");
      for (const char* suffix : {"", "/xml", "/xml?inactive=1", "/ports", "/stats"}) {
        HttpAnswer a = send(request("GET", "/v1/networks/" + name + suffix));
        out << suffix << " " << a.status << " " << a.body;
      }
    }
    return out.str();
  }

 private:
  std::string dir_;
  testing::FakeLinks links_;
  testing::FakeFirewall fw_;
  testing::FakeServices services_;
  std::unique_ptr<daemon::Manager> manager_;
  std::unique_ptr<api::Router> router_;
  boost::asio::io_context io_;
  std::string socket_;
  std::unique_ptr<api::HttpServer> server_;
};

// "STATUS DETAIL", or what is wrong with the answer.
std::string describe(const HttpAnswer& a) {
  json j = json::parse(a.body, nullptr, false);
  if (!j.is_object() || !j.contains("error") || !j.contains("detail") || !j["detail"].is_string()) {
    return std::to_string(a.status) + " (not a JSON error answer) " + a.body;
  }
  return std::to_string(a.status) + " " + j["detail"].get<std::string>();
}

void compareWithGolden(const fs::path& input, const std::string& got) {
  fs::path expected = fs::path(input).replace_extension(".err");
  if (updating()) {
    writeFile(expected, got + "\n");
    return;
  }
  ASSERT_TRUE(fs::exists(expected)) << "missing " << expected << " (VNET_UPDATE_GOLDEN=1)";
  std::string want = readFile(expected);
  while (!want.empty() && want.back() == '\n') want.pop_back();
  EXPECT_EQ(got, want);
}

class BadInputGolden : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { world_ = new World(); }
  static void TearDownTestSuite() {
    delete world_;
    world_ = nullptr;
  }
  static World& world() { return *world_; }

  // Sends `raw`, expects a 4xx/5xx answer matching the golden file and no change.
  void expectRefusedWithoutChange(const fs::path& input, const std::string& raw) {
    std::string before = world().snapshot();
    HttpAnswer a = world().send(raw);
    EXPECT_GE(a.status, 400) << "accepted: " << a.body;
    if (a.status == 201) {
      // A definition that should have been refused: remove it so later cases do not see it.
      std::string name = json::parse(a.body, nullptr, false).value("name", "");
      world().send(request("DELETE", "/v1/networks/" + name));
    }
    compareWithGolden(input, describe(a));
    std::string after = world().snapshot();
    EXPECT_EQ(before, after) << "the refused request changed something";
  }

  static World* world_;
};

World* BadInputGolden::world_ = nullptr;

TEST_F(BadInputGolden, Definitions) {
  auto cases = casesIn(kDir / "define", {".xml"});
  ASSERT_GE(cases.size(), 90u);
  for (const auto& in : cases) {
    SCOPED_TRACE(in.filename().string());
    expectRefusedWithoutChange(in,
                               request("POST", "/v1/networks", readFile(in), "application/xml"));
  }
}

TEST_F(BadInputGolden, DefinitionsThatCannotStart) {
  auto cases = casesIn(kDir / "start", {".xml"});
  ASSERT_GE(cases.size(), 8u);
  for (const auto& in : cases) {
    SCOPED_TRACE(in.filename().string());
    std::string baseline = world().snapshot();
    HttpAnswer defined =
        world().send(request("POST", "/v1/networks", readFile(in), "application/xml"));
    ASSERT_EQ(defined.status, 201) << defined.body;
    std::string name = json::parse(defined.body, nullptr, false).value("name", "");
    expectRefusedWithoutChange(in, request("POST", "/v1/networks/" + name + "/start"));
    HttpAnswer undefined = world().send(request("DELETE", "/v1/networks/" + name));
    EXPECT_EQ(undefined.status, 200) << undefined.body;
    EXPECT_EQ(world().snapshot(), baseline);
  }
}

TEST_F(BadInputGolden, ApiRequests) {
  auto cases = casesIn(kDir / "api", {".req", ".http"});
  ASSERT_GE(cases.size(), 45u);
  for (const auto& in : cases) {
    SCOPED_TRACE(in.filename().string());
    std::string text = readFile(in);
    expectRefusedWithoutChange(in, in.extension() == ".http" ? text : requestFromCase(text));
  }
}

TEST_F(BadInputGolden, AtLeastOneHundredCases) {
  size_t n = casesIn(kDir / "define", {".xml"}).size() + casesIn(kDir / "start", {".xml"}).size() +
             casesIn(kDir / "api", {".req", ".http"}).size();
  EXPECT_GE(n, 100u);
}

}  // namespace
}  // namespace vnet
