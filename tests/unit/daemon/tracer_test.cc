// Tracer over a Manager with fake links/firewall and FakeTracing/FakeConntrack: what a
// trace adds and removes, what it refuses, and what reaches its output.
#include "daemon/tracer.h"

#include <gtest/gtest.h>
#include <netinet/in.h>

#include <filesystem>

#include "testing/fake_firewall.h"
#include "testing/fake_links.h"
#include "testing/fake_tracing.h"
#include "testing/trace_events.h"

namespace vnet::daemon {
namespace {

using namespace vnet::testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

struct RecordingOutput : TraceOutput {
  void send(const api::TraceRecord& r) override { records.push_back(r); }
  void close() override { closed = true; }
  template <typename T>
  std::vector<T> all() const {
    std::vector<T> out;
    for (const auto& r : records) {
      if (const auto* t = std::get_if<T>(&r)) out.push_back(*t);
    }
    return out;
  }
  std::vector<api::TraceRecord> records;
  bool closed = false;
};

std::vector<kernel::TraceEvent> pingOut(uint32_t id, unsigned traceId, const std::string& src,
                                        uint16_t seq) {
  auto ip = ipv4Header(src, "198.51.100.1", IPPROTO_ICMP);
  auto icmp = icmpEcho(8, 77, seq);
  return {
      inTraceChain(withPacket(ruleEvent(id, "inet", "vnet", "trace_" + std::to_string(traceId),
                                        "prerouting", "... meta nftrace set 1", "continue"),
                              ip, icmp, "vnbr0"),
                   traceId),
      withPacket(ruleEvent(id, "inet", "vnet", "forward", "forward", "iifname vmap @forward_iif",
                           "jump", "default_fwd_in"),
                 ip, icmp, "vnbr0", "uplink0"),
      ruleEvent(id, "inet", "vnet", "default_fwd_in", "", "ip saddr 192.168.122.0/24 accept",
                "accept"),
      withPacket(ruleEvent(id, "inet", "vnet", "postrouting", "postrouting",
                           "ip saddr vmap @postrouting_saddr4", "jump", "default_nat"),
                 ip, icmp, "", "uplink0"),
      ruleEvent(id, "inet", "vnet", "default_nat", "", "... masquerade", "accept"),
  };
}

class TracerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vnet-tracer-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto state = StateStore::open(dir_ + "/vnet.db");
    ASSERT_TRUE(state.ok()) << state.error().message();
    manager_ = std::make_unique<Manager>(links_, fw_, services_, DefinitionStore(dir_ + "/etc"),
                                         std::move(*state));
    ASSERT_TRUE(manager_->load().ok());  // defines and starts "default" (vnbr0)
    PortRequest req;
    req.network = "default";
    req.tap = false;
    req.netns = "g1";
    req.mac = Mac::parse("52:54:00:aa:bb:cc");
    auto port = manager_->addPort(req);
    ASSERT_TRUE(port.ok()) << port.error().message();
    port_ = port->name;
    TracerOptions o;
    o.settle = 1ms;
    o.maxTraces = 2;
    tracer_ = std::make_unique<Tracer>(io_, *manager_, tracing_, conntrack_, o);
  }
  void TearDown() override {
    tracer_.reset();
    manager_.reset();
    fs::remove_all(dir_);
  }

  TraceRequest request() {
    TraceRequest r;
    r.network = "default";
    r.port = port_;
    return r;
  }
  void emit(const std::vector<kernel::TraceEvent>& events) {
    for (const auto& e : events) tracing_.emit(e);
  }
  void settle() {
    io_.restart();
    io_.run_for(50ms);
  }

  boost::asio::io_context io_;
  testing::FakeLinks links_;
  testing::FakeFirewall fw_;
  NoServices services_;
  FakeTracing tracing_;
  FakeConntrack conntrack_;
  std::string dir_, port_;
  std::unique_ptr<Manager> manager_;
  std::unique_ptr<Tracer> tracer_;
};

