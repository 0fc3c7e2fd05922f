// The install cache across real processes: OFD and lease-file locks, the fill protocol, hits,
// failures, crashed holders, pruning. Forked children stand in for separate daemons.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "cache/cache_key.h"
#include "cache/install_cache.h"
#include "cache/ofd_lock.h"
#include "cache/tree_clone.h"
#include "core/fs_util.h"
#include "support/temp_dir.h"

namespace berth {
namespace {
namespace fs = std::filesystem;
using test::TempDir;
using namespace std::chrono_literals;

std::string slurp(const fs::path& p) {
  return read_file(p).value_or("");
}

size_t count_lines(const fs::path& p) {
  auto text = slurp(p);
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

void put(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

// Waits for a condition another process brings about (bounded, so a broken test fails).
bool eventually(const std::function<bool()>& ok) {
  for (int i = 0; i < 6000; ++i) {
    if (ok()) return true;
    ::usleep(5000);
  }
  return false;
}

pid_t fork_child(const std::function<int()>& body) {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(body());
  return pid;
}

int wait_child(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// The install a daemon would run: /bin/sh -c in the release directory, to its exit.
Result<void> run_sh(const std::string& cmd, const fs::path& cwd) {
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::chdir(cwd.c_str()) != 0) ::_exit(127);
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), nullptr);
    ::_exit(127);
  }
  int code = wait_child(pid);
  if (code != 0) return fail(Code::kInstallFailed, "exit " + std::to_string(code));
  return {};
}

struct CacheFixture : ::testing::Test {
  TempDir tmp;
  fs::path cache_dir = tmp.path / "cache";
  fs::path runs = tmp.path / "runs";
  ToolIds tools;

  std::unique_ptr<InstallCache> open_cache(std::string lock = "ofd") {
    CacheOptions o;
    o.dir = cache_dir;
    o.lock = std::move(lock);
    o.lease = {50ms, 300ms};
    o.who = "pid " + std::to_string(::getpid());
    auto c = InstallCache::open(o);
    EXPECT_TRUE(c) << c.error().message;
    return std::move(*c);
  }

  // A release with a package.json whose `dep` field picks the key.
  fs::path release(const std::string& name, const std::string& dep = "a") {
    auto dir = tmp.path / "releases" / name;
    put(dir / "package.json", "{\"dep\": \"" + dep + "\"}");
    return dir;
  }

  // The install: appends its pid to `runs`, then writes node_modules/marker with its pid.
  std::string install_cmd(const std::string& extra = "") {
    return "echo $$ >> " + runs.string() + "; " + extra +
           " mkdir -p node_modules/dep && echo $$ > node_modules/marker && echo x > "
           "node_modules/dep/index.js";
  }

