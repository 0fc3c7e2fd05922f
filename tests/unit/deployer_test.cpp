// The deploy pipeline on its own: a real store, real extraction and a real event loop, with
// the components behind a fake DeployTarget, so a deploy can start from a stored payload (as a
// peer's will) and every phase and end is seen by an observer. And the retention and
// rollback choices, which are pure functions of the history.
#include "deploy/deployer.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <fstream>

#include "deploy/retention.h"
#include "store/db.h"
#include "support/tar_builder.h"
#include "support/temp_dir.h"

namespace berth {
namespace {
namespace asio = boost::asio;
namespace fs = std::filesystem;

// The components, as the pipeline sees them.
class FakeTarget : public DeployTarget {
 public:
  bool shutting_down() const override { return false; }
  asio::awaitable<Result<void>> admit(const std::string& name, Superseded) override {
    admitted.push_back(name);
    co_return Result<void>{};
  }
  Result<void> deployed(const std::string&) const override { return {}; }
  void deploys_began(const std::string& name) override { calls.push_back("began " + name); }
  void deploys_ended(const std::string& name) override { calls.push_back("ended " + name); }
  asio::awaitable<Result<void>> restart(const std::string& name) override {
    calls.push_back("restart " + name);
    if (fail_restarts-- > 0) co_return fail(Code::kStartupIdleTimeout, "no output");
    co_return Result<void>{};
  }
  asio::awaitable<Result<void>> stays_up(const std::string& name,
                                         std::chrono::milliseconds window) override {
    windows.push_back(window);
    if (crash_after_ready-- > 0) {
      calls.push_back("went down " + name);
      co_return fail(Code::kExitedAfterReady, "it went down 1.5s after it was ready");
    }
    co_return Result<void>{};
  }
  asio::awaitable<void> stop(const std::string& name) override {
    calls.push_back("stop " + name);
    co_return;
  }
  Result<EnvSettings> keep_env(const std::string& name, const EnvChange& change) override {
    calls.push_back("keep_env " + name);
    EnvSettings before = kept;
    change.apply(kept.set, kept.profile);
    return before;
  }
  void restore_env(const std::string& name, const EnvSettings& previous) override {
    calls.push_back("restore_env " + name);
    kept = previous;
  }
  EnvSettings kept;
  std::vector<std::string> admitted, calls;
  std::vector<std::chrono::milliseconds> windows;
  int fail_restarts = 0, crash_after_ready = 0;
};

class Recorder : public DeploymentObserver {
 public:
  void on_phase(const DeploymentRow& row) override { phases.push_back(row.phase); }
  void on_end(const DeploymentRow& row) override { ends.push_back(row); }
  std::vector<std::string> phases;
  std::vector<DeploymentRow> ends;
};

// A body from memory, in small reads.
class StringBody : public http::BodyReader {
 public:
  explicit StringBody(std::string s) : s_(std::move(s)) {}
  asio::awaitable<Result<size_t>> read_some(char* buf, size_t size) override {
    size_t n = std::min({size, s_.size() - off_, size_t{4096}});
    std::copy_n(s_.data() + off_, n, buf);
    off_ += n;
    co_return n;
  }
  std::optional<uint64_t> content_length() const override { return s_.size(); }

 private:
  std::string s_;
  size_t off_ = 0;
};

class DeployerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config.home = home.path;
    db = std::move(*Db::open(home.path / "berth.db"));
    ASSERT_TRUE(migrate(*db));
    repo = std::make_unique<DeploymentRepo>(*db);
    trees = std::make_unique<TreeRepo>(*db);
    reaper.start();
    deployer = std::make_unique<Deployer>(DeployerContext{io, reaper, config, *trees, cgroup},
                                          *repo, target, nullptr);
    deployer->add_observer(&seen);
  }

