// Component lifecycle through the CLI and the API: run, ls, status, logs (tail and follow),
// start/stop/restart, the restart policy with backoff and crash-looping, loopback leases.
#include <gtest/gtest.h>

#include <map>
#include <thread>

#include "harness.h"

namespace berth::testing {
namespace {

TEST(Lifecycle, RunLsStatusLogsThroughTheCli) {
  TestDaemon d;
  auto dir = d.component("web", "name = \"web\"\n[run]\ncommand = " +
                                    fixture_command({"print:hello from web", "stderr:a warning",
                                                     "print:up", "forever"}) +
                                    "\n[ready]\nmarker = \"up\"\n");
  auto run = d.cli({"run", dir.string(), "--wait"});
  EXPECT_EQ(run.code, 0) << run.err;
  EXPECT_NE(run.out.find("ready"), std::string::npos) << run.out;

  auto ls = d.cli({"ls"});
  EXPECT_EQ(ls.code, 0);
  EXPECT_NE(ls.out.find("NAME"), std::string::npos);
  EXPECT_NE(ls.out.find("web"), std::string::npos);
  auto ls_json = json::parse(d.cli({"ls", "--json"}).out)["components"];
  ASSERT_EQ(ls_json.size(), 1u);
  EXPECT_EQ(ls_json[0]["state"], "ready");
  EXPECT_GT(ls_json[0]["memory_bytes"].get<uint64_t>(), 0u);

  auto logs = d.cli({"logs", "web", "-n", "50"});
  EXPECT_EQ(logs.code, 0);
  EXPECT_NE(logs.out.find("hello from web"), std::string::npos) << logs.out;
  EXPECT_NE(logs.out.find("a warning"), std::string::npos) << logs.out;

  auto status = json::parse(d.cli({"status", "web", "--json"}).out);
  EXPECT_EQ(status["name"], "web");
  EXPECT_EQ(d.cli({"stop", "web"}).code, 0);
  EXPECT_EQ(d.wait_state("web", "stopped")["pid"], nullptr);
}

TEST(Lifecycle, NameComesFromFlagThenManifestThenDirectory) {
  TestDaemon d;
  auto a = d.component("dir-a", "[run]\ncommand = " + fixture_command({"forever"}) + "\n");
  auto b = d.component(
      "dir-b", "name = \"from-manifest\"\n[run]\ncommand = " + fixture_command({"forever"}) + "\n");
  EXPECT_EQ(d.cli({"run", a.string()}).code, 0);
  EXPECT_EQ(d.cli({"run", b.string()}).code, 0);
  EXPECT_EQ(d.cli({"run", b.string(), "--name", "flagged"}).code, 0);
  for (auto n : {"dir-a", "from-manifest", "flagged"})
    EXPECT_EQ(d.api("GET", std::string("/v1/components/") + n).status, 200) << n;
}

TEST(Lifecycle, CliExitCodes) {
  TestDaemon d;
  EXPECT_EQ(d.cli({"frobnicate"}).code, 2);
  EXPECT_EQ(d.cli({"logs", "-n"}).code, 2);
  // With --json an error is JSON too, on stderr, with the API's code; stdout stays empty.
  auto json_err = d.cli({"status", "nosuch", "--json"});
  EXPECT_EQ(json_err.code, 1);
  EXPECT_TRUE(json_err.out.empty()) << json_err.out;
  auto err = json::parse(json_err.err, nullptr, false);
  ASSERT_TRUE(err.is_object()) << json_err.err;
  EXPECT_EQ(err["error"]["code"], "not_found");
  EXPECT_NE(d.cli({"status", "nosuch"}).err.find("berth: "), std::string::npos);
  auto minus = d.cli({"logs", "x", "-n", "-1"});
  EXPECT_EQ(minus.code, 2);
  EXPECT_NE(minus.err.find("must be a whole number of lines"), std::string::npos) << minus.err;
  EXPECT_LT(minus.err.size(), 200u) << minus.err;  // one short line, not a 300-digit range
  auto history = d.cli({"deployments", "nosuch"});
  EXPECT_EQ(history.code, 1);
  EXPECT_NE(history.err.find("no component named"), std::string::npos) << history.err;
  auto missing = d.cli({"status", "nope"});
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.err.find("no component named"), std::string::npos) << missing.err;
}

// A pm2 user's words: list, describe, reload, delete do what they say; monit and a typo point
// the way; status with no name lists.
TEST(Lifecycle, Pm2WordsWorkAndAMistypedCommandSaysWhatItMeant) {
  TestDaemon d;
  auto dir = d.component("app", "[run]\ncommand = " + fixture_command({"print:up", "forever"}) +
                                    "\n[ready]\nmarker = \"up\"\n");
  ASSERT_EQ(d.cli({"run", dir.string(), "--wait"}).code, 0);
  for (const char* word : {"list", "status"}) {
    auto r = d.cli({word});
    EXPECT_EQ(r.code, 0) << word << ": " << r.err;
    EXPECT_NE(r.out.find("NAME"), std::string::npos) << word << ": " << r.out;
    EXPECT_NE(r.out.find("app"), std::string::npos) << word << ": " << r.out;
  }
  auto describe = d.cli({"describe", "app"});
  EXPECT_NE(describe.out.find("state:"), std::string::npos) << describe.out;
  const pid_t before = d.api("GET", "/v1/components/app").body["pid"];
  ASSERT_EQ(d.cli({"reload", "app", "--wait"}).code, 0);
  EXPECT_NE(d.api("GET", "/v1/components/app").body["pid"], before);  // a new tree
  auto typo = d.cli({"deploi", dir.string()});
  EXPECT_EQ(typo.code, 2);
  EXPECT_NE(typo.err.find("did you mean \"deploy\""), std::string::npos) << typo.err;
  // pm2's monit is top here; without a terminal it prints the table once.
  auto monit = d.cli({"monit"});
  EXPECT_EQ(monit.code, 0) << monit.err;
  EXPECT_NE(monit.out.find("app"), std::string::npos) << monit.out;
  auto gone = d.cli({"delete", "app"});
  EXPECT_EQ(gone.code, 0) << gone.err;
  EXPECT_EQ(d.api("GET", "/v1/components/app").status, 410);
}

TEST(Lifecycle, AllStopsStartsAndRestartsEveryComponentOneLineEach) {
  TestDaemon d;
  for (const char* n : {"one", "two"}) {
    auto dir = d.component(n, "[run]\ncommand = " + fixture_command({"print:up", "forever"}) +
                                  "\n[ready]\nmarker = \"up\"\n");
    ASSERT_EQ(d.cli({"run", dir.string(), "--wait"}).code, 0);
  }
  auto stop = d.cli({"stop", "all"});
  EXPECT_EQ(stop.code, 0) << stop.err;
  EXPECT_EQ(stop.out, "one: stopped\ntwo: stopped\n");
  auto start = d.cli({"start", "all"});
  EXPECT_EQ(start.code, 0) << start.err;
  for (const char* n : {"one", "two"}) {
    EXPECT_NE(start.out.find(std::string(n) + ": "), std::string::npos) << start.out;
    d.wait_state(n, "ready");
  }
  std::map<std::string, pid_t> before;
  for (const char* n : {"one", "two"}) before[n] = d.wait_state(n, "ready")["pid"];
  EXPECT_EQ(d.cli({"restart", "all"}).code, 0);
  for (const char* n : {"one", "two"}) EXPECT_NE(d.wait_state(n, "ready")["pid"], before[n]) << n;
}

TEST(Lifecycle, LogsFollowStreamsNewLines) {
  TestDaemon d;
  auto dir =
      d.component("ticker", "[run]\ncommand = " + fixture_command({"print:up", "chatty:20"}) +
                                "\n[ready]\nmarker = \"up\"\n");
  ASSERT_EQ(d.api("POST", "/v1/components", json{{"dir", dir}}.dump()).status, 201);
  http::Client c("127.0.0.1", d.port(), d.token());
  std::vector<std::string> seen;
  auto r = c.follow("/v1/components/ticker/logs?n=0&follow=1", [&](const http::SseEvent& ev) {
    auto line = json::parse(ev.data);
    seen.push_back(line["text"]);
    return seen.size() < 5;
  });
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200);
  ASSERT_EQ(seen.size(), 5u);
  for (auto& s : seen)
    EXPECT_TRUE(s.starts_with("chatter ") || s.starts_with("[berth]") || s == "up") << s;
}

