#include "daemon/crash_point.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace vnet::daemon {

void crashPoint(std::string_view step) {
  static const std::string armed = [] {
    const char* v = std::getenv("VNETD_TEST_CRASH_AT");
    return std::string(v ? v : "");
  }();
  if (armed.empty() || armed != step) return;
  spdlog::critical("VNETD_TEST_CRASH_AT={}: exiting here on purpose", armed);
  spdlog::default_logger()->flush();
  ::_exit(86);
}

}  // namespace vnet::daemon
