// Deploys through the daemon: `berth deploy`, phases and events, install output over SSE,
// activation and rollback, overlapping deploys, watchers paused during a deploy, refusals,
// and crash safety (SIGKILL mid-upload, mid-extract, mid-install).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <fstream>
#include <thread>

#include "harness.h"
#include "support/tar_builder.h"

namespace berth::testing {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string app_toml(const std::string& marker_text = "up", const std::string& extra = "") {
  return "[run]\ncommand = " + fixture_command({"print:" + marker_text, "forever"}) +
         "\n[ready]\nmarker = \"up\"\nidle_timeout = \"5s\"\n" + extra;
}

std::vector<json> json_lines(const std::string& out) {
  std::vector<json> v;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);)
    if (auto j = json::parse(line, nullptr, false); !j.is_discarded()) v.push_back(j);
  return v;
}

TEST(Deploy, DeploysADirectoryThroughEveryPhase) {
  TestDaemon d;
  auto dir = d.component("app", app_toml());
  auto r = d.cli({"deploy", dir.string(), "--json"});
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  std::vector<std::string> seen;
  for (auto& e : json_lines(r.out))
    seen.push_back(e["type"] == "phase" ? "phase:" + e["phase"].get<std::string>()
                                        : e["type"].get<std::string>());
  std::vector<std::string> phases;
  for (auto& s : seen)
    if (s.starts_with("phase:") || s.starts_with("deploy:") || s == "end") phases.push_back(s);
  EXPECT_EQ(phases, (std::vector<std::string>{"deploy:start", "phase:extracting",
                                              "phase:installing", "phase:activating",
                                              "phase:restarting", "deploy:end", "end"}));
  auto s = d.wait_state("app", "ready");
  EXPECT_EQ(s["dir"], (d.home() / "components" / "app").string());
  auto list = d.api("GET", "/v1/deployments?component=app").body["deployments"];
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["status"], "success");
  EXPECT_EQ(list[0]["phase"], "success");
  EXPECT_EQ(list[0]["peer_results"], json::array());
  const std::string digest = list[0]["digest"];
  ASSERT_TRUE(digest.starts_with("sha256:"));
  EXPECT_TRUE(fs::exists(d.home() / "blobs" / "sha256" / digest.substr(7)));
  EXPECT_EQ(live_release(d, "app"), list[0]["release"]);
  auto table = d.cli({"deployments", "app"});
  EXPECT_NE(table.out.find("success"), std::string::npos);
  EXPECT_EQ(table.out.find("COMPONENT"), std::string::npos) << table.out;
  auto all = d.cli({"deployments"});  // every component's: each row names its component
  EXPECT_NE(all.out.find("COMPONENT"), std::string::npos) << all.out;
  EXPECT_NE(all.out.find(" app "), std::string::npos) << all.out;
}