TEST_F(TracerTest, TracesUntilTheCountAndRemovesItsChains) {
  kernel::FlowTuple orig{*IpAddress::parse("192.168.122.10"),
                         *IpAddress::parse("198.51.100.1"),
                         IPPROTO_ICMP,
                         77,
                         0,
                         8,
                         0};
  kernel::FlowTuple reply{*IpAddress::parse("198.51.100.1"), *IpAddress::parse("203.0.113.2"),
                          IPPROTO_ICMP};
  conntrack_.add({orig, reply});
  auto out = std::make_shared<RecordingOutput>();
  TraceRequest r = request();
  r.proto = "icmp";
  r.to = "198.51.100.1";
  r.count = 1;
  auto id = tracer_->start(r, out);
  ASSERT_TRUE(id.ok()) << id.error().message();
  EXPECT_EQ(tracing_.calls(), (std::vector<std::string>{"listen", "addTrace 1"}));
  const auto& m = tracing_.matches().at(0);
  EXPECT_EQ(m.bridge, "vnbr0");
  EXPECT_EQ(m.guestMac.toString(), "52:54:00:aa:bb:cc");
  EXPECT_EQ(m.to->toString(), "198.51.100.1");
  EXPECT_EQ(m.proto, "icmp");
  auto starts = out->all<api::TraceStart>();
  ASSERT_EQ(starts.size(), 1u);
  EXPECT_EQ(starts[0].port, port_);
  ASSERT_EQ(starts[0].rules.size(), 1u);
  EXPECT_NE(
      starts[0].rules[0].find("trace_1 (prerouting, priority -350): iifname \"vnbr0\" ether saddr "
                              "52:54:00:aa:bb:cc"),
      std::string::npos);

  emit(pingOut(0x10, 1, "192.168.122.10", 1));
  settle();
  auto packets = out->all<api::TracePacket>();
  ASSERT_EQ(packets.size(), 1u);
  EXPECT_EQ(packets[0].seq, 1u);
  ASSERT_EQ(packets[0].nat.size(), 1u);
  EXPECT_EQ(packets[0].nat[0].after, "203.0.113.2");
  auto ends = out->all<api::TraceEnd>();
  ASSERT_EQ(ends.size(), 1u);
  EXPECT_EQ(ends[0].reason, "count");
  EXPECT_EQ(ends[0].packets, 1u);
  EXPECT_TRUE(out->closed);
  EXPECT_TRUE(tracing_.installed().empty());
  EXPECT_FALSE(tracing_.listening());
  EXPECT_EQ(tracer_->active(), 0u);
}

TEST_F(TracerTest, LearnsTheGuestAddressToFollowReplies) {
  auto out = std::make_shared<RecordingOutput>();
  ASSERT_TRUE(tracer_->start(request(), out).ok());
  emit(pingOut(0x10, 1, "192.168.122.10", 1));
  EXPECT_EQ(tracing_.calls().back(), "followReplies 1 192.168.122.10");
  auto notes = out->all<api::TraceNote>();
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].message.find("replies to it are traced from now on"), std::string::npos);
  emit(pingOut(0x11, 1, "192.168.122.10", 2));
  EXPECT_EQ(std::count(tracing_.calls().begin(), tracing_.calls().end(),
                       "followReplies 1 192.168.122.10"),
            1);
}

TEST_F(TracerTest, RefusesBadRequestsAndAddsNothing) {
  struct Case {
    void (*edit)(TraceRequest&);
    ErrorCode code;
    const char* says;
  };
  const Case cases[] = {
      {[](TraceRequest& r) { r.port = "vnet99"; }, ErrorCode::NotFound, "has no port 'vnet99'"},
      {[](TraceRequest& r) { r.port = ""; }, ErrorCode::Invalid, "port:"},
      {[](TraceRequest& r) { r.to = "198.51.100"; }, ErrorCode::Invalid, "to: '198.51.100' is not"},
      {[](TraceRequest& r) { r.proto = "sctp"; }, ErrorCode::Invalid, "proto: 'sctp' is not"},
      {[](TraceRequest& r) { r.network = "nope"; }, ErrorCode::NotFound, "nope"},
      {[](TraceRequest& r) { r.count = 1000000; }, ErrorCode::Invalid, "count: at most"},
      {[](TraceRequest& r) { r.duration = 999999; }, ErrorCode::Invalid, "duration: at most"},
  };
  for (const auto& c : cases) {
    TraceRequest r = request();
    c.edit(r);
    auto out = std::make_shared<RecordingOutput>();
    auto id = tracer_->start(r, out);
    ASSERT_FALSE(id.ok()) << c.says;
    EXPECT_EQ(id.error().code(), c.code) << id.error().message();
    EXPECT_NE(id.error().message().find(c.says), std::string::npos) << id.error().message();
    EXPECT_TRUE(out->records.empty());
  }
  EXPECT_TRUE(tracing_.calls().empty());
}

