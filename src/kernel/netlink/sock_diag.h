// The interfaces sockets are bound to (SO_BINDTODEVICE), from NETLINK_SOCK_DIAG: what
// /proc/net/{udp,tcp} does not show. Read-only; the calling thread's network namespace.
#pragma once

#include <cstdint>
#include <map>

#include "base/error.h"

namespace vnet::kernel {

// Socket inode -> ifindex of the device it is bound to, for every UDP and TCP socket
// (IPv4 and IPv6) bound to a device. Sockets bound to no device are not listed.
Result<std::map<uint64_t, int>> socketBoundDevices();

}  // namespace vnet::kernel