TEST(Lifecycle, OnFailureBacksOffThenCrashLoops) {
  TestDaemon d;
  auto dir = d.component(
      "crashy", "[run]\ncommand = " + fixture_command({"print:up", "exit:1"}) +
                    "\n[ready]\nmarker = \"up\"\n[restart]\nbackoff = \"10ms\"\nstart_limit = 3\n");
  ASSERT_EQ(d.api("POST", "/v1/components", json{{"dir", dir}}.dump()).status, 201);
  auto s = d.wait_for("crashy", [](const json& s) { return s["state"] == "crash-looping"; });
  EXPECT_EQ(s["restarts"], 2);
  // An explicit start clears the history and tries again.
  auto r = d.api("POST", "/v1/components/crashy/start");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(
      d.wait_for("crashy", [](const json& s) { return s["state"] == "crash-looping"; })["restarts"],
      4);
}

// A crash loop is not the end: after its cool-down it tries again from a clean history (a
// database that was away for a minute does not leave the app down until someone notices).
TEST(Lifecycle, ACrashLoopIsTriedAgainAfterItsCooldown) {
  TestDaemon d;
  auto dir = d.component(
      "flaky", "[run]\ncommand = " + fixture_command({"print:up", "exit:1"}) +
                   "\n[ready]\nmarker = \"up\"\n[restart]\nbackoff = \"10ms\"\nstart_limit = 2\n"
                   "cooldown = \"300ms\"\n");
  ASSERT_EQ(d.api("POST", "/v1/components", json{{"dir", dir}}.dump()).status, 201);
  auto looping = d.wait_for("flaky", [](const json& s) { return s["state"] == "crash-looping"; });
  EXPECT_EQ(looping["restarts"], 1);
  EXPECT_TRUE(looping.contains("restart_in_ms")) << looping.dump();  // the cool-down, counting
  // Tried again by itself: two more runs, ending in a second crash loop.
  d.wait_for("flaky", [](const json& s) {
    return s["state"] == "crash-looping" && s["restarts"].get<int>() >= 3;
  });
  auto logs = d.cli({"logs", "flaky", "-n", "50"});
  EXPECT_NE(logs.out.find("cool-down over: trying again"), std::string::npos) << logs.out;
}