  CacheFill fill_for(const fs::path& rel, const std::string& cmd) {
    CacheFill f;
    f.key = *cache_key(cmd, rel, {"package.json"}, tools);
    f.command = cmd;
    f.release = rel;
    f.outputs = {"node_modules"};
    f.install = [cmd, rel] { return run_sh(cmd, rel); };
    return f;
  }
};

// ---- OFD locks ----

TEST_F(CacheFixture, OfdLockConflictsAcrossOpenFileDescriptionsAndFreesOnClose) {
  auto a = OfdLock::open(tmp.path / "k.lock");
  auto b = OfdLock::open(tmp.path / "k.lock");
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(*a->try_lock(OfdLock::Kind::kExclusive, 0));
  EXPECT_FALSE(*b->try_lock(OfdLock::Kind::kExclusive, 0));
  EXPECT_TRUE(*b->try_lock(OfdLock::Kind::kShared, 1));  // another byte is another lock
  { auto gone = std::move(*a); }
  EXPECT_TRUE(*b->try_lock(OfdLock::Kind::kExclusive, 0));
}

TEST_F(CacheFixture, SharedLocksCoexistAndExcludeAnExclusiveOne) {
  auto a = OfdLock::open(tmp.path / "k.lock");
  auto b = OfdLock::open(tmp.path / "k.lock");
  auto c = OfdLock::open(tmp.path / "k.lock");
  EXPECT_TRUE(*a->try_lock(OfdLock::Kind::kShared, 1));
  EXPECT_TRUE(*b->try_lock(OfdLock::Kind::kShared, 1));
  EXPECT_FALSE(*c->try_lock(OfdLock::Kind::kExclusive, 1));
}

TEST_F(CacheFixture, LockWaitEndsWithTimeoutOrCancel) {
  auto a = OfdLock::open(tmp.path / "k.lock");
  auto b = OfdLock::open(tmp.path / "k.lock");
  ASSERT_TRUE(*a->try_lock(OfdLock::Kind::kExclusive, 0));
  auto r = b->lock(OfdLock::Kind::kExclusive, 0, std::chrono::steady_clock::now() + 50ms);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kLockTimeout);
  std::atomic<bool> cancel{true};
  r = b->lock(OfdLock::Kind::kExclusive, 0, std::chrono::steady_clock::time_point::max(), &cancel);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kCancelled);
}

TEST_F(CacheFixture, ASigkilledHoldersLockIsGrantedToTheWaiter) {
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  auto path = tmp.path / "k.lock";
  pid_t holder = fork_child([&] {
    auto l = OfdLock::open(path);
    if (!l || !*l->try_lock(OfdLock::Kind::kExclusive, 0)) return 1;
    (void)!::write(ready[1], "x", 1);
    ::pause();
    return 0;
  });
  char c;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  auto w = OfdLock::open(path);
  EXPECT_FALSE(*w->try_lock(OfdLock::Kind::kExclusive, 0));
  ::kill(holder, SIGKILL);
  EXPECT_TRUE(w->lock(OfdLock::Kind::kExclusive, 0, std::chrono::steady_clock::time_point::max()));
  wait_child(holder);
  ::close(ready[0]), ::close(ready[1]);
}

// ---- the fill protocol ----

// The overlap is forced, not hoped for: the one install that runs waits until the seven other
// processes have said they are waiting on its lock.
TEST_F(CacheFixture, EightProcessesInstallingOneKeyRunTheInstallOnce) {
  auto waiting = tmp.path / "waiting";
  fs::create_directories(waiting);
  auto cmd =
      install_cmd("while [ $(ls " + waiting.string() + " | wc -l) -lt 7 ]; do sleep 0.01; done;");
  std::vector<pid_t> kids;
  for (int i = 0; i < 8; ++i)
    kids.push_back(fork_child([&, i] {
      auto cache = open_cache();
      auto rel = release("r" + std::to_string(i));
      auto fill = fill_for(rel, cmd);
      fill.wait.on_wait = [&](const std::string&) { put(waiting / std::to_string(i), ""); };
      auto out = cache->get_or_install(fill);
      if (!out) return 2;
      if (!out->hit && out->waited) return 5;  // the installer took the lock first: no wait
      if (out->hit && !out->waited) return 6;  // a hit that did not overlap: no proof
      // Every process ends with a complete entry and the outputs in its own release.
      if (!cache->lookup(out->entry.key)) return 3;
      if (!fs::exists(rel / "node_modules/dep/index.js")) return 4;
      return 0;
    }));
  for (auto k : kids) EXPECT_EQ(wait_child(k), 0);
  EXPECT_EQ(count_lines(runs), 1u);
  auto cache = open_cache();
  auto entries = cache->list();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].files, 2u);
  // The releases share the cached files (hard links on one filesystem).
  struct stat st {};
  ::stat((tmp.path / "releases/r0/node_modules/marker").c_str(), &st);
  EXPECT_GE(st.st_nlink, 2u);
}

