// Internal to kernel/netlink: /proc/sys access. Errors are bare (strerror text, errno
// kept); the caller adds what it was doing.
#pragma once

#include <string>

#include "base/error.h"

namespace vnet::kernel::sysctl {

// `path` is relative to /proc/sys ("net/ipv6/conf/vnbr0/disable_ipv6"); EINVAL for an
// empty or absolute path or one with a ".." component.
Status write(const std::string& path, const std::string& value);
// The file's content without its trailing newline.
Result<std::string> read(const std::string& path);

}  // namespace vnet::kernel::sysctl
