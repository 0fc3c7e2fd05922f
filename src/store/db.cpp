#include "store/db.h"

#include <fmt/format.h>

#include <cerrno>

#include "core/failpoint.h"

namespace berth {
namespace {

std::unexpected<Error> sql_error(sqlite3* db, std::string_view what) {
  return fail(Code::kStoreError, fmt::format("{}: {}", what, sqlite3_errmsg(db)));
}

}  // namespace

Stmt::Stmt(Stmt&& o) noexcept
    : db_(o.db_), stmt_(std::exchange(o.stmt_, nullptr)), error_(std::move(o.error_)) {}

Stmt::~Stmt() {
  if (stmt_) sqlite3_finalize(stmt_);
}

Stmt& Stmt::bind(int idx, int64_t v) {
  sqlite3_bind_int64(stmt_, idx, v);
  return *this;
}

Stmt& Stmt::bind(int idx, std::string_view v) {
  sqlite3_bind_text(stmt_, idx, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}

Stmt& Stmt::bind_null(int idx) {
  sqlite3_bind_null(stmt_, idx);
  return *this;
}

bool Stmt::step() {
  // The failpoint stands for SQLite refusing a write (a full disk, an I/O error); reads go on.
  if (!sqlite3_stmt_readonly(stmt_) && BERTH_FAIL("store.write")) {
    const int err = errno;
    error_ = Error{io_code(err, Code::kStoreError),
                   sqlite3_errstr(err == ENOSPC || err == EDQUOT ? SQLITE_FULL : SQLITE_IOERR)};
    return false;
  }
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc != SQLITE_DONE) error_ = Error{Code::kStoreError, sqlite3_errmsg(db_)};
  return false;
}

Result<void> Stmt::run() {
  while (step()) {
  }
  return ok();
}

Stmt& Stmt::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  return *this;
}

int64_t Stmt::int_col(int i) const {
  return sqlite3_column_int64(stmt_, i);
}

std::string Stmt::text_col(int i) const {
  auto* p = sqlite3_column_text(stmt_, i);
  return p ? std::string(reinterpret_cast<const char*>(p),
                         static_cast<size_t>(sqlite3_column_bytes(stmt_, i)))
           : std::string();
}

bool Stmt::is_null(int i) const {
  return sqlite3_column_type(stmt_, i) == SQLITE_NULL;
}

Result<std::unique_ptr<Db>> Db::open(const std::filesystem::path& path) {
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  std::unique_ptr<Db> db(new Db(raw));
  if (rc != SQLITE_OK) return sql_error(raw, "open " + path.string());
  sqlite3_busy_timeout(raw, 5000);
  if (auto r =
          db->exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
      !r)
    return std::unexpected(r.error());
  return db;
}

Db::~Db() {
  sqlite3_close_v2(db_);
}

Result<void> Db::exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown";
    sqlite3_free(err);
    return fail(Code::kStoreError, msg);
  }
  return {};
}

Result<Stmt> Db::prepare(std::string_view sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &s, nullptr) != SQLITE_OK)
    return sql_error(db_, fmt::format("prepare \"{}\"", sql));
  return Stmt(db_, s);
}

Tx::Tx(Db& db) : db_(db) {
  begun_ = db_.exec("BEGIN IMMEDIATE").has_value();
}

Tx::~Tx() {
  if (begun_ && !done_) (void)db_.exec("ROLLBACK");
}

Result<void> Tx::commit() {
  done_ = true;
  return db_.exec("COMMIT");
}

}  // namespace berth
