#include "testing/fake_tracing.h"

namespace vnet::testing {

Status FakeTracing::record(std::string call) {
  calls_.push_back(call);
  if (failNext_ && call.rfind(failNext_->first, 0) == 0) {
    Error e = std::move(failNext_->second);
    failNext_.reset();
    return e;
  }
  return Status::success();
}

Status FakeTracing::addTrace(const kernel::TraceMatch& m) {
  VNET_TRY(record("addTrace " + std::to_string(m.id)));
  installed_.insert(m.id);
  matches_.push_back(m);
  return Status::success();
}

Status FakeTracing::followReplies(const kernel::TraceMatch& m) {
  VNET_TRY(record("followReplies " + std::to_string(m.id) + " " +
                  (m.guestIp ? m.guestIp->toString() : "-")));
  matches_.push_back(m);
  return Status::success();
}

Status FakeTracing::removeTrace(unsigned id) {
  VNET_TRY(record("removeTrace " + std::to_string(id)));
  installed_.erase(id);
  return Status::success();
}

Status FakeTracing::removeAllTraces() {
  VNET_TRY(record("removeAllTraces"));
  installed_.clear();
  return Status::success();
}

Status FakeTracing::listen(kernel::TraceListener listener) {
  VNET_TRY(record("listen"));
  listener_ = std::move(listener);
  listening_ = true;
  return Status::success();
}

void FakeTracing::stopListening() {
  calls_.push_back("stopListening");
  listening_ = false;
}

void FakeTracing::emit(const kernel::TraceEvent& e) {
  if (listening_ && listener_) listener_->event(e);
}

Result<std::optional<kernel::ConntrackEntry>> FakeConntrack::find(const kernel::FlowTuple& t) {
  ++lookups_;
  for (const auto& e : entries_) {
    if (e.original == t) return std::optional<kernel::ConntrackEntry>(e);
  }
  return std::optional<kernel::ConntrackEntry>();
}

}  // namespace vnet::testing
