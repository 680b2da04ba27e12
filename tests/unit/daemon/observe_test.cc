// Events from Manager verbs, guests' addresses from the neighbour table, stats and
// metrics assembly, capture request checks: Manager over FakeLinks/FakeTelemetry.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "api/router.h"
#include "daemon/events.h"
#include "daemon/manager.h"
#include "daemon/metrics.h"
#include "daemon/observe_api.h"
#include "daemon/stats.h"
#include "testing/fake_firewall.h"
#include "testing/fake_links.h"
#include "testing/fake_telemetry.h"

namespace vnet::daemon {
namespace {

namespace fs = std::filesystem;

const char* kLab = R"(<network>
  <name>lab</name>
  <forward mode='nat'/>
  <bridge name='labbr'/>
  <ip address='10.77.0.1' prefix='24'>
    <dhcp><range start='10.77.0.100' end='10.77.0.199'/></dhcp>
  </ip>
</network>)";

class ObserveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vnet-observe-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto state = StateStore::open(dir_ + "/vnet.db");
    ASSERT_TRUE(state.ok()) << state.error().message();
    manager_ = std::make_unique<Manager>(links_, fw_, services_, DefinitionStore(dir_ + "/etc"),
                                         std::move(*state));
    manager_->setEventBus(&bus_);
    manager_->setTelemetry(&telemetry_);
    Status loaded = manager_->load();  // defines and starts "default"
    ASSERT_TRUE(loaded.ok()) << loaded.error().message();
    sub_ = bus_.subscribe("", 100, {});
  }
  void TearDown() override {
    manager_.reset();
    fs::remove_all(dir_);
  }
  std::vector<std::string> eventTypes() {
    std::vector<std::string> out;
    for (const auto& e : sub_->take()) out.push_back(e.type + " " + e.network);
    return out;
  }
  void startLab() {
    auto d = manager_->define(kLab);
    ASSERT_TRUE(d.ok()) << d.error().message();
    Status s = manager_->start("lab");
    ASSERT_TRUE(s.ok()) << s.error().message();
  }
  model::Port addTap(const std::string& mac) {
    PortRequest r;
    r.network = "lab";
    r.mac = Mac::parse(mac);
    auto p = manager_->addPort(r);
    EXPECT_TRUE(p.ok()) << p.error().message();
    return p.ok() ? *p : model::Port{};
  }

  testing::FakeLinks links_;
  testing::FakeFirewall fw_;
  testing::FakeTelemetry telemetry_;
  NoServices services_;
  EventBus bus_{100, [] { return int64_t{1000}; }};
  std::unique_ptr<EventBus::Subscription> sub_;
  std::string dir_;
  std::unique_ptr<Manager> manager_;
};

TEST_F(ObserveTest, VerbsPublishEvents) {
  startLab();
  auto p = addTap("52:54:00:00:00:01");
  ASSERT_TRUE(manager_->removePort("lab", p.name).ok());
  manager_->recordRepair("lab", "re-applied the firewall rules");
  ASSERT_TRUE(manager_->destroy("lab").ok());
  ASSERT_TRUE(manager_->undefine("lab").ok());
  EXPECT_EQ(eventTypes(),
            (std::vector<std::string>{"network.defined lab", "network.started lab",
                                      "port.added lab", "port.removed lab", "repair lab",
                                      "network.stopped lab", "network.undefined lab"}));
  auto recent = bus_.recent("lab", 10);
  ASSERT_GE(recent.size(), 3u);
  const Event& added = recent[2];
  EXPECT_EQ(added.type, "port.added");
  EXPECT_NE(std::find(added.details.begin(), added.details.end(),
                      std::pair<std::string, std::string>{"mac", "52:54:00:00:00:01"}),
            added.details.end());
}

TEST_F(ObserveTest, FailedVerbsPublishNothing) {
  EXPECT_FALSE(manager_->start("nope").ok());
  EXPECT_FALSE(manager_->define("<network><name>x</name><ip address='bad'/></network>").ok());
  EXPECT_TRUE(eventTypes().empty());
}

TEST_F(ObserveTest, StaticGuestsGetTheirAddressFromTheNeighbourTable) {
  startLab();
  auto p1 = addTap("52:54:00:00:00:01");
  auto p2 = addTap("52:54:00:00:00:02");
  telemetry_.neigh = {
      {*IpAddress::parse("fe80::5054:ff:fe00:1"), *Mac::parse("52:54:00:00:00:01"), "labbr"},
      {*IpAddress::parse("10.77.0.50"), *Mac::parse("52:54:00:00:00:01"), "labbr"},
      {*IpAddress::parse("10.99.0.7"), *Mac::parse("52:54:00:00:00:02"), "otherbr"}};
  auto ports = manager_->ports("lab");
  ASSERT_TRUE(ports.ok());
  ASSERT_EQ(ports->size(), 2u);
  EXPECT_EQ((*ports)[0].ip->toString(), "10.77.0.50");  // IPv4 preferred over link-local
  EXPECT_EQ((*ports)[0].ipSource, "neighbour");
  EXPECT_FALSE((*ports)[1].ip.has_value());  // only neighbours of this bridge count
}

