#include "kernel/netlink/sysctl.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/unique_fd.h"

namespace vnet::kernel::sysctl {
namespace {

Error sysError(int err) {
  return Error(std::strerror(err), err);
}

Result<UniqueFd> openProcSys(const std::string& path, int flags) {
  bool valid = !path.empty() && path.front() != '/';
  for (size_t start = 0; valid && start <= path.size();) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    valid = path.compare(start, end - start, "..") != 0;
    start = end + 1;
  }
  if (!valid) return Error::fromErrno("invalid sysctl path '" + path + "'", EINVAL);
  UniqueFd fd(::open(("/proc/sys/" + path).c_str(), flags | O_CLOEXEC));
  if (!fd) return sysError(errno);
  return fd;
}

}  // namespace

Status write(const std::string& path, const std::string& value) {
  auto fd = openProcSys(path, O_WRONLY);
  if (!fd.ok()) return std::move(fd).error();
  const ssize_t n = ::write(fd->get(), value.data(), value.size());
  if (n < 0) return sysError(errno);
  if (static_cast<size_t>(n) != value.size()) return sysError(EIO);
  return Status::success();
}

Result<std::string> read(const std::string& path) {
  auto fd = openProcSys(path, O_RDONLY);
  if (!fd.ok()) return std::move(fd).error();
  std::string out;
  char buf[512];
  for (;;) {
    const ssize_t n = ::read(fd->get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return sysError(errno);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace vnet::kernel::sysctl
