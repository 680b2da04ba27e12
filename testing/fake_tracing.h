// FakeTracing and FakeConntrack: the kernel side of `vnetctl trace` in memory. FakeTracing
// records calls, keeps the set of installed traces, delivers events a test emits to the
// listener, and fails the next call when told to. FakeConntrack answers from a table.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "kernel/trace.h"

namespace vnet::testing {

class FakeTracing : public kernel::Tracing {
 public:
  // Records "addTrace <id>" / "followReplies <id> <guestIp>" / "removeTrace <id>" /
  // "removeAllTraces" / "listen" / "stopListening".
  Status addTrace(const kernel::TraceMatch& m) override;
  Status followReplies(const kernel::TraceMatch& m) override;
  Status removeTrace(unsigned id) override;
  Status removeAllTraces() override;
  Status listen(kernel::TraceListener listener) override;
  void stopListening() override;

  // Hands `e` to the listener (nothing when not listening).
  void emit(const kernel::TraceEvent& e);
  // The next call of `verb` ("addTrace", "listen", ...) fails with `e`, changing nothing.
  void failNext(std::string verb, Error e) { failNext_ = {std::move(verb), std::move(e)}; }

  const std::vector<std::string>& calls() const { return calls_; }
  const std::set<unsigned>& installed() const { return installed_; }
  // The matches passed to addTrace/followReplies, latest last.
  const std::vector<kernel::TraceMatch>& matches() const { return matches_; }
  bool listening() const { return listening_; }

 private:
  Status record(std::string call);

  std::vector<std::string> calls_;
  std::set<unsigned> installed_;
  std::vector<kernel::TraceMatch> matches_;
  std::optional<kernel::TraceListener> listener_;
  bool listening_ = false;
  std::optional<std::pair<std::string, Error>> failNext_;
};

class FakeConntrack : public kernel::ConntrackLookup {
 public:
  void add(kernel::ConntrackEntry e) { entries_.push_back(std::move(e)); }
  Result<std::optional<kernel::ConntrackEntry>> find(const kernel::FlowTuple& t) override;
  int lookups() const { return lookups_; }

 private:
  std::vector<kernel::ConntrackEntry> entries_;
  int lookups_ = 0;
};

}  // namespace vnet::testing
