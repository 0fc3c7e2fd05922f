// Hot restart through the daemon: `berth run --watch` and [watch] in the manifest.
#include <gtest/gtest.h>

#include <fstream>

#include "harness.h"

namespace berth::testing {
namespace {

void write(const std::filesystem::path& p, const std::string& text = "x") {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

int restarts(const json& s) {
  return s.value("restarts", -1);
}

// Writes a sentinel once `name` has `n` restarts and is ready, then waits for the restart
// the sentinel causes: if any earlier burst had caused an extra restart, the restart after
// it would name that burst's path, not the sentinel.
json expect_next_restart_is(TestDaemon& d, const std::string& name, int n,
                            const std::filesystem::path& sentinel) {
  d.wait_for(name, [&](const json& s) { return restarts(s) == n && s["state"] == "ready"; });
  write(sentinel, "sentinel");
  auto s = d.wait_for(name,
                      [&](const json& s) { return restarts(s) >= n + 1 && s["state"] == "ready"; });
  EXPECT_EQ(restarts(s), n + 1);
  EXPECT_EQ(s["watch"]["last_change"]["path"], sentinel.filename().string()) << s.dump();
  return s;
}

TEST(Watch, BurstOf5000WritesRestartsExactlyOnce) {
  TestDaemon d;
  auto dir = d.component("hot", "[run]\ncommand = " + fixture_command({"print:up", "forever"}) +
                                    "\n[ready]\nmarker = \"up\"\n[watch]\nmax_wait = \"60s\"\n"
                                    // A burst ends after a quiet period: one long enough that
                                    // a loaded machine pausing the writer does not split it.
                                    "debounce = \"1s\"\n");
  auto run = d.cli({"run", dir.string(), "--watch", "--wait", "--json"});
  ASSERT_EQ(run.code, 0) << run.err;
  auto s = json::parse(run.out);
  EXPECT_EQ(s["watch"]["mode"], "inotify");
  EXPECT_EQ(s["watch"]["watches"], 1);
  for (int i = 0; i < 5000; ++i)
    write(dir / "src" / ("f" + std::to_string(i % 1000) + ".js"), std::to_string(i));
  auto after = d.wait_for("hot", [](const json& s) { return restarts(s) >= 1; });
  EXPECT_TRUE(after["watch"]["last_change"]["path"].get<std::string>().starts_with("src"))
      << after.dump();
  expect_next_restart_is(d, "hot", 1, dir / "sentinel.js");
  auto logs = d.api("GET", "/v1/components/hot/logs?n=200").body.dump();
  EXPECT_NE(logs.find("change in src"), std::string::npos) << "the restart log names a path";
}

TEST(Watch, ChangesDuringARestartCauseAtMostOneMore) {
  TestDaemon d;
  // SIGTERM ignored and a 3 s grace: the first restart stays in `stopping` long enough for
  // three separate bursts of changes to be debounced and handed over while it runs.
  auto dir = d.component(
      "slow", "[run]\ncommand = " + fixture_command({"ignore-term", "print:up", "forever"}) +
                  "\n[ready]\nmarker = \"up\"\n[stop]\ngrace = \"3s\"\n"
                  "[watch]\nenabled = true\ndebounce = \"20ms\"\n");
  ASSERT_EQ(d.api("POST", "/v1/components", json{{"dir", dir}}.dump()).status, 201);
  d.wait_state("slow", "ready");
  write(dir / "a.js");
  d.wait_state("slow", "stopping");
  for (int i = 0; i < 3; ++i) {
    std::string name = "during" + std::to_string(i) + ".js";
    write(dir / name);
    auto s = d.wait_for("slow", [&](const json& s) {
      return s["watch"].is_object() && s["watch"].contains("last_change") &&
             s["watch"]["last_change"]["path"] == name;
    });
    ASSERT_EQ(s["state"], "stopping")
        << "the first restart ended before the bursts: grace too short";
  }
  auto s =
      d.wait_for("slow", [](const json& s) { return restarts(s) >= 2 && s["state"] == "ready"; });
  EXPECT_EQ(restarts(s), 2);
  expect_next_restart_is(d, "slow", 2, dir / "sentinel.js");
}

TEST(Watch, StoppedComponentHoldsNoWatches) {
  TestDaemon d;
  auto dir = d.component("w", "[run]\ncommand = " + fixture_command({"print:up", "forever"}) +
                                  "\n[ready]\nmarker = \"up\"\n[watch]\nenabled = true\n");
  write(dir / "src/a/b.js");
  write(dir / "node_modules/x/index.js");
  ASSERT_EQ(d.api("POST", "/v1/components", json{{"dir", dir}}.dump()).status, 201);
  auto s = d.wait_state("w", "ready");
  EXPECT_EQ(s["watch"]["watches"], 3);  // root, src, src/a; node_modules has none
  http::Client anon("127.0.0.1", d.port(), "");
  EXPECT_EQ(json::parse(anon.request("GET", "/healthz")->body)["inotify_watches"], 3);
  auto stopped = d.api("POST", "/v1/components/w/stop").body;
  EXPECT_EQ(stopped["watch"], nullptr);
  EXPECT_EQ(json::parse(anon.request("GET", "/healthz")->body)["inotify_watches"], 0);
  write(dir / "src/a/b.js", "changed while stopped");
  // A later start watches again.
  ASSERT_EQ(d.api("POST", "/v1/components/w/start").status, 200);
  EXPECT_EQ(d.wait_state("w", "ready")["watch"]["watches"], 3);
}

TEST(Watch, StatusShowsModeWatchesAndLastChange) {
  TestDaemon d;
  auto dir = d.component("st", "[run]\ncommand = " + fixture_command({"print:up", "forever"}) +
                                   "\n[ready]\nmarker = \"up\"\n[watch]\nenabled = true\n");
  ASSERT_EQ(d.api("POST", "/v1/components", json{{"dir", dir}}.dump()).status, 201);
  d.wait_state("st", "ready");
  write(dir / "server.js", "v2");
  d.wait_for("st", [](const json& s) { return restarts(s) == 1 && s["state"] == "ready"; });
  auto out = d.cli({"status", "st"}).out;
  EXPECT_NE(out.find("inotify, 1 watches"), std::string::npos) << out;
  EXPECT_NE(out.find("server.js"), std::string::npos) << out;
}

}  // namespace
}  // namespace berth::testing
