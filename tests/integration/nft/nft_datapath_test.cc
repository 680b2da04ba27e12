// Packets through the rules: a NAT network and an isolated one, a simulated internet, and
// TCP probes between namespaces. Everything lives below the test's private namespace:
// guest and "internet" namespaces are held by child processes this test kills by PID.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <future>
#include <optional>
#include <string>
#include <thread>

#include "base/unique_fd.h"
#include "kernel/nft/nft_firewall.h"
#include "tests/golden/nft/cases.h"
#include "tests/integration/nft/netns_env.h"

namespace vnet::kernel::nft {
namespace {

using nfttest::sh;

// A network namespace held open by a child process that only waits to be killed.
class Netns {
 public:
  Netns() {
    int ready[2];
    if (pipe(ready) != 0) return;
    pid_t pid = fork();
    if (pid == 0) {
      char ok = unshare(CLONE_NEWNET) == 0 ? 1 : 0;
      (void)!write(ready[1], &ok, 1);
      for (;;) pause();
    }
    close(ready[1]);
    char ok = 0;
    if (pid > 0 && read(ready[0], &ok, 1) == 1 && ok) pid_ = pid;
    close(ready[0]);
    if (pid > 0 && !pid_) reap(pid);
  }
  ~Netns() {
    if (pid_) reap(pid_);
  }
  Netns(const Netns&) = delete;
  Netns& operator=(const Netns&) = delete;

  bool ok() const { return pid_ != 0; }
  std::string pid() const { return std::to_string(pid_); }
  // Runs a shell command inside this namespace; true when it exits 0.
  bool run(const std::string& command) const {
    int rc = 0;
    sh("nsenter -t " + pid() + " -n sh -c '" + command + "' 2>&1", &rc);
    return rc == 0;
  }
  std::string nsPath() const { return "/proc/" + pid() + "/ns/net"; }

