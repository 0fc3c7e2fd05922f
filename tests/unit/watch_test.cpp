// The tree watcher against real files and the real kernel inotify, driven by a private
// io_context the test runs only when it wants events read (which is also how the overflow
// test stops the reading). ENOSPC/EMFILE come from a seam in the syscall layer.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <fstream>
#include <thread>

#include "watch/inotify_hub.h"
#include "watch/tree_watcher.h"

namespace berth {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Kernel inotify that can be told to refuse instances or to refuse watches past a limit.
class LimitedInotify : public KernelInotify {
 public:
  int init() override {
    if (refuse_init) {
      errno = EMFILE;
      return -1;
    }
    return KernelInotify::init();
  }
  int add_watch(int fd, const char* path, uint32_t mask) override {
    if (added >= watch_limit) {
      errno = ENOSPC;
      return -1;
    }
    int wd = KernelInotify::add_watch(fd, path, mask);
    if (wd >= 0) ++added;
    return wd;
  }
  int rm_watch(int fd, int wd) override {
    --added;
    return KernelInotify::rm_watch(fd, wd);
  }
  bool refuse_init = false;
  int watch_limit = 1 << 30;
  int added = 0;
};

void write(const fs::path& p, const std::string& text = "x") {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

class WatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-watch-XXXXXX";
    base = ::mkdtemp(tmpl);
    root = base / "root";
    fs::create_directories(root);
  }
  void TearDown() override {
    watcher.reset();
    fs::remove_all(base);
  }

  WatchOptions options() {
    WatchOptions o;
    o.root = root;
    o.rules = IgnoreRules::load(root, {}, {});
    o.debounce = 20ms;
    o.max_wait = 30s;  // bursts end by quiet, not by the ceiling (see the ceiling test)
    o.poll_interval = 30ms;
    o.retry_base = 10ms;
    o.rescan_gap = 10ms;
    return o;
  }

  void start(WatchOptions o) {
    watcher = std::make_unique<TreeWatcher>(
        io, hub, std::move(o), [this](const std::string& p, size_t) { changes.push_back(p); });
    watcher->start();
  }

  // Runs the loop until pred holds; fails after 30 s.
  bool run_until(const std::function<bool()>& pred) {
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (!pred()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      io.run_for(5ms);
    }
    return true;
  }

  // Waits for `expect` changes, then writes a sentinel and runs until the sentinel's own
  // change arrives. Every change reported before it is all the watcher will ever report for
  // what happened earlier: an extra one still pending would swallow the sentinel into its
  // burst, and the sentinel would never be reported on its own (the test then fails).
  std::vector<std::string> changes_before_sentinel(size_t expect = 0,
                                                   const std::string& name = "sentinel.txt") {
    EXPECT_TRUE(run_until([&] { return changes.size() >= expect; }));
    size_t before = changes.size();
    write(root / name);
    EXPECT_TRUE(run_until([&] { return changes.size() > before && changes.back() == name; }))
        << "sentinel never reported";
    return std::vector<std::string>(changes.begin(), changes.end() - 1);
  }

  fs::path base, root;
  boost::asio::io_context io;
  LimitedInotify api;
  InotifyHub hub{io, api};
  std::unique_ptr<TreeWatcher> watcher;
  std::vector<std::string> changes;
};

TEST_F(WatchTest, FileModificationIsOneChangeNamingThePath) {
  write(root / "app.js");
  start(options());
  write(root / "app.js", "v2");
  ASSERT_TRUE(run_until([&] { return !changes.empty(); }));
  EXPECT_EQ(changes[0], "app.js");
  EXPECT_EQ(changes_before_sentinel(1).size(), 1u);
}

TEST_F(WatchTest, TempFileRenamedOverTheRealOneNamesTheRealOne) {
  write(root / "server.js");
  start(options());
  // What `sed -i` and many editors do: write a temporary file, rename it over the original.
  write(root / "sedAbC123", "v2");
  fs::rename(root / "sedAbC123", root / "server.js");
  ASSERT_TRUE(run_until([&] { return !changes.empty(); }));
  EXPECT_EQ(changes[0], "server.js");
}

TEST_F(WatchTest, OneWatchPerDirectoryNeverPerFile) {
  for (int i = 0; i < 50; ++i) write(root / "src" / ("f" + std::to_string(i)));
  write(root / "lib" / "deep" / "x");
  start(options());
  EXPECT_EQ(watcher->watches(), 4u);  // root, src, lib, lib/deep
  EXPECT_EQ(hub.watches(), 4u);
}

TEST_F(WatchTest, BurstOf5000WritesIsExactlyOneChange) {
  start(options());
  for (int i = 0; i < 5000; ++i)
    write(root / "gen" / ("f" + std::to_string(i % 500)), std::to_string(i));
  auto before = changes_before_sentinel(1);
  EXPECT_EQ(before.size(), 1u);
}

