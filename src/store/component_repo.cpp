#include "store/component_repo.h"

#include <ctime>

namespace berth {

Result<void> ComponentRepo::upsert(const ComponentRow& row) {
  auto s = db_.prepare(
      "INSERT INTO components (name, dir, desired, created_at, updated_at, watch) "
      "VALUES (?1, ?2, ?3, ?4, ?4, ?5) "
      "ON CONFLICT(name) DO UPDATE SET dir = ?2, desired = ?3, updated_at = ?4, watch = ?5");
  if (!s) return std::unexpected(s.error());
  return s->bind(1, row.name)
      .bind(2, row.dir)
      .bind(3, row.desired)
      .bind(4, static_cast<int64_t>(std::time(nullptr)))
      .bind(5, int64_t{row.watch ? 1 : 0})
      .run();
}

Result<void> ComponentRepo::set_desired(const std::string& name, const std::string& desired) {
  auto s = db_.prepare("UPDATE components SET desired = ?2, updated_at = ?3 WHERE name = ?1");
  if (!s) return std::unexpected(s.error());
  return s->bind(1, name).bind(2, desired).bind(3, static_cast<int64_t>(std::time(nullptr))).run();
}

Result<std::vector<ComponentRow>> ComponentRepo::list() {
  auto s = db_.prepare("SELECT name, dir, desired, watch FROM components ORDER BY name");
  if (!s) return std::unexpected(s.error());
  std::vector<ComponentRow> out;
  while (s->step())
    out.push_back({s->text_col(0), s->text_col(1), s->text_col(2), s->int_col(3) != 0});
  if (auto r = s->ok(); !r) return std::unexpected(r.error());
  return out;
}

}  // namespace berth
