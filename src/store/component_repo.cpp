#include "store/component_repo.h"

#include <ctime>
#include <nlohmann/json.hpp>

namespace berth {
namespace {

std::string_view to_string(Desired d) {
  return d == Desired::kRunning ? "running" : "stopped";
}

}  // namespace

Result<void> ComponentRepo::upsert(const ComponentRow& row) {
  auto s = db_.prepare(
      "INSERT INTO components (name, dir, desired, created_at, updated_at, watch, source) "
      "VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6) "
      "ON CONFLICT(name) DO UPDATE SET dir = ?2, desired = ?3, updated_at = ?4, watch = ?5, "
      "destroying = 0, source = ?6");
  BERTH_TRY(s);
  std::string source;
  if (!row.run_argv.empty() || !row.procfile.empty())
    source = nlohmann::json{{"argv", row.run_argv}, {"procfile", row.procfile}}.dump();
  return s->bind(1, row.name)
      .bind(2, row.dir)
      .bind(3, to_string(row.desired))
      .bind(4, static_cast<int64_t>(std::time(nullptr)))
      .bind(5, int64_t{row.watch ? 1 : 0})
      .bind(6, source)
      .run();
}

Result<void> ComponentRepo::set_desired(const std::string& name, Desired desired) {
  auto s = db_.prepare("UPDATE components SET desired = ?2, updated_at = ?3 WHERE name = ?1");
  BERTH_TRY(s);
  return s->bind(1, name)
      .bind(2, to_string(desired))
      .bind(3, static_cast<int64_t>(std::time(nullptr)))
      .run();
}

Result<void> ComponentRepo::mark_destroying(const std::string& name) {
  auto s = db_.prepare("UPDATE components SET destroying = 1, updated_at = ?2 WHERE name = ?1");
  BERTH_TRY(s);
  return s->bind(1, name).bind(2, static_cast<int64_t>(std::time(nullptr))).run();
}

Result<std::vector<ComponentRow>> ComponentRepo::list() {
  auto s = db_.prepare(
      "SELECT name, dir, desired, watch, destroying, source FROM components ORDER BY name");
  BERTH_TRY(s);
  std::vector<ComponentRow> out;
  while (s->step()) {
    out.push_back({s->text_col(0), s->text_col(1),
                   s->text_col(2) == "running" ? Desired::kRunning : Desired::kStopped,
                   s->int_col(3) != 0, s->int_col(4) != 0});
    auto j = nlohmann::json::parse(s->text_col(5), nullptr, false);
    if (j.is_object()) {
      if (j.contains("argv") && j["argv"].is_array())
        for (auto& a : j["argv"])
          if (a.is_string()) out.back().run_argv.push_back(a.get<std::string>());
      out.back().procfile = j.value("procfile", "");
    }
  }
  BERTH_TRY(s->ok());
  return out;
}

Result<void> ComponentRepo::tombstone(const std::string& name) {
  Tx tx(db_);
  if (!tx) return fail(Code::kStoreError, "cannot begin transaction");
  auto del = db_.prepare("DELETE FROM components WHERE name = ?1");
  BERTH_TRY(del);
  BERTH_TRY(del->bind(1, name).run());
  for (const char* sql : {"DELETE FROM component_env WHERE name = ?1",
                          "DELETE FROM component_scale WHERE name = ?1"}) {
    auto settings = db_.prepare(sql);
    BERTH_TRY(settings);
    BERTH_TRY(settings->bind(1, name).run());
  }
  auto add = db_.prepare(
      "INSERT INTO tombstones (name, destroyed_at) VALUES (?1, ?2) "
      "ON CONFLICT(name) DO UPDATE SET destroyed_at = ?2");
  BERTH_TRY(add);
  BERTH_TRY(add->bind(1, name).bind(2, static_cast<int64_t>(std::time(nullptr))).run());
  return tx.commit();
}

Result<void> ComponentRepo::lift(const std::string& name) {
  auto s = db_.prepare("DELETE FROM tombstones WHERE name = ?1");
  BERTH_TRY(s);
  return s->bind(1, name).run();
}

Result<std::vector<std::string>> ComponentRepo::tombstones() {
  auto s = db_.prepare("SELECT name FROM tombstones ORDER BY name");
  BERTH_TRY(s);
  std::vector<std::string> out;
  while (s->step()) out.push_back(s->text_col(0));
  BERTH_TRY(s->ok());
  return out;
}

}  // namespace berth

namespace berth {

Result<EnvSettings> ComponentRepo::env(const std::string& name) {
  auto s = db_.prepare("SELECT settings FROM component_env WHERE name = ?1");
  BERTH_TRY(s);
  s->bind(1, name);
  EnvSettings out;
  if (s->step()) {
    auto j = nlohmann::json::parse(s->text_col(0), nullptr, false);
    if (j.is_object()) {
      if (j.contains("set") && j["set"].is_object())
        for (auto& [k, v] : j["set"].items())
          if (v.is_string()) out.set[k] = v.get<std::string>();
      out.profile = j.value("profile", "");
    }
  }
  BERTH_TRY(s->ok());
  return out;
}

Result<void> ComponentRepo::set_env(const std::string& name, const EnvSettings& settings) {
  auto s = db_.prepare(
      "INSERT INTO component_env (name, settings) VALUES (?1, ?2) "
      "ON CONFLICT(name) DO UPDATE SET settings = ?2");
  BERTH_TRY(s);
  nlohmann::json j = {{"set", settings.set}, {"profile", settings.profile}};
  return s->bind(1, name).bind(2, j.dump()).run();
}

Result<std::optional<int>> ComponentRepo::scale(const std::string& name) const {
  auto s = db_.prepare("SELECT instances FROM component_scale WHERE name = ?1");
  BERTH_TRY(s);
  s->bind(1, name);
  std::optional<int> out;
  if (s->step()) out = static_cast<int>(s->int_col(0));
  BERTH_TRY(s->ok());
  return out;
}

Result<void> ComponentRepo::set_scale(const std::string& name, std::optional<int> instances) {
  if (!instances) {
    auto s = db_.prepare("DELETE FROM component_scale WHERE name = ?1");
    BERTH_TRY(s);
    return s->bind(1, name).run();
  }
  auto s = db_.prepare(
      "INSERT INTO component_scale (name, instances) VALUES (?1, ?2) "
      "ON CONFLICT(name) DO UPDATE SET instances = ?2");
  BERTH_TRY(s);
  return s->bind(1, name).bind(2, int64_t{*instances}).run();
}

}  // namespace berth
