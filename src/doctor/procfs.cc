#include "doctor/procfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <sstream>

#include "base/hex.h"
#include "base/unique_fd.h"

namespace vnet::doctor {
namespace {

constexpr int kTcpListen = 0x0A;
constexpr int kUdpUnconnected = 0x07;  // TCP_CLOSE: bound, not connected

std::optional<uint32_t> hex32(std::string_view s) {
  if (s.empty() || s.size() > 8) return std::nullopt;
  uint32_t v = 0;
  for (char c : s) {
    const int d = hexDigitValue(c);
    if (d < 0) return std::nullopt;
    v = (v << 4) | static_cast<uint32_t>(d);
  }
  return v;
}

// "0100007F:0035" -> 127.0.0.1, 53. The kernel prints each 32-bit word of the address as
// it lies in memory read as a host-order integer.
std::optional<std::pair<IpAddress, uint16_t>> endpoint(std::string_view s, bool v6) {
  size_t colon = s.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view addr = s.substr(0, colon);
  auto port = hex32(s.substr(colon + 1));
  if (!port || *port > 0xFFFF || addr.size() != (v6 ? 32u : 8u)) return std::nullopt;
  std::array<uint8_t, 16> bytes{};
  for (size_t w = 0; w < addr.size() / 8; ++w) {
    auto word = hex32(addr.substr(w * 8, 8));
    if (!word) return std::nullopt;
    std::memcpy(bytes.data() + w * 4, &*word, 4);
  }
  if (!v6) return std::make_pair(IpAddress(Ipv4::fromBytes(bytes.data())), uint16_t(*port));
  return std::make_pair(IpAddress(Ipv6(bytes)), uint16_t(*port));
}

}  // namespace

std::vector<SocketFact> parseProcNet(std::string_view content, const std::string& proto, bool v6) {
  std::vector<SocketFact> out;
  std::istringstream in{std::string(content)};
  std::string line;
  std::getline(in, line);  // header
  const int wanted = proto == "tcp" ? kTcpListen : kUdpUnconnected;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string sl, local, remote, st, queues, timer, retr, uid, timeout, inode;
    if (!(f >> sl >> local >> remote >> st >> queues >> timer >> retr >> uid >> timeout >> inode)) {
      continue;
    }
    auto state = hex32(st);
    auto ep = endpoint(local, v6);
    if (!state || static_cast<int>(*state) != wanted || !ep) continue;
    SocketFact s;
    s.proto = proto;
    s.address = ep->first;
    s.port = ep->second;
    try {
      s.inode = std::stoull(inode);
    } catch (const std::exception&) {
      continue;
    }
    out.push_back(std::move(s));
  }
  return out;
}

Result<std::string> readTextFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Error::fromErrno("reading " + path, errno);
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::fromErrno("reading " + path, errno);
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::map<uint64_t, std::vector<ProcessRef>> socketOwners(const std::string& procRoot) {
  std::map<uint64_t, std::vector<ProcessRef>> owners;
  auto closeDir = [](DIR* d) { ::closedir(d); };
  std::unique_ptr<DIR, decltype(closeDir)> proc(::opendir(procRoot.c_str()), closeDir);
  if (!proc) return owners;
  while (dirent* e = ::readdir(proc.get())) {
    const std::string pidName = e->d_name;
    if (pidName.empty() || pidName.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string fdDir = procRoot + "/" + pidName + "/fd";
    std::unique_ptr<DIR, decltype(closeDir)> fds(::opendir(fdDir.c_str()), closeDir);
    if (!fds) continue;
    std::optional<ProcessRef> ref;
    while (dirent* f = ::readdir(fds.get())) {
      if (f->d_name[0] == '.') continue;
      char target[64] = {};
      const std::string link = fdDir + "/" + f->d_name;
      ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
      if (n <= 0) continue;
      std::string_view t(target, static_cast<size_t>(n));
      if (t.rfind("socket:[", 0) != 0 || t.back() != ']') continue;
      uint64_t inode = 0;
      try {
        inode = std::stoull(std::string(t.substr(8, t.size() - 9)));
      } catch (const std::exception&) {
        continue;
      }
      if (!ref) {
        ref = ProcessRef{std::atoi(pidName.c_str()), ""};
        if (auto comm = readTextFile(procRoot + "/" + pidName + "/comm")) {
          ref->comm = *comm;
          while (!ref->comm.empty() && ref->comm.back() == '\n') ref->comm.pop_back();
        }
      }
      auto& list = owners[inode];
      bool seen = false;
      for (const auto& o : list) seen = seen || o.pid == ref->pid;
      if (!seen) list.push_back(*ref);
    }
  }
  return owners;
}

Result<std::vector<SocketFact>> listSockets(const std::string& procRoot) {
  std::vector<SocketFact> all;
  struct File {
    const char* name;
    const char* proto;
    bool v6;
  };
  for (const File& f : {File{"udp", "udp", false}, File{"udp6", "udp", true},
                        File{"tcp", "tcp", false}, File{"tcp6", "tcp", true}}) {
    auto text = readTextFile(procRoot + "/net/" + f.name);
    if (!text) {
      // No IPv6 in this kernel: no udp6/tcp6 files, and nothing bound there.
      if (f.v6 && text.error().sysErrno() == ENOENT) continue;
      return std::move(text).error();
    }
    auto parsed = parseProcNet(*text, f.proto, f.v6);
    all.insert(all.end(), parsed.begin(), parsed.end());
  }
  if (all.empty()) return all;
  auto owners = socketOwners(procRoot);
  for (auto& s : all) {
    if (auto it = owners.find(s.inode); it != owners.end()) s.owners = it->second;
  }
  return all;
}

}  // namespace vnet::doctor