// A burst that outlasts the ceiling (files written over more than max_wait, as a checkout on
// a loaded machine does) is still one change: the ceiling is for drizzles.
TEST_F(WatchTest, ABurstLongerThanTheCeilingIsStillOneChange) {
  auto o = options();
  o.debounce = 300ms;
  o.max_wait = 400ms;
  start(std::move(o));
  // 1,000 writes in 20 chunks 25 ms apart: at least 500 ms, past the ceiling, and dense.
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int chunk = 0; chunk < 20; ++chunk) {
      for (int i = 0; i < 50; ++i)
        write(root / "gen" / ("f" + std::to_string(i + 50 * (chunk % 10))), std::to_string(chunk));
      std::this_thread::sleep_for(25ms);
    }
    done = true;
  });
  // The loop runs while the writer writes, as the daemon's does.
  while (!done) io.run_for(5ms);
  writer.join();
  auto before = changes_before_sentinel(1);
  EXPECT_EQ(before.size(), 1u);
}

TEST_F(WatchTest, SteadyDrizzleStillFiresAtTheCeiling) {
  auto o = options();
  o.debounce = 100ms;
  o.max_wait = 150ms;
  start(std::move(o));
  // A write every 10 ms never leaves the 100 ms quiet period: only the ceiling can fire.
  for (int i = 0; i < 60 && changes.size() < 2; ++i) {
    write(root / "drip.txt", std::to_string(i));
    io.run_for(10ms);
  }
  EXPECT_TRUE(run_until([&] { return changes.size() >= 2; }));
}

TEST_F(WatchTest, MkdirDashPIsSeenAndWatched) {
  start(options());
  fs::create_directories(root / "a/b/c");
  write(root / "a/b/c/f");
  ASSERT_TRUE(run_until([&] { return !changes.empty(); }));
  ASSERT_TRUE(run_until([&] { return watcher->watches() == 4u; }));
  changes_before_sentinel(1);
  write(root / "a/b/c/g");
  ASSERT_TRUE(run_until([&] { return !changes.empty() && changes.back() == "a/b/c/g"; }));
}

TEST_F(WatchTest, IgnoredDirectoriesHoldNoWatchesAndFireNothing) {
  write(root / "node_modules/pkg/index.js");
  write(root / "web/node_modules/dep/index.js");
  write(root / ".git/HEAD");
  write(root / "__pycache__/m.pyc");
  write(root / "web/app.js");
  start(options());
  EXPECT_EQ(watcher->watches(), 2u);  // root, web
  write(root / "node_modules/pkg/index.js", "2");
  write(root / "web/node_modules/dep/index.js", "2");
  write(root / "server.log", "log line");
  write(root / ".app.js.swp", "swap");
  EXPECT_TRUE(changes_before_sentinel().empty());
}

TEST_F(WatchTest, ManifestIgnoreIncludeAndBerthignore) {
  write(root / ".berthignore", "# comment\ndist/\n*.tmp\n!keep.tmp\n");
  write(root / "dist/bundle.js");
  write(root / "src/a.js");
  auto o = options();
  o.rules = IgnoreRules::load(root, {"coverage/"}, {"*.js", "*.tmp", "sentinel.txt"});
  fs::create_directories(root / "coverage");
  start(std::move(o));
  EXPECT_EQ(watcher->watches(), 2u);  // root, src
  write(root / "x.tmp");
  write(root / "src/readme.md");
  EXPECT_TRUE(changes_before_sentinel().empty());
  write(root / "keep.tmp");
  ASSERT_TRUE(run_until([&] { return !changes.empty() && changes.back() == "keep.tmp"; }));
  write(root / "src/a.js", "2");
  ASSERT_TRUE(run_until([&] { return changes.back() == "src/a.js"; }));
}

TEST_F(WatchTest, RenamedDirectoryKeepsCorrectPaths) {
  write(root / "old/sub/f");
  start(options());
  fs::rename(root / "old", root / "new");
  changes_before_sentinel(1);
  write(root / "new/sub/g");
  ASSERT_TRUE(run_until([&] { return !changes.empty() && changes.back() == "new/sub/g"; }));
  EXPECT_EQ(watcher->watches(), 3u);
}

