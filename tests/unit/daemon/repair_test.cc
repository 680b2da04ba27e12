// Drift repair and adoption: Manager::reconcile and the Repairer's event handling over
// FakeLinks/FakeFirewall, with real definition and state stores in a temp dir.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>

#include "config/xml.h"
#include "daemon/manager.h"
#include "daemon/repairer.h"
#include "testing/fake_firewall.h"
#include "testing/fake_links.h"

namespace vnet::daemon {
namespace {

namespace fs = std::filesystem;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using namespace std::chrono_literals;

const char* kLab1 = R"(<network>
  <name>lab1</name>
  <forward mode='nat'/>
  <bridge name='labbr1'/>
  <ip address='10.77.0.1' prefix='24'/>
</network>)";

const Cidr kDefaultAddress = *Cidr::parse("192.168.122.1/24");

class RepairTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vnet-repair-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    manager_.reset();
    fs::remove_all(dir_);
  }

  // A vnetd (re)start over the same dirs and kernel: the default network comes up.
  Manager& restart() {
    manager_.reset();
    auto state = StateStore::open(dir_ + "/vnet.db");
    EXPECT_TRUE(state.ok()) << state.error().message();
    manager_ = std::make_unique<Manager>(links_, fw_, services_, DefinitionStore(dir_ + "/etc"),
                                         std::move(*state));
    manager_->setRepairObserver([this](const std::string& net, const std::string& what) {
      repaired_.push_back(net + ": " + what);
    });
    Status s = manager_->load();
    EXPECT_TRUE(s.ok()) << s.error().message();
    return *manager_;
  }
  Manager& m() { return manager_ ? *manager_ : restart(); }

  std::string addVeth() {
    PortRequest req;
    req.network = "default";
    req.tap = false;
    req.netns = "guest1";
    auto p = m().addPort(req);
    EXPECT_TRUE(p.ok()) << p.error().message();
    return p.ok() ? p->name : "";
  }

  static ReconcileScope everything(std::set<std::string> nets) {
    ReconcileScope s;
    s.links = std::move(nets);
    s.firewall = true;
    s.forwarding = true;
    return s;
  }
  uint64_t repairs(const std::string& net) { return m().repairStats(net)->count; }
  int bridgeIndex() { return links_.link("vnbr0")->info.ifindex; }

  testing::FakeLinks links_;
  testing::FakeFirewall fw_;
  NoServices services_;
  std::string dir_;
  std::unique_ptr<Manager> manager_;
  std::vector<std::string> repaired_;
};

TEST_F(RepairTest, NothingDriftedMeansNothingDone) {
  m();
  links_.clearCalls();
  fw_.clearCalls();
  ReconcileResult r = m().reconcile(everything({"default"}));
  EXPECT_EQ(r.repairs, 0);
  EXPECT_EQ(r.failures, 0);
  EXPECT_THAT(links_.mutatingCalls(), IsEmpty());
  EXPECT_THAT(fw_.calls(), ElementsAre("verify"));
  EXPECT_THAT(repaired_, IsEmpty());
}

TEST_F(RepairTest, ADeletedBridgeComesBackWithItsAddressAndPorts) {
  const std::string port = addVeth();
  ASSERT_TRUE(links_.deleteLink("vnbr0").ok());
  ASSERT_EQ(links_.link(port)->info.masterIndex, 0);
  ReconcileResult r = m().reconcile(everything({"default"}));
  EXPECT_EQ(r.repairs, 1);
  ASSERT_NE(links_.link("vnbr0"), nullptr);
  EXPECT_TRUE(links_.link("vnbr0")->info.up);
  EXPECT_THAT(links_.link("vnbr0")->addresses, ElementsAre(kDefaultAddress));
  EXPECT_EQ(links_.sysctls().at("net/ipv6/conf/vnbr0/disable_ipv6"), "1");
  EXPECT_EQ(links_.link(port)->info.masterIndex, bridgeIndex());
  EXPECT_EQ(repairs("default"), 1u);
  ASSERT_EQ(repaired_.size(), 1u);
  EXPECT_EQ(repaired_[0], "default: bridge vnbr0 is gone; port " + port +
                              " is not on vnbr0 => recreated vnbr0 with its addresses; attached " +
                              port + " to vnbr0");
  EXPECT_EQ(m().repairStats("default")->last, repaired_[0].substr(9));
  // Repaired means equal to the definition: checking again finds nothing (no loop).
  links_.clearCalls();
  EXPECT_EQ(m().reconcile(everything({"default"})).repairs, 0);
  EXPECT_THAT(links_.mutatingCalls(), IsEmpty());
}