TEST(Lifecycle, NeverPolicyLeavesAFailedComponentAlone) {
  TestDaemon d;
  auto dir = d.component("once", "[run]\ncommand = " + fixture_command({"print:up", "exit:2"}) +
                                     "\n[ready]\nmarker = \"up\"\n[restart]\npolicy = \"never\"\n");
  ASSERT_EQ(d.api("POST", "/v1/components", json{{"dir", dir}}.dump()).status, 201);
  auto s = d.wait_for("once", [](const json& s) { return s["state"] == "failed"; });
  EXPECT_EQ(s["restarts"], 0);
  EXPECT_EQ(s["last_exit"]["code"], 2);
}

TEST(Lifecycle, AlwaysPolicyRestartsCleanExits) {
  TestDaemon d;
  auto dir = d.component("loop", "[run]\ncommand = " + fixture_command({"print:up", "exit:0"}) +
                                     "\n[ready]\nmarker = \"up\"\n[restart]\npolicy = "
                                     "\"always\"\nbackoff = \"5ms\"\nstart_limit = 3\n");
  ASSERT_EQ(d.api("POST", "/v1/components", json{{"dir", dir}}.dump()).status, 201);
  // Quick clean exits are unstable runs: they back off and end in crash-looping too.
  EXPECT_EQ(
      d.wait_for("loop", [](const json& s) { return s["state"] == "crash-looping"; })["restarts"],
      2);
}

TEST(Lifecycle, RestartGivesANewTree) {
  TestDaemon d;
  auto dir = d.component("r", "[run]\ncommand = " + fixture_command({"print:up", "forever"}) +
                                  "\n[ready]\nmarker = \"up\"\n");
  ASSERT_EQ(d.api("POST", "/v1/components", json{{"dir", dir}}.dump()).status, 201);
  auto before = d.wait_state("r", "ready")["pid"];
  auto r = d.api("POST", "/v1/components/r/restart");
  ASSERT_EQ(r.status, 200);
  auto after = d.wait_state("r", "ready");
  EXPECT_NE(after["pid"], before);
  EXPECT_EQ(after["restarts"], 1);
}

