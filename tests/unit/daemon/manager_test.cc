// Manager + Datapath against FakeLinks/FakeFirewall, with real definition and state stores
// in a temp dir.
#include "daemon/manager.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <filesystem>

#include "testing/fake_firewall.h"
#include "testing/fake_links.h"

namespace vnet::daemon {
namespace {

namespace fs = std::filesystem;

const char* kLab1 = R"(<network>
  <name>lab1</name>
  <forward mode='nat'/>
  <bridge name='labbr1'/>
  <ip address='10.77.0.1' prefix='24'>
    <dhcp><range start='10.77.0.100' end='10.77.0.199'/></dhcp>
  </ip>
</network>)";

class ManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vnet-manager-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    manager_.reset();
    fs::remove_all(dir_);
  }

  Manager& manager() {
    if (!manager_) {
      auto state = StateStore::open(dir_ + "/vnet.db");
      EXPECT_TRUE(state.ok()) << state.error().message();
      manager_ = std::make_unique<Manager>(links_, fw_, services_, DefinitionStore(dir_ + "/etc"),
                                           std::move(*state));
    }
    return *manager_;
  }
  // Simulates a vnetd restart: a new Manager over the same dirs and the same kernel.
  Manager& restart() {
    manager_.reset();
    Manager& m = manager();
    Status s = m.load();
    EXPECT_TRUE(s.ok()) << s.error().message();
    return m;
  }
  std::vector<std::string> configFiles() const {
    std::vector<std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(dir_ + "/etc")) {
      out.push_back(e.path().string());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  testing::FakeLinks links_;
  testing::FakeFirewall fw_;
  NoServices services_;
  std::string dir_;
  std::unique_ptr<Manager> manager_;
};

TEST_F(ManagerTest, FirstStartDefinesAndStartsDefault) {
  ASSERT_TRUE(manager().load().ok());
  auto list = manager().list(true);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].name, "default");
  EXPECT_TRUE(list[0].active);
  EXPECT_TRUE(list[0].autostart);
  EXPECT_EQ(list[0].bridge, "vnbr0");
  EXPECT_EQ(list[0].mode, "nat");
  const auto* br = links_.link("vnbr0");
  ASSERT_NE(br, nullptr);
  EXPECT_TRUE(br->info.up);
  ASSERT_EQ(br->addresses.size(), 1u);
  EXPECT_EQ(br->addresses[0].toString(), "192.168.122.1/24");
  EXPECT_TRUE(fw_.isActive("default"));
  EXPECT_EQ(links_.sysctls().at("net/ipv4/ip_forward"), "1");
  EXPECT_EQ(links_.sysctls().at("net/ipv6/conf/vnbr0/disable_ipv6"), "1");
  EXPECT_TRUE(fs::exists(dir_ + "/etc/networks/default.xml"));
  EXPECT_TRUE(fs::exists(dir_ + "/etc/networks/autostart/default"));
}

TEST_F(ManagerTest, DefaultMovesToTheFirstFreeSubnet) {
  kernel::LinkInfo eth1;
  eth1.name = "eth1";
  eth1.up = true;
  links_.addExternalLink(eth1);
  ASSERT_TRUE(links_.addAddress("eth1", *Cidr::parse("192.168.122.5/24")).ok());
  ASSERT_TRUE(manager().load().ok());
  auto def = manager().definition("default", false);
  ASSERT_TRUE(def.ok());
  ASSERT_EQ((*def)->ips.size(), 1u);
  EXPECT_EQ((*def)->ips[0].cidr().toString(), "192.168.123.1/24");
  EXPECT_EQ((*def)->ips[0].ranges[0].start.toString(), "192.168.123.2");
}

TEST_F(ManagerTest, DefineStartDestroyUndefine) {
  ASSERT_TRUE(manager().load().ok());
  auto s = manager().define(kLab1);
  ASSERT_TRUE(s.ok()) << s.error().message();
  EXPECT_FALSE(s->active);
  EXPECT_FALSE(s->uuid.empty());
  EXPECT_EQ(links_.link("labbr1"), nullptr);
  ASSERT_TRUE(manager().start("lab1").ok());
  EXPECT_NE(links_.link("labbr1"), nullptr);
  EXPECT_TRUE(fw_.isActive("lab1"));
  ASSERT_TRUE(manager().destroy("lab1").ok());
  EXPECT_EQ(links_.link("labbr1"), nullptr);
  EXPECT_FALSE(fw_.isActive("lab1"));
  ASSERT_TRUE(manager().undefine("lab1").ok());
  EXPECT_FALSE(manager().status("lab1").ok());
  EXPECT_EQ(manager().status("lab1").error().code(), ErrorCode::NotFound);
}