TEST_F(RepairTest, ABridgeSetDownWithoutItsAddress) {
  m();
  ASSERT_TRUE(links_.deleteAddress("vnbr0", kDefaultAddress).ok());
  ASSERT_TRUE(links_.setUp("vnbr0", false).ok());
  links_.clearCalls();
  ReconcileScope scope;
  scope.links = {"default"};
  scope.cause = "bridge vnbr0 down";
  EXPECT_EQ(m().reconcile(scope).repairs, 1);
  EXPECT_THAT(links_.mutatingCalls(),
              ElementsAre("addAddress vnbr0 192.168.122.1/24", "setUp vnbr0 up"));
  ASSERT_EQ(repaired_.size(), 1u);
  EXPECT_EQ(repaired_[0],
            "default: address 192.168.122.1/24 is missing on vnbr0; bridge vnbr0 is down => "
            "added 192.168.122.1/24 to vnbr0; set vnbr0 up (bridge vnbr0 down)");
}

TEST_F(RepairTest, FirewallDriftIsReappliedForThatNetworkOnly) {
  m();
  ASSERT_TRUE(m().define(kLab1).ok());
  ASSERT_TRUE(m().start("lab1").ok());
  fw_.setDrift("lab1", "chain lab1_fwd_in lacks rule: ...");
  fw_.clearCalls();
  ReconcileScope scope;
  scope.firewall = true;
  EXPECT_EQ(m().reconcile(scope).repairs, 1);
  EXPECT_THAT(fw_.calls(), ElementsAre("verify", "addNetwork lab1"));
  EXPECT_EQ(repairs("lab1"), 1u);
  EXPECT_EQ(repairs("default"), 0u);
  EXPECT_THAT(repaired_, ElementsAre("lab1: chain lab1_fwd_in lacks rule: ... => re-applied its "
                                     "rules (one nft batch)"));
}

TEST_F(RepairTest, AFailedCheckOrRepairIsReportedNotCounted) {
  m();
  fw_.forget("default");
  fw_.failNextVerify(Error("nft: cannot list"));
  ReconcileScope scope;
  scope.firewall = true;
  ReconcileResult r = m().reconcile(scope);
  EXPECT_EQ(r.failures, 1);
  EXPECT_EQ(r.repairs, 0);
  fw_.failNext(Error("batch refused"));
  r = m().reconcile(scope);
  EXPECT_EQ(r.failures, 1);
  EXPECT_EQ(repairs("default"), 0u);
  EXPECT_EQ(m().reconcile(scope).repairs, 1);
}

TEST_F(RepairTest, ForwardingTurnedOffIsTurnedBackOn) {
  m();
  ASSERT_TRUE(links_.setSysctl("net/ipv4/ip_forward", "0").ok());
  ReconcileScope scope;
  scope.forwarding = true;
  EXPECT_EQ(m().reconcile(scope).repairs, 1);
  EXPECT_EQ(links_.sysctls().at("net/ipv4/ip_forward"), "1");
  EXPECT_THAT(repaired_, ElementsAre("default: net.ipv4.ip_forward is 0 => set it to 1"));
}

