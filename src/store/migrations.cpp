// Numbered schema migrations. Append only: never edit a migration that has shipped.
#include <fmt/format.h>

#include "store/db.h"

namespace berth {
namespace {

constexpr const char* kMigrations[] = {
    // 1: components run in place, live process trees (for crash recovery), loopback leases.
    R"sql(
    CREATE TABLE components (
      name       TEXT PRIMARY KEY,
      dir        TEXT NOT NULL,
      desired    TEXT NOT NULL CHECK (desired IN ('running', 'stopped')),
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL
    );
    CREATE TABLE trees (
      component  TEXT NOT NULL,
      instance   INTEGER NOT NULL,
      pid        INTEGER NOT NULL,
      start_time INTEGER NOT NULL,  -- /proc/PID/stat field 22: guards against PID reuse
      pgid       INTEGER NOT NULL,
      cgroup     TEXT,              -- absolute path of the tree's cgroup v2 directory, if any
      PRIMARY KEY (component, instance)
    );
    CREATE TABLE leases (
      address   TEXT PRIMARY KEY,
      component TEXT NOT NULL,
      instance  INTEGER NOT NULL
    );
    )sql",
    // 2: `berth run --watch` is remembered per component.
    R"sql(
    ALTER TABLE components ADD COLUMN watch INTEGER NOT NULL DEFAULT 0;
    )sql",
    // 3: deployments and their event logs.
    R"sql(
    CREATE TABLE deployments (
      id            TEXT PRIMARY KEY,
      component     TEXT NOT NULL,
      kind          TEXT NOT NULL,            -- 'deploy' | 'rollback'
      release       TEXT NOT NULL,            -- releases/COMPONENT/RELEASE
      previous      TEXT,                     -- the release live before, for rollback
      digest        TEXT,                     -- sha256 of the payload
      size          INTEGER NOT NULL DEFAULT 0,
      status        TEXT NOT NULL,            -- running|success|failed|rolled_back|interrupted
      phase         TEXT NOT NULL,
      created_at    INTEGER NOT NULL,         -- ms since the epoch
      updated_at    INTEGER NOT NULL,
      ended_at      INTEGER,
      error_code    TEXT,
      error_message TEXT,
      error_phase   TEXT,
      peer_results  TEXT NOT NULL DEFAULT '[]'
    );
    CREATE INDEX deployments_by_component ON deployments (component, created_at);
    CREATE TABLE deployment_events (
      deployment TEXT NOT NULL,
      seq        INTEGER NOT NULL,
      ts         INTEGER NOT NULL,
      type       TEXT NOT NULL,
      data       TEXT NOT NULL,             -- JSON object
      PRIMARY KEY (deployment, seq)
    ) WITHOUT ROWID;
    )sql",
    // 4: destroyed components: refused by name until an explicit deploy or run lifts it.
    R"sql(
    CREATE TABLE tombstones (
      name         TEXT PRIMARY KEY,
      destroyed_at INTEGER NOT NULL
    );
    )sql",
    // 5: what the install phase did (the install cache's hit or miss and key), as JSON.
    R"sql(
      ALTER TABLE deployments ADD COLUMN install TEXT;
    )sql",
    // 6: a destroy is recorded before its teardown starts, so a daemon killed in the middle
    // (or a teardown that failed) finishes it at the next start instead of forgetting it.
    R"sql(
      ALTER TABLE components ADD COLUMN destroying INTEGER NOT NULL DEFAULT 0;
    )sql",
    // 7: where a deployment came from (an upload, a stored payload, a peer).
    R"sql(
      ALTER TABLE deployments ADD COLUMN origin TEXT NOT NULL DEFAULT 'upload';
    )sql",
    // 8: what --env and --profile chose for a component, as JSON {"set": {...}, "profile": ""}.
    // Apart from `components` so a deploy's choice can be kept before its first activation.
    R"sql(
      CREATE TABLE component_env (
        name     TEXT PRIMARY KEY,
        settings TEXT NOT NULL
      );
    )sql",
    // 9: what `berth run` asked to run without berth.toml's command, as JSON
    // {"argv": [...], "procfile": "TYPE"}; '' for nothing.
    R"sql(
      ALTER TABLE components ADD COLUMN source TEXT NOT NULL DEFAULT '';
    )sql",
    // 10: `berth scale`: how many instances run, over berth.toml's [run] instances.
    R"sql(
      CREATE TABLE component_scale (
        name      TEXT PRIMARY KEY,
        instances INTEGER NOT NULL
      );
    )sql",
};

}  // namespace

Result<void> migrate(Db& db) {
  BERTH_TRY(db.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"));
  auto q = db.prepare("SELECT COALESCE(MAX(version), 0) FROM schema_version");
  BERTH_TRY(q);
  int64_t current = q->step() ? q->int_col(0) : 0;
  constexpr int64_t latest = std::size(kMigrations);
  if (current > latest)
    return fail(
        Code::kStoreError,
        fmt::format("database schema version {} is newer than this berth ({}); upgrade berth",
                    current, latest));
  for (int64_t v = current + 1; v <= latest; ++v) {
    Tx tx(db);
    if (!tx) return fail(Code::kStoreError, "cannot begin migration transaction");
    if (auto r = db.exec(kMigrations[v - 1]); !r)
      return fail(Code::kStoreError, fmt::format("migration {}: {}", v, r.error().message));
    BERTH_TRY(db.exec(fmt::format("INSERT INTO schema_version (version) VALUES ({})", v)));
    BERTH_TRY(tx.commit());
  }
  return {};
}

}  // namespace berth
