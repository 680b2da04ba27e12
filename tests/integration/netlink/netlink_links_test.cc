// NetlinkLinks against the real kernel. The whole test process moves into a private
// network namespace before the first test runs, and into a fresh one before each test
// (every `ip` it starts inherits it), so nothing here can touch the machine's own
// namespace; the namespaces go away with the process. Needs root; skips without it,
// except under CI=true where that is a failure.
#include "kernel/netlink/netlink_links.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

extern char** environ;

namespace vnet::kernel {
namespace {

using nlohmann::json;
using ::testing::StartsWith;

// Set by the environment: true once the process is in a private namespace, otherwise
// why it could not get there.
bool gInPrivateNetns = false;
std::string gNoNetnsReason;

bool inCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string_view(ci) == "true";
}

// Moves the process into a fresh network namespace once, before any test runs. Not run
// for --gtest_list_tests, so test discovery works unprivileged and unisolated. Tests
// skip (or fail, under CI=true) in their fixture, so that CTest reports each one.
class PrivateNetnsEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    if (geteuid() != 0) {
      gNoNetnsReason = "not root";
    } else if (unshare(CLONE_NEWNET) != 0) {
      gNoNetnsReason = std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno);
    } else {
      gInPrivateNetns = true;
    }
  }
};

[[maybe_unused]] ::testing::Environment* const kNetnsEnvironment =
    ::testing::AddGlobalTestEnvironment(new PrivateNetnsEnvironment);

// Runs a shell command (in this process's namespace) and returns its stdout.
std::string run(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  ::pclose(pipe);
  return out;
}

// `ip -d -j <args>` parsed; an empty array when ip printed nothing parseable.
json ip(const std::string& args) {
  json j = json::parse(run("ip -d -j " + args + " 2>/dev/null"), nullptr, false);
  return j.is_discarded() ? json::array() : j;
}

std::string readLink(const std::string& path) {
  char buf[256];
  const ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
  return n < 0 ? std::string() : std::string(buf, static_cast<size_t>(n));
}

// A second network namespace, held by a child `unshare -n sleep 60`; killed (by PID)
// and reaped on destruction.
class ScratchNetns {
 public:
  ScratchNetns() {
    const char* argv[] = {"unshare", "-n", "sleep", "60", nullptr};
    if (posix_spawnp(&pid_, "unshare", nullptr, nullptr, const_cast<char**>(argv), environ) != 0) {
      pid_ = -1;
      return;
    }
    const std::string ours = readLink("/proc/self/ns/net");
    for (int i = 0; i < 500; ++i) {  // until the child has unshared
      const std::string theirs = readLink(path());
      if (!theirs.empty() && theirs != ours) {
        ready_ = true;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  ~ScratchNetns() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  ScratchNetns(const ScratchNetns&) = delete;
  ScratchNetns& operator=(const ScratchNetns&) = delete;

  bool ready() const { return ready_; }
  std::string path() const { return "/proc/" + std::to_string(pid_) + "/ns/net"; }
  // `ip -d -j <args>` inside this namespace.
  json ip(const std::string& args) const {
    json j = json::parse(run("nsenter --net=" + path() + " ip -d -j " + args + " 2>/dev/null"),
                         nullptr, false);
    return j.is_discarded() ? json::array() : j;
  }

 private:
  pid_t pid_ = -1;
  bool ready_ = false;
};

Mac mac(const char* text) {
  return *Mac::parse(text);
}
Cidr cidr(const char* text) {
  return *Cidr::parse(text);
}

bool hasFlag(const json& link, const char* flag) {
  for (const auto& f : link.value("flags", json::array())) {
    if (f == flag) return true;
  }
  return false;
}

class NetlinkLinksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!gInPrivateNetns) {
      const std::string message =
          "netlink integration tests need root with CAP_NET_ADMIN and CAP_SYS_ADMIN (" +
          gNoNetnsReason + ")";
      if (inCi()) FAIL() << message << "; CI=true, so this is a failure, not a skip";
      GTEST_SKIP() << message;
    }
    // A fresh namespace per test, also when all tests run in one process.
    ASSERT_EQ(unshare(CLONE_NEWNET), 0) << std::strerror(errno);
    auto made = makeNetlinkLinks();
    ASSERT_TRUE(made.ok()) << made.error().message();
    links_ = std::move(made).value();
  }

