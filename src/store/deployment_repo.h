// The `deployments` and `deployment_events` tables: one row per deploy or rollback, and its
// event log. The terminal status and final fields are written in one transaction.
#pragma once
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/duration.h"
#include "core/error.h"
#include "store/db.h"

namespace berth {

// kConverge: a cluster node catching up with the desired release (cluster/replicator.h).
enum class DeploymentKind { kDeploy, kRollback, kConverge };
// kRunning until the terminal write; kRolledBack: the new release failed to start and the
// previous one runs again; kInterrupted: the daemon stopped during it; kPartial (a cluster
// deploy): this node succeeded and a peer did not.
enum class DeploymentStatus { kRunning, kSuccess, kFailed, kRolledBack, kInterrupted, kPartial };

std::string_view to_string(DeploymentKind k);
std::string_view to_string(DeploymentStatus s);
// JSON shows the strings ("deploy", "rolled_back").
void to_json(nlohmann::json& j, DeploymentKind k);
void to_json(nlohmann::json& j, DeploymentStatus s);

struct DeploymentRow {
  std::string id, component;
  DeploymentKind kind = DeploymentKind::kDeploy;
  std::string release;
  std::optional<std::string> previous, digest;
  int64_t size = 0;
  DeploymentStatus status = DeploymentStatus::kRunning;
  std::string phase = "received";  // received, extracting, ... then the final status's name
  int64_t created_at = 0, updated_at = 0;
  std::optional<int64_t> ended_at;
  std::optional<Error> error;
  std::string error_phase;
  std::string peer_results = "[]";
  std::string install;  // JSON: what the install phase did (cache hit or miss, key); "" if none
  std::string origin = "upload";  // where it came from: "upload", "blob", "rollback", a node
};

struct EventRow {
  int64_t seq = 0, ts = 0;
  std::string type, data;  // data: a JSON object
};

class DeploymentRepo {
 public:
  explicit DeploymentRepo(Db& db) : db_(db) {}

  Result<void> insert(const DeploymentRow& row);
  Result<void> set_phase(const std::string& id, const std::string& phase);
  Result<void> set_install(const std::string& id, const std::string& install);
  Result<void> set_payload(const std::string& id, const std::string& digest, int64_t size);
  // Status, error, end time and the closing events in one transaction.
  Result<void> finish(const DeploymentRow& row, const std::vector<EventRow>& closing);
  Result<std::optional<DeploymentRow>> get(const std::string& id);
  // Newest first. An empty component lists all.
  Result<std::vector<DeploymentRow>> list(const std::string& component, size_t limit);
  Result<std::vector<DeploymentRow>> unfinished();

  Result<void> append_events(const std::string& id, const std::vector<EventRow>& events);
  Result<std::vector<EventRow>> events_after(const std::string& id, int64_t after, size_t limit);
  int64_t last_seq(const std::string& id);
  // Keeps the first `first` and the last `last` events; returns how many were dropped.
  Result<int64_t> cap_events(const std::string& id, int64_t first, int64_t last);

 private:
  Result<void> insert_events(const std::string& id, const std::vector<EventRow>& events);
  Db& db_;
};

}  // namespace berth
