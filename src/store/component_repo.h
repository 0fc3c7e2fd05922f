// The `components` table: which components exist, where they live, whether they should run.
#pragma once
#include <string>
#include <vector>

#include "store/db.h"

namespace berth {

// Whether a component should run: what the next daemon start brings back.
enum class Desired { kRunning, kStopped };

struct ComponentRow {
  std::string name;
  std::string dir;
  Desired desired = Desired::kStopped;
  bool watch = false;       // `berth run --watch`
  bool destroying = false;  // a destroy began and has not finished
};

class ComponentRepo {
 public:
  explicit ComponentRepo(Db& db) : db_(db) {}
  Result<void> upsert(const ComponentRow& row);
  Result<void> set_desired(const std::string& name, Desired desired);
  // Records that a destroy of `name` has begun (before anything is removed).
  Result<void> mark_destroying(const std::string& name);
  Result<std::vector<ComponentRow>> list();
  // Destroy: the row goes and a tombstone is written, in one transaction.
  Result<void> tombstone(const std::string& name);
  // Lifts a tombstone (an explicit deploy or run, or reconcile healing a live name).
  Result<void> lift(const std::string& name);
  Result<std::vector<std::string>> tombstones();

 private:
  Db& db_;
};

}  // namespace berth