TEST_F(CacheFixture, AHolderKilledMidInstallIsTakenOverAndItsWorkIsNotUsed) {
  auto hold = tmp.path / "hold";
  put(hold, "");
  // The first install waits while `hold` exists; the one that takes over does not.
  auto cmd =
      install_cmd("mkdir -p node_modules && echo dead > node_modules/junk; while [ -e " +
                  hold.string() + " ] && [ ! -s " + runs.string() + ".2 ]; do sleep 0.01; done;");
  pid_t first = fork_child([&] {
    auto out = open_cache()->get_or_install(fill_for(release("first"), cmd));
    return out ? 0 : 2;
  });
  ASSERT_TRUE(eventually([&] { return count_lines(runs) == 1; }));
  auto waiting = tmp.path / "waiting";
  pid_t second = fork_child([&] {
    auto cache = open_cache();
    auto rel = release("second");
    auto f = fill_for(rel, cmd);
    f.wait.on_wait = [&](const std::string&) { put(waiting, "1"); };
    f.install = [&] {
      put(runs.string() + ".2", "go");  // lets its own install through the hold loop
      return run_sh(cmd, rel);
    };
    auto out = cache->get_or_install(f);
    return out && !out->hit && out->waited ? 0 : 2;
  });
  ASSERT_TRUE(eventually([&] { return fs::exists(waiting); }));
  const std::string dead_pid = slurp(runs).substr(0, slurp(runs).find('\n'));
  ::kill(first, SIGKILL);
  EXPECT_EQ(wait_child(first), 128 + SIGKILL);
  ::kill(std::stoi(dead_pid), SIGKILL);  // its orphaned install shell
  EXPECT_EQ(wait_child(second), 0);
  EXPECT_EQ(count_lines(runs), 2u);
  auto cache = open_cache();
  auto entries = cache->list();
  ASSERT_EQ(entries.size(), 1u);
  auto marker = slurp(cache_dir / entries[0].key / "node_modules/marker");
  EXPECT_NE(marker, dead_pid + "\n");
  EXPECT_TRUE(fs::is_empty(cache_dir / ".partial"));
}

TEST_F(CacheFixture, LeftoversOfADeadFillerAreSweptNotUsed) {
  auto cache = open_cache();
  auto rel = release("r");
  auto f = fill_for(rel, install_cmd());
  const auto& key = f.key.key;
  put(cache_dir / ".partial" / (key + ".dead1") / "node_modules/junk", "half");
  put(cache_dir / key / "node_modules/junk", "renamed but no sentinel");
  auto out = cache->get_or_install(f);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_FALSE(out->hit);
  EXPECT_FALSE(fs::exists(cache_dir / key / "node_modules/junk"));
  EXPECT_TRUE(fs::exists(cache_dir / key / "node_modules/marker"));
  EXPECT_TRUE(fs::is_empty(cache_dir / ".partial"));
}

TEST_F(CacheFixture, DifferentKeysInstallAtTheSameTime) {
  // Each install records its start, waits until the other has started, records its end.
  // Run one after the other, the first would wait for a start that never comes and fail.
  auto cmd_for = [&](const std::string& me, const std::string& other) {
    auto d = tmp.path.string();
    // The start file appears only once it holds its time (a redirection would create it
    // empty first, and the other install could read it before the time is in).
    return "date +%s%N > " + d + "/tmp." + me + " && mv " + d + "/tmp." + me + " " + d + "/start." +
           me + "; i=0; while [ ! -e " + d + "/start." + other +
           " ]; do i=$((i+1)); [ $i -gt 3000 ] && exit 9; sleep 0.01; done; date +%s%N > " + d +
           "/end." + me + "; mkdir -p node_modules";
  };
  pid_t a = fork_child([&] {
    return open_cache()->get_or_install(fill_for(release("a", "1"), cmd_for("a", "b"))) ? 0 : 2;
  });
  pid_t b = fork_child([&] {
    return open_cache()->get_or_install(fill_for(release("b", "2"), cmd_for("b", "a"))) ? 0 : 2;
  });
  EXPECT_EQ(wait_child(a), 0);
  EXPECT_EQ(wait_child(b), 0);
  auto t = [&](const char* f) { return std::stoll(slurp(tmp.path / f)); };
  EXPECT_LT(t("start.a"), t("end.b"));
  EXPECT_LT(t("start.b"), t("end.a"));
  EXPECT_EQ(open_cache()->list().size(), 2u);
}

