#include "store/deployment_repo.h"

#include <chrono>
#include <nlohmann/json.hpp>

namespace berth {

std::string_view to_string(DeploymentKind k) {
  switch (k) {
    case DeploymentKind::kDeploy:
      return "deploy";
    case DeploymentKind::kRollback:
      return "rollback";
    case DeploymentKind::kConverge:
      return "converge";
  }
  return "deploy";
}

std::string_view to_string(DeploymentStatus s) {
  switch (s) {
    case DeploymentStatus::kRunning:
      return "running";
    case DeploymentStatus::kSuccess:
      return "success";
    case DeploymentStatus::kFailed:
      return "failed";
    case DeploymentStatus::kRolledBack:
      return "rolled_back";
    case DeploymentStatus::kInterrupted:
      return "interrupted";
    case DeploymentStatus::kPartial:
      return "partial";
  }
  return "failed";
}

void to_json(nlohmann::json& j, DeploymentKind k) {
  j = std::string(to_string(k));
}

void to_json(nlohmann::json& j, DeploymentStatus s) {
  j = std::string(to_string(s));
}

namespace {

DeploymentStatus status_from(const std::string& s) {
  for (auto st :
       {DeploymentStatus::kRunning, DeploymentStatus::kSuccess, DeploymentStatus::kFailed,
        DeploymentStatus::kRolledBack, DeploymentStatus::kInterrupted, DeploymentStatus::kPartial})
    if (to_string(st) == s) return st;
  return DeploymentStatus::kFailed;
}

constexpr const char* kColumns =
    "id, component, kind, release, previous, digest, size, status, phase, created_at, "
    "updated_at, ended_at, error_code, error_message, error_phase, peer_results, install, origin";

DeploymentRow read_row(Stmt& s) {
  DeploymentRow r;
  r.id = s.text_col(0);
  r.component = s.text_col(1);
  const auto kind = s.text_col(2);
  r.kind = kind == "rollback"   ? DeploymentKind::kRollback
           : kind == "converge" ? DeploymentKind::kConverge
                                : DeploymentKind::kDeploy;
  r.release = s.text_col(3);
  if (!s.is_null(4)) r.previous = s.text_col(4);
  if (!s.is_null(5)) r.digest = s.text_col(5);
  r.size = s.int_col(6);
  r.status = status_from(s.text_col(7));
  r.phase = s.text_col(8);
  r.created_at = s.int_col(9);
  r.updated_at = s.int_col(10);
  if (!s.is_null(11)) r.ended_at = s.int_col(11);
  if (!s.is_null(12))  // a code this version does not know reads as internal, message intact
    r.error = Error{code_from_wire(s.text_col(12)).value_or(Code::kInternal), s.text_col(13)};
  r.error_phase = s.is_null(14) ? "" : s.text_col(14);
  r.peer_results = s.text_col(15);
  if (!s.is_null(16)) r.install = s.text_col(16);
  if (!s.is_null(17)) r.origin = s.text_col(17);
  return r;
}

Stmt& bind_opt(Stmt& s, int i, const std::optional<std::string>& v) {
  return v ? s.bind(i, *v) : s.bind_null(i);
}

}  // namespace

Result<void> DeploymentRepo::insert(const DeploymentRow& r) {
  auto s = db_.prepare(
      "INSERT INTO deployments (id, component, kind, release, previous, digest, size, status, "
      "phase, created_at, updated_at, origin) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?11)");
  BERTH_TRY(s);
  s->bind(1, r.id).bind(2, r.component).bind(3, std::string(to_string(r.kind))).bind(4, r.release);
  bind_opt(*s, 5, r.previous);
  bind_opt(*s, 6, r.digest);
  return s->bind(7, r.size)
      .bind(8, std::string(to_string(r.status)))
      .bind(9, r.phase)
      .bind(10, r.created_at)
      .bind(11, r.origin)
      .run();
}

Result<void> DeploymentRepo::set_phase(const std::string& id, const std::string& phase) {
  auto s = db_.prepare("UPDATE deployments SET phase = ?2, updated_at = ?3 WHERE id = ?1");
  BERTH_TRY(s);
  return s->bind(1, id).bind(2, phase).bind(3, now_ms()).run();
}

Result<void> DeploymentRepo::set_install(const std::string& id, const std::string& install) {
  auto s = db_.prepare("UPDATE deployments SET install = ?2, updated_at = ?3 WHERE id = ?1");
  BERTH_TRY(s);
  return s->bind(1, id).bind(2, install).bind(3, now_ms()).run();
}

Result<void> DeploymentRepo::set_payload(const std::string& id, const std::string& digest,
                                         int64_t size) {
  auto s =
      db_.prepare("UPDATE deployments SET digest = ?2, size = ?3, updated_at = ?4 WHERE id = ?1");
  BERTH_TRY(s);
  return s->bind(1, id).bind(2, digest).bind(3, size).bind(4, now_ms()).run();
}

Result<void> DeploymentRepo::finish(const DeploymentRow& r, const std::vector<EventRow>& closing) {
  Tx tx(db_);
  if (!tx) return fail(Code::kStoreError, "cannot begin transaction");
  BERTH_TRY(insert_events(r.id, closing));
  auto s = db_.prepare(
      "UPDATE deployments SET status = ?2, phase = ?3, updated_at = ?4, ended_at = ?4, "
      "error_code = ?5, error_message = ?6, error_phase = ?7, peer_results = ?8, previous = ?9 "
      "WHERE id = ?1");
  BERTH_TRY(s);
  s->bind(1, r.id)
      .bind(2, std::string(to_string(r.status)))
      .bind(3, r.phase)
      .bind(4, r.ended_at.value_or(now_ms()));
  if (r.error)
    s->bind(5, std::string(wire(r.error->code))).bind(6, r.error->message).bind(7, r.error_phase);
  else
    s->bind_null(5).bind_null(6).bind_null(7);
  s->bind(8, r.peer_results);
  bind_opt(*s, 9, r.previous);
  BERTH_TRY(s->run());
  return tx.commit();
}

Result<std::optional<DeploymentRow>> DeploymentRepo::get(const std::string& id) {
  auto s = db_.prepare(std::string("SELECT ") + kColumns + " FROM deployments WHERE id = ?1");
  BERTH_TRY(s);
  s->bind(1, id);
  if (s->step()) return std::optional<DeploymentRow>(read_row(*s));
  BERTH_TRY(s->ok());
  return std::optional<DeploymentRow>();
}

Result<std::vector<DeploymentRow>> DeploymentRepo::list(const std::string& component,
                                                        size_t limit) {
  auto s = db_.prepare(std::string("SELECT ") + kColumns +
                       " FROM deployments WHERE (?1 = '' OR component = ?1) "
                       "ORDER BY created_at DESC, rowid DESC LIMIT ?2");
  BERTH_TRY(s);
  s->bind(1, component).bind(2, static_cast<int64_t>(limit));
  std::vector<DeploymentRow> out;
  while (s->step()) out.push_back(read_row(*s));
  BERTH_TRY(s->ok());
  return out;
}

Result<std::vector<DeploymentRow>> DeploymentRepo::unfinished() {
  auto s = db_.prepare(std::string("SELECT ") + kColumns +
                       " FROM deployments WHERE status = 'running' ORDER BY created_at");
  BERTH_TRY(s);
  std::vector<DeploymentRow> out;
  while (s->step()) out.push_back(read_row(*s));
  BERTH_TRY(s->ok());
  return out;
}

Result<void> DeploymentRepo::append_events(const std::string& id,
                                           const std::vector<EventRow>& events) {
  Tx tx(db_);
  if (!tx) return fail(Code::kStoreError, "cannot begin transaction");
  BERTH_TRY(insert_events(id, events));
  return tx.commit();
}

Result<void> DeploymentRepo::insert_events(const std::string& id,
                                           const std::vector<EventRow>& events) {
  if (events.empty()) return {};
  auto s = db_.prepare(
      "INSERT OR REPLACE INTO deployment_events (deployment, seq, ts, type, data) "
      "VALUES (?1, ?2, ?3, ?4, ?5)");
  BERTH_TRY(s);
  for (auto& e : events) {
    s->reset().bind(1, id).bind(2, e.seq).bind(3, e.ts).bind(4, e.type).bind(5, e.data);
    BERTH_TRY(s->run());
  }
  return {};
}

Result<std::vector<EventRow>> DeploymentRepo::events_after(const std::string& id, int64_t after,
                                                           size_t limit) {
  auto s = db_.prepare(
      "SELECT seq, ts, type, data FROM deployment_events WHERE deployment = ?1 AND seq > ?2 "
      "ORDER BY seq LIMIT ?3");
  BERTH_TRY(s);
  s->bind(1, id).bind(2, after).bind(3, static_cast<int64_t>(limit));
  std::vector<EventRow> out;
  while (s->step()) out.push_back({s->int_col(0), s->int_col(1), s->text_col(2), s->text_col(3)});
  BERTH_TRY(s->ok());
  return out;
}

int64_t DeploymentRepo::last_seq(const std::string& id) {
  auto s = db_.prepare("SELECT COALESCE(MAX(seq), 0) FROM deployment_events WHERE deployment = ?1");
  if (!s) return 0;
  s->bind(1, id);
  return s->step() ? s->int_col(0) : 0;
}

Result<int64_t> DeploymentRepo::cap_events(const std::string& id, int64_t first, int64_t last) {
  auto s = db_.prepare(
      "DELETE FROM deployment_events WHERE deployment = ?1 AND seq > ?2 AND seq <= "
      "(SELECT MAX(seq) FROM deployment_events WHERE deployment = ?1) - ?3");
  BERTH_TRY(s);
  BERTH_TRY(s->bind(1, id).bind(2, first).bind(3, last).run());
  return db_.changes();
}

}  // namespace berth