TEST_F(ObserveTest, StatsJoinLinkCountersNatAndServices) {
  startLab();
  auto p = addTap("52:54:00:00:00:01");
  telemetry_.links["labbr"] = {10, 1000, 20, 2000, 1, 2, 0, 0};
  telemetry_.links[p.name] = {5, 500, 6, 600, 0, 0, 0, 0};
  telemetry_.conntrack = {{*IpAddress::parse("10.77.0.100"), true},
                          {*IpAddress::parse("10.77.0.101"), false},
                          {*IpAddress::parse("192.0.2.1"), true}};
  auto s = collectStats(*manager_, "lab");
  ASSERT_TRUE(s.ok()) << s.error().message();
  ASSERT_TRUE(s->bridgeLink.has_value());
  EXPECT_EQ(s->bridgeLink->rxBytes, 1000u);
  ASSERT_EQ(s->ports.size(), 1u);
  ASSERT_TRUE(s->ports[0].link.has_value());
  EXPECT_EQ(s->ports[0].link->txPackets, 6u);
  ASSERT_TRUE(s->nat.has_value());
  EXPECT_EQ(s->nat->entries, 2u);
  EXPECT_EQ(s->nat->translated, 1u);
  auto j = statsJson(*s);
  EXPECT_EQ(j["network"]["rx_dropped"], 1);
  EXPECT_EQ(j["ports"][0]["link"]["rx_bytes"], 500);
  EXPECT_EQ(j["nat"]["sessions"], 2);
  EXPECT_TRUE(j["dhcp"].is_object());
  EXPECT_EQ(j["repairs"], 0);
  EXPECT_FALSE(j.contains("errors"));
}

TEST_F(ObserveTest, TelemetryFailuresAreReportedNotFatal) {
  startLab();
  telemetry_.failures.emplace("conntrackBySource",
                              Error("reading the conntrack table: Permission denied"));
  auto s = collectStats(*manager_, "lab");
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(s->nat.has_value());
  ASSERT_EQ(s->errors.size(), 1u);
  EXPECT_NE(s->errors[0].find("conntrack"), std::string::npos);
  EXPECT_FALSE(collectStats(*manager_, "nope").ok());
}

