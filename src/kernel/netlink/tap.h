// Internal to kernel/netlink: persistent taps through /dev/net/tun.
#pragma once

#include <optional>
#include <string>

#include "base/error.h"

namespace vnet::kernel::tap {

// Creates the persistent tap `name` (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR), owned by
// `owner` when given, and closes the queue again; the tap stays, down. Fails with
// EEXIST when a link of that name exists. Nothing is left behind on failure. Errors
// are bare (strerror text, errno kept) unless the step is worth naming.
Status createPersistent(const std::string& name, std::optional<unsigned> owner);

}  // namespace vnet::kernel::tap
