#include "daemon/sqlite.h"

namespace vnet::daemon {

Result<Database> Database::open(const std::string& path) {
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  Database db;
  db.db_.reset(raw);
  db.cache_ = std::make_unique<Cache>();
  if (rc != SQLITE_OK) {
    return Error("opening database " + path + ": " +
                 (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  sqlite3_busy_timeout(raw, 5000);
  // WAL with synchronous=FULL: a committed transaction survives a crash or power loss.
  if (Status s = db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"); !s.ok()) {
    return std::move(s).error().context("opening database " + path);
  }
  return db;
}

Status Database::exec(std::string_view sql) {
  char* err = nullptr;
  std::string q(sql);
  if (sqlite3_exec(db_.get(), q.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return Error("sqlite: " + msg);
  }
  return Status::success();
}

Result<Statement> Database::prepare(std::string_view sql) {
  Cached* kept = nullptr;
  if (cache_) {
    auto [it, added] = cache_->try_emplace(std::string(sql));
    kept = &it->second;
    if (!added && kept->inUse) kept = nullptr;
  }
  Statement st;
  st.db_ = db_.get();
  if (kept && kept->stmt) {
    kept->inUse = true;
    st.stmt_ = std::unique_ptr<sqlite3_stmt, StatementFinalizer>(kept->stmt.get(),
                                                                 StatementFinalizer{&kept->inUse});
    return st;
  }
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db_.get(), sql.data(), static_cast<int>(sql.size()), &raw, nullptr) !=
      SQLITE_OK) {
    return Error("sqlite: preparing statement: " + lastError());
  }
  if (kept) {
    kept->stmt.reset(raw);
    kept->inUse = true;
    st.stmt_ =
        std::unique_ptr<sqlite3_stmt, StatementFinalizer>(raw, StatementFinalizer{&kept->inUse});
  } else {
    st.stmt_.reset(raw);
  }
  return st;
}

void StatementFinalizer::operator()(sqlite3_stmt* s) const {
  if (!inUse) {
    sqlite3_finalize(s);
    return;
  }
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  *inUse = false;
}

std::string Database::lastError() const {
  return sqlite3_errmsg(db_.get());
}

Statement& Statement::bind(int i, std::string_view text) {
  sqlite3_bind_text(stmt_.get(), i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::bind(int i, int64_t v) {
  sqlite3_bind_int64(stmt_.get(), i, v);
  return *this;
}

Statement& Statement::bindNull(int i) {
  sqlite3_bind_null(stmt_.get(), i);
  return *this;
}

bool Statement::step() {
  int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc != SQLITE_DONE) status_ = Error(std::string("sqlite: ") + sqlite3_errmsg(db_));
  return false;
}

void Statement::reset() {
  sqlite3_reset(stmt_.get());
  sqlite3_clear_bindings(stmt_.get());
  status_ = Status::success();
}

std::string Statement::text(int col) const {
  const unsigned char* t = sqlite3_column_text(stmt_.get(), col);
  return t ? std::string(reinterpret_cast<const char*>(t),
                         static_cast<size_t>(sqlite3_column_bytes(stmt_.get(), col)))
           : std::string();
}

int64_t Statement::integer(int col) const {
  return sqlite3_column_int64(stmt_.get(), col);
}
bool Statement::isNull(int col) const {
  return sqlite3_column_type(stmt_.get(), col) == SQLITE_NULL;
}

}  // namespace vnet::daemon