TEST_F(TracerTest, AFailedBatchLeavesNothing) {
  tracing_.failNext("addTrace", Error("nft: no"));
  auto out = std::make_shared<RecordingOutput>();
  auto id = tracer_->start(request(), out);
  ASSERT_FALSE(id.ok());
  EXPECT_NE(id.error().message().find("nft: no"), std::string::npos);
  EXPECT_EQ(tracing_.calls(), (std::vector<std::string>{"listen", "addTrace 1", "stopListening"}));
  EXPECT_FALSE(tracing_.listening());
  EXPECT_TRUE(tracing_.installed().empty());
  EXPECT_TRUE(out->records.empty());
}

TEST_F(TracerTest, ClientGoneRemovesTheTraceQuietly) {
  auto out = std::make_shared<RecordingOutput>();
  auto id = tracer_->start(request(), out);
  ASSERT_TRUE(id.ok());
  tracer_->cancel(*id);
  EXPECT_TRUE(tracing_.installed().empty());
  EXPECT_FALSE(tracing_.listening());
  EXPECT_TRUE(out->all<api::TraceEnd>().empty());
  tracer_->cancel(*id);  // twice is harmless
}

TEST_F(TracerTest, TwoTracesAtOnceAreIndependent) {
  auto a = std::make_shared<RecordingOutput>(), b = std::make_shared<RecordingOutput>();
  auto ia = tracer_->start(request(), a);
  TraceRequest rb = request();
  rb.proto = "tcp";
  auto ib = tracer_->start(rb, b);
  ASSERT_TRUE(ia.ok() && ib.ok());
  EXPECT_EQ(tracing_.installed(), (std::set<unsigned>{*ia, *ib}));
  auto third = tracer_->start(request(), std::make_shared<RecordingOutput>());
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.error().code(), ErrorCode::Conflict);

  emit(pingOut(0x20, *ib, "192.168.122.10", 1));
  settle();
  EXPECT_TRUE(a->all<api::TracePacket>().empty());
  EXPECT_EQ(b->all<api::TracePacket>().size(), 1u);

  tracer_->cancel(*ia);
  EXPECT_EQ(tracing_.installed(), std::set<unsigned>{*ib});
  EXPECT_TRUE(tracing_.listening());
  tracer_->stopAll("stopped");
  EXPECT_TRUE(tracing_.installed().empty());
  EXPECT_FALSE(tracing_.listening());
  auto ends = b->all<api::TraceEnd>();
  ASSERT_EQ(ends.size(), 1u);
  EXPECT_EQ(ends[0].reason, "stopped");
  EXPECT_TRUE(a->all<api::TraceEnd>().empty());
}

TEST_F(TracerTest, EndsWhenTheDurationElapses) {
  auto out = std::make_shared<RecordingOutput>();
  TraceRequest r = request();
  r.duration = 1;
  ASSERT_TRUE(tracer_->start(r, out).ok());
  io_.run_for(1500ms);
  auto ends = out->all<api::TraceEnd>();
  ASSERT_EQ(ends.size(), 1u);
  EXPECT_EQ(ends[0].reason, "duration");
  EXPECT_TRUE(tracing_.installed().empty());
}

TEST_F(TracerTest, DestroyingTheTracerRemovesEveryTrace) {
  auto out = std::make_shared<RecordingOutput>();
  ASSERT_TRUE(tracer_->start(request(), out).ok());
  tracer_.reset();
  EXPECT_TRUE(tracing_.installed().empty());
  EXPECT_EQ(out->all<api::TraceEnd>().at(0).reason, "stopped");
}

}  // namespace
}  // namespace vnet::daemon
