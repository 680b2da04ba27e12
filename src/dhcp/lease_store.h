// Durable lease storage for one DHCP scope (one network).
//
// Write contract (group commit): the server only stage()s writes; nothing is durable until
// commit() returns OK. A transport handles a batch of packets, then calls commit() once, and
// releases the ACKs of that batch only after commit() succeeded — so an acknowledged lease is
// never lost. When commit() fails, the staged writes are discarded and the batch's replies
// must be dropped (clients retransmit).
//
// Thread-safety: none; a store is used from the one thread that runs its server.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/ip.h"

namespace vnet::dhcp {

enum class LeaseState : uint8_t {
  kActive = 1,    // bound to a client until expiry
  kDeclined = 2,  // quarantined after DHCPDECLINE until expiry; belongs to nobody
};
const char* leaseStateName(LeaseState s);

struct Lease {
  Ipv4 ip;
  Mac mac;
  // Option 61 as sent (type byte included); empty when the client sent none.
  std::vector<uint8_t> client_id;
  // Option 12 as sent, when it was printable ASCII; empty otherwise.
  std::string hostname;
  // Unix seconds; 0 = infinite.
  int64_t expiry = 0;
  LeaseState state = LeaseState::kActive;

  friend bool operator==(const Lease&, const Lease&) = default;
};

class LeaseStore {
 public:
  virtual ~LeaseStore() = default;

  // Every committed lease of this scope, in ip order (whatever their expiry).
  virtual Result<std::vector<Lease>> load() = 0;
  // Stages an insert-or-replace of the lease keyed by lease.ip.
  virtual void stage(const Lease& lease) = 0;
  // Stages the removal of the lease at ip (no-op when there is none).
  virtual void stageErase(Ipv4 ip) = 0;
  // True when there are staged writes not yet committed.
  virtual bool hasStaged() const = 0;
  // Makes every staged write durable, atomically. On failure nothing of the batch is stored
  // and the staged writes are discarded.
  virtual Status commit() = 0;
};

// In-memory store for tests and fuzzing. Records commits; can be told to fail them.
class MemoryLeaseStore final : public LeaseStore {
 public:
  Result<std::vector<Lease>> load() override;
  void stage(const Lease& lease) override;
  void stageErase(Ipv4 ip) override;
  bool hasStaged() const override { return !staged_.empty(); }
  Status commit() override;

  // Test hooks.
  void TEST_failNextCommit() { fail_next_ = true; }
  size_t TEST_commits() const { return commits_; }
  const std::map<Ipv4, Lease>& TEST_leases() const { return leases_; }

 private:
  struct Op {
    bool erase;
    Lease lease;
  };
  std::map<Ipv4, Lease> leases_;
  std::vector<Op> staged_;
  size_t commits_ = 0;
  bool fail_next_ = false;
};

// How far a commit goes before commit() returns (and the ACK leaves).
enum class LeaseSync {
  // WAL, synchronous=FULL: the WAL is fsynced per commit (one fsync per batch with group
  // commit). A committed lease survives vnetd being killed and the host losing power.
  kFull,
  // WAL, synchronous=NORMAL: the commit is written to the WAL (the kernel's page cache) and
  // synced at checkpoints only. A committed lease survives vnetd being killed (-9) or
  // crashing; a power loss may lose the last ones (the database stays consistent). Kea's
  // memfile backend gives the same guarantee (it appends to its CSV without fsync).
  kNormal,
};

// SQLite-backed store. Several scopes (networks) may share one database file; each store
// reads and writes only the rows of its scope. WAL mode; LeaseSync says what a commit
// survives.
class SqliteLeaseStore final : public LeaseStore {
 public:
  // Opens (creating when needed) the database at path. path may be ":memory:".
  static Result<std::unique_ptr<SqliteLeaseStore>> open(const std::string& path, std::string scope,
                                                        LeaseSync sync = LeaseSync::kFull);
  ~SqliteLeaseStore() override;
  SqliteLeaseStore(const SqliteLeaseStore&) = delete;
  SqliteLeaseStore& operator=(const SqliteLeaseStore&) = delete;

  Result<std::vector<Lease>> load() override;
  void stage(const Lease& lease) override;
  void stageErase(Ipv4 ip) override;
  bool hasStaged() const override { return !staged_.empty(); }
  Status commit() override;

  const std::string& scope() const { return scope_; }

 private:
  struct Impl;
  struct Op {
    bool erase;
    Lease lease;
  };
  SqliteLeaseStore(std::unique_ptr<Impl> impl, std::string scope);
  std::unique_ptr<Impl> impl_;
  std::string scope_;
  std::vector<Op> staged_;
  std::vector<Op> committing_;  // the batch commit() is writing; kept for its capacity
};

}  // namespace vnet::dhcp
