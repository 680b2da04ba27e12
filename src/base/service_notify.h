// The systemd notification protocol (sd_notify(3)), without libsystemd: one datagram with
// "KEY=value" lines to the AF_UNIX socket named by $NOTIFY_SOCKET (a path, or '@' for the
// abstract namespace). Not started by systemd ($NOTIFY_SOCKET unset): nothing is sent.
#pragma once

#include <string_view>

#include "base/error.h"

namespace vnet {

// Sends `state` (e.g. "READY=1") to the service manager. Success also when there is none.
Status notifyServiceManager(std::string_view state);

}  // namespace vnet
