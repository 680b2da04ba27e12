#include "daemon/definition_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include "base/unique_fd.h"
#include "config/xml.h"

namespace vnet::daemon {

namespace fs = std::filesystem;

DefinitionStore::DefinitionStore(std::string configDir)
    : networksDir_(configDir + "/networks"), autostartDir_(configDir + "/networks/autostart") {}

Status DefinitionStore::init() {
  std::error_code ec;
  fs::create_directories(autostartDir_, ec);
  if (ec) return Error("creating " + autostartDir_ + ": " + ec.message(), ec.value());
  return Status::success();
}

std::string DefinitionStore::pathFor(const std::string& name) const {
  return networksDir_ + "/" + name + ".xml";
}

std::vector<StoredDefinition> DefinitionStore::loadAll(std::vector<Error>& errors) const {
  std::vector<StoredDefinition> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(networksDir_, ec)) {
    if (!entry.is_regular_file() || entry.path().extension() != ".xml") continue;
    StoredDefinition d;
    d.name = entry.path().stem().string();
    d.path = entry.path().string();
    auto xml = readFile(d.path, config::kMaxXmlBytes);
    if (!xml) {
      errors.push_back(std::move(xml).error());
      continue;
    }
    d.xml = std::move(*xml);
    d.autostart = autostart(d.name);
    out.push_back(std::move(d));
  }
  if (ec) errors.push_back(Error("reading " + networksDir_ + ": " + ec.message(), ec.value()));
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

Status DefinitionStore::save(const std::string& name, const std::string& xml) {
  return writeFileAtomic(pathFor(name), xml);
}

Status DefinitionStore::remove(const std::string& name) {
  ErrorList errs;
  for (const auto& p : {pathFor(name), autostartDir_ + "/" + name}) {
    if (::unlink(p.c_str()) != 0 && errno != ENOENT)
      errs.add(Error::fromErrno("removing " + p, errno));
  }
  return errs.toStatus();
}

Status DefinitionStore::setAutostart(const std::string& name, bool on) {
  std::string marker = autostartDir_ + "/" + name;
  if (!on) {
    if (::unlink(marker.c_str()) != 0 && errno != ENOENT) {
      return Error::fromErrno("removing " + marker, errno);
    }
    return Status::success();
  }
  return writeFileAtomic(marker, "");
}

bool DefinitionStore::autostart(const std::string& name) const {
  return ::access((autostartDir_ + "/" + name).c_str(), F_OK) == 0;
}

Status writeFileAtomic(const std::string& path, const std::string& content) {
  std::string tmp = path + ".tmp";
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd) return Error::fromErrno("writing " + tmp, errno);
  const char* p = content.data();
  size_t left = content.size();
  while (left > 0) {
    ssize_t n = ::write(fd.get(), p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::unlink(tmp.c_str());
      return Error::fromErrno("writing " + tmp, err);
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Error::fromErrno("syncing " + tmp, err);
  }
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Error::fromErrno("renaming " + tmp + " to " + path, err);
  }
  return Status::success();
}

Result<std::string> readFile(const std::string& path, size_t maxBytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd) return Error::fromErrno("reading " + path, errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return Error::fromErrno("reading " + path, errno);
  if (!S_ISREG(st.st_mode)) return Error::invalid("reading " + path + ": not a regular file");
  auto tooLarge = [&](uint64_t size) {
    return Error(ErrorCode::TooLarge, "reading " + path + ": file of " + std::to_string(size) +
                                          " bytes exceeds the limit of " +
                                          std::to_string(maxBytes) + " bytes");
  };
  if (static_cast<uint64_t>(st.st_size) > maxBytes) return tooLarge(uint64_t(st.st_size));
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::fromErrno("reading " + path, errno);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    // The file may grow while we read it.
    if (out.size() > maxBytes) return tooLarge(out.size());
  }
  return out;
}

}  // namespace vnet::daemon
