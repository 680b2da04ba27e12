#include "base/service_notify.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "base/unique_fd.h"

namespace vnet {
namespace {

// A datagram socket bound to `name` (a path, or '@' + an abstract name), as systemd makes.
UniqueFd listenAt(const std::string& name) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, name.data(), name.size());
  if (name[0] == '@') addr.sun_path[0] = '\0';
  const auto len = socklen_t(offsetof(sockaddr_un, sun_path) + name.size());
  EXPECT_EQ(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), len), 0)
      << std::strerror(errno);
  return fd;
}

std::string receive(const UniqueFd& fd) {
  char buf[256];
  const ssize_t n = ::recv(fd.get(), buf, sizeof buf, MSG_DONTWAIT);
  return n < 0 ? "(nothing)" : std::string(buf, size_t(n));
}

class ServiceNotifyTest : public ::testing::Test {
 protected:
  void TearDown() override { ::unsetenv("NOTIFY_SOCKET"); }
};

TEST_F(ServiceNotifyTest, SendsToAPathSocket) {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("vnet-notify-" + std::to_string(::getpid())))
          .string();
  std::filesystem::remove(path);
  UniqueFd fd = listenAt(path);
  ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
  ASSERT_TRUE(notifyServiceManager("READY=1").ok());
  EXPECT_EQ(receive(fd), "READY=1");
  std::filesystem::remove(path);
}

TEST_F(ServiceNotifyTest, SendsToAnAbstractSocket) {
  const std::string name = "@vnet-notify-test-" + std::to_string(::getpid());
  UniqueFd fd = listenAt(name);
  ::setenv("NOTIFY_SOCKET", name.c_str(), 1);
  ASSERT_TRUE(notifyServiceManager("STOPPING=1").ok());
  EXPECT_EQ(receive(fd), "STOPPING=1");
}

TEST_F(ServiceNotifyTest, NoServiceManagerIsNotAnError) {
  ::unsetenv("NOTIFY_SOCKET");
  EXPECT_TRUE(notifyServiceManager("READY=1").ok());
}

TEST_F(ServiceNotifyTest, BadSocketNamesAndMissingSocketsAreErrors) {
  ::setenv("NOTIFY_SOCKET", "relative/path", 1);
  auto r = notifyServiceManager("READY=1");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("NOTIFY_SOCKET 'relative/path'"), std::string::npos);
  ::setenv("NOTIFY_SOCKET", "/nonexistent/vnet-notify", 1);
  r = notifyServiceManager("READY=1");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("/nonexistent/vnet-notify"), std::string::npos)
      << r.error().message();
}

}  // namespace
}  // namespace vnet
