// The probe over a fabricated /proc, /sys, /dev and /lib/modules tree and FakeLinks: what a
// unit test can do that the lab cannot (a kernel without tun, bridge or NAT).
#include "doctor/probe.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "doctor/checks.h"
#include "doctor/procfs.h"
#include "doctor_test_util.h"
#include "testing/fake_links.h"

namespace vnet::doctor {
namespace {

namespace fs = std::filesystem;

const char* kUdpHeader =
    "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout "
    "inode ref pointer drops\n";

TEST(ProcNet, ParsesBoundUdpAndListeningTcp) {
  const std::string udp = std::string(kUdpHeader) +
                          "  1: 00000000:0035 00000000:0000 07 00000000:00000000 00:00000000 "
                          "00000000     0        0 1111 2 0000000000000000 0\n"
                          "  2: 017AA8C0:0035 00000000:0000 07 00000000:00000000 00:00000000 "
                          "00000000     0        0 2222 2 0000000000000000 0\n"
                          "  3: 0A0A0A0A:9C40 0101A8C0:0035 01 00000000:00000000 00:00000000 "
                          "00000000     0        0 3333 2 0000000000000000 0\n"
                          "  garbage line\n";
  auto socks = parseProcNet(udp, "udp", false);
  ASSERT_EQ(socks.size(), 2u);  // the connected one (state 01) is a client, not a server
  EXPECT_EQ(socks[0].address.toString(), "0.0.0.0");
  EXPECT_EQ(socks[0].port, 53);
  EXPECT_EQ(socks[0].inode, 1111u);
  EXPECT_EQ(socks[1].address.toString(), "192.168.122.1");
  EXPECT_EQ(socks[1].proto, "udp");

  const std::string tcp = std::string(kUdpHeader) +
                          "   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 "
                          "00000000     0        0 4444 1 0000000000000000 100 0 0 10 0\n"
                          "   1: 017AA8C0:0035 0101A8C0:D431 01 00000000:00000000 00:00000000 "
                          "00000000     0        0 5555 1 0000000000000000 100 0 0 10 0\n";
  socks = parseProcNet(tcp, "tcp", false);
  ASSERT_EQ(socks.size(), 1u);
  EXPECT_EQ(socks[0].port, 22);

  const std::string udp6 =
      std::string(kUdpHeader) +
      "  1: 00000000000000000000000000000000:0035 00000000000000000000000000000000:0000 07 "
      "00000000:00000000 00:00000000 00000000     0        0 6666 2 0000000000000000 0\n"
      "  2: 0000FDFD000000000000000001000000:0043 00000000000000000000000000000000:0000 07 "
      "00000000:00000000 00:00000000 00000000     0        0 7777 2 0000000000000000 0\n";
  socks = parseProcNet(udp6, "udp", true);
  ASSERT_EQ(socks.size(), 2u);
  EXPECT_EQ(socks[0].address.toString(), "::");
  EXPECT_EQ(socks[1].address.toString(), "fdfd::1");
  EXPECT_EQ(socks[1].port, 67);
}

class ProbeTree : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vnet-doctor-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    for (const char* d : {"proc/net", "proc/sys/net/ipv4", "proc/sys/net/bridge",
                          "sys/module/bridge", "dev/net", "modules/6.1.0"}) {
      fs::create_directories(root_ / d);
    }
    write("proc/sys/net/ipv4/ip_forward", "1\n");
    write("proc/sys/net/bridge/bridge-nf-call-iptables", "0\n");
    write("proc/net/udp", std::string(kUdpHeader) +
                              "  1: 00000000:0035 00000000:0000 07 00000000:00000000 00:00000000 "
                              "00000000     0        0 31337 2 0000000000000000 0\n");
    write("proc/net/tcp", kUdpHeader);
    // dnsmasq (pid 4242) holds the socket; another process holds no sockets.
    fs::create_directories(root_ / "proc/4242/fd");
    write("proc/4242/comm", "dnsmasq\n");
    fs::create_symlink("socket:[31337]", root_ / "proc/4242/fd/5");
    fs::create_symlink("/dev/null", root_ / "proc/4242/fd/0");
    fs::create_directories(root_ / "proc/77/fd");
    write("proc/77/comm", "sleep\n");
    fs::create_symlink("pipe:[1]", root_ / "proc/77/fd/1");
    // /dev/net/tun is a character device in the real tree; a fifo stands in for "not one".
    env_.procRoot = (root_ / "proc").string();
    env_.sysRoot = (root_ / "sys").string();
    env_.devRoot = (root_ / "dev").string();
    env_.modulesRoot = (root_ / "modules").string();
    env_.kernelRelease = "6.1.0";
    env_.selfPid = 100;
    env_.links = &links_;
    env_.listRuleset = [] { return Result<RulesetText>(RulesetText{R"({"nftables": []})", ""}); };
    env_.checkNat = [] { return Status::success(); };
    links_.addExternalLink(testutil::linkInfo(0, "uplink0", "veth"));
    (void)links_.addAddress("uplink0", *Cidr::parse("203.0.113.2/24"));
    kernel::RouteInfo def = testutil::route("0.0.0.0/0", "uplink0", "203.0.113.1");
    (void)links_.addRoute(def);
  }
  void TearDown() override { fs::remove_all(root_); }

  void write(const std::string& rel, const std::string& content) {
    std::ofstream(root_ / rel) << content;
  }

  fs::path root_;
  ProbeEnv env_;
  testing::FakeLinks links_;
};

