#include "tests/integration/nft/netns_env.h"

#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace vnet::nfttest {
namespace {

std::string& reason() {
  static std::string r = "the private network namespace was not set up";
  return r;
}

class NetnsEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    if (geteuid() != 0) {
      reason() = "needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) for a private network namespace";
      return;
    }
    if (unshare(CLONE_NEWNET) != 0) {
      reason() = std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno);
      return;
    }
    reason().clear();
    sh("ip link set lo up");
  }
};

// Registered before main() runs; gtest calls SetUp only when running tests.
[[maybe_unused]] ::testing::Environment* const kEnv =
    ::testing::AddGlobalTestEnvironment(new NetnsEnvironment);

}  // namespace

const std::string& netnsUnavailable() {
  return reason();
}

std::string sh(const std::string& command, int* status) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  if (!p) {
    if (status) *status = -1;
    return out;
  }
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int rc = pclose(p);
  if (status) *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return out;
}

}  // namespace vnet::nfttest
