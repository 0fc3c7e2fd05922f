#include "store/tree_repo.h"

namespace berth {

Result<void> TreeRepo::put(const TreeRow& row) {
  auto s = db_.prepare(
      "INSERT OR REPLACE INTO trees (component, instance, pid, start_time, pgid, cgroup) VALUES "
      "(?1, ?2, ?3, ?4, ?5, ?6)");
  BERTH_TRY(s);
  s->bind(1, row.component)
      .bind(2, row.instance)
      .bind(3, row.pid)
      .bind(4, static_cast<int64_t>(row.start_time))
      .bind(5, row.pgid);
  if (row.cgroup)
    s->bind(6, *row.cgroup);
  else
    s->bind_null(6);
  return s->run();
}

Result<void> TreeRepo::remove(const std::string& component, int instance) {
  auto s = db_.prepare("DELETE FROM trees WHERE component = ?1 AND instance = ?2");
  BERTH_TRY(s);
  return s->bind(1, component).bind(2, instance).run();
}

Result<std::vector<TreeRow>> TreeRepo::list() {
  auto s = db_.prepare("SELECT component, instance, pid, start_time, pgid, cgroup FROM trees");
  BERTH_TRY(s);
  std::vector<TreeRow> out;
  while (s->step()) {
    TreeRow r{s->text_col(0),
              static_cast<int>(s->int_col(1)),
              static_cast<int>(s->int_col(2)),
              static_cast<uint64_t>(s->int_col(3)),
              static_cast<int>(s->int_col(4)),
              std::nullopt};
    if (!s->is_null(5)) r.cgroup = s->text_col(5);
    out.push_back(std::move(r));
  }
  BERTH_TRY(s->ok());
  return out;
}

}  // namespace berth
