// Test hook for "a crash in the middle of a start": when the environment variable
// VNETD_TEST_CRASH_AT names `step`, the process ends at once with status 86 (_exit: no
// destructors, no flushing of anything but the log line), as if it had been killed there.
// Steps: "start:recorded", "start:bridge", "start:addresses", "start:firewall",
// "start:services". Integration tests use it to check that the next vnetd cleans up.
#pragma once

#include <string_view>

namespace vnet::daemon {

void crashPoint(std::string_view step);

}  // namespace vnet::daemon