  BridgeSpec bridge(const std::string& name = "vnbr0") {
    BridgeSpec spec;
    spec.name = name;
    spec.stp = false;
    return spec;
  }
  void addBridgeUp(const std::string& name, const char* address) {
    ASSERT_TRUE(links_->addBridge(bridge(name)).ok());
    ASSERT_TRUE(links_->addAddress(name, cidr(address)).ok());
    ASSERT_TRUE(links_->setUp(name, true).ok());
  }
  int ifindex(const std::string& name) {
    auto link = links_->findLink(name);
    return link.ok() && link->has_value() ? (*link)->ifindex : 0;
  }
  bool hasRoute(const RouteInfo& want) {
    auto routes = links_->routes();
    if (!routes.ok()) return false;
    for (const auto& r : *routes) {
      if (r.destination == want.destination && r.device == want.device &&
          r.gateway == want.gateway && (want.metric == 0 || r.metric == want.metric)) {
        return true;
      }
    }
    return false;
  }

  std::unique_ptr<Links> links_;
};

TEST_F(NetlinkLinksTest, BridgeIsCreatedDownWithMacMtuStpAndForwardDelay) {
  BridgeSpec spec = bridge();
  spec.mac = mac("52:54:00:12:34:56");
  spec.mtu = 1450;
  spec.stp = true;
  spec.forwardDelaySeconds = 4;
  Status s = links_->addBridge(spec);
  ASSERT_TRUE(s.ok()) << s.error().message();

  auto link = links_->findLink("vnbr0");
  ASSERT_TRUE(link.ok()) << link.error().message();
  ASSERT_TRUE(link->has_value());
  EXPECT_EQ((*link)->kind, "bridge");
  EXPECT_EQ((*link)->mac, *spec.mac);
  EXPECT_EQ((*link)->mtu, 1450u);
  EXPECT_FALSE((*link)->up);
  EXPECT_EQ((*link)->masterIndex, 0);

  json shown = ip("link show vnbr0");
  ASSERT_EQ(shown.size(), 1u);
  const json& data = shown[0]["linkinfo"]["info_data"];
  EXPECT_EQ(data["stp_state"], 1);
  EXPECT_EQ(data["forward_delay"], 400);  // clock_t units
  EXPECT_EQ(shown[0]["address"], "52:54:00:12:34:56");
  EXPECT_EQ(shown[0]["mtu"], 1450);
}

TEST_F(NetlinkLinksTest, BridgeTakesLibvirtDefaultsStpOnWithZeroDelay) {
  BridgeSpec spec = bridge();
  spec.stp = true;
  spec.forwardDelaySeconds = 0;
  Status s = links_->addBridge(spec);
  ASSERT_TRUE(s.ok()) << s.error().message();
  json data = ip("link show vnbr0")[0]["linkinfo"]["info_data"];
  EXPECT_EQ(data["stp_state"], 1);
  EXPECT_EQ(data["forward_delay"], 200) << "the kernel's STP raises the delay to its 2 s minimum";

  spec.name = "vnbr1";
  spec.stp = false;
  ASSERT_TRUE(links_->addBridge(spec).ok());
  data = ip("link show vnbr1")[0]["linkinfo"]["info_data"];
  EXPECT_EQ(data["stp_state"], 0);
  EXPECT_EQ(data["forward_delay"], 0);
}

TEST_F(NetlinkLinksTest, DuplicateBridgeFailsWithFileExists) {
  ASSERT_TRUE(links_->addBridge(bridge()).ok());
  Status s = links_->addBridge(bridge());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message(), "adding bridge vnbr0: File exists");
  EXPECT_EQ(s.error().sysErrno(), EEXIST);
}

