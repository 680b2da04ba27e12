// Real DHCP clients (busybox udhcpc, ISC dhclient) get leases from UdpTransport + Server.
// Each test moves the process into a fresh private network namespace (unshare(CLONE_NEWNET),
// never when only listing tests) and builds a veth pair there: the server on v1
// (192.0.2.1/24), the client on v0. Clients run with a hook script that only records what
// they got, so no address is configured. Needs root; skips otherwise, except under CI=true
// where that is a failure. Client processes are killed by PID and reaped.
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "dhcp/lease_store.h"
#include "dhcp/server.h"
#include "dhcp/transport.h"

extern char** environ;

namespace vnet::dhcp {
namespace {

bool inCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string_view(ci) == "true";
}

bool haveTool(const char* path) {
  return ::access(path, X_OK) == 0;
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "vnet-dhcp-it-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const char* name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A child process started with posix_spawn; killed by PID and reaped on destruction.
class Child {
 public:
  explicit Child(std::vector<std::string> argv) {
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    if (posix_spawn(&pid_, args[0], nullptr, nullptr, args.data(), environ) != 0) pid_ = -1;
  }
  ~Child() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  bool started() const { return pid_ > 0; }
  // True once the child exited (non-blocking).
  bool poll() {
    if (pid_ <= 0 || exited_) return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) exited_ = true;
    return exited_;
  }

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
};

int sh(const std::string& cmd) {
  return std::system(cmd.c_str());
}

std::map<std::string, std::string> readEnvFile(const std::string& path) {
  std::map<std::string, std::string> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    const auto eq = line.find('=');
    if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return out;
}

class DhcpClientsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      const char* msg = "DHCP integration tests need root (CAP_NET_ADMIN, CAP_SYS_ADMIN)";
      if (inCi()) FAIL() << msg << "; CI=true, so this is a failure, not a skip";
      GTEST_SKIP() << msg;
    }
    ASSERT_EQ(unshare(CLONE_NEWNET), 0) << std::strerror(errno);
    ASSERT_EQ(sh("ip link set lo up && ip link add v1 type veth peer name v0 && "
                 "ip link set v0 address 52:54:00:12:34:56 && ip addr add 192.0.2.1/24 dev v1 && "
                 "ip link set v1 up && ip link set v0 up"),
              0);
    store_ = SqliteLeaseStore::open(dir_.file("leases.db"), "itest");
    ASSERT_TRUE(store_.ok()) << store_.error().message();
    ServerConfig cfg;
    cfg.server_address = *Ipv4::parse("192.0.2.1");
    cfg.subnet = *Ipv4::parse("192.0.2.0");
    cfg.prefix = 24;
    cfg.ranges = {{*Ipv4::parse("192.0.2.100"), *Ipv4::parse("192.0.2.199")}};
    cfg.routers = {cfg.server_address};
    cfg.dns_servers = {cfg.server_address};
    cfg.domain_name = "lab.test";
    cfg.lease_seconds = 600;
    auto server = Server::create(cfg, **store_);
    ASSERT_TRUE(server.ok()) << server.error().message();
    server_ = std::move(server).value();
    auto transport = UdpTransport::open(io_, *server_, {.interface = "v1"});
    ASSERT_TRUE(transport.ok()) << transport.error().message();
    transport_ = std::move(transport).value();
    transport_->start();
    // The hook records the environment the client passes on "bound" / BOUND.
    script_ = dir_.file("hook.sh");
    std::ofstream(script_) << "#!/bin/sh\n"
                           << "case \"$1/${reason:-}\" in bound/*|*/BOUND) env > "
                           << dir_.file("bound.env.tmp") << " && mv " << dir_.file("bound.env.tmp")
                           << " " << dir_.file("bound.env") << ";; esac\nexit 0\n";
    ::chmod(script_.c_str(), 0755);
  }

  // Runs the event loop until child exits or timeout.
  bool runUntilExit(Child& child, std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      io_.run_for(std::chrono::milliseconds(50));
      io_.restart();
      if (child.poll()) return true;
    }
    return false;
  }

  // Runs dhclient (which must be installed) to a lease and checks it.
  void dhclient();

  TempDir dir_;
  boost::asio::io_context io_;
  Result<std::unique_ptr<SqliteLeaseStore>> store_ = Error("unset");
  std::unique_ptr<Server> server_;
  std::unique_ptr<UdpTransport> transport_;
  std::string script_;
};

