// Thin RAII wrappers over SQLite: Db (connection, WAL), Stmt (prepared statement), Tx.
// Every failure becomes an Error with code `store_error`.
#pragma once
#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"

namespace berth {

class Db;

class Stmt {
 public:
  Stmt(Stmt&&) noexcept;
  Stmt& operator=(Stmt&&) = delete;
  ~Stmt();

  Stmt& bind(int idx, int64_t v);
  Stmt& bind(int idx, std::string_view v);
  Stmt& bind_null(int idx);
  // Advances; true while a row is available. Errors are reported through `ok()`.
  bool step();
  Result<void> run();  // steps to completion
  // Makes the statement runnable again with new bindings.
  Stmt& reset();
  int64_t int_col(int i) const;
  std::string text_col(int i) const;
  bool is_null(int i) const;
  Result<void> ok() const {
    return error_ ? Result<void>(std::unexpected(*error_)) : Result<void>();
  }

 private:
  friend class Db;
  Stmt(sqlite3* db, sqlite3_stmt* s) : db_(db), stmt_(s) {}
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  std::optional<Error> error_;
};

class Db {
 public:
  static Result<std::unique_ptr<Db>> open(const std::filesystem::path& path);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  Result<void> exec(const std::string& sql);
  Result<Stmt> prepare(std::string_view sql);
  int64_t changes() const { return sqlite3_changes64(db_); }

 private:
  explicit Db(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

// Rolls back unless committed.
class Tx {
 public:
  explicit Tx(Db& db);
  ~Tx();
  Result<void> commit();
  explicit operator bool() const { return begun_; }

 private:
  Db& db_;
  bool begun_ = false;
  bool done_ = false;
};

// Applies numbered migrations not yet recorded in `schema_version`.
Result<void> migrate(Db& db);

}  // namespace berth
