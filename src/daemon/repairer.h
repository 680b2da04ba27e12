// Repairer: turns kernel change events into Manager::reconcile calls, on the event loop.
//
// - Link and address events concern a network when they name its bridge (deleted, down),
//   an address on the bridge (deleted), or one of its ports (deleted from the bridge).
//   They mark the network's links to check; our own changes pass the same way and find
//   nothing to repair (the comparison is with the definition, so repairs cannot loop).
// - A committed nftables transaction that touched our table and was not made by this
//   process (its NEWGEN names another pid) marks the firewall to check: one listing of our
//   table, whatever the number of networks; events of other tables are ignored unread.
// - A link event of an interface vnet did not make that joins or leaves a watched bridge is
//   passed to Manager::noteAdoptedPort (port.added / port.removed events); nothing to repair.
// - Lost events mark everything.
// - ip_forward has no event: the forwarding sysctls are read every `poll`.
// Marks are collected for `settle` after the first one (a burst such as `nft flush
// ruleset` becomes one check and one repair per network), then checked at once. Failed
// repairs are tried again after `retry`.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "daemon/manager.h"
#include "kernel/links.h"
#include "kernel/monitor.h"

namespace vnet::daemon {

class Repairer final : public kernel::ChangeSink {
 public:
  struct Options {
    std::chrono::milliseconds settle{50};
    std::chrono::milliseconds poll{200};
    std::chrono::milliseconds retry{1000};
    int selfPid = 0;  // our nft transactions carry this pid (0: getpid())
  };

  // `links` is used to look up the ifindex of watched bridges (address events carry only
  // the ifindex).
  Repairer(boost::asio::io_context& io, Manager& manager, kernel::Links& links, Options options);
  Repairer(boost::asio::io_context& io, Manager& manager, kernel::Links& links)
      : Repairer(io, manager, links, Options{}) {}
  ~Repairer() override;
  Repairer(const Repairer&) = delete;
  Repairer& operator=(const Repairer&) = delete;

  // Starts polling the forwarding sysctls.
  void start();

  void onLink(const kernel::LinkEvent& e) override;
  void onAddress(const kernel::AddressEvent& e) override;
  void onTable(const kernel::TableEvent& e) override;
  void onEventsLost(const std::string& source) override;

 private:
  // Re-reads the watched networks when the Manager's generation moved.
  void refresh();
  void mark(const std::string& network, const std::string& cause);
  void addCause(std::string cause);
  void markAll(const std::string& cause);
  void arm(std::chrono::milliseconds after);
  void run();
  void poll(std::chrono::milliseconds after);

  Manager& manager_;
  kernel::Links& links_;
  Options options_;
  boost::asio::steady_timer settle_;
  boost::asio::steady_timer poll_;
  bool armed_ = false;
  // Expires with the object: timer completions queued before destruction must not run.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  ReconcileScope pending_;

  uint64_t generation_ = ~uint64_t{0};
  std::vector<std::string> causes_;                // of pending_, first seen first, no repeats
  std::map<std::string, WatchedNetwork> watched_;  // by network name
  std::map<std::string, std::string> byBridge_;    // bridge name -> network
  std::map<std::string, std::string> byPort_;      // port name -> network
  std::map<std::string, int> indexOf_;             // watched bridge -> ifindex (0: unknown)
};

}  // namespace vnet::daemon
