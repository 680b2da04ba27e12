#include "dhcp/lease_store.h"

#include <sqlite3.h>

#include <utility>

namespace vnet::dhcp {

const char* leaseStateName(LeaseState s) {
  switch (s) {
    case LeaseState::kActive:
      return "active";
    case LeaseState::kDeclined:
      return "declined";
  }
  return "unknown";
}

// ---- MemoryLeaseStore ----

Result<std::vector<Lease>> MemoryLeaseStore::load() {
  std::vector<Lease> out;
  out.reserve(leases_.size());
  for (const auto& [ip, lease] : leases_) out.push_back(lease);
  return out;
}

void MemoryLeaseStore::stage(const Lease& lease) {
  staged_.push_back(Op{false, lease});
}

void MemoryLeaseStore::stageErase(Ipv4 ip) {
  Lease l;
  l.ip = ip;
  staged_.push_back(Op{true, std::move(l)});
}

Status MemoryLeaseStore::commit() {
  if (std::exchange(fail_next_, false)) {
    staged_.clear();
    return Error("memory lease store: injected commit failure");
  }
  for (auto& op : staged_) {
    if (op.erase) {
      leases_.erase(op.lease.ip);
    } else {
      leases_[op.lease.ip] = std::move(op.lease);
    }
  }
  if (!staged_.empty()) ++commits_;
  staged_.clear();
  return Status::success();
}

// ---- SqliteLeaseStore ----

namespace {

struct StmtDeleter {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Stmt = std::unique_ptr<sqlite3_stmt, StmtDeleter>;

Error sqliteError(sqlite3* db, std::string_view what) {
  return Error(std::string(what) + ": " + sqlite3_errmsg(db));
}

// Page cache per connection, in KiB (SQLite's default is 2,000).
constexpr int kCacheKiB = 512;

constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS dhcp_leases ("
    "  scope TEXT NOT NULL,"
    "  ip INTEGER NOT NULL,"
    "  mac BLOB NOT NULL,"
    "  client_id BLOB NOT NULL,"
    "  hostname TEXT NOT NULL,"
    "  expiry INTEGER NOT NULL,"
    "  state INTEGER NOT NULL,"
    "  PRIMARY KEY (scope, ip)) WITHOUT ROWID";

}  // namespace

struct SqliteLeaseStore::Impl {
  sqlite3* db = nullptr;
  Stmt begin, commit, rollback, upsert, erase, select;
  ~Impl() {
    begin.reset();
    commit.reset();
    rollback.reset();
    upsert.reset();
    erase.reset();
    select.reset();
    if (db) sqlite3_close(db);
  }
  Result<Stmt> prepare(const char* sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) != SQLITE_OK) {
      return sqliteError(db, std::string("preparing ") + sql);
    }
    return Stmt(s);
  }
  Status exec(const char* sql) {
    char* msg = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
      Error e(std::string(sql) + ": " + (msg ? msg : "error"));
      sqlite3_free(msg);
      return e;
    }
    return Status::success();
  }
  // Runs a statement without result rows and resets it.
  Status step(sqlite3_stmt* s, std::string_view what) {
    const int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE) return sqliteError(db, what);
    return Status::success();
  }
};

SqliteLeaseStore::SqliteLeaseStore(std::unique_ptr<Impl> impl, std::string scope)
    : impl_(std::move(impl)), scope_(std::move(scope)) {}

SqliteLeaseStore::~SqliteLeaseStore() = default;

