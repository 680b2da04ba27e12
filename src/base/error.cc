#include "base/error.h"

#include <cstring>

namespace vnet {

Error Error::fromErrno(std::string_view what, int err) {
  std::string msg(what);
  msg += ": ";
  msg += std::strerror(err);
  return Error(std::move(msg), err);
}

Error Error::context(std::string_view ctx) const& {
  Error e = *this;
  e.message_.insert(0, std::string(ctx) + ": ");
  return e;
}

Error Error::context(std::string_view ctx) && {
  message_.insert(0, std::string(ctx) + ": ");
  return std::move(*this);
}

Status ErrorList::toStatus(std::string_view ctx) const {
  if (errors_.empty()) return Status::success();
  std::string msg;
  for (const auto& e : errors_) {
    if (!msg.empty()) msg += "; ";
    msg += e.message();
  }
  Error e = errors_.front();
  e = Error(errors_.front().code(), std::move(msg));
  return ctx.empty() ? Status(std::move(e)) : Status(std::move(e).context(ctx));
}

}  // namespace vnet