TEST_F(WatchTest, DirectoryMovedOutStopsReportingAndMovedInIsWatched) {
  write(root / "inside/f");
  write(base / "outside/sub/g");
  start(options());
  EXPECT_EQ(watcher->watches(), 2u);
  fs::rename(root / "inside", base / "gone");
  ASSERT_TRUE(run_until([&] { return watcher->watches() == 1u; }));
  write(base / "gone/f2");                                 // no longer ours
  EXPECT_EQ(changes_before_sentinel(1, "s1").size(), 1u);  // the move itself
  changes.clear();
  fs::rename(base / "outside", root / "arrived");
  ASSERT_TRUE(run_until([&] { return watcher->watches() == 3u; }));
  auto moved_in = changes_before_sentinel(1, "s2");
  ASSERT_EQ(moved_in.size(), 1u);
  EXPECT_EQ(moved_in[0], "arrived/sub/g");  // files that arrive with a directory count
  write(root / "arrived/sub/h");
  ASSERT_TRUE(run_until([&] { return !changes.empty() && changes.back() == "arrived/sub/h"; }));
}

TEST_F(WatchTest, DeletedRootIsRetriedThenGivenUp) {
  auto o = options();
  o.retries = 3;
  start(std::move(o));
  fs::remove_all(root);
  ASSERT_TRUE(run_until([&] { return watcher->mode() == TreeWatcher::Mode::kGaveUp; }));
  EXPECT_EQ(watcher->reason(), "root missing");
  EXPECT_EQ(watcher->watches(), 0u);
  EXPECT_EQ(hub.watches(), 0u);
}

TEST_F(WatchTest, RecreatedRootIsWatchedAgain) {
  auto o = options();
  o.retry_base = 100ms;
  start(std::move(o));
  fs::remove_all(root);
  ASSERT_TRUE(run_until([&] { return watcher->mode() == TreeWatcher::Mode::kRootMissing; }));
  fs::create_directories(root / "src");
  ASSERT_TRUE(run_until([&] { return watcher->mode() == TreeWatcher::Mode::kInotify; }));
  EXPECT_EQ(watcher->watches(), 2u);
  ASSERT_EQ(changes_before_sentinel(1).size(), 1u);  // the root coming back is a change
  write(root / "src/back.js");
  ASSERT_TRUE(run_until([&] { return !changes.empty() && changes.back() == "src/back.js"; }));
}

TEST_F(WatchTest, QueueOverflowRescansAndLosesNoChange) {
  start(options());
  // The loop is not running: nothing reads the queue while 20,000 files are created, so the
  // kernel's 16,384-event queue overflows. A directory created meanwhile must be watched.
  for (int i = 0; i < 20000; ++i) std::ofstream(root / ("f" + std::to_string(i)));
  fs::create_directories(root / "born-during-overflow");
  ASSERT_TRUE(run_until([&] { return watcher->rescans() >= 1 && !changes.empty(); }));
  EXPECT_GE(hub.overflows(), 1u);
  EXPECT_EQ(watcher->mode(), TreeWatcher::Mode::kInotify);
  changes_before_sentinel(1);
  write(root / "born-during-overflow/x");
  ASSERT_TRUE(run_until([&] { return changes.back() == "born-during-overflow/x"; }));
}

TEST_F(WatchTest, WatchLimitFallsBackToPollingThatStillDetectsChanges) {
  write(root / "a/f");
  write(root / "b/f");
  api.watch_limit = 2;  // root and one subdirectory, then ENOSPC
  auto o = options();
  o.inotify_retry = 200ms;
  start(std::move(o));
  EXPECT_EQ(watcher->mode(), TreeWatcher::Mode::kPolling);
  EXPECT_NE(watcher->reason().find("max_user_watches"), std::string::npos) << watcher->reason();
  EXPECT_EQ(hub.watches(), 0u);
  write(root / "b/f", "changed");
  ASSERT_TRUE(run_until([&] { return !changes.empty(); }));
  EXPECT_EQ(changes[0], "b/f");
  // The limit is raised: the watcher goes back to inotify by itself.
  api.watch_limit = 1 << 30;
  ASSERT_TRUE(run_until([&] { return watcher->mode() == TreeWatcher::Mode::kInotify; }));
  EXPECT_EQ(watcher->watches(), 3u);
}

TEST_F(WatchTest, NoInotifyInstanceFallsBackToPolling) {
  api.refuse_init = true;
  start(options());
  EXPECT_EQ(watcher->mode(), TreeWatcher::Mode::kPolling);
  EXPECT_NE(watcher->reason().find("max_user_instances"), std::string::npos) << watcher->reason();
  write(root / "new.js");
  ASSERT_TRUE(run_until([&] { return !changes.empty(); }));
  EXPECT_EQ(changes[0], "new.js");
}

TEST_F(WatchTest, StopReleasesEveryWatch) {
  write(root / "a/b/c");
  start(options());
  EXPECT_EQ(hub.watches(), 3u);
  watcher->stop();
  EXPECT_EQ(hub.watches(), 0u);
  EXPECT_EQ(api.added, 0);
}

