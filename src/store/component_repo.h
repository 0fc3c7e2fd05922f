// The `components` table: which components exist, where they live, whether they should run.
#pragma once
#include <string>
#include <vector>

#include "store/db.h"

namespace berth {

struct ComponentRow {
  std::string name;
  std::string dir;
  std::string desired;  // "running" | "stopped"
  bool watch = false;   // `berth run --watch`
};

class ComponentRepo {
 public:
  explicit ComponentRepo(Db& db) : db_(db) {}
  Result<void> upsert(const ComponentRow& row);
  Result<void> set_desired(const std::string& name, const std::string& desired);
  Result<std::vector<ComponentRow>> list();

 private:
  Db& db_;
};

}  // namespace berth