TEST_F(ObserveTest, MetricsCoverEveryNetworkAndFollowTheFormat) {
  startLab();
  auto p = addTap("52:54:00:00:00:01");
  telemetry_.links["labbr"] = {10, 1000, 20, 2000, 1, 2, 0, 0};
  telemetry_.links[p.name] = {5, 500, 6, 600, 0, 0, 0, 0};
  bus_.publish("lease.granted", "lab");
  manager_->recordRepair("lab", "re-applied the firewall rules");
  manager_->recordRepair("lab", "re-created port vnet0");
  std::string text = metricsText(*manager_);
  EXPECT_NE(text.find("vnet_repairs_total{network=\"lab\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("vnet_network_receive_bytes_total{network=\"lab\"} 1000\n"),
            std::string::npos);
  EXPECT_NE(
      text.find("vnet_port_transmit_packets_total{network=\"lab\",port=\"" + p.name + "\"} 6\n"),
      std::string::npos);
  EXPECT_NE(text.find("vnet_network_active{network=\"lab\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("vnet_events_published_total "), std::string::npos);
  EXPECT_NE(text.find("vnet_event_subscribers 1\n"), std::string::npos);
  // Every sample belongs to the family whose HELP and TYPE came just before.
  std::string family;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# HELP ", 0) == 0) {
      family = line.substr(7, line.find(' ', 7) - 7);
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      EXPECT_EQ(line.substr(7, family.size()), family);
      continue;
    }
    std::string name = line.substr(0, line.find_first_of("{ "));
    EXPECT_EQ(name, family) << line;
  }
}

// A sink that keeps what it got and reports as buffered whatever the test says.
class HoldingSink : public api::StreamSink {
 public:
  void write(std::string chunk) override {
    text += chunk;
    ++writes;
  }
  void close() override { closed = true; }
  size_t buffered() const override { return pending; }
  std::string text;
  int writes = 0;
  size_t pending = 0;
  bool closed = false;
};

// GET /v1/events through the one streaming mechanism: replay on start, then events move
// only while the sink has nothing buffered (drained() brings the rest); stop() unsubscribes.
TEST_F(ObserveTest, EventStreamWaitsForTheClientAndUnsubscribesOnStop) {
  boost::asio::io_context io;
  api::Router router;
  addObserveRoutes(router, {io, *manager_, links_, bus_});
  bus_.publish("lease.granted", "lab");
  api::Request req;
  req.method = "GET";
  req.path = "/v1/events";
  req.query["recent"] = "1";
  api::Response resp = router.route(req);
  ASSERT_TRUE(resp.stream);
  auto sink = std::make_shared<HoldingSink>();
  const size_t subscribersBefore = bus_.counters().subscribers;
  resp.stream->start(sink);
  EXPECT_EQ(bus_.counters().subscribers, subscribersBefore + 1);
  EXPECT_NE(sink->text.find("\"type\":\"lease.granted\""), std::string::npos) << sink->text;

  sink->pending = 100;  // the client has not taken the replay yet
  const int writesBefore = sink->writes;
  bus_.publish("lease.renewed", "lab");
  bus_.publish("lease.released", "lab");
  io.poll();
  EXPECT_EQ(sink->writes, writesBefore) << "events wait while the sink holds data";
  sink->pending = 0;
  resp.stream->drained();
  EXPECT_EQ(sink->writes, writesBefore + 1) << "both events in one piece";
  EXPECT_NE(sink->text.find("lease.released"), std::string::npos);

  resp.stream->stop();
  EXPECT_EQ(bus_.counters().subscribers, subscribersBefore);
  bus_.publish("lease.expired", "lab");
  io.restart();
  io.poll();
  EXPECT_EQ(sink->text.find("lease.expired"), std::string::npos);
  EXPECT_FALSE(sink->closed);
}

TEST_F(ObserveTest, CaptureRequestsAreChecked) {
  EXPECT_FALSE(parseCaptureRequest({{"count", "x"}}).ok());
  EXPECT_FALSE(parseCaptureRequest({{"count", "-1"}}).ok());
  EXPECT_FALSE(parseCaptureRequest({{"count", "0"}}).ok());
  EXPECT_FALSE(parseCaptureRequest({{"duration", "0"}}).ok());
  EXPECT_FALSE(parseCaptureRequest({{"duration", "soon"}}).ok());
  EXPECT_FALSE(parseCaptureRequest({{"snaplen", "10"}}).ok());
  auto r = parseCaptureRequest({{"ports", "vnet0,vnet1"},
                                {"bridge", "1"},
                                {"count", "5"},
                                {"duration", "1.5"},
                                {"filter", "icmp"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->ports, (std::vector<std::string>{"vnet0", "vnet1"}));
  EXPECT_TRUE(r->bridge);
  EXPECT_FALSE(r->uplink);
  EXPECT_EQ(r->count, 5u);
  EXPECT_DOUBLE_EQ(r->durationSec, 1.5);
}

TEST_F(ObserveTest, CaptureInterfacesDefaultToPortsBridgeAndUplink) {
  links_.addExternalLink(kernel::LinkInfo{0, "eth0", "", Mac(), 1500, true, 0});
  ASSERT_TRUE(
      links_.addRoute({*Cidr::parse("0.0.0.0/0"), "eth0", IpAddress::parse("192.0.2.1"), 0}).ok());
  startLab();
  auto p = addTap("52:54:00:00:00:01");
  CaptureRequest all;
  auto ifs = captureInterfaces(*manager_, links_, "lab", all);
  ASSERT_TRUE(ifs.ok()) << ifs.error().message();
  std::vector<std::string> names;
  for (const auto& i : *ifs) names.push_back(i.first);
  EXPECT_EQ(names, (std::vector<std::string>{p.name, "labbr", "eth0"}));

  CaptureRequest one;
  one.ports = {"vnet99"};
  auto bad = captureInterfaces(*manager_, links_, "lab", one);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), ErrorCode::NotFound);
  EXPECT_NE(bad.error().message().find("has no port vnet99 (its ports: " + p.name + ")"),
            std::string::npos);

  CaptureRequest bridgeOnly;
  bridgeOnly.bridge = true;
  ifs = captureInterfaces(*manager_, links_, "lab", bridgeOnly);
  ASSERT_TRUE(ifs.ok());
  ASSERT_EQ(ifs->size(), 1u);
  EXPECT_EQ((*ifs)[0].first, "labbr");

  ASSERT_TRUE(manager_->destroy("lab").ok());
  auto inactive = captureInterfaces(*manager_, links_, "lab", all);
  ASSERT_FALSE(inactive.ok());
  EXPECT_EQ(inactive.error().code(), ErrorCode::Conflict);
}

TEST_F(ObserveTest, AnUplinkAskedForMustExist) {
  startLab();
  CaptureRequest up;
  up.uplink = true;
  auto r = captureInterfaces(*manager_, links_, "lab", up);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("no uplink"), std::string::npos);
}

}  // namespace
}  // namespace vnet::daemon