TEST_F(RepairTest, AutorepairOffLeavesDriftAloneAndOnRepairsAtOnce) {
  m();
  ASSERT_TRUE(m().setAutorepair("default", false).ok());
  EXPECT_FALSE(m().status("default")->autorepair);
  ASSERT_TRUE(links_.setUp("vnbr0", false).ok());
  fw_.forget("default");
  ASSERT_TRUE(links_.setSysctl("net/ipv4/ip_forward", "0").ok());
  links_.clearCalls();
  fw_.clearCalls();
  EXPECT_EQ(m().reconcile(everything({"default"})).repairs, 0);
  EXPECT_THAT(links_.mutatingCalls(), IsEmpty());
  EXPECT_THAT(fw_.calls(), IsEmpty());
  EXPECT_THAT(m().watched(), IsEmpty());

  // Kept across a restart (adoption itself still reconciles: the network must come back
  // as defined, so turn the drift on again afterwards).
  restart();
  EXPECT_FALSE(m().status("default")->autorepair);
  ASSERT_TRUE(links_.setUp("vnbr0", false).ok());
  ASSERT_TRUE(m().setAutorepair("default", true).ok());
  EXPECT_TRUE(links_.link("vnbr0")->info.up);
  EXPECT_EQ(repairs("default"), 1u);
  EXPECT_THAT(repaired_, ElementsAre(HasSubstr("(drift repair turned on)")));
  EXPECT_THAT(m().watched(), ElementsAre(::testing::Field(&WatchedNetwork::name, "default")));
}

TEST_F(RepairTest, UnknownNetworksAreRefused) {
  m();
  Status s = m().setAutorepair("nope", false);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::NotFound);
  EXPECT_FALSE(m().repairStats("nope").ok());
}

TEST_F(RepairTest, RestartAdoptsWithoutTouchingAnything) {
  addVeth();
  links_.clearCalls();
  fw_.clearCalls();
  restart();
  EXPECT_TRUE(m().status("default")->active);
  EXPECT_THAT(links_.mutatingCalls(), IsEmpty());
  EXPECT_THAT(fw_.calls(), ElementsAre("verify"));
}

TEST_F(RepairTest, RestartRepairsWhatDriftedWhileVnetdWasDown) {
  const std::string port = addVeth();
  manager_.reset();
  ASSERT_TRUE(links_.setUp("vnbr0", false).ok());
  ASSERT_TRUE(links_.setMaster(port, "").ok());
  fw_.forget("default");
  links_.clearCalls();
  fw_.clearCalls();
  restart();
  EXPECT_THAT(links_.mutatingCalls(),
              ElementsAre("setUp vnbr0 up", "setMaster " + port + " vnbr0"));
  EXPECT_THAT(fw_.calls(), ElementsAre("verify", "addNetwork default"));
  EXPECT_EQ(repairs("default"), 0u) << "adoption is not counted as drift repair";
}

TEST_F(RepairTest, AStartInterruptedByACrashIsCleanedUpAndAutostartedAgain) {
  m();
  ASSERT_TRUE(m().define(kLab1).ok());
  ASSERT_TRUE(m().setAutostart("lab1", true).ok());
  const std::string xml = config::formatNetworkXml(**m().definition("lab1", true));
  manager_.reset();
  // What a vnetd killed after creating the bridge and the rules leaves behind.
  {
    auto state = StateStore::open(dir_ + "/vnet.db");
    ASSERT_TRUE(state.ok());
    ASSERT_TRUE(state->setStarting({"lab1", xml, true}).ok());
  }
  ASSERT_TRUE(links_.addBridge({"labbr1", std::nullopt, std::nullopt, true, 0}).ok());
  auto net = config::parseNetworkXml(xml);
  ASSERT_TRUE(net.ok());
  ASSERT_TRUE(fw_.addNetwork(*net).ok());
  const int leftover = links_.link("labbr1")->info.ifindex;
  fw_.clearCalls();
  restart();
  // Removed, then started from scratch (autostart), so the bridge is a new one.
  EXPECT_THAT(fw_.calls(), Contains("removeNetwork lab1"));
  ASSERT_NE(links_.link("labbr1"), nullptr);
  EXPECT_NE(links_.link("labbr1")->info.ifindex, leftover);
  EXPECT_TRUE(m().status("lab1")->active);
  auto again = StateStore::open(dir_ + "/vnet.db");
  ASSERT_TRUE(again.ok());
  EXPECT_THAT(*again->interruptedStarts(), IsEmpty());
}

