// The `trees` table: every process tree the daemon has started and not yet seen die. A daemon
// that was SIGKILLed leaves rows here; the next start kills what they describe.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "store/db.h"

namespace berth {

struct TreeRow {
  std::string component;
  int instance = 0;
  int pid = 0;
  uint64_t start_time = 0;
  int pgid = 0;
  std::optional<std::string> cgroup;
};

class TreeRepo {
 public:
  explicit TreeRepo(Db& db) : db_(db) {}
  Result<void> put(const TreeRow& row);
  Result<void> remove(const std::string& component, int instance);
  Result<std::vector<TreeRow>> list();
  Result<void> clear() { return db_.exec("DELETE FROM trees"); }

 private:
  Db& db_;
};

}  // namespace berth
