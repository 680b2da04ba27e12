// Transactions: a start that fails at any step leaves the kernel, the state and the services
// as they were; a net-update that fails at any step (validation, services, state, the
// definition file) changes nothing; a refused port-add leaves nothing behind.
// Manager + Datapath over FakeLinks/FakeFirewall/FakeServices with real stores in a temp dir.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/xml.h"
#include "daemon/manager.h"
#include "testing/fake_firewall.h"
#include "testing/fake_links.h"
#include "testing/fake_services.h"

namespace vnet::daemon {
namespace {

namespace fs = std::filesystem;

// Many steps: bridge, IPv4 and IPv6 addresses, sysctls of both families, a route, both
// forwarding knobs, the firewall, then the services.
const char* kBig = R"(<network>
  <name>big</name>
  <forward mode='nat'/>
  <bridge name='bigbr'/>
  <mtu size='9000'/>
  <ip address='10.40.0.1' prefix='24'>
    <dhcp>
      <range start='10.40.0.100' end='10.40.0.199'/>
      <host mac='52:54:00:00:00:01' name='a' ip='10.40.0.10'/>
    </dhcp>
  </ip>
  <ip family='ipv6' address='fd00:40::1' prefix='64'/>
  <route address='10.41.0.0' prefix='24' gateway='10.40.0.2'/>
</network>
)";

std::string readFile(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class TransactionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vnet-transaction-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    // Forwarding off, as on a fresh host: a failed start must leave it off.
    ASSERT_TRUE(links_.setSysctl("net/ipv4/ip_forward", "0").ok());
    ASSERT_TRUE(links_.setSysctl("net/ipv6/conf/all/forwarding", "0").ok());
    kernel::LinkInfo eth0;
    eth0.name = "eth0";
    eth0.up = true;
    links_.addExternalLink(eth0);
    ASSERT_TRUE(links_.addAddress("eth0", *Cidr::parse("203.0.113.2/24")).ok());
    auto state = StateStore::open(dir_ + "/vnet.db");
    ASSERT_TRUE(state.ok()) << state.error().message();
    manager_ = std::make_unique<Manager>(links_, fw_, services_, DefinitionStore(dir_ + "/etc"),
                                         std::move(*state));
    // Something defined, so that load() does not define the default network.
    fs::create_directories(dir_ + "/etc/networks");
    std::ofstream(dir_ + "/etc/networks/big.xml") << kBig;
    ASSERT_TRUE(manager_->load().ok());
  }
  void TearDown() override {
    manager_.reset();
    fs::remove_all(dir_);
  }

  // The fake kernel as text: links with their addresses, routes, sysctls, firewall.
  std::string kernelState() {
    std::ostringstream out;
    auto links = links_.listLinks();
    for (const auto& l : *links) {
      out << l.name << " " << l.kind << " up=" << l.up << " master=" << l.masterIndex;
      for (const auto& a : links_.link(l.name)->addresses) out << " " << a.toString();
      out << "\n";
    }
    auto routes = links_.routes();
    for (const auto& r : *routes) {
      out << "route " << r.destination.toString() << " dev " << r.device << "\n";
    }
    for (const auto& [k, v] : links_.sysctls()) out << k << "=" << v << "\n";
    out << *fw_.listTable();
    return out.str();
  }
  std::string recordedState() {
    auto state = StateStore::open(dir_ + "/vnet.db");
    std::ostringstream out;
    auto active = state->activeNetworks();
    for (const auto& a : *active) out << a.name << "\n" << a.xml;
    auto ports = state->ports();
    for (const auto& p : *ports) out << "port " << p.name << "\n";
    return out.str();
  }
  std::string servicesState() {
    std::ostringstream out;
    for (const auto& [name, net] : services_.running()) {
      out << name << "\n" << config::formatNetworkXml(net);
    }
    return out.str();
  }
  std::string everything() {
    return kernelState() + "--\n" + recordedState() + "--\n" + servicesState() + "--\n" +
           readFile(dir_ + "/etc/networks/big.xml") + "--\n" +
           config::formatNetworkXml(**manager_->definition("big", false)) +
           config::formatNetworkXml(**manager_->definition("big", true));
  }

  testing::FakeLinks links_;
  testing::FakeFirewall fw_;
  testing::FakeServices services_;
  std::string dir_;
  std::unique_ptr<Manager> manager_;
};

TEST_F(TransactionTest, StartFailingAtAnyKernelStepLeavesNothing) {
  const std::string before = kernelState();
  const std::string stateBefore = recordedState();
  int failures = 0;
  for (size_t n = 1;; ++n) {
    SCOPED_TRACE("links call " + std::to_string(n) + " fails");
    ASSERT_LT(n, 200u) << "start never got through";
    links_.failNthCall(n, Error::fromErrno("injected", EIO));
    size_t callsBefore = links_.calls().size();
    Status s = manager_->start("big");
    size_t calls = links_.calls().size() - callsBefore;
    links_.clearFailures();
    if (s.ok()) {
      // Done when the start made fewer calls than n: every call has failed once. A
      // failure the start may tolerate (reading a sysctl) gives a working network.
      if (calls < n) break;
      EXPECT_TRUE(fw_.isActive("big"));
      ASSERT_TRUE(manager_->destroy("big").ok());
      ASSERT_TRUE(links_.setSysctl("net/ipv4/ip_forward", "0").ok());
      ASSERT_TRUE(links_.setSysctl("net/ipv6/conf/all/forwarding", "0").ok());
      continue;
    }
    ++failures;
    EXPECT_NE(s.error().message().find("starting network 'big'"), std::string::npos)
        << s.error().message();
    EXPECT_EQ(kernelState(), before) << s.error().message();
    EXPECT_EQ(recordedState(), stateBefore);
    EXPECT_TRUE(services_.running().empty());
    EXPECT_FALSE(manager_->status("big")->active);
  }
  // Every kernel call of a start was tried as the failing one (bridge, sysctls, three
  // addresses... the exact number is the datapath's business, but it is not small).
  EXPECT_GE(failures, 12);
  EXPECT_TRUE(manager_->status("big")->active);
  EXPECT_EQ(links_.sysctls().at("net/ipv4/ip_forward"), "1");
}

