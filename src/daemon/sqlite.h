// A thin RAII layer over SQLite 3 for the daemon's state database.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/error.h"

namespace vnet::daemon {

class Statement;

// Finalizes a statement of its own; gives a kept one back to its Database (`inUse`).
struct StatementFinalizer {
  bool* inUse = nullptr;
  void operator()(sqlite3_stmt* s) const;
};

class Database {
 public:
  // Opens (creating) the file in WAL mode with synchronous=FULL and a busy time-out.
  static Result<Database> open(const std::string& path);
  Database() = default;

  // Runs one or more statements without results.
  Status exec(std::string_view sql);
  // A statement for `sql`, compiled once per database: the compiled statement is kept and
  // handed out again (reset, bindings cleared) once the previous Statement for the same text
  // is gone; while that one lives, a fresh statement is compiled. A Statement must not
  // outlive its Database.
  Result<Statement> prepare(std::string_view sql);
  std::string lastError() const;
  sqlite3* handle() const { return db_.get(); }

 private:
  struct Closer {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
  };
  struct Cached;
  using Cache = std::unordered_map<std::string, Cached>;
  std::unique_ptr<sqlite3, Closer> db_;
  // Declared after db_: the kept statements are finalized before the connection closes.
  std::unique_ptr<Cache> cache_;
};

// A prepared statement; bind with 1-based indexes, step until it returns false.
class Statement {
 public:
  Statement& bind(int i, std::string_view text);
  Statement& bind(int i, int64_t v);
  Statement& bindNull(int i);
  // True when a row is available; false when done. Errors are reported through ok().
  bool step();
  Status status() const { return status_; }
  void reset();

  std::string text(int col) const;
  int64_t integer(int col) const;
  bool isNull(int col) const;

 private:
  friend class Database;
  using Finalizer = StatementFinalizer;
  std::unique_ptr<sqlite3_stmt, Finalizer> stmt_;
  sqlite3* db_ = nullptr;
  Status status_;
};

struct Database::Cached {
  std::unique_ptr<sqlite3_stmt, StatementFinalizer> stmt;
  bool inUse = false;
};

}  // namespace vnet::daemon
