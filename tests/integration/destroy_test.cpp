// Destroy, tombstones and reconcile through the daemon: nothing destroyed comes back.
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "harness.h"

namespace berth::testing {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string app_toml(const std::string& extra = "") {
  return "[run]\ncommand = " + fixture_command({"print:up", "forever"}) +
         "\n[ready]\nmarker = \"up\"\n" + extra;
}

std::string first_line(const std::string& s) {
  return s.substr(0, s.find('\n'));
}

// What a component can leave behind: directories, processes, watches, rows.
struct Footprint {
  bool link, releases, logs;
  int components, watches;
  bool operator==(const Footprint&) const = default;
};

Footprint footprint(TestDaemon& d, const std::string& name) {
  auto health = d.api("GET", "/healthz").body;
  return {fs::exists(fs::symlink_status(d.home() / "components" / name)),
          fs::exists(d.home() / "releases" / name), fs::exists(d.home() / "logs" / name),
          static_cast<int>(d.api("GET", "/v1/components").body["components"].size()),
          health["inotify_watches"].get<int>()};
}

TEST(Destroy, RemovesEverythingAndIsIdempotent) {
  TestDaemon d;
  auto dir = d.component("app", app_toml("[watch]\nenabled = true\n"));
  ASSERT_EQ(d.cli({"deploy", dir.string()}).code, 0);
  auto s = d.wait_state("app", "ready");
  pid_t pid = s["pid"];
  EXPECT_GT(d.api("GET", "/healthz").body["inotify_watches"].get<int>(), 0);
  auto rm = d.cli({"rm", "app"});
  ASSERT_EQ(rm.code, 0) << rm.err;
  EXPECT_EQ(rm.out, "app: destroyed\n");
  EXPECT_FALSE(pid_alive(pid));
  EXPECT_EQ(footprint(d, "app"), (Footprint{false, false, false, 0, 0}));
  auto again = d.cli({"rm", "app"});
  EXPECT_EQ(again.code, 0);
  EXPECT_EQ(again.out, "app: already destroyed\n");
  auto status = d.api("GET", "/v1/components/app");
  EXPECT_EQ(status.status, 410);
  EXPECT_EQ(status.body["error"]["code"], "component_destroyed");
  EXPECT_EQ(d.api("DELETE", "/v1/components/never").status, 404);
}

TEST(Destroy, EveryOperationOnADestroyedNameIsRefusedWithoutSideEffects) {
  TestDaemon d;
  auto dir = d.component("gone", app_toml("[watch]\nenabled = true\n"));
  ASSERT_EQ(d.cli({"deploy", dir.string()}).code, 0);
  d.wait_state("gone", "ready");
  auto old_id = d.api("GET", "/v1/deployments?component=gone")
                    .body["deployments"][0]["id"]
                    .get<std::string>();
  ASSERT_EQ(d.cli({"rm", "gone"}).code, 0);
  const auto before = footprint(d, "gone");
  struct Call {
    std::string method, target;
  };
  const std::vector<Call> calls = {
      {"GET", "/v1/components/gone"},
      {"GET", "/v1/components/gone/logs?n=10"},
      {"GET", "/v1/components/gone/logs?follow=1"},
      {"POST", "/v1/components/gone/start"},
      {"POST", "/v1/components/gone/stop"},
      {"POST", "/v1/components/gone/restart"},
      {"POST", "/v1/components/gone/rollback"},
      {"GET", "/v1/deployments?component=gone"},
      {"GET", "/v1/deployments/" + old_id},
      {"GET", "/v1/deployments/" + old_id + "/events"},
  };
  for (int round = 0; round < 3; ++round)
    for (auto& c : calls) {
      auto r = d.api(c.method, c.target);
      EXPECT_EQ(r.status, 410) << c.method << " " << c.target;
      EXPECT_EQ(r.body["error"]["code"], "component_destroyed") << c.target;
    }
  EXPECT_EQ(footprint(d, "gone"), before);
  EXPECT_EQ(d.cli({"status", "gone"}).code, 1);
}

TEST(Destroy, DeployAfterDestroyLiftsTheTombstone) {
  TestDaemon d;
  auto dir = d.component("phoenix", app_toml());
  ASSERT_EQ(d.cli({"deploy", dir.string()}).code, 0);
  ASSERT_EQ(d.cli({"rm", "phoenix"}).code, 0);
  auto r = d.cli({"deploy", dir.string()});
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  d.wait_state("phoenix", "ready");
  ASSERT_EQ(d.cli({"rm", "phoenix"}).code, 0);
  auto run = d.cli({"run", dir.string(), "--wait"});
  EXPECT_EQ(run.code, 0) << run.err;
}

TEST(Destroy, RunInPlaceKeepsTheUsersDirectory) {
  TestDaemon d;
  auto dir = d.component("inplace", app_toml());
  ASSERT_EQ(d.cli({"run", dir.string(), "--wait"}).code, 0);
  ASSERT_EQ(d.cli({"rm", "inplace"}).code, 0);
  EXPECT_TRUE(fs::exists(dir / "berth.toml"));
  EXPECT_EQ(d.api("GET", "/v1/components/inplace").status, 410);
}

TEST(Destroy, DestroyDuringADeployCancelsItAndWins) {
  TestDaemon d;
  auto dir = d.component("race", app_toml());
  ASSERT_EQ(d.cli({"deploy", dir.string()}).code, 0);
  auto pidfile = d.work() / "installer.pid";
  std::ofstream(dir / "berth.toml", std::ios::app) << pidfile_install(pidfile);
  auto second = first_line(d.cli({"deploy", dir.string(), "--no-follow"}).out);
  pid_t installer = read_pidfile(pidfile);
  auto rm = d.cli({"rm", "race"});
  ASSERT_EQ(rm.code, 0) << rm.err;
  EXPECT_FALSE(pid_alive(installer)) << "the deploy's installer is killed";
  EXPECT_FALSE(fs::exists(d.home() / "releases" / "race"));
  EXPECT_EQ(d.api("GET", "/v1/deployments/" + second).status, 410);
  // A deploy after the destroy starts afresh; the cancelled one's record says why.
  std::ofstream(dir / "berth.toml") << app_toml();
  ASSERT_EQ(d.cli({"deploy", dir.string()}).code, 0);
  auto cancelled = d.api("GET", "/v1/deployments/" + second).body;
  EXPECT_EQ(cancelled["status"], "failed");
  EXPECT_EQ(cancelled["error"]["code"], "component_destroyed");
  d.wait_state("race", "ready");
}

// Deploys `name` and destroys it with a file of its release made immutable, so the teardown
// fails half-way; the file is mutable again afterwards. Empty when chattr is not permitted.
std::optional<CmdResult> destroy_that_fails(TestDaemon& d, const fs::path& dir,
                                            const std::string& name) {
  EXPECT_EQ(d.cli({"deploy", dir.string()}).code, 0);
  d.wait_state(name, "ready");
  auto pinned = fs::canonical(d.home() / "components" / name) / "berth.toml";
  if (std::system(("chattr +i " + pinned.string() + " 2>/dev/null").c_str()) != 0)
    return std::nullopt;
  auto rm = d.cli({"rm", name});
  std::system(("chattr -i " + pinned.string()).c_str());
  return rm;
}

constexpr const char* kNoChattr = "chattr +i is not permitted here (needs CAP_LINUX_IMMUTABLE)";

TEST(Destroy, FailedTeardownLeavesNoTombstoneAndARetryWorks) {
  TestDaemon d;
  auto rm = destroy_that_fails(d, d.component("stuck", app_toml()), "stuck");
  if (!rm) GTEST_SKIP() << kNoChattr;
  EXPECT_EQ(rm->code, 1);
  EXPECT_NE(rm->err.find("destroy_failed"), std::string::npos) << rm->err;
  auto s = d.api("GET", "/v1/components/stuck");
  EXPECT_EQ(s.status, 200);
  EXPECT_EQ(s.body["state"], "destroy_failed");
  EXPECT_EQ(s.body["processes"], 0);
  auto retry = d.cli({"rm", "stuck"});
  EXPECT_EQ(retry.code, 0) << retry.err;
  EXPECT_EQ(d.api("GET", "/v1/components/stuck").status, 410);
}

// The daemon once aborted here (a double free in the deploy's restart step). A deploy after a
// half-failed destroy finishes that destroy, then starts afresh.
TEST(Destroy, DeployAfterAFailedTeardownFinishesTheDestroyAndStartsAfresh) {
  TestDaemon d;
  auto dir = d.component("stuck", app_toml());
  auto rm = destroy_that_fails(d, dir, "stuck");
  if (!rm) GTEST_SKIP() << kNoChattr;
  ASSERT_EQ(rm->code, 1);
  EXPECT_EQ(d.api("POST", "/v1/components/stuck/start").status, 410);  // refuses to start
  auto again = d.cli({"deploy", dir.string()});
  EXPECT_EQ(again.code, 0) << again.out << again.err;
  auto s = d.wait_state("stuck", "ready");
  EXPECT_FALSE(s.contains("destroy_error"));
  auto releases = fs::directory_iterator(d.home() / "releases" / "stuck");
  EXPECT_EQ(std::distance(releases, fs::directory_iterator()), 1);  // the old one went too
  EXPECT_EQ(d.api("GET", "/healthz").status, 200);
}

// A destroy is recorded before its teardown: a daemon SIGKILLed in the middle of one finishes
// it at its next start (it once came back `failed` with a misleading bad_manifest instead).
TEST(Destroy, KilledMidDestroyIsFinishedAtTheNextStart) {
  TestDaemon d;
  auto pidfile = d.work() / "pid";
  auto dir = d.component("slow", "[run]\ncommand = " +
                                     fixture_command({"pidfile:" + pidfile.string(), "ignore-term",
                                                      "print:up", "forever"}) +
                                     "\n[ready]\nmarker = \"up\"\n[stop]\ngrace = \"60s\"\n");
  ASSERT_EQ(d.cli({"deploy", dir.string()}).code, 0);
  d.wait_state("slow", "ready");
  pid_t pid = read_pidfile(pidfile);
  std::thread rm([&] { d.cli({"rm", "slow"}); });
  d.wait_state("slow", "stopping");  // the intent is written before the stop begins
  d.kill9();
  rm.join();
  d.start();
  ASSERT_TRUE(poll_until([&] { return d.api("GET", "/v1/components/slow").status == 410; }));
  EXPECT_FALSE(pid_alive(pid));
  EXPECT_EQ(footprint(d, "slow"), (Footprint{false, false, false, 0, 0}));
  d.terminate();
  d.start();  // and it stays destroyed
  EXPECT_EQ(d.api("GET", "/v1/components/slow").status, 410);
}

// On a full disk a destroy that cannot even record itself touches nothing and says so; with
// space again, redeploying and destroying work, and the daemon never went down.
TEST(FullDisk, DestroyThenDeployAfterSpaceIsFreed) {
  TestDaemon d({}, TestDaemon::Start::kLater);
  if (auto why = d.use_small_disk("16m"); !why.empty()) GTEST_SKIP() << why;
  d.start();
  auto dir = d.component("app", app_toml());
  ASSERT_EQ(d.cli({"deploy", dir.string()}).code, 0);
  d.wait_state("app", "ready");
  auto filler = fill_disk(d.home());
  auto rm = d.cli({"rm", "app"});
  EXPECT_EQ(rm.code, 1);
  EXPECT_NE(rm.err.find("destroy_failed"), std::string::npos) << rm.err;
  auto s = d.api("GET", "/v1/components/app").body;
  EXPECT_TRUE(s["state"] == "ready" || s["state"] == "destroy_failed") << s.dump();
  fs::remove(filler);
  auto again = d.cli({"deploy", dir.string()});
  EXPECT_EQ(again.code, 0) << again.out << again.err;
  d.wait_state("app", "ready");
  auto gone = d.cli({"rm", "app"});
  EXPECT_EQ(gone.code, 0) << gone.err;
  EXPECT_EQ(d.api("GET", "/v1/components/app").status, 410);
  EXPECT_EQ(d.api("GET", "/healthz").status, 200);
}

// A tree that could not be recorded would be invisible to the next daemon's orphan sweep if
// this one died: it is refused before anything is spawned.
TEST(FullDisk, ATreeThatCannotBeRecordedIsNotStarted) {
  TestDaemon d({}, TestDaemon::Start::kLater);
  if (auto why = d.use_small_disk("16m"); !why.empty()) GTEST_SKIP() << why;
  d.start();
  auto dir = d.component("app", app_toml());
  ASSERT_EQ(d.api("POST", "/v1/components", json{{"dir", dir}}.dump()).status, 201);
  d.wait_state("app", "ready");
  ASSERT_EQ(d.api("POST", "/v1/components/app/stop").status, 200);
  auto filler = fill_disk(d.home());
  auto r = d.api("POST", "/v1/components/app/start");
  EXPECT_EQ(r.body["error"]["code"], "not_recorded") << r.body.dump();
  auto s = d.api("GET", "/v1/components/app").body;
  EXPECT_EQ(s["processes"], 0);
  EXPECT_TRUE(s["pid"].is_null()) << s.dump();
  fs::remove(filler);
  EXPECT_EQ(d.api("POST", "/v1/components/app/start").status, 200);
  d.wait_state("app", "ready");
}

TEST(Reconcile, DropsIdleKeepsActiveAndHealsLiveTombstones) {
  TestDaemon d;
  auto idle = d.component("idle", app_toml());
  auto kept = d.component("kept", app_toml("[lifecycle]\nkeep = true\n"));
  auto busy = d.component("busy", app_toml());
  auto dead = d.component("dead", app_toml());
  for (auto* dir : {&idle, &kept, &busy, &dead})
    ASSERT_EQ(d.cli({"deploy", dir->string()}).code, 0);
  ASSERT_EQ(d.cli({"rm", "dead"}).code, 0);
  auto started = d.work() / "installing", gate = d.work() / "go";
  std::ofstream(busy / "berth.toml", std::ios::app) << gated_install(started, gate);
  auto busy_id = first_line(d.cli({"deploy", busy.string(), "--no-follow"}).out);
  read_pidfile(started);  // the deploy of busy is in flight until the gate opens
  auto r = d.cli({"reconcile", "--live", "dead", "--json"});
  std::ofstream(gate) << "go";
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = json::parse(r.out);
  EXPECT_EQ(j["dropped"], json({"idle"}));
  std::set<std::string> kept_names;
  for (auto& k : j["kept"]) kept_names.insert(k["name"].get<std::string>());
  EXPECT_EQ(kept_names, (std::set<std::string>{"busy", "kept"}));
  EXPECT_EQ(j["healed"], json({"dead"}));
  EXPECT_EQ(d.api("GET", "/v1/components/idle").status, 410);
  // A healed name is not tombstoned any more: it answers 404 (nothing there), not 410.
  EXPECT_EQ(d.api("GET", "/v1/components/dead").status, 404);
  EXPECT_EQ(d.api("GET", "/v1/components/kept").status, 200);
}

// 200 deploy/destroy cycles over four components while four clients poll status and logs of
// all of them as fast as they can: at the end nothing of any of them is left.
TEST(DestroyStress, DeployDestroyCyclesUnderPollingLeaveNothingBehind) {
  TestDaemon d;
  const std::vector<std::string> names = {"s0", "s1", "s2", "s3"};
  auto archive = d.work() / "app.tar.gz";
  auto src = d.component("src", app_toml("[watch]\nenabled = true\n"));
  ASSERT_EQ(run_command({"/bin/tar", "-czf", archive.string(), "-C", src.string(), "."}, {}).code,
            0);
  std::atomic<bool> done{false};
  std::atomic<int> polls{0}, resurrected{0};
  std::vector<std::thread> pollers;
  for (int p = 0; p < 4; ++p)
    pollers.emplace_back([&] {
      http::Client c("127.0.0.1", d.port(), d.token());
      while (!done)
        for (auto& n : names) {
          auto s = c.request("GET", "/v1/components/" + n);
          auto l = c.request("GET", "/v1/components/" + n + "/logs?n=5");
          if (s && l) polls += 2;
        }
    });
  std::vector<std::thread> workers;
  std::atomic<int> failures{0};
  for (auto& n : names)
    workers.emplace_back([&, n] {
      http::Client c("127.0.0.1", d.port(), d.token());
      for (int i = 0; i < 50; ++i) {
        auto up = c.upload("PUT", "/v1/components/" + n, archive.string(), nullptr);
        if (!up || up->status != 202) {
          ++failures;
          continue;
        }
        std::string id = json::parse(up->body)["id"];
        std::string status;
        c.follow("/v1/deployments/" + id + "/events", [&](const http::SseEvent& ev) {
          if (ev.type == "end") status = json::parse(ev.data)["status"];
          return true;
        });
        if (status != "success") ++failures;
        auto rm = c.request("DELETE", "/v1/components/" + n);
        if (!rm || rm->status != 200) ++failures;
        auto after = c.request("GET", "/v1/components/" + n);
        if (!after || after->status != 410) ++resurrected;
      }
    });
  for (auto& w : workers) w.join();
  done = true;
  for (auto& p : pollers) p.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(resurrected, 0);
  EXPECT_GT(polls, 0);
  auto health = d.api("GET", "/healthz").body;
  EXPECT_EQ(health["components"], 0);
  EXPECT_EQ(health["inotify_watches"], 0);
  for (auto& n : names) {
    EXPECT_FALSE(fs::exists(fs::symlink_status(d.home() / "components" / n))) << n;
    EXPECT_FALSE(fs::exists(d.home() / "releases" / n)) << n;
    EXPECT_FALSE(fs::exists(d.home() / "logs" / n)) << n;
  }
  // No process of theirs survives: their cgroups (or groups) are gone with them.
  auto list = d.api("GET", "/v1/components").body["components"];
  EXPECT_TRUE(list.empty());
}

TEST(Destroy, DeployArrivingDuringADestroyWaitsThenStartsAfresh) {
  TestDaemon d;
  // SIGTERM ignored, 2 s grace: the destroy is still stopping the tree when the deploy comes.
  auto dir = d.component(
      "slow", "[run]\ncommand = " + fixture_command({"ignore-term", "print:up", "forever"}) +
                  "\n[ready]\nmarker = \"up\"\n[stop]\ngrace = \"2s\"\n");
  ASSERT_EQ(d.cli({"deploy", dir.string()}).code, 0);
  auto old_pid = d.wait_state("slow", "ready")["pid"].get<pid_t>();
  std::thread rm([&] { EXPECT_EQ(d.cli({"rm", "slow"}).code, 0); });
  d.wait_for("slow", [](const json& s) { return s["state"] == "stopping"; });
  auto r = d.cli({"deploy", dir.string()});
  rm.join();
  EXPECT_EQ(r.code, 0) << r.err << r.out;
  auto s = d.wait_state("slow", "ready");
  EXPECT_NE(s["pid"].get<pid_t>(), old_pid);
  EXPECT_EQ(s["restarts"], 0) << "a fresh component, not the destroyed one restarted";
  EXPECT_FALSE(pid_alive(old_pid));
}

}  // namespace
}  // namespace berth::testing