// A .env that .gitignore keeps out of git is not uploaded either, and the CLI says what it
// left out (on stderr: stdout of --no-follow stays the id alone).
TEST(Deploy, WhatGitignoreListsStaysBehindAndTheCliSaysSo) {
  TestDaemon d;
  auto dir = d.component("app", app_toml());
  std::ofstream(dir / ".env") << "TOKEN=hunter2\n";
  std::ofstream(dir / ".gitignore") << ".env\n";
  auto r = d.cli({"deploy", dir.string(), "--no-follow"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("left out 1 path"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(".env"), std::string::npos) << r.err;
  std::string id = r.out.substr(0, r.out.find('\n'));
  EXPECT_EQ(wait_ended(d, id)["status"], "success");
  EXPECT_TRUE(fs::exists(d.home() / "components" / "app" / "berth.toml"));
  EXPECT_FALSE(fs::exists(d.home() / "components" / "app" / ".env"));
}

TEST(Deploy, UnwrapsASingleTopFolderArchive) {
  TestDaemon d;
  auto archive = d.work() / "bundle.tar.gz";
  { test::TarBuilder(archive).dir("bundle").file("bundle/berth.toml", app_toml()); }
  auto r = d.cli({"deploy", archive.string(), "--name", "wrapped"});
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  EXPECT_TRUE(fs::exists(d.home() / "components" / "wrapped" / "berth.toml"));
}

TEST(Deploy, InstallOutputOf100000LinesArrivesInOrderOverSse) {
  TestDaemon d;
  // The installer waits for a go file the test writes once it follows the live stream, so the
  // lines are delivered live, not replayed from the store.
  auto go = d.work() / "go";
  auto dir =
      d.component("chatty", app_toml("up", "[install]\ncommand = \"while [ ! -e " + go.string() +
                                               " ]; do sleep 0.01; done; seq 1 100000\"\n"));
  auto id = deploy_no_follow(d, dir, "chatty");
  http::Client client("127.0.0.1", d.port(), d.token());
  int64_t expect = 1;
  bool in_order = true;
  std::string status;
  auto r = client.follow("/v1/deployments/" + id + "/events", [&](const http::SseEvent& ev) {
    auto e = json::parse(ev.data);
    if (ev.type == "phase" && e["phase"] == "installing") std::ofstream(go) << "go";
    if (ev.type == "install") {
      if (e["line"] != std::to_string(expect)) in_order = false;
      ++expect;
    }
    if (ev.type == "end") status = e["status"];
    return true;
  });
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(in_order);
  EXPECT_EQ(expect - 1, 100000);
  EXPECT_EQ(status, "success");
  // At rest the log is capped: the first and the last events stay, the middle is one gap.
  int gaps = 0, installs = 0;
  std::string last_line;
  client.follow("/v1/deployments/" + id + "/events", [&](const http::SseEvent& ev) {
    if (ev.type == "gap") ++gaps;
    if (ev.type == "install") {
      ++installs;
      last_line = json::parse(ev.data)["line"];
    }
    return true;
  });
  EXPECT_EQ(gaps, 1);
  EXPECT_LT(installs, 100000);
  EXPECT_EQ(last_line, "100000");
}

TEST(Deploy, ResumesEventsAfterLastEventId) {
  TestDaemon d;
  auto dir = d.component("resume", app_toml());
  auto id = deploy_no_follow(d, dir, "resume");
  wait_ended(d, id);
  http::Client client("127.0.0.1", d.port(), d.token());
  std::vector<std::string> ids;
  client.follow(
      "/v1/deployments/" + id + "/events",
      [&](const http::SseEvent& ev) {
        ids.push_back(ev.id);
        return true;
      },
      "3");
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids.front(), "4");
}

TEST(Deploy, FailingInstallFailsTheDeployAndKeepsTheLiveRelease) {
  TestDaemon d;
  auto dir = d.component("inst", app_toml());
  ASSERT_EQ(d.cli({"deploy", dir.string()}).code, 0);
  auto before = d.wait_state("inst", "ready");
  const auto live = live_release(d, "inst");
  std::ofstream(dir / "berth.toml", std::ios::app)
      << "[install]\ncommand = \"echo compiling; echo oops >&2; exit 7\"\n";
  auto r = d.cli({"deploy", dir.string(), "--json"});
  EXPECT_EQ(r.code, 1);
  auto events = json_lines(r.out);
  ASSERT_FALSE(events.empty());
  auto end = events.back();
  EXPECT_EQ(end["status"], "failed");
  EXPECT_EQ(end["error"]["code"], "install_failed");
  EXPECT_EQ(end["error"]["phase"], "installing");
  bool saw_stderr = false;
  for (auto& e : events)
    if (e["type"] == "install" && e["stream"] == "stderr" && e["line"] == "oops") saw_stderr = true;
  EXPECT_TRUE(saw_stderr);
  EXPECT_EQ(live_release(d, "inst"), live);
  auto after = d.wait_state("inst", "ready");
  EXPECT_EQ(after["pid"], before["pid"]) << "a failed install must not restart the component";
}

TEST(Deploy, ReleaseFailingReadinessRollsBack) {
  TestDaemon d;
  auto dir = d.component("rb", app_toml());
  ASSERT_EQ(d.cli({"deploy", dir.string()}).code, 0);
  const auto good = live_release(d, "rb");
  std::ofstream(dir / "berth.toml")
      << "[run]\ncommand = " + fixture_command({"print:starting", "exit:3"}) +
             "\n[ready]\nmarker = \"up\"\n";
  auto r = d.cli({"deploy", dir.string(), "--json"});
  EXPECT_EQ(r.code, 1);
  auto end = json_lines(r.out).back();
  EXPECT_EQ(end["status"], "rolled_back");
  EXPECT_EQ(end["error"]["code"], "exited_before_ready");
  EXPECT_EQ(live_release(d, "rb"), good);
  d.wait_state("rb", "ready");
  // By hand: roll back to the first release after a good second one.
  std::ofstream(dir / "berth.toml") << app_toml("up v3");
  ASSERT_EQ(d.cli({"deploy", dir.string()}).code, 0);
  EXPECT_NE(live_release(d, "rb"), good);
  auto back = d.cli({"rollback", "rb"});
  EXPECT_EQ(back.code, 0) << back.err << back.out;
  EXPECT_EQ(live_release(d, "rb"), good);
  // It names the release it goes back to once.
  const std::string said = "back to release " + good;
  const auto first = back.out.find(said);
  EXPECT_NE(first, std::string::npos) << back.out;
  EXPECT_EQ(back.out.find(said, first + 1), std::string::npos) << back.out;
  d.wait_state("rb", "ready");
}

// A success you can trust: a release that says it is up and crashes 300 ms later is not a
// success; inside [deploy] healthy_for it is rolled back, and the CLI shows the window.
TEST(Deploy, AReleaseThatCrashesJustAfterReadyIsRolledBack) {
  TestDaemon d;
  const std::string window = "\n[deploy]\nhealthy_for = \"2s\"\n";
  auto dir = d.component("crashy", app_toml() + window);
  auto first = d.cli({"deploy", dir.string()});
  ASSERT_EQ(first.code, 0) << first.out << first.err;
  EXPECT_NE(first.out.find("it must stay up for 2s"), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("stayed up for 2s"), std::string::npos) << first.out;
  const auto good = live_release(d, "crashy");
  std::ofstream(dir / "berth.toml")
      << "[run]\ncommand = " +
             fixture_command({"print:up", "sleep:300", "stderr:Error: boom", "exit:1"}) +
             "\n[ready]\nmarker = \"up\"\n" + window;
  auto r = d.cli({"deploy", dir.string()});
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.err.find("rolled_back"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("exited_after_ready"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Error: boom"), std::string::npos) << r.err;
  EXPECT_EQ(live_release(d, "crashy"), good);
  EXPECT_EQ(d.wait_state("crashy", "ready")["release"], good);
}

TEST(Deploy, FirstReleaseFailingReadinessLeavesItStopped) {
  TestDaemon d;
  auto dir = d.component(
      "broken", "[run]\ncommand = " + fixture_command({"exit:1"}) + "\n[ready]\nmarker = \"up\"\n");
  auto r = d.cli({"deploy", dir.string(), "--json"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(json_lines(r.out).back()["status"], "failed");
  auto s = d.wait_for("broken", [](const json& s) { return s["processes"] == 0; });
  EXPECT_NE(s["state"], "ready");
  auto rb = d.api("POST", "/v1/components/broken/rollback");
  EXPECT_EQ(rb.status, 409);
  EXPECT_EQ(rb.body["error"]["code"], "no_previous_release");
}

// Ctrl-C while following: the CLI says the deploy goes on and how to follow it again (exit
// 130), the deploy does go on, and `deployments follow` / `deploy --attach` follow it.
TEST(Deploy, CtrlCLeavesTheDeployRunningAndItCanBeFollowedAgain) {
  TestDaemon d;
  auto dir = d.component("bg", app_toml());
  auto started = d.work() / "installing", gate = d.work() / "go";
  std::ofstream(dir / "berth.toml", std::ios::app) << gated_install(started, gate);
  // The shell interrupts the CLI once it shows the install (so it is following), as a
  // terminal's Ctrl-C would.
  const auto out = d.work() / "cli.out", err = d.work() / "cli.err";
  auto r =
      run_command({"/bin/sh", "-c",
                   std::string(BERTH_BIN) + " deploy " + dir.string() + " >" + out.string() +
                       " 2>" + err.string() + " & p=$!; until grep -q installing " + out.string() +
                       "; do sleep 0.01; done; kill -INT $p; wait $p; rc=$?; cat " + err.string() +
                       " >&2; exit $rc"},
                  d.env());
  EXPECT_EQ(r.code, 130) << r.out << r.err;
  EXPECT_NE(r.err.find("goes on in the daemon"), std::string::npos) << r.err;
  auto list = d.api("GET", "/v1/deployments?component=bg").body["deployments"];
  ASSERT_EQ(list.size(), 1u);
  const std::string id = list[0]["id"];
  EXPECT_NE(r.err.find("berth deployments follow " + id), std::string::npos) << r.err;
  EXPECT_EQ(list[0]["status"], "running");
  std::ofstream(gate) << "go";
  auto again = d.cli({"deployments", "follow", id});
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.out.find("done: " + id + " succeeded"), std::string::npos) << again.out;
  auto attach = d.cli({"deploy", "--attach", id});
  EXPECT_EQ(attach.code, 0) << attach.err;
  EXPECT_EQ(d.cli({"deploy"}).code, 2);
}

TEST(Deploy, OverlappingDeploysRunOneAfterTheOther) {
  TestDaemon d;
  auto dir = d.component("ovl", app_toml());
  ASSERT_EQ(d.cli({"deploy", dir.string()}).code, 0);
  d.wait_state("ovl", "ready");
  auto started = d.work() / "installing", gate = d.work() / "go";
  std::ofstream(dir / "berth.toml", std::ios::app) << gated_install(started, gate);
  auto first = deploy_no_follow(d, dir, "ovl");
  auto second = deploy_no_follow(d, dir, "ovl");
  read_pidfile(started);  // the first is installing, the second waits behind it
  // A restart asked for while deploys are in flight is refused, not queued behind them.
  auto restart = d.api("POST", "/v1/components/ovl/restart");
  EXPECT_EQ(restart.status, 409);
  EXPECT_EQ(restart.body["error"]["code"], "deploy_in_progress");
  std::ofstream(gate) << "go";
  auto a = wait_ended(d, first), b = wait_ended(d, second);
  EXPECT_EQ(a["status"], "success");
  EXPECT_EQ(b["status"], "success");
  EXPECT_LE(a["ended_at"].get<int64_t>(), b["ended_at"].get<int64_t>());
  EXPECT_EQ(live_release(d, "ovl"), b["release"]);
  auto s = d.wait_state("ovl", "ready");
  EXPECT_EQ(s["restarts"], 2) << "one restart per deploy";
  bool waited = false;
  http::Client client("127.0.0.1", d.port(), d.token());
  client.follow("/v1/deployments/" + second + "/events", [&](const http::SseEvent& ev) {
    if (ev.data.find("waiting for deployment " + first) != std::string::npos) waited = true;
    return true;
  });
  EXPECT_TRUE(waited);
}

TEST(Deploy, DeployWriting20000FilesIntoAWatchedComponentRestartsOnce) {
  TestDaemon d;
  auto dir = d.component("big", app_toml("up", "[watch]\nenabled = true\n"));
  ASSERT_EQ(d.cli({"deploy", dir.string()}).code, 0);
  auto s = d.wait_state("big", "ready");
  EXPECT_EQ(s["restarts"], 0);
  for (int i = 0; i < 20000; ++i) {
    auto p = dir / "lib" / std::to_string(i % 100) / (std::to_string(i) + ".js");
    fs::create_directories(p.parent_path());
    std::ofstream(p) << i;
  }
  auto r = d.cli({"deploy", dir.string()});
  ASSERT_EQ(r.code, 0) << r.err;
  s = d.wait_for("big", [](const json& s) {
    return s["state"] == "ready" && s["watch"].is_object() && s["watch"]["mode"] == "inotify";
  });
  EXPECT_EQ(s["restarts"], 1);
  EXPECT_GE(s["watch"]["watches"].get<int>(), 101);
  // The watcher is back on the new release: the next change restarts, and it is the first
  // one since the deploy (an extra restart would have named some lib/ file).
  std::ofstream(d.home() / "components" / "big" / "sentinel.js") << "x";
  s = d.wait_for("big", [](const json& s) { return s["restarts"] >= 2 && s["state"] == "ready"; });
  EXPECT_EQ(s["restarts"], 2);
  EXPECT_EQ(s["watch"]["last_change"]["path"], "sentinel.js");
}

TEST(Deploy, MaliciousArchiveIsRefusedAndTheLiveComponentUntouched) {
  TestDaemon d;
  auto dir = d.component("live", app_toml());
  ASSERT_EQ(d.cli({"deploy", dir.string()}).code, 0);
  auto before = d.wait_state("live", "ready");
  auto archive = d.work() / "evil.tar.gz";
  { test::TarBuilder(archive).file("berth.toml", app_toml()).file("../../escaped", "x"); }
  auto r = d.cli({"deploy", archive.string(), "--name", "live", "--json"});
  EXPECT_EQ(r.code, 1);
  auto end = json_lines(r.out).back();
  EXPECT_EQ(end["error"]["code"], "archive_path_traversal");
  EXPECT_EQ(end["error"]["phase"], "extracting");
  EXPECT_FALSE(fs::exists(d.home().parent_path() / "escaped"));
  size_t releases = 0;
  for (auto& e : fs::directory_iterator(d.home() / "releases" / "live")) {
    (void)e;
    ++releases;
  }
  EXPECT_EQ(releases, 1u) << "the refused release and its staging are gone";
  auto after = d.wait_state("live", "ready");
  EXPECT_EQ(after["pid"], before["pid"]);
}

// A failed deploy leaves nothing on disk: not its payload (a 4-byte junk upload, a large
// refused archive), not an empty releases/NAME. They used to stay until a later success.
TEST(Deploy, FailedDeploysLeaveNoPayloadOrEmptyDirectories) {
  TestDaemon d;
  auto junk = d.work() / "junk.tar.gz";
  std::ofstream(junk) << "junk";
  auto r1 = d.cli({"deploy", junk.string(), "--name", "fresh", "--json"});
  EXPECT_EQ(r1.code, 1);
  EXPECT_EQ(json_lines(r1.out).back()["error"]["phase"], "extracting") << r1.out;
  auto big = d.work() / "big.tar.gz";
  {
    test::TarBuilder tar(big);
    tar.file("berth.toml", app_toml());
    std::string noise;
    for (int i = 0; noise.size() < 4'000'000; ++i) noise += std::to_string(i * 2654435761u);
    tar.file("noise.bin", noise).file("/etc/evil", "x");
  }
  auto r2 = d.cli({"deploy", big.string(), "--name", "fresh", "--json"});
  EXPECT_EQ(r2.code, 1);
  auto blobs = d.home() / "blobs" / "sha256";
  EXPECT_TRUE(!fs::exists(blobs) || fs::is_empty(blobs));
  EXPECT_FALSE(fs::exists(d.home() / "releases" / "fresh"));
  // A live component keeps its release and payload through a failed deploy.
  auto dir = d.component("live", app_toml());
  ASSERT_EQ(d.cli({"deploy", dir.string()}).code, 0);
  EXPECT_EQ(d.cli({"deploy", junk.string(), "--name", "live"}).code, 1);
  EXPECT_EQ(std::distance(fs::directory_iterator(blobs), fs::directory_iterator()), 1);
  EXPECT_EQ(std::distance(fs::directory_iterator(d.home() / "releases" / "live"),
                          fs::directory_iterator()),
            1);
}

// releases_keep counts the releases kept for rollback besides the live one (as documented).
TEST(Deploy, KeepsTheLiveReleasePlusReleasesKeepEarlierOnes) {
  TestDaemon d({}, TestDaemon::Start::kLater);
  d.write_config("releases_keep = 2\n");
  d.start();
  auto dir = d.component("kept", app_toml());
  for (int i = 0; i < 4; ++i) {
    std::ofstream(dir / "version.txt") << i;
    ASSERT_EQ(d.cli({"deploy", dir.string()}).code, 0);
  }
  EXPECT_EQ(std::distance(fs::directory_iterator(d.home() / "releases" / "kept"),
                          fs::directory_iterator()),
            3);
  EXPECT_EQ(std::distance(fs::directory_iterator(d.home() / "blobs" / "sha256"),
                          fs::directory_iterator()),
            3);
}

TEST(Deploy, BadRequestsGetCodes) {
  TestDaemon d;
  auto dir = d.component("x", app_toml());
  auto bad = d.cli({"deploy", dir.string(), "--name", "no/slash"});
  EXPECT_EQ(bad.code, 1);
  auto run = d.cli({"run", dir.string()});
  ASSERT_EQ(run.code, 0);
  auto taken = d.cli({"deploy", dir.string()});
  EXPECT_EQ(taken.code, 1);
  EXPECT_NE(taken.err.find("name_taken"), std::string::npos) << taken.err;
  EXPECT_EQ(d.api("GET", "/v1/deployments/nope").status, 404);
  EXPECT_EQ(d.api("GET", "/v1/deployments/nope/events").status, 404);
  EXPECT_EQ(d.api("POST", "/v1/components/nope/rollback").status, 404);
  http::Client anon("127.0.0.1", d.port(), "");
  auto r = anon.upload("PUT", "/v1/components/y", (dir / "berth.toml").string(), nullptr);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
}

TEST(Deploy, UploadOverTheLimitIsRefused) {
  TestDaemon d;
  d.shutdown();
  std::ofstream(d.home() / "config.toml") << "upload_limit = 4096\n";
  d.start();
  auto archive = d.work() / "big.tar.gz";
  std::string noise(64 * 1024, '\0');
  for (size_t i = 0; i < noise.size(); ++i) noise[i] = static_cast<char>((i * 7919) ^ (i >> 3));
  { test::TarBuilder(archive, false).file("berth.toml", app_toml()).file("blob", noise); }
  auto r = d.cli({"deploy", archive.string(), "--name", "big"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("payload_too_large"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(d.home() / "components" / "big"));
}

// --- crash safety ---

struct CrashCase {
  TestDaemon d;
  fs::path dir;
  std::string good;
  void deploy_good(const std::string& name) {
    dir = d.component(name, app_toml());
    ASSERT_EQ(d.cli({"deploy", dir.string()}).code, 0);
    d.wait_state(name, "ready");
    good = live_release(d, name);
  }
  // A second deploy of NAME held in its install phase; returns the installer's pid.
  pid_t hold_in_install(const std::string& name, std::string& id) {
    auto pidfile = d.work() / "installer.pid";
    std::ofstream(dir / "berth.toml", std::ios::app) << pidfile_install(pidfile);
    id = deploy_no_follow(d, dir, name);
    return read_pidfile(pidfile);
  }
  void expect_interrupted(const std::string& name, const std::string& id,
                          const std::string& phase) {
    d.kill9();
    d.start();
    auto row = deployment(d, id);
    EXPECT_EQ(row["status"], "interrupted") << row.dump();
    EXPECT_EQ(row["error"]["code"], "interrupted");
    EXPECT_EQ(row["error"]["phase"], phase);
    EXPECT_EQ(live_release(d, name), good);
    d.wait_state(name, "ready");
    for (auto& e : fs::directory_iterator(d.home() / "releases" / name))
      EXPECT_EQ(e.path().filename().string(), good) << "staging or a partial release remains";
    for (auto& e : fs::directory_iterator(d.home() / "blobs"))
      EXPECT_FALSE(e.path().filename().string().starts_with(".incoming")) << e.path();
  }
};

TEST(DeployCrash, KilledMidUpload) {
  CrashCase c;
  c.deploy_good("up");
  // Send the header and part of the body by hand, then kill the daemon.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(c.d.port());
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  std::string head = "PUT /v1/components/up HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                     c.d.token() + "\r\nContent-Length: 10000000\r\n\r\n" + std::string(5000, 'x');
  ASSERT_EQ(::write(fd, head.data(), head.size()), static_cast<ssize_t>(head.size()));
  std::string id;
  for (int i = 0; i < 6000 && id.empty(); ++i) {
    auto list = c.d.api("GET", "/v1/deployments?component=up").body["deployments"];
    for (auto& row : list)
      if (row["status"] == "running") id = row["id"];
    if (id.empty()) std::this_thread::sleep_for(5ms);
  }
  ASSERT_FALSE(id.empty());
  c.expect_interrupted("up", id, "received");
  ::close(fd);
}

TEST(DeployCrash, KilledMidExtract) {
  CrashCase c;
  c.deploy_good("ex");
  auto archive = c.d.work() / "many.tar.gz";
  {
    test::TarBuilder b(archive);
    b.file("berth.toml", app_toml());
    for (int i = 0; i < 150000; ++i)
      b.file("f/" + std::to_string(i % 500) + "/" + std::to_string(i), "x");
  }
  auto r = c.d.cli({"deploy", archive.string(), "--name", "ex", "--no-follow"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::string id = r.out.substr(0, r.out.find('\n'));
  wait_deployment(c.d, id, [](const json& j) { return j["phase"] == "extracting"; });
  c.expect_interrupted("ex", id, "extracting");
}

TEST(DeployCrash, KilledMidInstallAlsoKillsTheInstaller) {
  CrashCase c;
  c.deploy_good("in");
  std::string id;
  pid_t installer = c.hold_in_install("in", id);
  ASSERT_TRUE(pid_alive(installer));
  c.expect_interrupted("in", id, "installing");
  EXPECT_FALSE(pid_alive(installer)) << "the next daemon sweeps the orphaned installer";
}

TEST(DeployCrash, SigtermMidInstallEndsTheDeployAsInterrupted) {
  CrashCase c;
  c.deploy_good("term");
  std::string id;
  pid_t installer = c.hold_in_install("term", id);
  int status = c.d.terminate();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "daemon wait status " << status;
  EXPECT_FALSE(pid_alive(installer));
  c.d.start();
  auto row = deployment(c.d, id);
  EXPECT_EQ(row["status"], "interrupted") << row.dump();
  EXPECT_EQ(row["error"]["phase"], "installing");
  EXPECT_EQ(live_release(c.d, "term"), c.good);
  c.d.wait_state("term", "ready");
}

}  // namespace
}  // namespace berth::testing