TEST_F(ProbeTree, SocketOwnersComeFromFdLinks) {
  auto owners = socketOwners(env_.procRoot);
  ASSERT_EQ(owners.count(31337), 1u);
  ASSERT_EQ(owners[31337].size(), 1u);
  EXPECT_EQ(owners[31337][0].pid, 4242);
  EXPECT_EQ(owners[31337][0].comm, "dnsmasq");
  EXPECT_EQ(owners.size(), 1u);
}

TEST_F(ProbeTree, GathersSysctlsRoutesSocketsAndFeatures) {
  Facts f = gatherFacts(env_, {});
  EXPECT_EQ(f.selfPid, 100);
  EXPECT_EQ(f.sysctl("net/ipv4/ip_forward"), std::optional<std::string>("1"));
  EXPECT_EQ(f.sysctl("net/bridge/bridge-nf-call-iptables"), std::optional<std::string>("0"));
  EXPECT_FALSE(f.sysctl("net/ipv6/conf/all/forwarding").has_value());
  ASSERT_EQ(f.sockets.size(), 1u);
  EXPECT_EQ(f.sockets[0].owners.at(0).comm, "dnsmasq");
  EXPECT_EQ(f.sockets[0].device, "");
  bool hasDefault = false;
  for (const auto& r : f.routes)
    hasDefault = hasDefault || (r.destination.prefix == 0 && r.device == "uplink0");
  EXPECT_TRUE(hasDefault);
  ASSERT_TRUE(f.ruleset.has_value());
  EXPECT_TRUE(f.probeErrors.empty());
  EXPECT_TRUE(f.natFeature.present);
  EXPECT_TRUE(f.bridgeFeature.present);  // sys/module/bridge
  EXPECT_FALSE(f.tunFeature.present);    // dev/net/tun is missing
  EXPECT_NE(f.tunFeature.evidence.find("/dev/net/tun does not exist"), std::string::npos);
}

TEST_F(ProbeTree, BoundDevicesAreNamed) {
  env_.boundDevices = [] {
    return Result<std::map<uint64_t, int>>(std::map<uint64_t, int>{{31337, 1}});
  };
  Facts f = gatherFacts(env_, {});
  ASSERT_EQ(f.sockets.size(), 1u);
  EXPECT_EQ(f.sockets[0].device, "lo");  // FakeLinks: lo is ifindex 1
}

TEST_F(ProbeTree, MissingFeaturesAreReportedByTheChecks) {
  fs::remove_all(root_ / "sys/module/bridge");
  env_.checkNat = [] { return Status(Error("Could not process rule: No such file or directory")); };
  Facts f = gatherFacts(env_, {});
  EXPECT_FALSE(f.bridgeFeature.present);
  EXPECT_FALSE(f.natFeature.present);
  EXPECT_NE(f.natFeature.evidence.find("No such file or directory"), std::string::npos);
  auto fs = testutil::only(runChecks(f), "kernel-feature");
  EXPECT_EQ(fs.size(), 3u);

  // The bridge driver as a loadable module, or built in, counts as present.
  write("modules/6.1.0/modules.dep", "kernel/net/bridge/bridge.ko.xz: kernel/net/802/stp.ko.xz\n");
  EXPECT_TRUE(gatherFacts(env_, {}).bridgeFeature.present);
  fs::remove(root_ / "modules/6.1.0/modules.dep");
  write("modules/6.1.0/modules.builtin", "kernel/net/bridge/bridge.ko\n");
  EXPECT_TRUE(gatherFacts(env_, {}).bridgeFeature.present);
  write("modules/6.1.0/modules.builtin", "kernel/net/bridge/notbridge.ko\n");
  EXPECT_FALSE(gatherFacts(env_, {}).bridgeFeature.present);
}

TEST_F(ProbeTree, TunAsACharacterDevice) {
  if (::mknod((root_ / "dev/net/tun").c_str(), S_IFCHR | 0600, makedev(10, 200)) != 0) {
    GTEST_SKIP() << "mknod needs CAP_MKNOD";
  }
  EXPECT_TRUE(gatherFacts(env_, {}).tunFeature.present);
}

TEST_F(ProbeTree, ProbeErrorsInsteadOfFacts) {
  env_.listRuleset = [] {
    return Result<RulesetText>(Error("listing the ruleset (JSON): Operation not permitted"));
  };
  fs::remove(root_ / "proc/net/udp");
  env_.links = nullptr;
  Facts f = gatherFacts(env_, {});
  EXPECT_FALSE(f.ruleset.has_value());
  ASSERT_EQ(f.probeErrors.size(), 3u);
  EXPECT_NE(f.probeErrors[0].find("no netlink access"), std::string::npos);
  EXPECT_NE(f.probeErrors[1].find("Operation not permitted"), std::string::npos);
  EXPECT_NE(f.probeErrors[2].find("proc/net/udp"), std::string::npos);
}

TEST_F(ProbeTree, NetworksGetTheirBridgePorts) {
  kernel::BridgeSpec br;
  br.name = "vnbr0";
  ASSERT_TRUE(links_.addBridge(br).ok());
  kernel::TapSpec tap;
  tap.name = "vnet0";
  tap.master = "vnbr0";
  ASSERT_TRUE(links_.addTap(tap).ok());
  NetworkFacts n;
  n.def = testutil::network("default", "vnbr0", "192.168.122.1/24", model::ForwardMode::Nat, true);
  n.active = true;
  Facts f = gatherFacts(env_, {n});
  ASSERT_EQ(f.networks.size(), 1u);
  EXPECT_EQ(f.networks[0].ports, std::vector<std::string>{"vnet0"});
}

}  // namespace
}  // namespace vnet::doctor