TEST_F(ManagerTest, InvalidDefinitionChangesNothing) {
  ASSERT_TRUE(manager().load().ok());
  auto before = configFiles();
  links_.clearCalls();
  auto s = manager().define(R"(<network><name>bad</name><forward mode='nat'/>
<ip address='10.79.0.1' prefix='24'><dhcp><range start='10.80.0.2' end='10.80.0.9'/></dhcp></ip>
</network>)");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::Invalid);
  EXPECT_NE(s.error().message().find("range"), std::string::npos) << s.error().message();
  EXPECT_EQ(configFiles(), before);
  EXPECT_TRUE(links_.mutatingCalls().empty());
  EXPECT_EQ(manager().list(true).size(), 1u);
}

TEST_F(ManagerTest, OverlappingSubnetIsAConflict) {
  ASSERT_TRUE(manager().load().ok());
  std::string clash = kLab1;
  for (size_t at; (at = clash.find("10.77.0.")) != std::string::npos;)
    clash.replace(at, 8, "192.168.122.");
  auto s = manager().define(clash);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::Conflict);
  EXPECT_NE(s.error().message().find("default"), std::string::npos) << s.error().message();
}

TEST_F(ManagerTest, FailedStartUndoesEverything) {
  ASSERT_TRUE(manager().load().ok());
  ASSERT_TRUE(manager().define(kLab1).ok());
  links_.failOn("addAddress", "labbr1", Error::fromErrno("adding", EEXIST));
  links_.clearCalls();
  Status s = manager().start("lab1");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(
      s.error().message().find("starting network 'lab1': adding address 10.77.0.1/24 to labbr1"),
      std::string::npos)
      << s.error().message();
  EXPECT_EQ(links_.link("labbr1"), nullptr);
  EXPECT_FALSE(fw_.isActive("lab1"));
  EXPECT_FALSE(manager().status("lab1")->active);
}

TEST_F(ManagerTest, FirewallFailureRollsBackLinks) {
  ASSERT_TRUE(manager().load().ok());
  ASSERT_TRUE(manager().define(kLab1).ok());
  fw_.failNext(Error("Error: Could not process rule: No such file or directory"));
  Status s = manager().start("lab1");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("adding firewall rules"), std::string::npos);
  EXPECT_EQ(links_.link("labbr1"), nullptr);
}

TEST_F(ManagerTest, RefusesARoutedSubnetWithoutTouchingAnything) {
  kernel::LinkInfo eth1;
  eth1.name = "eth1";
  eth1.up = true;
  links_.addExternalLink(eth1);
  ASSERT_TRUE(links_.addAddress("eth1", *Cidr::parse("10.77.0.5/16")).ok());
  ASSERT_TRUE(manager().load().ok());
  ASSERT_TRUE(manager().define(kLab1).ok());
  links_.clearCalls();
  Status s = manager().start("lab1");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("10.77.0.0/24 is already routed on eth1"), std::string::npos)
      << s.error().message();
  EXPECT_TRUE(links_.mutatingCalls().empty());
}

TEST_F(ManagerTest, RefusesABridgeNameTakenByANonBridge) {
  kernel::LinkInfo other;
  other.name = "labbr1";
  other.kind = "dummy";
  links_.addExternalLink(other);
  ASSERT_TRUE(manager().load().ok());
  ASSERT_TRUE(manager().define(kLab1).ok());
  links_.clearCalls();
  Status s = manager().start("lab1");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("taken by a device that is not a bridge"), std::string::npos);
  EXPECT_TRUE(links_.mutatingCalls().empty());
}

TEST_F(ManagerTest, RefusesUnsupportedElements) {
  ASSERT_TRUE(manager().load().ok());
  std::string xml = kLab1;
  xml.replace(xml.find("</network>"), 10, "  <portgroup name='x'/>\n</network>");
  auto defined = manager().define(xml);
  ASSERT_TRUE(defined.ok()) << defined.error().message();
  links_.clearCalls();
  Status s = manager().start("lab1");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::Unsupported);
  EXPECT_NE(s.error().message().find("not supported yet: "), std::string::npos);
  EXPECT_NE(s.error().message().find("network/portgroup (line 8)"), std::string::npos)
      << s.error().message();
  EXPECT_TRUE(links_.mutatingCalls().empty());
}

