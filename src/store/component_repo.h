// The `components` table: which components exist, where they live, whether they should run;
// `component_env`, what --env/--profile chose for each; `component_scale`, what `berth scale`
// chose.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "store/db.h"

namespace berth {

// Whether a component should run: what the next daemon start brings back.
enum class Desired { kRunning, kStopped };

// What --env and --profile chose for a component; kept until changed.
struct EnvSettings {
  std::map<std::string, std::string> set;  // --env KEY=VALUE
  std::string profile;                     // --profile NAME; "" for none
};

struct ComponentRow {
  std::string name;
  std::string dir;
  Desired desired = Desired::kStopped;
  bool watch = false;       // `berth run --watch`
  bool destroying = false;  // a destroy began and has not finished
  // `berth run -- CMD` / `berth run FILE`: the command; a Procfile's process type. Both empty:
  // berth.toml's command, or the one inferred.
  std::vector<std::string> run_argv;
  std::string procfile;
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
  // What --env and --profile chose (empty settings when nothing was). The tombstone of a
  // destroy removes them with the row.
  Result<EnvSettings> env(const std::string& name);
  Result<void> set_env(const std::string& name, const EnvSettings& settings);
  // `berth scale`: the instances to run over berth.toml's (nullopt: none chosen, or cleared).
  // The tombstone of a destroy removes it with the row.
  Result<std::optional<int>> scale(const std::string& name) const;
  Result<void> set_scale(const std::string& name, std::optional<int> instances);

 private:
  Db& db_;
};

}  // namespace berth
