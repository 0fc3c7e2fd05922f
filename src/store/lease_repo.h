// The `leases` table: loopback addresses handed to component instances (`address = "lease"`).
// An address returns to the pool only when the tree that used it is dead.
#pragma once
#include <string>

#include "store/db.h"

namespace berth {

class LeaseRepo {
 public:
  explicit LeaseRepo(Db& db) : db_(db) {}
  // The instance's existing lease, else the lowest free address in [first, last].
  // Fails with `no_free_address` when the pool is exhausted.
  Result<std::string> acquire(const std::string& component, int instance, const std::string& first,
                              const std::string& last);
  Result<void> release(const std::string& component, int instance);
  // At daemon start, after leftover trees are killed, every old lease is free again.
  Result<void> clear() { return db_.exec("DELETE FROM leases"); }

 private:
  Db& db_;
};

}  // namespace berth