TEST_F(CacheFixture, AFailedInstallLeavesNoSentinelAndTheNextOneReinstalls) {
  auto cache = open_cache();
  auto failing = fill_for(release("r"), install_cmd());
  failing.install = [&] {
    return run_sh("echo $$ >> " + runs.string() + "; mkdir node_modules; exit 3", failing.release);
  };
  auto out = cache->get_or_install(failing);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code, Code::kInstallFailed);
  EXPECT_FALSE(cache->lookup(failing.key.key));
  EXPECT_TRUE(fs::is_empty(cache_dir / ".done"));
  EXPECT_TRUE(fs::is_empty(cache_dir / ".partial"));
  auto ok = fill_for(release("r"), install_cmd());
  ok.key = failing.key;
  out = cache->get_or_install(ok);
  ASSERT_TRUE(out);
  EXPECT_FALSE(out->hit);
  EXPECT_EQ(count_lines(runs), 2u);
}

TEST_F(CacheFixture, AHitTakesNoInstallLock) {
  auto cmd = install_cmd();
  auto cache = open_cache();
  ASSERT_TRUE(cache->get_or_install(fill_for(release("one"), cmd)));
  // Another process holds the key's install lock (as a second installer of it would).
  int ready[2], done[2];
  ASSERT_EQ(::pipe(ready), 0);
  ASSERT_EQ(::pipe(done), 0);
  auto key = fill_for(release("two"), cmd).key.key;
  pid_t holder = fork_child([&] {
    auto l = make_ofd_locks(cache_dir / ".locks", "holder");
    auto held = l->try_acquire(key);
    if (!held || !*held) return 1;
    (void)!::write(ready[1], "x", 1);
    char c;
    (void)!::read(done[0], &c, 1);
    return 0;
  });
  char c;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  auto f = fill_for(release("two"), cmd);
  f.wait.deadline = std::chrono::steady_clock::now();  // waiting at all would fail
  auto out = cache->get_or_install(f);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_TRUE(out->hit);
  EXPECT_FALSE(out->waited);
  EXPECT_TRUE(fs::exists(tmp.path / "releases/two/node_modules/marker"));
  (void)!::write(done[1], "x", 1);
  EXPECT_EQ(wait_child(holder), 0);
  EXPECT_EQ(count_lines(runs), 1u);
  for (int fd : {ready[0], ready[1], done[0], done[1]}) ::close(fd);
}

TEST_F(CacheFixture, InstallCommandsDoNotInheritLockDescriptors) {
  auto cache = open_cache();
  auto rel = release("r");
  auto cmd = install_cmd("ls -l /proc/$$/fd > " + (tmp.path / "fds").string() + ";");
  auto out = cache->get_or_install(fill_for(rel, cmd));
  ASSERT_TRUE(out) << out.error().message;
  auto fds = slurp(tmp.path / "fds");
  ASSERT_FALSE(fds.empty());
  EXPECT_EQ(fds.find(".lock"), std::string::npos) << fds;
  EXPECT_EQ(fds.find(".lease"), std::string::npos) << fds;
}