TEST_F(WatchTest, OverlappingWatchersShareKernelWatches) {
  write(root / "sub/f");
  start(options());
  auto o = options();
  o.root = root / "sub";
  std::vector<std::string> inner;
  TreeWatcher second(io, hub, std::move(o),
                     [&](const std::string& p, size_t) { inner.push_back(p); });
  second.start();
  EXPECT_EQ(hub.watches(), 2u);  // root/sub is one kernel watch for both
  watcher->stop();
  EXPECT_EQ(hub.watches(), 1u);
  write(root / "sub/f", "2");
  ASSERT_TRUE(run_until([&] { return !inner.empty(); }));
  EXPECT_EQ(inner[0], "f");
}

TEST(IgnoreRules, DefaultsAndGitignoreSyntax) {
  auto r = IgnoreRules::load("/nonexistent",
                             {"build/", "/only-root.txt", "docs/**/*.md", "!important.log"}, {});
  EXPECT_TRUE(r.ignored("node_modules", true));
  EXPECT_TRUE(r.ignored("a/b/node_modules", true));
  EXPECT_TRUE(r.ignored(".git", true));
  EXPECT_TRUE(r.ignored("x.swp", false));
  EXPECT_TRUE(r.ignored("sub/.#lock", false));
  EXPECT_TRUE(r.ignored("deep/server.log", false));
  EXPECT_FALSE(r.ignored("important.log", false));
  EXPECT_TRUE(r.ignored("build", true));
  EXPECT_FALSE(r.ignored("build", false));  // dir-only rule
  EXPECT_TRUE(r.ignored("only-root.txt", false));
  EXPECT_FALSE(r.ignored("sub/only-root.txt", false));
  EXPECT_TRUE(r.ignored("docs/a/b/x.md", false));
  EXPECT_TRUE(r.ignored("docs/x.md", false));
  EXPECT_FALSE(r.ignored("src/app.js", false));
}

TEST(IgnoreRules, GlobSyntax) {
  auto r = IgnoreRules::load("/nonexistent",
                             {"**/gen/*.c", "out/**", "f?o.[ch]", "[!a]x.txt", "\\#lit", "a**b",
                              "[]]z", "[[:digit:]]*.dat", "caf\xc3\xa9/"},
                             {});
  EXPECT_TRUE(r.ignored("gen/x.c", false));
  EXPECT_TRUE(r.ignored("a/b/gen/x.c", false));
  EXPECT_FALSE(r.ignored("a/gen/b/x.c", false));  // `*` stays in one segment
  EXPECT_TRUE(r.ignored("out/a/b", false));
  EXPECT_FALSE(r.ignored("out", false));
  EXPECT_TRUE(r.ignored("d/fxo.h", false));
  EXPECT_FALSE(r.ignored("d/fo.h", false));
  EXPECT_TRUE(r.ignored("bx.txt", false));
  EXPECT_FALSE(r.ignored("ax.txt", false));
  EXPECT_TRUE(r.ignored("#lit", false));
  EXPECT_TRUE(r.ignored("aXYb", false));
  EXPECT_TRUE(r.ignored("]z", false));
  EXPECT_TRUE(r.ignored("7run.dat", false));
  EXPECT_TRUE(r.ignored("x/caf\xc3\xa9", true));
  EXPECT_FALSE(r.ignored("\xff\xfe.txt", false));  // not UTF-8: still just a name
  auto star = IgnoreRules::load("/nonexistent", {"*"}, {});
  EXPECT_TRUE(star.ignored("\xff\xfe.txt", false));
}

// glibc's fnmatch backtracks: `*a*a*...b` against a long name of a's is exponential. Every
// glob is RE2 now, so hostile globs in a manifest or .berthignore finish at once.
TEST(IgnoreRules, HostileGlobsFinish) {
  std::vector<std::string> hostile = {"*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b",
                                      "**/**/**/**/**/**/x",
                                      "[",
                                      "[!",
                                      "\\",
                                      "***********c",
                                      "a/**/**/**/**/**/b"};
  auto r = IgnoreRules::load("/nonexistent", hostile, {});
  std::string name(255, 'a');
  std::string deep;
  for (int i = 0; i < 200; ++i) deep += "a/";
  EXPECT_FALSE(r.ignored(name, false));
  EXPECT_FALSE(r.ignored(deep + name, false));
  EXPECT_TRUE(r.ignored("[", false));
}

TEST(IgnoreRules, BadGlobsAreSkipped) {
  auto r = IgnoreRules::load("/nonexistent", {"[z-a]", "ok.txt"}, {});
  EXPECT_TRUE(r.ignored("ok.txt", false));
  EXPECT_FALSE(r.ignored("z", false));
}

}  // namespace
}  // namespace berth