Result<std::unique_ptr<SqliteLeaseStore>> SqliteLeaseStore::open(const std::string& path,
                                                                 std::string scope,
                                                                 LeaseSync sync) {
  auto impl = std::make_unique<Impl>();
  const std::string ctx = "opening lease database " + path;
  if (sqlite3_open_v2(path.c_str(), &impl->db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    Error e = impl->db ? sqliteError(impl->db, ctx) : Error(ctx + ": out of memory");
    return e;
  }
  // Another store (another network) may hold the write lock for one commit.
  sqlite3_busy_timeout(impl->db, 5000);
  // Durability contract: LeaseSync (see lease_store.h). Memory: a page cache
  // of at most kCacheKiB per connection and no memory-mapped I/O, whatever the lease count
  // (the server keeps its own index; SQLite is written, and read only at start).
  const std::string cache = "PRAGMA cache_size=-" + std::to_string(kCacheKiB);
  const char* syncPragma =
      sync == LeaseSync::kFull ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL";
  for (const char* sql :
       {"PRAGMA journal_mode=WAL", syncPragma, cache.c_str(), "PRAGMA mmap_size=0", kSchema}) {
    if (Status s = impl->exec(sql); !s.ok()) return std::move(s).error().context(ctx);
  }
  struct {
    Stmt* stmt;
    const char* sql;
  } stmts[] = {
      {&impl->begin, "BEGIN IMMEDIATE"},
      {&impl->commit, "COMMIT"},
      {&impl->rollback, "ROLLBACK"},
      {&impl->upsert,
       "INSERT OR REPLACE INTO dhcp_leases (scope, ip, mac, client_id, hostname, expiry, state)"
       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"},
      {&impl->erase, "DELETE FROM dhcp_leases WHERE scope = ?1 AND ip = ?2"},
      {&impl->select,
       "SELECT ip, mac, client_id, hostname, expiry, state FROM dhcp_leases"
       " WHERE scope = ?1 ORDER BY ip"},
  };
  for (auto& [stmt, sql] : stmts) {
    auto r = impl->prepare(sql);
    if (!r.ok()) return std::move(r).error().context(ctx);
    *stmt = std::move(r).value();
  }
  return std::unique_ptr<SqliteLeaseStore>(new SqliteLeaseStore(std::move(impl), std::move(scope)));
}

Result<std::vector<Lease>> SqliteLeaseStore::load() {
  sqlite3_stmt* s = impl_->select.get();
  sqlite3_bind_text(s, 1, scope_.data(), int(scope_.size()), SQLITE_TRANSIENT);
  std::vector<Lease> out;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    Lease l;
    l.ip = Ipv4(uint32_t(sqlite3_column_int64(s, 0)));
    const auto* mac = static_cast<const uint8_t*>(sqlite3_column_blob(s, 1));
    if (mac && sqlite3_column_bytes(s, 1) == 6) {
      Mac::Bytes b;
      std::copy_n(mac, 6, b.begin());
      l.mac = Mac(b);
    }
    const auto* cid = static_cast<const uint8_t*>(sqlite3_column_blob(s, 2));
    if (cid) l.client_id.assign(cid, cid + sqlite3_column_bytes(s, 2));
    const auto* host = sqlite3_column_text(s, 3);
    if (host)
      l.hostname.assign(reinterpret_cast<const char*>(host), size_t(sqlite3_column_bytes(s, 3)));
    l.expiry = sqlite3_column_int64(s, 4);
    const int state = sqlite3_column_int(s, 5);
    if (state != int(LeaseState::kActive) && state != int(LeaseState::kDeclined)) continue;
    l.state = LeaseState(state);
    out.push_back(std::move(l));
  }
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  if (rc != SQLITE_DONE) return sqliteError(impl_->db, "loading leases of " + scope_);
  return out;
}

void SqliteLeaseStore::stage(const Lease& lease) {
  staged_.push_back(Op{false, lease});
}

void SqliteLeaseStore::stageErase(Ipv4 ip) {
  Lease l;
  l.ip = ip;
  staged_.push_back(Op{true, std::move(l)});
}

Status SqliteLeaseStore::commit() {
  if (staged_.empty()) return Status::success();
  // The batch moves to a kept buffer (capacity reused from batch to batch) and leaves it
  // empty whatever happens.
  committing_.swap(staged_);
  struct Clear {
    std::vector<Op>& ops;
    ~Clear() { ops.clear(); }
  } clear{committing_};
  const auto ctx = [this] { return "committing leases of " + scope_; };
  if (Status s = impl_->step(impl_->begin.get(), "BEGIN"); !s.ok()) {
    return std::move(s).error().context(ctx());
  }
  for (const Op& op : committing_) {
    sqlite3_stmt* s = op.erase ? impl_->erase.get() : impl_->upsert.get();
    sqlite3_bind_text(s, 1, scope_.data(), int(scope_.size()), SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, op.lease.ip.toUint());
    if (!op.erase) {
      const Lease& l = op.lease;
      sqlite3_bind_blob(s, 3, l.mac.bytes().data(), 6, SQLITE_STATIC);
      // A zero-length blob needs a non-null pointer, or SQLite binds NULL.
      static constexpr uint8_t kEmpty[1] = {0};
      sqlite3_bind_blob(s, 4, l.client_id.empty() ? kEmpty : l.client_id.data(),
                        int(l.client_id.size()), SQLITE_STATIC);
      sqlite3_bind_text(s, 5, l.hostname.data(), int(l.hostname.size()), SQLITE_STATIC);
      sqlite3_bind_int64(s, 6, l.expiry);
      sqlite3_bind_int(s, 7, int(l.state));
    }
    if (Status st = impl_->step(s, op.erase ? "DELETE" : "INSERT"); !st.ok()) {
      (void)impl_->step(impl_->rollback.get(), "ROLLBACK");
      return std::move(st).error().context(ctx());
    }
  }
  if (Status s = impl_->step(impl_->commit.get(), "COMMIT"); !s.ok()) {
    (void)impl_->step(impl_->rollback.get(), "ROLLBACK");
    return std::move(s).error().context(ctx());
  }
  return Status::success();
}

}  // namespace vnet::dhcp
