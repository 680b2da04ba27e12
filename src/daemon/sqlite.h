// A thin RAII layer over SQLite 3 for the daemon's state database.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"

namespace vnet::daemon {

class Statement;

class Database {
 public:
  // Opens (creating) the file in WAL mode with synchronous=FULL and a busy time-out.
  static Result<Database> open(const std::string& path);
  Database() = default;

  // Runs one or more statements without results.
  Status exec(std::string_view sql);
  Result<Statement> prepare(std::string_view sql);
  std::string lastError() const;
  sqlite3* handle() const { return db_.get(); }

 private:
  struct Closer {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
  };
  std::unique_ptr<sqlite3, Closer> db_;
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
  struct Finalizer {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
  };
  std::unique_ptr<sqlite3_stmt, Finalizer> stmt_;
  sqlite3* db_ = nullptr;
  Status status_;
};

}  // namespace vnet::daemon