TEST_F(NetlinkLinksTest, InvalidNameIsRejectedBeforeTheKernel) {
  Status s = links_->addBridge(bridge("a-name-that-is-too-long"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().sysErrno(), EINVAL);
  EXPECT_EQ(s.error().message(),
            "adding bridge a-name-that-is-too-long: invalid interface name "
            "'a-name-that-is-too-long': Invalid argument");
}

TEST_F(NetlinkLinksTest, DeleteLinkRemovesItAndFailsClearlyWhenMissing) {
  ASSERT_TRUE(links_->addBridge(bridge()).ok());
  ASSERT_TRUE(links_->deleteLink("vnbr0").ok());
  auto link = links_->findLink("vnbr0");
  ASSERT_TRUE(link.ok());
  EXPECT_FALSE(link->has_value());

  Status s = links_->deleteLink("vnbr0");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message(), "deleting link vnbr0: No such device");
  EXPECT_EQ(s.error().sysErrno(), ENODEV);
}

TEST_F(NetlinkLinksTest, ListLinksSeesLoopbackAndNewLinks) {
  ASSERT_TRUE(links_->addBridge(bridge()).ok());
  auto links = links_->listLinks();
  ASSERT_TRUE(links.ok()) << links.error().message();
  bool lo = false, br = false;
  for (const auto& l : *links) {
    lo = lo || l.name == "lo";
    br = br || (l.name == "vnbr0" && l.kind == "bridge");
  }
  EXPECT_TRUE(lo);
  EXPECT_TRUE(br);
}

TEST_F(NetlinkLinksTest, SetUpAndDown) {
  ASSERT_TRUE(links_->addBridge(bridge()).ok());
  ASSERT_TRUE(links_->setUp("vnbr0", true).ok());
  EXPECT_TRUE((*links_->findLink("vnbr0"))->up);
  EXPECT_TRUE(hasFlag(ip("link show vnbr0")[0], "UP"));
  ASSERT_TRUE(links_->setUp("vnbr0", false).ok());
  EXPECT_FALSE((*links_->findLink("vnbr0"))->up);
  // Other flags are untouched.
  EXPECT_TRUE(hasFlag(ip("link show vnbr0")[0], "MULTICAST"));

  Status s = links_->setUp("nosuch0", true);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message(), "setting nosuch0 up: No such device");
}