TEST_F(CacheFixture, AWaiterHearsWhoHoldsTheLockAndTimesOut) {
  auto cmd = install_cmd();
  auto f = fill_for(release("r"), cmd);
  auto locks = make_ofd_locks(cache_dir / ".locks", "host-b pid 42 deployment d1");
  fs::create_directories(cache_dir / ".locks");
  auto held = locks->acquire(f.key.key, {});
  ASSERT_TRUE(held);
  std::string heard;
  f.wait.on_wait = [&](const std::string& who) { heard = who; };
  f.wait.deadline = std::chrono::steady_clock::now() + 30ms;
  auto out = open_cache()->get_or_install(f);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code, Code::kLockTimeout);
  EXPECT_EQ(heard, "host-b pid 42 deployment d1");
  EXPECT_EQ(count_lines(runs), 0u);
}

TEST_F(CacheFixture, BusyReportsAHeldKeyWithoutTakingIt) {
  fs::create_directories(cache_dir / ".locks");
  const std::string key(64, 'e');
  for (auto& locks : {make_ofd_locks(cache_dir / ".locks", "a"),
                      make_lease_locks(cache_dir / ".locks", "a", {50ms, 300ms})}) {
    EXPECT_FALSE(locks->busy(key)) << locks->name();
    auto held = locks->acquire(key, {});
    ASSERT_TRUE(held);
    EXPECT_TRUE(locks->busy(key)) << locks->name();
    held->reset();
    EXPECT_FALSE(locks->busy(key)) << locks->name();
  }
}

// ---- lease files ----

TEST_F(CacheFixture, LeaseFilesRunOneInstallAcrossEightProcesses) {
  auto cmd = install_cmd("sleep 0.1;");
  std::vector<pid_t> kids;
  for (int i = 0; i < 8; ++i)
    kids.push_back(fork_child([&, i] {
      auto out =
          open_cache("lease-file")->get_or_install(fill_for(release("r" + std::to_string(i)), cmd));
      return out ? 0 : 2;
    }));
  for (auto k : kids) EXPECT_EQ(wait_child(k), 0);
  EXPECT_EQ(count_lines(runs), 1u);
}

TEST_F(CacheFixture, AStaleLeaseIsTakenOverByExactlyOneWaiterAtATime) {
  fs::create_directories(cache_dir / ".locks");
  const std::string key(64, 'a');
  put(cache_dir / ".locks" / (key + ".lease"), "deadtoken\nhost-x pid 1\n");  // never beats
  auto inside = tmp.path / "inside";
  auto overlap = tmp.path / "overlap";
  std::vector<pid_t> kids;
  for (int i = 0; i < 6; ++i)
    kids.push_back(fork_child([&] {
      // A holder starved of CPU past the stale window loses its lease by design (lost()); the
      // window is wide enough that a loaded CI machine does not starve a holder that long.
      auto locks = make_lease_locks(cache_dir / ".locks", "me", {50ms, 1000ms});
      auto held = locks->acquire(key, {});
      if (!held) return 2;
      int fd = ::open(inside.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644);
      if (fd < 0) put(overlap, "two holders");
      ::usleep(20000);  // hold a while, so an overlapping holder would be caught
      if (fd >= 0) ::close(fd), ::unlink(inside.c_str());
      return 0;
    }));
  for (auto k : kids) EXPECT_EQ(wait_child(k), 0);
  EXPECT_FALSE(fs::exists(overlap));
  EXPECT_FALSE(fs::exists(cache_dir / ".locks" / (key + ".lease")));
}

TEST_F(CacheFixture, AKilledLeaseHolderIsTakenOverAfterTheStaleWindow) {
  fs::create_directories(cache_dir / ".locks");
  const std::string key(64, 'b');
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t holder = fork_child([&] {
    auto held = make_lease_locks(cache_dir / ".locks", "h", {50ms, 300ms})->acquire(key, {});
    if (!held) return 1;
    (void)!::write(ready[1], "x", 1);
    ::pause();
    return 0;
  });
  char c;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  auto locks = make_lease_locks(cache_dir / ".locks", "w", {50ms, 300ms});
  EXPECT_FALSE(*locks->try_acquire(key));
  ::kill(holder, SIGKILL);
  wait_child(holder);
  auto held = locks->acquire(key, {});
  ASSERT_TRUE(held) << held.error().message;
  EXPECT_FALSE((*held)->lost());
  ::close(ready[0]), ::close(ready[1]);
}