TEST_F(ManagerTest, RestartAdoptsWithoutRecreating) {
  ASSERT_TRUE(manager().load().ok());
  ASSERT_TRUE(manager().define(kLab1).ok());
  ASSERT_TRUE(manager().start("lab1").ok());
  std::string uuid = manager().status("lab1")->uuid;
  links_.clearCalls();
  Manager& m = restart();
  for (const auto& c : links_.mutatingCalls()) {
    EXPECT_EQ(c.rfind("addBridge", 0), std::string::npos) << "recreated: " << c;
  }
  EXPECT_TRUE(m.status("lab1")->active);
  EXPECT_EQ(m.status("lab1")->uuid, uuid);
  EXPECT_TRUE(m.status("default")->active);
}

TEST_F(ManagerTest, TransientNetworksVanishWhenDestroyed) {
  ASSERT_TRUE(manager().load().ok());
  auto s = manager().create(kLab1);
  ASSERT_TRUE(s.ok()) << s.error().message();
  EXPECT_TRUE(s->active);
  EXPECT_FALSE(s->persistent);
  EXPECT_FALSE(fs::exists(dir_ + "/etc/networks/lab1.xml"));
  Manager& m = restart();
  ASSERT_TRUE(m.status("lab1").ok());
  ASSERT_TRUE(m.destroy("lab1").ok());
  EXPECT_FALSE(m.status("lab1").ok());
}

TEST_F(ManagerTest, TapPortsFollowLibvirtNamingAndMacRule) {
  ASSERT_TRUE(manager().load().ok());
  PortRequest req;
  req.network = "default";
  req.mac = Mac::parse("52:54:00:12:34:56");
  req.owner = 1000;
  auto p0 = manager().addPort(req);
  ASSERT_TRUE(p0.ok()) << p0.error().message();
  EXPECT_EQ(p0->name, "vnet0");
  EXPECT_EQ(p0->hostMac.toString(), "fe:54:00:12:34:56");
  const auto* tap = links_.link("vnet0");
  ASSERT_NE(tap, nullptr);
  ASSERT_TRUE(tap->tap.has_value());
  EXPECT_EQ(tap->tap->owner, 1000u);
  EXPECT_EQ(tap->tap->master, "vnbr0");
  req.mac.reset();
  auto p1 = manager().addPort(req);
  ASSERT_TRUE(p1.ok());
  EXPECT_EQ(p1->name, "vnet1");
  ASSERT_TRUE(manager().removePort("default", "vnet1").ok());
  auto p2 = manager().addPort(req);
  ASSERT_TRUE(p2.ok());
  EXPECT_EQ(p2->name, "vnet2") << "numbers are not reused right away";
  auto ports = manager().ports("default");
  ASSERT_TRUE(ports.ok());
  EXPECT_EQ(ports->size(), 2u);
}

TEST_F(ManagerTest, VethPortsGoIntoTheNamespace) {
  ASSERT_TRUE(manager().load().ok());
  PortRequest req;
  req.network = "default";
  req.tap = false;
  req.netns = "guest1";
  auto p = manager().addPort(req);
  ASSERT_TRUE(p.ok()) << p.error().message();
  ASSERT_TRUE(links_.vethPeers().count("/run/netns/guest1"));
  EXPECT_TRUE(links_.vethPeers().at("/run/netns/guest1").count("eth0"));
  EXPECT_EQ(links_.link(p->name)->info.masterIndex, links_.link("vnbr0")->info.ifindex);
}

TEST_F(ManagerTest, DestroyRemovesPorts) {
  ASSERT_TRUE(manager().load().ok());
  PortRequest req;
  req.network = "default";
  ASSERT_TRUE(manager().addPort(req).ok());
  ASSERT_TRUE(manager().destroy("default").ok());
  EXPECT_EQ(links_.link("vnet0"), nullptr);
  EXPECT_EQ(links_.link("vnbr0"), nullptr);
  ASSERT_TRUE(manager().start("default").ok());
  EXPECT_TRUE(manager().ports("default")->empty());
}

TEST_F(ManagerTest, PortsOnInactiveNetworksAreRefused) {
  ASSERT_TRUE(manager().load().ok());
  ASSERT_TRUE(manager().define(kLab1).ok());
  PortRequest req;
  req.network = "lab1";
  auto p = manager().addPort(req);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code(), ErrorCode::Conflict);
}

TEST_F(ManagerTest, UndefiningAnActiveNetworkMakesItTransient) {
  ASSERT_TRUE(manager().load().ok());
  ASSERT_TRUE(manager().undefine("default").ok());
  auto s = manager().status("default");
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->active);
  EXPECT_FALSE(s->persistent);
  ASSERT_TRUE(manager().destroy("default").ok());
  EXPECT_FALSE(manager().status("default").ok());
}

}  // namespace
}  // namespace vnet::daemon