TEST_F(NetlinkLinksTest, AddressesAreAddedListedAndDeleted) {
  ASSERT_TRUE(links_->addBridge(bridge()).ok());
  Status s = links_->addAddress("vnbr0", cidr("192.168.122.1/24"));
  ASSERT_TRUE(s.ok()) << s.error().message();
  s = links_->addAddress("vnbr0", cidr("fd00:1::1/64"));
  ASSERT_TRUE(s.ok()) << s.error().message();

  auto addrs = links_->addresses("vnbr0");
  ASSERT_TRUE(addrs.ok()) << addrs.error().message();
  EXPECT_NE(std::find(addrs->begin(), addrs->end(), cidr("192.168.122.1/24")), addrs->end());
  EXPECT_NE(std::find(addrs->begin(), addrs->end(), cidr("fd00:1::1/64")), addrs->end());

  bool broadcast = false, nodad = false;
  const json shown = ip("addr show vnbr0");
  ASSERT_EQ(shown.size(), 1u);
  for (const auto& a : shown[0]["addr_info"]) {
    if (a["local"] == "192.168.122.1") broadcast = a.value("broadcast", "") == "192.168.122.255";
    if (a["local"] == "fd00:1::1") nodad = a.value("nodad", false);
  }
  EXPECT_TRUE(broadcast);
  EXPECT_TRUE(nodad);

  s = links_->addAddress("vnbr0", cidr("192.168.122.1/24"));
  ASSERT_FALSE(s.ok());
  // The kernel's extended-ack text, if any, follows in parentheses.
  EXPECT_THAT(s.error().message(),
              StartsWith("adding address 192.168.122.1/24 to vnbr0: File exists"));
  EXPECT_EQ(s.error().sysErrno(), EEXIST);

  ASSERT_TRUE(links_->deleteAddress("vnbr0", cidr("192.168.122.1/24")).ok());
  addrs = links_->addresses("vnbr0");
  ASSERT_TRUE(addrs.ok());
  EXPECT_EQ(std::find(addrs->begin(), addrs->end(), cidr("192.168.122.1/24")), addrs->end());

  s = links_->deleteAddress("vnbr0", cidr("192.168.122.1/24"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().sysErrno(), EADDRNOTAVAIL);
  EXPECT_THAT(s.error().message(), StartsWith("deleting address 192.168.122.1/24 from vnbr0: "));

  s = links_->addAddress("nosuch0", cidr("10.1.1.1/24"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message(), "adding address 10.1.1.1/24 to nosuch0: No such device");
}

TEST_F(NetlinkLinksTest, RoutesSeeTheConnectedRouteOnceTheBridgeIsUp) {
  ASSERT_TRUE(links_->addBridge(bridge()).ok());
  ASSERT_TRUE(links_->addAddress("vnbr0", cidr("192.168.122.1/24")).ok());
  RouteInfo connected;
  connected.destination = cidr("192.168.122.0/24");
  connected.device = "vnbr0";
  EXPECT_FALSE(hasRoute(connected));
  ASSERT_TRUE(links_->setUp("vnbr0", true).ok());
  EXPECT_TRUE(hasRoute(connected));
}

TEST_F(NetlinkLinksTest, RoutesAreAddedAndDeletedInBothFamilies) {
  addBridgeUp("vnbr0", "192.168.122.1/24");
  ASSERT_TRUE(links_->addAddress("vnbr0", cidr("fd00:1::1/64")).ok());

  RouteInfo via;
  via.destination = cidr("10.10.0.0/16");
  via.device = "vnbr0";
  via.gateway = *IpAddress::parse("192.168.122.2");
  via.metric = 7;
  Status s = links_->addRoute(via);
  ASSERT_TRUE(s.ok()) << s.error().message();
  EXPECT_TRUE(hasRoute(via));

  RouteInfo direct;
  direct.destination = cidr("10.20.0.0/16");
  direct.device = "vnbr0";
  ASSERT_TRUE(links_->addRoute(direct).ok());
  EXPECT_TRUE(hasRoute(direct));

  RouteInfo v6;
  v6.destination = cidr("fd00:2::/64");
  v6.device = "vnbr0";
  v6.gateway = *IpAddress::parse("fd00:1::2");
  s = links_->addRoute(v6);
  ASSERT_TRUE(s.ok()) << s.error().message();
  EXPECT_TRUE(hasRoute(v6));

  RouteInfo defaultRoute;
  defaultRoute.destination = cidr("0.0.0.0/0");
  defaultRoute.gateway = *IpAddress::parse("192.168.122.254");
  s = links_->addRoute(defaultRoute);
  ASSERT_TRUE(s.ok()) << s.error().message();
  defaultRoute.device = "vnbr0";  // resolved by the kernel from the gateway
  EXPECT_TRUE(hasRoute(defaultRoute));

  s = links_->addRoute(via);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message(),
              StartsWith("adding route 10.10.0.0/16 via 192.168.122.2 dev vnbr0 metric 7: "
                         "File exists"));

  for (const RouteInfo* r : {&via, &direct, &v6, &defaultRoute}) {
    s = links_->deleteRoute(*r);
    ASSERT_TRUE(s.ok()) << s.error().message();
    EXPECT_FALSE(hasRoute(*r));
  }
  s = links_->deleteRoute(via);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().sysErrno(), ESRCH);
}