  // A payload in the blob store, as a peer would have fetched it.
  std::string stored_payload(const std::string& version) {
    auto tgz = home.path / ("p" + version + ".tar.gz");
    test::TarBuilder(tgz).file("berth.toml", "[run]\ncommand = \"true\"\n").file("v", version);
    std::ifstream in(tgz);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    StringBody body(bytes);
    std::optional<Result<Blob>> blob;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          blob = co_await BlobStore(home.path / "blobs").ingest(body, "t");
        },
        asio::detached);
    while (!blob) io.run_one();
    EXPECT_TRUE(*blob) << (*blob).error().message;
    return (**blob).digest;
  }

  Result<DeploymentRow> start(const std::string& name, const std::string& digest) {
    std::optional<Result<DeploymentRow>> row;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          const Deployer::StartOptions opts;
          row = co_await deployer->start(name, digest, "peer:n2", opts);
        },
        asio::detached);
    while (!row) io.run_one();
    return *row;
  }

  void run_until_ended(size_t n) {
    while (seen.ends.size() < n) io.run_one();
  }

  test::TempDir home;
  DaemonConfig config;
  asio::io_context io;
  Reaper reaper{io};
  std::unique_ptr<Db> db;
  std::unique_ptr<DeploymentRepo> repo;
  std::unique_ptr<TreeRepo> trees;
  std::optional<CgroupBase> cgroup;
  FakeTarget target;
  Recorder seen;
  std::unique_ptr<Deployer> deployer;
};

TEST_F(DeployerTest, StartsFromAStoredPayloadThroughEveryPhase) {
  auto digest = stored_payload("1");
  auto row = start("web", digest);
  ASSERT_TRUE(row) << row.error().message;
  EXPECT_EQ(row->origin, "peer:n2");
  EXPECT_EQ(row->digest, digest);
  run_until_ended(1);
  EXPECT_EQ(seen.ends[0].status, DeploymentStatus::kSuccess);
  EXPECT_EQ(seen.phases, (std::vector<std::string>{"extracting", "installing", "activating",
                                                   "restarting", "staying-up"}));
  EXPECT_EQ(target.admitted, std::vector<std::string>{"web"});
  EXPECT_EQ(target.calls, (std::vector<std::string>{"began web", "restart web", "ended web"}));
  EXPECT_EQ(deployer->releases().current("web"), row->release);
  auto stored = repo->get(row->id);
  ASSERT_TRUE(stored && *stored);
  EXPECT_EQ((*stored)->origin, "peer:n2");
  EXPECT_EQ((*stored)->status, DeploymentStatus::kSuccess);
}

TEST_F(DeployerTest, AMissingPayloadIsRefusedBeforeAnythingIsRecorded) {
  auto row = start("web", std::string(64, 'a'));
  ASSERT_FALSE(row);
  EXPECT_EQ(row.error().code, Code::kNotFound);
  EXPECT_TRUE(target.admitted.empty());
  EXPECT_TRUE(repo->list("", 10)->empty());
}

TEST_F(DeployerTest, AReleaseThatFailsToStartRollsBackToThePreviousOne) {
  auto first = start("web", stored_payload("1"));
  ASSERT_TRUE(first);
  run_until_ended(1);
  target.fail_restarts = 1;
  auto second = start("web", stored_payload("2"));
  ASSERT_TRUE(second);
  run_until_ended(2);
  EXPECT_EQ(seen.ends[1].status, DeploymentStatus::kRolledBack);
  EXPECT_EQ(seen.ends[1].error->code, Code::kStartupIdleTimeout);
  EXPECT_EQ(deployer->releases().current("web"), first->release);
  EXPECT_FALSE(deployer->releases().has_release("web", second->release));  // pruned
}