TEST(Lifecycle, CommandThatCannotStartIsASpawnError) {
  TestDaemon d;
  auto dir = d.component("nocmd", "[run]\ncommand = [\"/nonexistent/program\"]\n");
  auto r = d.api("POST", "/v1/components", json{{"dir", dir}}.dump());
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(r.body["error"]["code"], "spawn_failed");
  EXPECT_NE(r.body["error"]["message"].get<std::string>().find("/nonexistent/program"),
            std::string::npos);
  EXPECT_EQ(d.api("GET", "/v1/components/nocmd").body["state"], "failed");
}

TEST(Lifecycle, StartDuringAStopWaitsForTheStopThenStarts) {
  TestDaemon d;
  auto dir = d.component(
      "slow", "[run]\ncommand = " + fixture_command({"ignore-term", "print:up", "forever"}) +
                  "\n[ready]\nmarker = \"up\"\n[stop]\ngrace = \"500ms\"\n");
  ASSERT_EQ(d.api("POST", "/v1/components", json{{"dir", dir}}.dump()).status, 201);
  auto first = d.wait_state("slow", "ready")["pid"];
  std::thread stopper([&] { d.api("POST", "/v1/components/slow/stop"); });
  d.wait_state("slow", "stopping");
  auto r = d.api("POST", "/v1/components/slow/start");
  stopper.join();
  EXPECT_EQ(r.status, 200);
  auto s = d.wait_state("slow", "ready");
  EXPECT_NE(s["pid"], first);
}

TEST(Lifecycle, LeasedAddressesAreDistinctAndReturnOnlyAfterDeath) {
  TestDaemon d(std::map<std::string, std::string>{{"BERTH_LEASE_RANGE", "127.0.0.50-127.0.0.51"}});
  auto make = [&](const std::string& n) {
    return d.component(n, "[run]\naddress = \"lease\"\ncommand = " +
                              fixture_command({"env:BERTH_HOST", "print:up", "forever"}) +
                              "\n[ready]\nmarker = \"up\"\n");
  };
  for (auto n : {"a", "b", "c"}) d.api("POST", "/v1/components", json{{"dir", make(n)}}.dump());
  auto a = d.wait_state("a", "ready"), b = d.wait_state("b", "ready");
  EXPECT_NE(a["address"], b["address"]);
  // The pool of two is exhausted: c cannot start.
  auto c = d.api("GET", "/v1/components/c").body;
  EXPECT_EQ(c["last_error"]["code"], "no_free_address");
  auto a_addr = a["address"].get<std::string>();
  auto logs = d.api("GET", "/v1/components/a/logs").body.dump();
  EXPECT_NE(logs.find("BERTH_HOST=" + a_addr), std::string::npos) << logs;
  // Stopping a returns its address; c can then take it.
  ASSERT_EQ(d.api("POST", "/v1/components/a/stop").status, 200);
  ASSERT_EQ(d.api("POST", "/v1/components/c/start").status, 200);
  EXPECT_EQ(d.wait_state("c", "ready")["address"], a_addr);
}

}  // namespace
}  // namespace berth::testing