TEST_F(NetlinkLinksTest, TapIsPersistentOwnedEnslavedAndUp) {
  ASSERT_TRUE(links_->addBridge(bridge()).ok());
  TapSpec spec;
  spec.name = "vnet0";
  spec.mac = mac("fe:54:00:aa:bb:cc");
  spec.owner = 4242;
  spec.mtu = 1400;
  spec.master = "vnbr0";
  Status s = links_->addTap(spec);
  ASSERT_TRUE(s.ok()) << s.error().message();

  auto link = links_->findLink("vnet0");
  ASSERT_TRUE(link.ok() && link->has_value());
  EXPECT_EQ((*link)->kind, "tun");
  EXPECT_EQ((*link)->mac, spec.mac);
  EXPECT_EQ((*link)->mtu, 1400u);
  EXPECT_TRUE((*link)->up);
  EXPECT_EQ((*link)->masterIndex, ifindex("vnbr0"));

  const json data = ip("link show vnet0")[0]["linkinfo"]["info_data"];
  EXPECT_EQ(data["type"], "tap");
  EXPECT_EQ(data["pi"], false);
  EXPECT_EQ(data["vnet_hdr"], true);
  EXPECT_EQ(data["persist"], true);
  EXPECT_TRUE(data["user"] == "4242" || data["user"] == 4242) << data.dump();

  auto ports = links_->bridgePorts("vnbr0");
  ASSERT_TRUE(ports.ok()) << ports.error().message();
  ASSERT_EQ(ports->size(), 1u);
  EXPECT_EQ((*ports)[0].name, "vnet0");

  s = links_->addTap(spec);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message(), "adding tap vnet0: File exists");
  EXPECT_TRUE((*links_->findLink("vnet0")).has_value()) << "a failed add must not remove the tap";

  ASSERT_TRUE(links_->deleteLink("vnet0").ok());
  EXPECT_FALSE((*links_->findLink("vnet0")).has_value());
}

TEST_F(NetlinkLinksTest, TapIsRemovedAgainWhenItsBridgeIsMissing) {
  TapSpec spec;
  spec.name = "vnet1";
  spec.mac = mac("fe:54:00:00:00:01");
  spec.master = "nosuch0";
  Status s = links_->addTap(spec);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message(),
            "adding tap vnet1: attaching vnet1 to nosuch0: looking up nosuch0: No such device");
  EXPECT_FALSE((*links_->findLink("vnet1")).has_value());
}

TEST_F(NetlinkLinksTest, SetMasterAttachesAndDetaches) {
  ASSERT_TRUE(links_->addBridge(bridge()).ok());
  TapSpec spec;
  spec.name = "vnet0";  // no master; zero MAC: the kernel picks one
  Status s = links_->addTap(spec);
  ASSERT_TRUE(s.ok()) << s.error().message();
  EXPECT_EQ((*links_->findLink("vnet0"))->masterIndex, 0);
  EXPECT_FALSE((*links_->findLink("vnet0"))->mac.isZero());

  ASSERT_TRUE(links_->setMaster("vnet0", "vnbr0").ok());
  EXPECT_EQ((*links_->findLink("vnet0"))->masterIndex, ifindex("vnbr0"));
  EXPECT_EQ(ip("link show vnet0")[0].value("master", ""), "vnbr0");

  ASSERT_TRUE(links_->setMaster("vnet0", "").ok());
  EXPECT_EQ((*links_->findLink("vnet0"))->masterIndex, 0);
  EXPECT_TRUE(links_->bridgePorts("vnbr0")->empty());

  s = links_->setMaster("vnet0", "nosuch0");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message(), "attaching vnet0 to nosuch0: looking up nosuch0: No such device");
}