TEST_F(TransactionTest, FirewallFailureUndoesTheKernelSteps) {
  const std::string before = kernelState();
  fw_.failNext(Error("Error: Could not process rule: No such file or directory"));
  Status s = manager_->start("big");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("adding firewall rules"), std::string::npos);
  EXPECT_EQ(kernelState(), before);
  EXPECT_EQ(links_.sysctls().at("net/ipv4/ip_forward"), "0");
}

TEST_F(TransactionTest, ServicesFailureUndoesTheDatapath) {
  const std::string before = kernelState();
  services_.failNextStart(Error::fromErrno("DHCP server on bigbr: binding 0.0.0.0:67", EADDRINUSE));
  Status s = manager_->start("big");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("Address already in use"), std::string::npos)
      << s.error().message();
  EXPECT_EQ(kernelState(), before);
  EXPECT_EQ(recordedState(), "");
  EXPECT_FALSE(manager_->status("big")->active);
  // And nothing is stuck: the next start works.
  ASSERT_TRUE(manager_->start("big").ok());
}

TEST_F(TransactionTest, UndoErrorsAreReportedWithTheCause) {
  links_.failOn("addRoute", "bigbr", Error::fromErrno("adding route", EEXIST));
  links_.failOn("deleteLink", "bigbr", Error::fromErrno("deleting bigbr", EBUSY));
  Status s = manager_->start("big");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("network/route[1] (line 13): adding route"), std::string::npos)
      << s.error().message();
  EXPECT_NE(s.error().message().find("while undoing: deleting bigbr"), std::string::npos)
      << s.error().message();
}

class UpdateTest : public TransactionTest {
 protected:
  void SetUp() override {
    TransactionTest::SetUp();
    ASSERT_TRUE(manager_->start("big").ok());
    services_.clearCalls();
  }
  UpdateRequest addHost() {
    return UpdateRequest{"add", "ip-dhcp-host",
                         "<host mac='52:54:00:00:00:02' name='b' ip='10.40.0.11'/>", -1};
  }
};

TEST_F(UpdateTest, ValidationFailureTouchesNothing) {
  const std::string before = everything();
  Status s = manager_->update(
      "big", {"add", "ip-dhcp-host", "<host mac='52:54:00:00:00:02' ip='10.99.0.11'/>", -1});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message(),
            "updating network 'big': network/ip[1]/dhcp/host[2]: ip 10.99.0.11 is outside "
            "10.40.0.0/24");
  EXPECT_TRUE(services_.calls().empty());
  EXPECT_EQ(everything(), before);
}

TEST_F(UpdateTest, ServicesFailureChangesNothing) {
  const std::string before = everything();
  services_.failNextReconfigure(Error("DNS service: binding 10.40.0.1:53: Address in use"));
  Status s = manager_->update("big", addHost());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("updating network 'big': DNS service"), std::string::npos);
  EXPECT_EQ(everything(), before);
}

TEST_F(UpdateTest, DefinitionWriteFailureRestoresServicesAndState) {
  const std::string before = everything();
  // Even root cannot write a file where a directory is.
  fs::create_directories(dir_ + "/etc/networks/big.xml.tmp");
  Status s = manager_->update("big", addHost());
  fs::remove_all(dir_ + "/etc/networks/big.xml.tmp");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("big.xml.tmp"), std::string::npos) << s.error().message();
  // The services were changed, then changed back.
  EXPECT_EQ(services_.calls(), (std::vector<std::string>{"reconfigure big", "reconfigure big"}));
  EXPECT_EQ(everything(), before);
}

TEST_F(UpdateTest, SuccessChangesAllThree) {
  ASSERT_TRUE(manager_->update("big", addHost()).ok());
  EXPECT_NE(readFile(dir_ + "/etc/networks/big.xml").find("52:54:00:00:00:02"), std::string::npos);
  EXPECT_NE(recordedState().find("52:54:00:00:00:02"), std::string::npos);
  EXPECT_NE(servicesState().find("52:54:00:00:00:02"), std::string::npos);
}

TEST_F(UpdateTest, RefusedPortAddLeavesNothing) {
  const std::string before = everything();
  PortRequest bad;
  bad.network = "big";
  bad.tap = false;  // veth without a netns
  auto p = manager_->addPort(bad);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(everything(), before);
  PortRequest tap;
  tap.network = "big";
  links_.failOn("addTap", "", Error::fromErrno("creating tap", EPERM));
  p = manager_->addPort(tap);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(everything(), before);
}

}  // namespace
}  // namespace vnet::daemon