namespace berth::testing {
namespace {

TEST(Logs, WithNoNameEveryComponentIsShownPrefixedInTimeOrder) {
  TestDaemon d;
  auto a = d.component(
      "alpha", "[run]\ncommand = " + fixture_command({"print:from alpha", "print:up", "forever"}) +
                   "\n[ready]\nmarker = \"up\"\n");
  auto b = d.component(
      "beta", "[run]\ncommand = " + fixture_command({"stderr:from beta", "print:up", "forever"}) +
                  "\n[ready]\nmarker = \"up\"\n");
  ASSERT_EQ(d.cli({"run", a.string(), "--wait"}).code, 0);
  ASSERT_EQ(d.cli({"run", b.string(), "--wait"}).code, 0);
  auto all = d.cli({"logs", "-n", "100"});
  ASSERT_EQ(all.code, 0) << all.err;
  auto at_a = all.out.find("alpha | from alpha"), at_b = all.out.find("beta  | from beta");
  ASSERT_NE(at_a, std::string::npos) << all.out;
  ASSERT_NE(at_b, std::string::npos) << all.out;
  EXPECT_LT(at_a, at_b) << all.out;                     // alpha ran first
  EXPECT_EQ(all.out.find("\x1b["), std::string::npos);  // no colour off a terminal
  auto js = d.cli({"logs", "--json"}).out;
  auto j = json::parse(js.substr(0, js.find('\n')));
  EXPECT_TRUE(j.contains("component")) << js;
}

TEST(Logs, TimesAndStreamsSurviveADaemonRestartAndWindowsFilter) {
  TestDaemon d;
  auto dir = d.component(
      "app", "[run]\ncommand = " + fixture_command({"stderr:an error", "print:up", "forever"}) +
                 "\n[ready]\nmarker = \"up\"\n");
  ASSERT_EQ(d.cli({"run", dir.string(), "--wait"}).code, 0);
  ASSERT_EQ(d.shutdown(), 0);
  d.start();
  d.wait_state("app", "ready");
  auto lines = d.api("GET", "/v1/components/app/logs?n=100").body["lines"];
  json err;
  for (auto& l : lines)
    if (l["text"] == "an error" && err.is_null()) err = l;  // the first run's line
  ASSERT_FALSE(err.is_null()) << lines.dump();
  EXPECT_EQ(err["stream"], "stderr");
  EXPECT_GT(err["ts"].get<int64_t>(), 0);
  int64_t ts = err["ts"];
  auto before = d.api("GET", "/v1/components/app/logs?n=100&until=" + std::to_string(ts - 1));
  for (auto& l : before.body["lines"]) EXPECT_LT(l["ts"].get<int64_t>(), ts);
  auto after = d.api("GET", "/v1/components/app/logs?n=100&since=" + std::to_string(ts));
  ASSERT_FALSE(after.body["lines"].empty());
  for (auto& l : after.body["lines"]) EXPECT_GE(l["ts"].get<int64_t>(), ts);
  EXPECT_EQ(d.api("GET", "/v1/components/app/logs?since=soon").status, 400);

  auto t = d.cli({"logs", "app", "-t", "--since", "1h"});
  ASSERT_EQ(t.code, 0) << t.err;
  EXPECT_NE(t.out.find(" an error"), std::string::npos) << t.out;
  EXPECT_EQ(t.out.find("- "), std::string::npos) << t.out;  // every line has its time
  EXPECT_EQ(d.cli({"logs", "app", "--since", "whenever"}).code, 2);
  auto none = d.cli({"logs", "app", "--until", "2000-01-01"});
  EXPECT_EQ(none.code, 0);
  EXPECT_TRUE(none.out.empty()) << none.out;
}

}  // namespace
}  // namespace berth::testing

namespace berth::testing {
namespace {

TEST(Lifecycle, LsShowsCpuAndStatusItsTotal) {
  TestDaemon d;
  auto dir = d.component("busy",
                         "[run]\ncommand = \"echo up; while :; do :; done\"\n"
                         "[ready]\nmarker = \"up\"\n");
  ASSERT_EQ(d.cli({"run", dir.string(), "--wait"}).code, 0);
  json s;
  ASSERT_TRUE(poll_until([&] {
    s = d.api("GET", "/v1/components/busy").body;
    return s.value("cpu_seconds", 0.0) > 0.1;
  })) << s.dump();
  EXPECT_GT(s.value("cpu_percent", 0.0), 0.0) << s.dump();
  auto ls = d.cli({"ls"});
  EXPECT_NE(ls.out.find("CPU"), std::string::npos) << ls.out;
  EXPECT_NE(ls.out.find("%"), std::string::npos) << ls.out;
}

TEST(Daemon, AStoppedDaemonLeavesNoCgroupBehind) {
  TestDaemon d;
  auto h = d.api("GET", "/healthz").body;
  if (h.value("isolation", "") != "cgroup") GTEST_SKIP() << "no cgroup v2 here";
  auto dir = d.component("app", "[run]\ncommand = " + fixture_command({"print:up", "forever"}) +
                                    "\n[ready]\nmarker = \"up\"\n");
  ASSERT_EQ(d.cli({"run", dir.string(), "--wait"}).code, 0);
  auto cg =
      std::filesystem::path(d.api("GET", "/v1/components/app").body["cgroup"].get<std::string>());
  ASSERT_TRUE(std::filesystem::exists(cg.parent_path()));
  ASSERT_EQ(d.shutdown(), 0);
  EXPECT_FALSE(std::filesystem::exists(cg.parent_path())) << cg.parent_path();
}

}  // namespace
}  // namespace berth::testing