TEST_F(DhcpClientsTest, BusyboxUdhcpcGetsLease) {
  if (!haveTool("/bin/busybox")) GTEST_SKIP() << "busybox not installed";
  Child client({"/bin/busybox", "udhcpc", "-i", "v0", "-f", "-n", "-q", "-t", "5", "-T", "1", "-s",
                script_, "-x", "hostname:bbguest"});
  ASSERT_TRUE(client.started());
  ASSERT_TRUE(runUntilExit(client, std::chrono::seconds(20))) << "udhcpc did not finish";
  auto env = readEnvFile(dir_.file("bound.env"));
  ASSERT_TRUE(env.count("ip")) << "udhcpc reported no lease";
  const auto got = Ipv4::parse(env["ip"]);
  ASSERT_TRUE(got);
  EXPECT_GE(*got, *Ipv4::parse("192.0.2.100"));
  EXPECT_LE(*got, *Ipv4::parse("192.0.2.199"));
  EXPECT_EQ(env["router"], "192.0.2.1");
  EXPECT_EQ(env["dns"], "192.0.2.1");
  EXPECT_EQ(env["domain"], "lab.test");
  EXPECT_EQ(env["subnet"], "255.255.255.0");
  EXPECT_EQ(env["lease"], "600");
  auto leases = server_->leases();
  ASSERT_EQ(leases.size(), 1u);
  EXPECT_EQ(leases[0].ip, *got);
  EXPECT_EQ(leases[0].hostname, "bbguest");
  EXPECT_EQ(leases[0].mac, *Mac::parse("52:54:00:12:34:56"));
  // Durable before the ACK left: the committed store has it.
  EXPECT_EQ((*store_)->load()->size(), 1u);
  EXPECT_GE(transport_->counters().sent, 2u);
  // OFFER/ACK went unicast to chaddr (no broadcast flag) through the packet socket.
  EXPECT_GE(transport_->counters().raw_sent, 2u);
  EXPECT_EQ(transport_->counters().arp_fallbacks, 0u);
  EXPECT_EQ(transport_->counters().send_errors, 0u);
}

// dhclient leaves the broadcast flag clear: the OFFER and ACK are unicast to yiaddr at chaddr,
// through the packet socket by default, or through the UDP socket and a SIOCSARP entry.
TEST_F(DhcpClientsTest, IscDhclientGetsLease) {
  if (!haveTool("/usr/sbin/dhclient")) GTEST_SKIP() << "dhclient not installed";
  dhclient();
  EXPECT_GE(transport_->counters().raw_sent, 2u);  // OFFER and ACK via the packet socket
  EXPECT_EQ(transport_->counters().send_errors, 0u);
}

TEST_F(DhcpClientsTest, IscDhclientGetsLeaseThroughTheUdpSocket) {
  if (!haveTool("/usr/sbin/dhclient")) GTEST_SKIP() << "dhclient not installed";
  transport_.reset();
  auto transport = UdpTransport::open(io_, *server_, {.interface = "v1", .packet_replies = false});
  ASSERT_TRUE(transport.ok()) << transport.error().message();
  transport_ = std::move(transport).value();
  transport_->start();
  dhclient();
  EXPECT_EQ(transport_->counters().raw_sent, 0u);
  EXPECT_GE(transport_->counters().sent, 2u);
  EXPECT_EQ(transport_->counters().arp_fallbacks, 0u);
  EXPECT_EQ(transport_->counters().send_errors, 0u);
}

void DhcpClientsTest::dhclient() {
  const std::string conf = dir_.file("dhclient.conf");
  std::ofstream(conf) << "send host-name \"iscguest\";\n"
                         "request subnet-mask, routers, domain-name-servers, domain-name;\n";
  Child client({"/usr/sbin/dhclient", "-4", "-1", "-d", "-cf", conf, "-sf", script_, "-lf",
                dir_.file("dhclient.leases"), "-pf", dir_.file("dhclient.pid"), "v0"});
  ASSERT_TRUE(client.started());
  // dhclient -d stays in the foreground after binding: wait for the hook's file instead.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  // The hook renames a complete file into place: wait for it.
  while (!readEnvFile(dir_.file("bound.env")).count("new_ip_address") &&
         std::chrono::steady_clock::now() < deadline) {
    io_.run_for(std::chrono::milliseconds(50));
    io_.restart();
  }
  auto env = readEnvFile(dir_.file("bound.env"));
  ASSERT_TRUE(env.count("new_ip_address")) << "dhclient reported no lease";
  EXPECT_EQ(env["new_routers"], "192.0.2.1");
  EXPECT_EQ(env["new_domain_name"], "lab.test");
  auto leases = server_->leases();
  ASSERT_EQ(leases.size(), 1u);
  EXPECT_EQ(leases[0].ip.toString(), env["new_ip_address"]);
  EXPECT_EQ(leases[0].hostname, "iscguest");
}

}  // namespace
}  // namespace vnet::dhcp