TEST_F(RepairTest, AnInterruptedStartOfANetworkNotAutostartedLeavesItStopped) {
  m();
  ASSERT_TRUE(m().define(kLab1).ok());
  const std::string xml = config::formatNetworkXml(**m().definition("lab1", true));
  manager_.reset();
  {
    auto state = StateStore::open(dir_ + "/vnet.db");
    ASSERT_TRUE(state.ok());
    ASSERT_TRUE(state->setStarting({"lab1", xml, true}).ok());
  }
  ASSERT_TRUE(links_.addBridge({"labbr1", std::nullopt, std::nullopt, true, 0}).ok());
  restart();
  EXPECT_EQ(links_.link("labbr1"), nullptr);
  EXPECT_FALSE(m().status("lab1")->active);
  EXPECT_TRUE(m().start("lab1").ok());
}

TEST_F(RepairTest, AStartDoesNotTakeOverABridgeThatIsNotOurs) {
  m();
  ASSERT_TRUE(m().define(kLab1).ok());
  ASSERT_TRUE(links_.addBridge({"labbr1", std::nullopt, std::nullopt, true, 0}).ok());
  Status s = m().start("lab1");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message(), HasSubstr("a bridge named labbr1 already exists"));
  auto state = StateStore::open(dir_ + "/vnet.db");
  ASSERT_TRUE(state.ok());
  EXPECT_THAT(*state->interruptedStarts(), IsEmpty());
}

// --- Repairer: events -> reconcile, on a real io_context with short timers ---

class RepairerTest : public RepairTest {
 protected:
  Repairer& repairer() {
    if (!repairer_) {
      Repairer::Options o;
      o.settle = 20ms;
      o.poll = 30ms;
      o.retry = 50ms;
      o.selfPid = 4242;
      repairer_ = std::make_unique<Repairer>(io_, m(), links_, o);
    }
    return *repairer_;
  }
  void runFor(std::chrono::milliseconds d) {
    io_.restart();
    io_.run_for(d);
  }
  static kernel::TableEvent tableEvent(int pid) {
    kernel::TableEvent e;
    e.pid = pid;
    e.process = "nft";
    e.changes = {"deleted rule in chain default_fwd_in"};
    return e;
  }
  void TearDown() override {
    repairer_.reset();
    RepairTest::TearDown();
  }

  boost::asio::io_context io_;
  std::unique_ptr<Repairer> repairer_;
};

TEST_F(RepairerTest, ABurstOfTableEventsIsOneCheckAndOneRepair) {
  repairer();
  fw_.forget("default");  // as `nft flush ruleset` does
  fw_.clearCalls();
  for (int i = 0; i < 50; ++i) repairer().onTable(tableEvent(999));
  runFor(150ms);
  EXPECT_THAT(fw_.calls(), ElementsAre("verify", "addNetwork default"));
  EXPECT_EQ(repairs("default"), 1u);
  EXPECT_THAT(repaired_, ElementsAre(HasSubstr("(table inet vnet changed by nft (pid 999))")));
}

TEST_F(RepairerTest, OurOwnTransactionsAreNotChecked) {
  repairer();
  fw_.clearCalls();
  repairer().onTable(tableEvent(4242));
  runFor(80ms);
  EXPECT_THAT(fw_.calls(), IsEmpty());
}

TEST_F(RepairerTest, LinkAndAddressEventsReachTheirNetwork) {
  const std::string port = addVeth();
  repairer();
  const int index = bridgeIndex();
  // Unrelated interfaces are not checked.
  links_.clearCalls();
  repairer().onLink({false, 77, "eth0", false, 0});
  repairer().onAddress({true, 77, kDefaultAddress});
  runFor(60ms);
  EXPECT_THAT(links_.calls(), Not(Contains("addresses vnbr0")));

  ASSERT_TRUE(links_.setUp("vnbr0", false).ok());
  repairer().onLink({false, index, "vnbr0", false, 0});
  runFor(60ms);
  EXPECT_TRUE(links_.link("vnbr0")->info.up);

  ASSERT_TRUE(links_.deleteAddress("vnbr0", kDefaultAddress).ok());
  repairer().onAddress({true, index, kDefaultAddress});
  runFor(60ms);
  EXPECT_THAT(links_.link("vnbr0")->addresses, ElementsAre(kDefaultAddress));

  ASSERT_TRUE(links_.setMaster(port, "").ok());
  repairer().onLink({false, links_.link(port)->info.ifindex, port, true, 0});
  runFor(60ms);
  EXPECT_EQ(links_.link(port)->info.masterIndex, index);
  EXPECT_EQ(repairs("default"), 3u);
}