TEST_F(NetlinkLinksTest, VethPeerIsBornInTheTargetNamespaceNamedAddressedAndUp) {
  ScratchNetns guest;
  ASSERT_TRUE(guest.ready()) << "could not start `unshare -n sleep 60`";
  ASSERT_TRUE(links_->addBridge(bridge()).ok());

  VethSpec spec;
  spec.hostName = "vnh0";
  spec.hostMac = mac("fe:54:00:00:00:10");
  spec.peerName = "eth0";
  spec.peerMac = mac("52:54:00:00:00:10");
  spec.netnsPath = guest.path();
  spec.mtu = 1400;
  spec.master = "vnbr0";
  Status s = links_->addVeth(spec);
  ASSERT_TRUE(s.ok()) << s.error().message();

  auto host = links_->findLink("vnh0");
  ASSERT_TRUE(host.ok() && host->has_value());
  EXPECT_EQ((*host)->kind, "veth");
  EXPECT_EQ((*host)->mac, spec.hostMac);
  EXPECT_EQ((*host)->mtu, 1400u);
  EXPECT_TRUE((*host)->up);
  EXPECT_EQ((*host)->masterIndex, ifindex("vnbr0"));
  EXPECT_FALSE((*links_->findLink("eth0")).has_value()) << "the peer must not be here";

  json peer = guest.ip("link show eth0");
  ASSERT_EQ(peer.size(), 1u) << "no eth0 in the target namespace";
  EXPECT_EQ(peer[0]["address"], "52:54:00:00:00:10");
  EXPECT_EQ(peer[0]["mtu"], 1400);
  EXPECT_TRUE(hasFlag(peer[0], "UP"));
  EXPECT_TRUE(hasFlag(peer[0], "MULTICAST"));

  s = links_->addVeth(spec);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().sysErrno(), EEXIST) << s.error().message();

  ASSERT_TRUE(links_->deleteLink("vnh0").ok());
  EXPECT_TRUE(guest.ip("link show eth0").empty()) << "deleting one end deletes both";
}

TEST_F(NetlinkLinksTest, VethIsRemovedAgainWhenItsBridgeIsMissing) {
  ScratchNetns guest;
  ASSERT_TRUE(guest.ready());
  VethSpec spec;
  spec.hostName = "vnh1";
  spec.hostMac = mac("fe:54:00:00:00:11");
  spec.peerName = "eth0";
  spec.peerMac = mac("52:54:00:00:00:11");
  spec.netnsPath = guest.path();
  spec.master = "nosuch0";
  Status s = links_->addVeth(spec);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("looking up nosuch0: No such device"), std::string::npos)
      << s.error().message();
  EXPECT_FALSE((*links_->findLink("vnh1")).has_value());
  EXPECT_TRUE(guest.ip("link show eth0").empty());
}

TEST_F(NetlinkLinksTest, VethIntoAMissingNamespaceFailsWithThePath) {
  VethSpec spec;
  spec.hostName = "vnh2";
  spec.peerName = "eth0";
  spec.netnsPath = "/nonexistent/netns";
  Status s = links_->addVeth(spec);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message(),
            "adding veth vnh2 (peer eth0 in /nonexistent/netns): opening /nonexistent/netns: "
            "No such file or directory");
  EXPECT_FALSE((*links_->findLink("vnh2")).has_value());
}

TEST_F(NetlinkLinksTest, SysctlsOfTheBridgeAreReadAndWritten) {
  ASSERT_TRUE(links_->addBridge(bridge()).ok());
  const std::string key = "net/ipv6/conf/vnbr0/disable_ipv6";
  auto value = links_->getSysctl(key);
  ASSERT_TRUE(value.ok()) << value.error().message();
  EXPECT_EQ(*value, "0");

  Status s = links_->setSysctl(key, "1");
  ASSERT_TRUE(s.ok()) << s.error().message();
  EXPECT_EQ(*links_->getSysctl(key), "1");

  value = links_->getSysctl("net/ipv6/conf/nosuch0/disable_ipv6");
  ASSERT_FALSE(value.ok());
  EXPECT_EQ(value.error().message(),
            "reading sysctl net/ipv6/conf/nosuch0/disable_ipv6: No such file or directory");

  s = links_->setSysctl("net/../../etc/hostname", "x");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().sysErrno(), EINVAL);
}

}  // namespace
}  // namespace vnet::kernel