 private:
  static void reap(pid_t pid) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  pid_t pid_ = 0;
};

bool enterNetns(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  return fd && setns(fd.get(), CLONE_NEWNET) == 0;
}

sockaddr_in endpoint(const char* ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

// Opens a TCP connection from `client` to ip:port served in `server`; returns the source
// address the server saw, nullopt when the connection failed (within one second).
std::optional<std::string> tcpProbe(const Netns& client, const Netns& server, const char* ip,
                                    uint16_t port) {
  std::promise<bool> listening;
  auto listeningF = listening.get_future();
  std::promise<std::optional<std::string>> seen;
  auto seenF = seen.get_future();
  int done[2];  // the client writes here when it has finished trying
  if (pipe2(done, O_CLOEXEC) != 0) return std::nullopt;
  UniqueFd doneRead(done[0]), doneWrite(done[1]);
  std::thread srv([&] {
    UniqueFd s;
    if (enterNetns(server.nsPath())) s.reset(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    int one = 1;
    sockaddr_in a = endpoint(ip, port);
    bool ok = s && setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
              bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
              listen(s.get(), 1) == 0;
    listening.set_value(ok);
    pollfd p[2] = {{s.get(), POLLIN, 0}, {doneRead.get(), POLLIN, 0}};
    if (!ok || poll(p, 2, 3000) < 1 || !(p[0].revents & POLLIN)) {
      return seen.set_value(std::nullopt);
    }
    sockaddr_in peer{};
    socklen_t len = sizeof peer;
    UniqueFd c(accept4(s.get(), reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC));
    char text[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &peer.sin_addr, text, sizeof text);
    seen.set_value(c ? std::optional<std::string>(text) : std::nullopt);
  });
  bool connected = false;
  std::thread cli([&] {
    struct Signal {
      int fd;
      ~Signal() { (void)!write(fd, "x", 1); }
    } signal{doneWrite.get()};
    if (!listeningF.get() || !enterNetns(client.nsPath())) return;
    UniqueFd s(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    sockaddr_in a = endpoint(ip, port);
    connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
    pollfd p{s.get(), POLLOUT, 0};
    int err = -1;
    socklen_t len = sizeof err;
    connected = poll(&p, 1, 1000) == 1 &&
                getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
  });
  cli.join();
  srv.join();
  auto result = seenF.get();
  return connected ? result : std::nullopt;
}

// Sends one UDP datagram from `client` to ip:port in `server`; true when it arrived. Shows
// one-way leaks that a TCP probe hides (the reply direction may be what gets rejected).
bool udpArrives(const Netns& client, const Netns& server, const char* ip, uint16_t port) {
  std::promise<bool> bound;
  auto boundF = bound.get_future();
  bool arrived = false;
  std::thread srv([&] {
    UniqueFd s;
    if (enterNetns(server.nsPath())) s.reset(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_in a = endpoint(ip, port);
    bool ok = s && bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    bound.set_value(ok);
    pollfd p{s.get(), POLLIN, 0};
    arrived = ok && poll(&p, 1, 700) == 1;
  });
  std::thread cli([&] {
    if (!boundF.get() || !enterNetns(client.nsPath())) return;
    UniqueFd s(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_in a = endpoint(ip, port);
    sendto(s.get(), "x", 1, 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
  });
  cli.join();
  srv.join();
  return arrived;
}

class NftDatapath : public ::testing::Test {
 protected:
  void SetUp() override {
    VNET_REQUIRE_NETNS();
    ASSERT_TRUE(guestA_.ok() && guestB_.ok() && inet_.ok());
    auto fw = NftFirewall::create();
    ASSERT_TRUE(fw.ok());
    fw_ = std::move(*fw);
    ASSERT_TRUE(fw_->deleteTable().ok());
    int rc = 0;
    // host: two bridges, an uplink; IPv4 forwarding in this namespace only.
    const std::string A = guestA_.pid(), B = guestB_.pid(), I = inet_.pid();
    sh("set -e; echo 1 > /proc/sys/net/ipv4/ip_forward;"
       "ip link add name vnbr0 type bridge; ip addr add 192.168.122.1/24 dev vnbr0;"
       "ip link set vnbr0 up;"
       "ip link add name vnbr10 type bridge; ip addr add 10.40.0.1/24 dev vnbr10;"
       "ip link set vnbr10 up;"
       "ip link add name ga-h type veth peer name ga; ip link set ga-h master vnbr0 up;"
       "ip link set ga netns " +
           A +
           ";"
           "ip link add name gb-h type veth peer name gb; ip link set gb-h master vnbr10 up;"
           "ip link set gb netns " +
           B +
           ";"
           "ip link add name up0 type veth peer name up-i; ip addr add 203.0.113.1/24 dev up0;"
           "ip link set up0 up; ip link set up-i netns " +
           I + " 2>&1",
       &rc);
    ASSERT_EQ(0, rc);
    ASSERT_TRUE(
        guestA_.run("ip link set lo up; ip addr add 192.168.122.10/24 dev ga;"
                    "ip link set ga up; ip route add default via 192.168.122.1"));
    ASSERT_TRUE(
        guestB_.run("ip link set lo up; ip addr add 10.40.0.10/24 dev gb;"
                    "ip link set gb up; ip route add default via 10.40.0.1"));
    // The "internet" knows only its own link: replies to guests need SNAT.
    ASSERT_TRUE(
        inet_.run("ip link set lo up; ip addr add 203.0.113.2/24 dev up-i;"
                  "ip link set up-i up"));
  }
  void TearDown() override {
    if (fw_) {
      EXPECT_TRUE(fw_->deleteTable().ok());
    }
    if (nfttest::netnsUnavailable().empty()) {
      sh("for l in vnbr0 vnbr10 ga-h gb-h up0; do ip link del $l 2>/dev/null; done");
    }
  }

  model::Network nat_ = nfttest::defaultNat();
  model::Network isolated_ = nfttest::network("lab", model::ForwardMode::Isolated, "vnbr10",
                                              {nfttest::ipConfig("10.40.0.1/24", true)});
  Netns guestA_, guestB_, inet_;
  std::unique_ptr<NftFirewall> fw_;
};

TEST_F(NftDatapath, NatMasqueradesAndNetworksAreIsolated) {
  // Without rules the host routes between the two bridges.
  EXPECT_EQ("10.40.0.10", tcpProbe(guestB_, guestA_, "192.168.122.10", 7000).value_or("none"));
  // ... but the internet cannot answer an unmasqueraded guest.
  EXPECT_FALSE(tcpProbe(guestA_, inet_, "203.0.113.2", 7001));

  ASSERT_TRUE(fw_->addNetwork(nat_).ok());
  ASSERT_TRUE(fw_->addNetwork(isolated_).ok());

  // Walkthrough step 4: the internet sees the host's address, not the guest's.
  EXPECT_EQ("203.0.113.1", tcpProbe(guestA_, inet_, "203.0.113.2", 7002).value_or("none"));
  EXPECT_FALSE(tcpProbe(guestB_, inet_, "203.0.113.2", 7003)) << "isolated guest got out";
  EXPECT_FALSE(tcpProbe(guestB_, guestA_, "192.168.122.10", 7004)) << "lab reached default";
  EXPECT_FALSE(tcpProbe(guestA_, guestB_, "10.40.0.10", 7005)) << "default reached lab";
  EXPECT_FALSE(tcpProbe(inet_, guestA_, "192.168.122.10", 7006)) << "internet reached a guest";

  ASSERT_TRUE(fw_->removeNetwork(nat_).ok());
  EXPECT_FALSE(tcpProbe(guestA_, inet_, "203.0.113.2", 7007)) << "NAT outlived its network";
  EXPECT_FALSE(tcpProbe(guestB_, inet_, "203.0.113.2", 7008)) << "lab lost its isolation";
}

TEST_F(NftDatapath, RoutedNetworkIsReachableButNotFromAnIsolatedOne) {
  model::Network routed = nat_;
  routed.mode = model::ForwardMode::Route;
  routed.nat.reset();
  ASSERT_TRUE(inet_.run("ip route add 192.168.122.0/24 via 203.0.113.1"));
  ASSERT_TRUE(fw_->addNetwork(routed).ok());
  ASSERT_TRUE(fw_->addNetwork(isolated_).ok());

  // Routed: no NAT either way.
  EXPECT_EQ("203.0.113.2", tcpProbe(inet_, guestA_, "192.168.122.10", 7100).value_or("none"));
  EXPECT_EQ("192.168.122.10", tcpProbe(guestA_, inet_, "203.0.113.2", 7101).value_or("none"));
  // The routed network accepts anyone, but the isolated network's guests may not leave.
  EXPECT_FALSE(tcpProbe(guestB_, guestA_, "192.168.122.10", 7102)) << "lab reached routed";
  EXPECT_TRUE(udpArrives(inet_, guestA_, "192.168.122.10", 7104));
  EXPECT_FALSE(udpArrives(guestB_, guestA_, "192.168.122.10", 7105)) << "lab leaked to routed";
  EXPECT_FALSE(tcpProbe(guestA_, guestB_, "10.40.0.10", 7103)) << "routed reached lab";
}

}  // namespace
}  // namespace vnet::kernel::nft