TEST_F(CacheFixture, ALeaseHolderWhoseLeaseWasTakenKnowsItLostIt) {
  fs::create_directories(cache_dir / ".locks");
  const std::string key(64, 'c');
  auto locks = make_lease_locks(cache_dir / ".locks", "me", {50ms, 300ms});
  auto held = locks->acquire(key, {});
  ASSERT_TRUE(held);
  put(cache_dir / ".locks" / (key + ".lease"), "someoneelse\nthief\n");
  EXPECT_TRUE(eventually([&] { return (*held)->lost(); }));
}

// ---- listing, removal, pruning ----

TEST_F(CacheFixture, PruneRemovesLeastRecentlyUsedEntriesButNeverOnesInUse) {
  auto cache = open_cache();
  std::vector<CacheOutcome> outs;
  for (std::string dep : {"old", "mid", "new"}) {
    auto out = cache->get_or_install(
        fill_for(release(dep, dep),
                 install_cmd("head -c 1000 /dev/zero > big;") + " && mv big node_modules/"));
    ASSERT_TRUE(out);
    // Last use is the sentinel's mtime: set it outright, an hour apart per entry.
    timespec used[2] = {{0, UTIME_OMIT}, {static_cast<time_t>(1'000'000 + 3600 * outs.size()), 0}};
    ::utimensat(AT_FDCWD, (cache_dir / ".done" / out->entry.key).c_str(), used, 0);
    outs.push_back(std::move(*out));
  }
  auto old_key = outs[0].entry.key, mid_key = outs[1].entry.key;
  outs[1].use.reset();  // "mid" is no longer used by any release
  outs[2].use.reset();
  // "old" is still in use: pruning to two entries' size removes "mid" and keeps "old".
  auto report = cache->prune(outs[1].entry.bytes + outs[2].entry.bytes);
  EXPECT_EQ(report.removed, std::vector<std::string>{mid_key});
  EXPECT_EQ(report.kept_in_use, std::vector<std::string>{old_key});
  EXPECT_FALSE(cache->lookup(mid_key));
  EXPECT_TRUE(cache->lookup(old_key));
  EXPECT_FALSE(fs::exists(cache_dir / mid_key));
  EXPECT_TRUE(cache->lookup(outs[2].entry.key));
  // The release made from the removed entry keeps working: it holds its own links.
  EXPECT_TRUE(fs::exists(tmp.path / "releases/mid/node_modules/big"));
}

TEST_F(CacheFixture, RemoveRefusesAnEntryInUseUnlessForced) {
  auto cache = open_cache();
  auto out = cache->get_or_install(fill_for(release("r"), install_cmd()));
  ASSERT_TRUE(out);
  auto listed = cache->list();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_TRUE(listed[0].in_use);
  auto r = cache->remove(out->entry.key, false);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kCacheEntryInUse);
  EXPECT_TRUE(cache->remove(out->entry.key, true));
  EXPECT_TRUE(cache->list().empty());
  EXPECT_EQ(cache->remove(out->entry.key, true).error().code, Code::kCacheEntryNotFound);
}

TEST_F(CacheFixture, KeysResolveFromAUniquePrefix) {
  auto cache = open_cache();
  auto out = cache->get_or_install(fill_for(release("r"), install_cmd()));
  ASSERT_TRUE(out);
  EXPECT_EQ(*cache->resolve(out->entry.key.substr(0, 8)), out->entry.key);
  EXPECT_EQ(cache->resolve("abc").error().code, Code::kCacheEntryNotFound);
  EXPECT_EQ(cache->resolve("../../etc").error().code, Code::kCacheEntryNotFound);
}

