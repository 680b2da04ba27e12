// Parses nftables multicast datagrams (NFNLGRP_NFTABLES, what `nft monitor` reads) into
// kernel::TableEvent: the notifications of one committed transaction are collected until
// its NFT_MSG_NEWGEN, and the transaction is reported when it touched table `inet vnet`.
// Pure: bytes in, events out; malformed messages are skipped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "kernel/monitor.h"

namespace vnet::kernel::monitor {

class NftEventParser {
 public:
  // Feeds one datagram; reports finished transactions that touched our table to `sink`.
  void feed(std::span<const uint8_t> datagram, ChangeSink& sink);
  // Forgets the transaction in progress (its notifications were lost).
  void reset();

  // Internal: one notification of the transaction in progress.
  void note(bool ours, std::string change);
  // Internal: the transaction's NEWGEN.
  void finish(uint32_t generation, int pid, std::string process, ChangeSink& sink);

 private:
  bool touched_ = false;
  size_t count_ = 0;  // changes to our table, including those not kept in changes_
  std::vector<std::string> changes_;
};

}  // namespace vnet::kernel::monitor
