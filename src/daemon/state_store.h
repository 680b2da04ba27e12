// Runtime state in SQLite (STATE_DIR/vnet.db): which networks are active with the exact
// definition they were started with (transient networks live only here), their ports,
// and small counters. Every write is its own transaction (WAL, synchronous=FULL).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/error.h"
#include "daemon/sqlite.h"
#include "model/port.h"

namespace vnet::daemon {

struct ActiveNetworkRecord {
  std::string name;
  std::string xml;  // normalized definition as started
  bool persistent = true;
};

class StateStore {
 public:
  static Result<StateStore> open(const std::string& path);

  Result<std::vector<ActiveNetworkRecord>> activeNetworks();
  Status setActive(const ActiveNetworkRecord& rec);
  Status clearActive(const std::string& name);

  // A start in progress: recorded before the start touches the kernel and cleared when it
  // ends (either way). A record left behind means vnetd died during that start; the next
  // vnetd removes what the start made (see Manager::load).
  Status setStarting(const ActiveNetworkRecord& rec);
  Status clearStarting(const std::string& name);
  Result<std::vector<ActiveNetworkRecord>> interruptedStarts();

  // Drift repair opt-out per network (default on); kept across restarts and destroys,
  // forgotten with the network (removeOptions).
  Status setAutorepair(const std::string& name, bool on);
  // Networks with a stored setting -> autorepair on/off.
  Result<std::map<std::string, bool>> autorepairSettings();
  Status removeOptions(const std::string& name);

  Result<std::vector<model::Port>> ports();
  Status addPort(const model::Port& port);
  Status removePort(const std::string& network, const std::string& name);
  Status removePortsOf(const std::string& network);

  // Returns the counter's value and stores value+1 (used for vnetN names so that numbers
  // are not reused right away).
  Result<int64_t> nextCounter(const std::string& key);

  Database& db() { return db_; }

 private:
  explicit StateStore(Database db) : db_(std::move(db)) {}
  Database db_;
};

}  // namespace vnet::daemon