TEST_F(CacheFixture, PruneSweepsWhatDeadInstallersLeft) {
  auto cache = open_cache();
  const std::string key(64, 'd');
  put(cache_dir / ".partial" / (key + ".x") / "f", "half");
  put(cache_dir / key / "f", "no sentinel");
  auto report = cache->prune(0, true);
  EXPECT_EQ(report.partials_swept, 2u);
  EXPECT_TRUE(fs::is_empty(cache_dir / ".partial"));
  EXPECT_FALSE(fs::exists(cache_dir / key));
}

// ---- an entry share (the cluster's, faked: a directory stands in for the other nodes) ----

// pack() leaves a pack in the entry and copies the entry being filed into `others/KEY`;
// fetch() copies it back out.
struct FakeShare : EntryShare {
  fs::path others;
  std::function<void(const std::string&)> on_announce;
  std::vector<std::string> announced;

  Result<std::optional<PackedEntry>> fetch(const std::string& key, const fs::path& into) override {
    if (!fs::exists(others / key)) return std::nullopt;
    fs::copy(others / key, into, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
    return PackedEntry{"d", 1};
  }
  Result<PackedEntry> pack(const fs::path& dir) override {
    auto key = dir.filename().string().substr(0, 64);
    std::ofstream(pack_path(dir)) << "d";
    fs::remove_all(others / key);
    fs::copy(dir, others / key, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
    return PackedEntry{"d", 1};
  }
  Result<void> announce(const std::string& key, const PackedEntry&) override {
    if (on_announce) on_announce(key);
    announced.push_back(key);
    return {};
  }
  Result<PackedEntry> describe(const fs::path& pack) override {
    return PackedEntry{"d", fs::file_size(pack)};
  }
};

struct ShareFixture : CacheFixture {
  std::shared_ptr<FakeShare> share = std::make_shared<FakeShare>();
  void SetUp() override {
    share->others = tmp.path / "others";
    fs::create_directories(share->others);
  }
  // A cache of its own directory (another node) that shares through `share`.
  std::unique_ptr<InstallCache> node_cache(const std::string& name) {
    cache_dir = tmp.path / name;
    auto c = open_cache();
    c->share_through(make_ofd_locks(cache_dir / ".locks", name), share);
    return c;
  }
};

TEST_F(ShareFixture, AMissFetchesWhatAnotherNodeInstalledInsteadOfInstalling) {
  auto a = node_cache("a");
  auto first = a->get_or_install(fill_for(release("r1"), install_cmd()));
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_FALSE(first->hit);
  EXPECT_EQ(share->announced.size(), 1u);

  auto b = node_cache("b");
  auto rel = release("r2");
  auto second = b->get_or_install(fill_for(rel, install_cmd()));
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_TRUE(second->hit);
  EXPECT_TRUE(second->fetched);
  EXPECT_EQ(count_lines(runs), 1u);
  EXPECT_EQ(slurp(rel / "node_modules/dep/index.js"), "x\n");
  EXPECT_TRUE(b->lookup(second->entry.key));  // filed here: b serves it and hits next time
  EXPECT_EQ(share->announced.size(), 2u);
}

TEST_F(ShareFixture, AFetchedEntryThatIsNotTheKeysIsNotFiledAndTheNodeInstalls) {
  auto a = node_cache("a");
  auto fill = fill_for(release("r1"), install_cmd());
  ASSERT_TRUE(a->get_or_install(fill));
  // Another key's entry served under this key's name.
  auto other = fill_for(release("r2", "b"), install_cmd());
  fs::rename(share->others / fill.key.key, share->others / other.key.key);
  auto b = node_cache("b");
  auto got = b->get_or_install(other);
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_FALSE(got->hit);
  EXPECT_EQ(count_lines(runs), 2u);
}

TEST_F(ShareFixture, TheInstallerAnnouncesWhileItStillHoldsTheLock) {
  auto a = node_cache("a");
  auto probe = make_ofd_locks(cache_dir / ".locks", "probe");
  std::optional<bool> held;
  share->on_announce = [&](const std::string& key) { held = probe->busy(key); };
  ASSERT_TRUE(a->get_or_install(fill_for(release("r1"), install_cmd())));
  ASSERT_TRUE(held.has_value());
  EXPECT_TRUE(*held);
}

TEST_F(ShareFixture, EveryEntryWithAPackIsAnnouncedAgainOnANewLease) {
  // Filed before the cache was shared: it has no pack, so there is nothing to serve.
  cache_dir = tmp.path / "a";
  ASSERT_TRUE(open_cache()->get_or_install(fill_for(release("r0", "old"), install_cmd())));
  auto a = node_cache("a");
  EXPECT_EQ(a->announce_held().value_or(99), 0u);
  auto fill = fill_for(release("r1"), install_cmd());
  ASSERT_TRUE(a->get_or_install(fill));
  ASSERT_EQ(share->announced, std::vector<std::string>{fill.key.key});
  share->announced.clear();  // the lease they were on lapsed
  auto again = a->announce_held();
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(*again, 1u);
  EXPECT_EQ(share->announced, std::vector<std::string>{fill.key.key});
  EXPECT_EQ(open_cache()->announce_held().value_or(99), 0u) << "no share: nothing to say";
}

// ---- keys and clones ----

TEST_F(CacheFixture, TheKeyFollowsInputsCommandAndNothingElse) {
  auto rel = release("r");
  auto k1 = cache_key("npm ci", rel, {"package.json", "package-lock.json"}, tools);
  put(rel / "README.md", "not an input");
  auto k2 = cache_key("npm ci", rel, {"package.json", "package-lock.json"}, tools);
  put(rel / "package-lock.json", "{}");
  auto k3 = cache_key("npm ci", rel, {"package.json", "package-lock.json"}, tools);
  auto k4 = cache_key("npm install", rel, {"package.json", "package-lock.json"}, tools);
  ASSERT_TRUE(k1 && k2 && k3 && k4);
  EXPECT_EQ(k1->key, k2->key);
  EXPECT_NE(k2->key, k3->key);
  EXPECT_NE(k3->key, k4->key);
  EXPECT_EQ(k1->key.size(), 64u);
  EXPECT_TRUE(k1->basis["inputs"]["package-lock.json"].is_null());
  EXPECT_TRUE(k1->basis["tools"].contains("node"));
  EXPECT_EQ(cache_key("x", rel, {"../etc/passwd"}, tools).error().code, Code::kBadManifest);
}

TEST_F(CacheFixture, CloneLinksOrCopiesAndKeepsLinksAndModes) {
  auto from = tmp.path / "from";
  put(from / "a/b.txt", "hello");
  ::chmod((from / "a/b.txt").c_str(), 0755);
  fs::create_symlink("a/b.txt", from / "link");
  auto linked = clone_tree(from, tmp.path / "linked", CloneMode::kLink);
  auto copied = clone_tree(from, tmp.path / "copied", CloneMode::kCopy);
  ASSERT_TRUE(linked && copied);
  EXPECT_EQ(linked->linked, 1u);
  EXPECT_EQ(copied->copied, 1u);
  struct stat a {
  }, b{}, c{};
  ::stat((from / "a/b.txt").c_str(), &a);
  ::stat((tmp.path / "linked/a/b.txt").c_str(), &b);
  ::stat((tmp.path / "copied/a/b.txt").c_str(), &c);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_NE(a.st_ino, c.st_ino);
  EXPECT_EQ(c.st_mode & 0777, 0755u);
  EXPECT_EQ(slurp(tmp.path / "copied/a/b.txt"), "hello");
  EXPECT_EQ(fs::read_symlink(tmp.path / "copied/link"), "a/b.txt");
}

}  // namespace
}  // namespace berth
