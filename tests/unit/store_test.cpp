#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "config/home.h"
#include "store/component_repo.h"
#include "store/db.h"
#include "store/deployment_repo.h"
#include "store/lease_repo.h"
#include "store/tree_repo.h"

namespace berth {
namespace {

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-unit-XXXXXX";
    dir = ::mkdtemp(tmpl);
    auto d = Db::open(dir / "berth.db");
    ASSERT_TRUE(d) << d.error().message;
    db = std::move(*d);
    ASSERT_TRUE(migrate(*db));
  }
  void TearDown() override {
    db.reset();
    std::filesystem::remove_all(dir);
  }
  std::filesystem::path dir;
  std::unique_ptr<Db> db;
};

TEST_F(StoreTest, MigrationsAreIdempotent) {
  EXPECT_TRUE(migrate(*db));
  auto s = db->prepare("SELECT COUNT(*) FROM schema_version");
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->step());
  EXPECT_EQ(s->int_col(0), 10);  // one row per migration
}

TEST_F(StoreTest, RefusesANewerSchema) {
  ASSERT_TRUE(db->exec("INSERT INTO schema_version (version) VALUES (999)"));
  auto r = migrate(*db);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("newer"), std::string::npos);
}

TEST_F(StoreTest, ComponentsUpsertAndDesiredState) {
  ComponentRepo repo(*db);
  ASSERT_TRUE(repo.upsert({"a", "/srv/a", Desired::kRunning}));
  ASSERT_TRUE(repo.upsert({"a", "/srv/a2", Desired::kRunning}));
  ASSERT_TRUE(repo.set_desired("a", Desired::kStopped));
  auto list = repo.list();
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].dir, "/srv/a2");
  EXPECT_EQ((*list)[0].desired, Desired::kStopped);
}

TEST_F(StoreTest, TreesRoundTrip) {
  TreeRepo repo(*db);
  ASSERT_TRUE(repo.put({"a", 0, 123, 456, 123, std::string("/sys/fs/cgroup/x")}));
  ASSERT_TRUE(repo.put({"b", 0, 7, 8, 7, std::nullopt}));
  auto list = repo.list();
  ASSERT_EQ(list->size(), 2u);
  ASSERT_TRUE(repo.remove("a", 0));
  EXPECT_EQ(repo.list()->size(), 1u);
  EXPECT_FALSE(repo.list()->at(0).cgroup);
}

TEST_F(StoreTest, LeasesAreStableDistinctAndBounded) {
  LeaseRepo repo(*db);
  auto a = repo.acquire("a", 0, "127.0.0.2", "127.0.0.3");
  auto b = repo.acquire("b", 0, "127.0.0.2", "127.0.0.3");
  ASSERT_TRUE(a && b);
  EXPECT_NE(*a, *b);
  EXPECT_EQ(*repo.acquire("a", 0, "127.0.0.2", "127.0.0.3"), *a);  // same instance, same lease
  auto c = repo.acquire("c", 0, "127.0.0.2", "127.0.0.3");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, Code::kNoFreeAddress);
  ASSERT_TRUE(repo.release("a", 0));
  EXPECT_EQ(*repo.acquire("c", 0, "127.0.0.2", "127.0.0.3"), *a);
}

TEST_F(StoreTest, HomeLockIsExclusive) {
  auto first = HomeLock::acquire(dir / "home");
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_TRUE(home_held(dir / "home"));
  // daemon.json names a live daemon (this process): refused without waiting.
  ASSERT_TRUE(write_daemon_info(dir / "home", {.port = 1, .pid = ::getpid()}));
  auto second = HomeLock::acquire(dir / "home");
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, Code::kDaemonRunning);
}

// A daemon killed while it spawned leaves its lock with the child until that child's exec;
// a restart at that moment waits for it instead of refusing. The child here holds the lock
// (through the same open file description, as a forked child does) a little while, then exits.
TEST_F(StoreTest, HomeLockWaitsForAHolderThatIsNoLiveDaemon) {
  auto dead = HomeLock::acquire(dir / "home");
  ASSERT_TRUE(dead) << dead.error().message;
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  if (child == 0) {
    ::close(ready[0]);
    ::close(ready[1]);  // the parent learns the fork is done from this close
    ::usleep(200 * 1000);
    ::_exit(0);
  }
  ::close(ready[1]);
  char byte;
  ASSERT_EQ(::read(ready[0], &byte, 1), 0);  // the child has its copy of the lock's descriptor
  ::close(ready[0]);
  dead = std::unexpected(Error{Code::kInternal, "the daemon died"});  // only the child holds it
  EXPECT_TRUE(home_held(dir / "home"));
  auto next = HomeLock::acquire(dir / "home");
  EXPECT_TRUE(next) << next.error().message;
  int status;
  ::waitpid(child, &status, 0);
}

}  // namespace
}  // namespace berth

namespace berth {
namespace {

TEST_F(StoreTest, DeploymentFinishWritesStatusAndClosingEventsTogether) {
  DeploymentRepo repo(*db);
  DeploymentRow row;
  row.id = "d1";
  row.component = "app";
  row.release = "d1";
  row.created_at = now_ms();
  ASSERT_TRUE(repo.insert(row));
  ASSERT_TRUE(repo.append_events("d1", {{1, 1, "phase", "{}"}, {2, 2, "install", "{}"}}));
  row.status = DeploymentStatus::kFailed;
  row.phase = "failed";
  row.error = Error{Code::kInstallFailed, "exit 1"};
  row.error_phase = "installing";
  ASSERT_TRUE(repo.finish(row, {{3, 3, "end", "{}"}}));
  auto got = repo.get("d1");
  ASSERT_TRUE(got && *got);
  EXPECT_EQ((*got)->status, DeploymentStatus::kFailed);
  EXPECT_EQ((*got)->error->code, Code::kInstallFailed);
  EXPECT_EQ((*got)->error_phase, "installing");
  EXPECT_TRUE((*got)->ended_at);
  auto events = repo.events_after("d1", 0, 100);
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 3u);
  EXPECT_EQ(events->back().type, "end");
  auto unfinished = repo.unfinished();
  ASSERT_TRUE(unfinished);
  EXPECT_TRUE(unfinished->empty());
}

TEST_F(StoreTest, CappingKeepsTheFirstAndTheLastEvents) {
  DeploymentRepo repo(*db);
  std::vector<EventRow> events;
  for (int i = 1; i <= 100; ++i) events.push_back({i, i, "install", "{}"});
  ASSERT_TRUE(repo.append_events("d2", events));
  auto dropped = repo.cap_events("d2", 10, 20);
  ASSERT_TRUE(dropped);
  EXPECT_EQ(*dropped, 70);
  auto kept = repo.events_after("d2", 0, 1000);
  ASSERT_TRUE(kept);
  ASSERT_EQ(kept->size(), 30u);
  EXPECT_EQ((*kept)[9].seq, 10);
  EXPECT_EQ((*kept)[10].seq, 81);
  EXPECT_EQ(kept->back().seq, 100);
}

}  // namespace
}  // namespace berth
