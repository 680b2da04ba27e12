// Fuzzes the API request path: raw bytes -> Beast's HTTP parser (with our limits) ->
// target parsing -> the real router and handlers over a Manager on fake kernel parts.
// Invariant: every input gets a well-formed JSON or XML answer, never a crash.
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "api/http.h"
#include "daemon/api_service.h"
#include "daemon/manager.h"
#include "testing/fake_firewall.h"
#include "testing/fake_links.h"

namespace {

namespace http = boost::beast::http;
using namespace vnet;

struct World {
  testing::FakeLinks links;
  testing::FakeFirewall fw;
  daemon::NoServices services;
  std::unique_ptr<daemon::Manager> manager;
  std::unique_ptr<api::Router> router;
  std::string dir;
  int execs = 0;

  void reset() {
    router.reset();
    manager.reset();
    if (!dir.empty()) std::filesystem::remove_all(dir);
    // tmpfs: definition writes fsync, which would make the fuzzer crawl on a disk.
    dir = "/dev/shm/vnet-fuzz-api-" + std::to_string(::getpid());
    std::filesystem::create_directories(dir);
    links = testing::FakeLinks();
    fw = testing::FakeFirewall();
    auto state = daemon::StateStore::open(dir + "/vnet.db");
    if (!state) std::abort();
    manager = std::make_unique<daemon::Manager>(links, fw, services, daemon::DefinitionStore(dir + "/etc"),
                                                std::move(*state));
    if (!manager->load().ok()) std::abort();
    router = std::make_unique<api::Router>(daemon::makeApiRouter(*manager));
  }
};

World& world() {
  static World* w = [] {
    spdlog::set_level(spdlog::level::off);
    auto* x = new World;
    x->reset();
    return x;
  }();
  return *w;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  World& w = world();
  if (++w.execs % 2000 == 0) w.reset();  // keep the registry from growing without bound

  http::request_parser<http::string_body> parser;
  parser.body_limit(api::kMaxBodyBytes);
  parser.header_limit(api::kMaxHeaderBytes);
  parser.eager(true);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(data, size), ec);
  if (ec || !parser.is_done()) return 0;
  auto& req = parser.get();
  api::Request r;
  r.method = std::string(req.method_string());
  if (!api::parseTarget(std::string(req.target()), r).ok()) return 0;
  r.body = req.body();
  api::Response resp = w.router->route(r);
  if (resp.status < 200 || resp.status > 599) std::abort();
  if (resp.contentType == "application/json" &&
      nlohmann::json::parse(resp.body, nullptr, false).is_discarded()) {
    std::abort();
  }
  return 0;
}
