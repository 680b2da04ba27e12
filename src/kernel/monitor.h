// Kernel change events the daemon reacts to (drift repair): links and addresses from
// rtnetlink (kernel/netlink/link_monitor.h) and committed nftables transactions that
// touched our table (kernel/nft/nft_monitor.h). Plain values; no kernel headers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/ip.h"

namespace vnet::kernel {

// RTM_NEWLINK / RTM_DELLINK.
struct LinkEvent {
  bool removed = false;  // RTM_DELLINK
  int ifindex = 0;
  std::string name;
  bool up = false;  // IFF_UP
  int master = 0;   // IFLA_MASTER, 0 when none
};

// RTM_NEWADDR / RTM_DELADDR.
struct AddressEvent {
  bool removed = false;  // RTM_DELADDR
  int ifindex = 0;
  std::optional<Cidr> address;  // the local address (IFA_LOCAL, else IFA_ADDRESS)
};

// One committed nftables transaction that touched table `inet vnet` (its objects'
// notifications, closed by the transaction's NFT_MSG_NEWGEN).
struct TableEvent {
  uint32_t generation = 0;  // NFTA_GEN_ID
  int pid = 0;              // NFTA_GEN_PROC_PID: the thread that committed it, 0 if unknown
  std::string process;      // NFTA_GEN_PROC_NAME
  // What the transaction did to our table, e.g. "deleted rule in chain default_fwd_in";
  // at most kMaxChanges entries, then "... and N more".
  std::vector<std::string> changes;
  static constexpr size_t kMaxChanges = 8;
};

// Receives events on the event loop thread, in the order the kernel sent them.
class ChangeSink {
 public:
  virtual ~ChangeSink() = default;
  virtual void onLink(const LinkEvent& e) = 0;
  virtual void onAddress(const AddressEvent& e) = 0;
  virtual void onTable(const TableEvent& e) = 0;
  // The kernel dropped events of `source` ("rtnetlink", "nftables") because the socket's
  // receive buffer was full: anything may have changed.
  virtual void onEventsLost(const std::string& source) = 0;
};

}  // namespace vnet::kernel