TEST_F(RepairerTest, InterfacesOthersPutOnTheBridgeArePublishedAsAdoptedPorts) {
  EventBus bus;
  m().setEventBus(&bus);
  const std::string ours = addVeth();
  repairer();
  const int index = bridgeIndex();
  // A tap that libvirt/QEMU made and enslaved, as port-list shows it.
  kernel::TapSpec tap;
  tap.name = "vnet7";
  tap.master = "vnbr0";
  ASSERT_TRUE(links_.addTap(tap).ok());
  const int tapIndex = links_.link("vnet7")->info.ifindex;
  auto portEvents = [&] {
    std::vector<std::string> out;
    for (const auto& e : bus.recent("default", 100)) {
      if (e.type != event_type::kPortAdded && e.type != event_type::kPortRemoved) continue;
      std::string line = e.type;
      for (const auto& [k, v] : e.details) line += " " + k + "=" + v;
      out.push_back(line);
    }
    return out;
  };
  repairer().onLink({false, tapIndex, "vnet7", true, index});
  repairer().onLink({false, tapIndex, "vnet7", true, index});  // a second event: no repeat
  repairer().onLink({false, links_.link(ours)->info.ifindex, ours, true, index});  // ours
  repairer().onLink({false, 78, "eth1", true, 0});         // not on our bridge
  repairer().onLink({false, tapIndex, "vnet7", true, 0});  // taken off the bridge
  repairer().onLink({true, tapIndex, "vnet7", false, 0});  // then deleted
  // Back on, then deleted while on it.
  repairer().onLink({false, tapIndex, "vnet7", true, index});
  repairer().onLink({true, tapIndex, "vnet7", false, 0});
  runFor(60ms);
  EXPECT_THAT(portEvents(),
              ElementsAre(HasSubstr("port.added port=" + ours),
                          "port.added port=vnet7 kind=adopted", "port.removed port=vnet7",
                          "port.added port=vnet7 kind=adopted", "port.removed port=vnet7"));
  EXPECT_EQ(repairs("default"), 0u);
  m().setEventBus(nullptr);
}

TEST_F(RepairerTest, ADeletedBridgeIsFollowedByItsNewIfindex) {
  repairer();
  ASSERT_TRUE(links_.deleteLink("vnbr0").ok());
  repairer().onLink({true, 5, "vnbr0", false, 0});
  runFor(60ms);
  ASSERT_NE(links_.link("vnbr0"), nullptr);
  const int fresh = bridgeIndex();
  repairer().onLink({false, fresh, "vnbr0", true, 0});  // our own recreation's event
  ASSERT_TRUE(links_.deleteAddress("vnbr0", kDefaultAddress).ok());
  repairer().onAddress({true, fresh, kDefaultAddress});
  runFor(60ms);
  EXPECT_THAT(links_.link("vnbr0")->addresses, ElementsAre(kDefaultAddress));
  EXPECT_EQ(repairs("default"), 2u);
}

TEST_F(RepairerTest, LostEventsCheckEverything) {
  repairer();
  fw_.forget("default");
  ASSERT_TRUE(links_.setUp("vnbr0", false).ok());
  repairer().onEventsLost("nftables");
  runFor(60ms);
  EXPECT_TRUE(links_.link("vnbr0")->info.up);
  EXPECT_TRUE(fw_.isActive("default"));
  EXPECT_EQ(repairs("default"), 2u);
}

TEST_F(RepairerTest, ForwardingIsPolled) {
  repairer().start();
  ASSERT_TRUE(links_.setSysctl("net/ipv4/ip_forward", "0").ok());
  runFor(100ms);
  EXPECT_EQ(links_.sysctls().at("net/ipv4/ip_forward"), "1");
  EXPECT_EQ(repairs("default"), 1u);
}

TEST_F(RepairerTest, AFailedRepairIsTriedAgain) {
  repairer();
  fw_.forget("default");
  fw_.failNext(Error("batch refused"));
  repairer().onTable(tableEvent(999));
  runFor(150ms);
  EXPECT_TRUE(fw_.isActive("default"));
  EXPECT_EQ(repairs("default"), 1u);
}

}  // namespace
}  // namespace vnet::daemon