// A success you can trust: ready, then down inside [deploy] healthy_for, is a rollback.
TEST_F(DeployerTest, AReleaseThatGoesDownInsideHealthyForIsRolledBack) {
  auto first = start("web", stored_payload("1"));
  ASSERT_TRUE(first);
  run_until_ended(1);
  EXPECT_EQ(seen.ends[0].status, DeploymentStatus::kSuccess);
  ASSERT_EQ(target.windows.size(), 1u);
  EXPECT_EQ(target.windows[0], config.healthy_for);  // the daemon's default: none in berth.toml
  target.crash_after_ready = 1;
  ASSERT_TRUE(start("web", stored_payload("2")));
  run_until_ended(2);
  EXPECT_EQ(seen.ends[1].status, DeploymentStatus::kRolledBack);
  EXPECT_EQ(seen.ends[1].error->code, Code::kExitedAfterReady);
  EXPECT_EQ(deployer->releases().current("web"), first->release);
  auto down = std::find(target.calls.begin(), target.calls.end(), "went down web");
  ASSERT_NE(down, target.calls.end());
  EXPECT_NE(std::find(down, target.calls.end(), "restart web"), target.calls.end());
}

TEST_F(DeployerTest, AFirstReleaseThatFailsToStartIsStopped) {
  target.fail_restarts = 1;
  ASSERT_TRUE(start("web", stored_payload("1")));
  run_until_ended(1);
  EXPECT_EQ(seen.ends[0].status, DeploymentStatus::kFailed);
  EXPECT_EQ(target.calls.back(), "ended web");
  EXPECT_NE(std::find(target.calls.begin(), target.calls.end(), "stop web"), target.calls.end());
}

DeploymentRow row(const std::string& id, DeploymentStatus s, std::string digest = "") {
  DeploymentRow r;
  r.id = r.release = id;
  r.component = "web";
  r.status = s;
  if (!digest.empty()) r.digest = digest;
  return r;
}

TEST(Retention, KeepsTheLiveOneInFlightOnesAndTheNewestSuccesses) {
  using S = DeploymentStatus;
  std::vector<DeploymentRow> history = {row("6", S::kRunning), row("5", S::kSuccess),
                                        row("4", S::kFailed),  row("3", S::kSuccess),
                                        row("2", S::kSuccess), row("1", S::kSuccess)};
  EXPECT_EQ(releases_to_keep(history, "5", 2), (std::set<std::string>{"6", "5", "3", "2"}));
  EXPECT_EQ(releases_to_keep(history, std::nullopt, 1), (std::set<std::string>{"6", "5"}));
  EXPECT_EQ(releases_to_keep({}, "x", 5), (std::set<std::string>{"x"}));
}

TEST(Retention, KeepsPayloadsOfExistingReleasesAndDeploysInFlight) {
  using S = DeploymentStatus;
  std::vector<DeploymentRow> all = {row("3", S::kRunning, "c"), row("2", S::kFailed, "b"),
                                    row("1", S::kSuccess, "a"), row("0", S::kSuccess)};
  auto exists = [](const std::string&, const std::string& r) { return r == "1"; };
  EXPECT_EQ(payloads_to_keep(all, exists), (std::set<std::string>{"a", "c"}));
}

TEST(Retention, RollbackGoesToTheNewestEarlierReleaseOrTheOneAskedFor) {
  using S = DeploymentStatus;
  std::vector<DeploymentRow> history = {row("4", S::kSuccess), row("3", S::kFailed),
                                        row("2", S::kSuccess), row("1", S::kSuccess)};
  auto exists = [](const std::string&, const std::string& r) { return r != "1"; };
  EXPECT_EQ(rollback_target(history, "web", "4", "", exists)->id, "2");
  EXPECT_EQ(rollback_target(history, "web", "4", "4", exists)->id, "4");
  EXPECT_EQ(rollback_target(history, "web", "4", "1", exists).error().code, Code::kReleaseGone);
  EXPECT_EQ(rollback_target(history, "web", "4", "9", exists).error().code, Code::kNotFound);
  EXPECT_EQ(rollback_target({row("4", S::kSuccess)}, "web", "4", "", exists).error().code,
            Code::kNoPreviousRelease);
}

}  // namespace
}  // namespace berth
