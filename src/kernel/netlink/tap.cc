#include "kernel/netlink/tap.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>

#include "base/unique_fd.h"
#include "kernel/netlink/nl_objects.h"

namespace vnet::kernel::tap {

Status createPersistent(const std::string& name, std::optional<unsigned> owner) {
  VNET_TRY(nl::checkLinkName(name));
  UniqueFd fd(::open("/dev/net/tun", O_RDWR | O_CLOEXEC));
  if (!fd) return Error::fromErrno("opening /dev/net/tun", errno);

  ifreq ifr{};
  std::memcpy(ifr.ifr_name, name.data(), name.size());
  // IFF_TUN_EXCL: never attach to an existing device of that name. The kernel reports
  // that case as EBUSY; it means the name is taken.
  ifr.ifr_flags = static_cast<short>(IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_TUN_EXCL);
  if (::ioctl(fd.get(), TUNSETIFF, &ifr) < 0) {
    const int err = errno == EBUSY ? EEXIST : errno;
    return Error(std::strerror(err), err);
  }
  // Until TUNSETPERSIST succeeds, closing fd destroys the tap: no rollback needed.
  if (owner && ::ioctl(fd.get(), TUNSETOWNER, static_cast<unsigned long>(*owner)) < 0) {
    return Error::fromErrno("setting owner " + std::to_string(*owner), errno);
  }
  if (::ioctl(fd.get(), TUNSETPERSIST, 1UL) < 0) {
    return Error::fromErrno("making it persistent", errno);
  }
  return Status::success();
}

}  // namespace vnet::kernel::tap
