// The install cache through the daemon: a second deploy with the same inputs links the cached
// install instead of running it, two daemons sharing one cache install once, use marks survive
// a daemon restart, and `berth cache ls|rm|prune` with their refusals.
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "harness.h"

namespace berth::testing {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A component whose install appends to RUNS and produces vendor/lib.txt from deps.txt; with
// `gate`, the install first waits for that file to exist.
fs::path cached_component(TestDaemon& d, const std::string& name, const fs::path& runs,
                          const std::string& gate = "") {
  std::string wait = gate.empty() ? "" : "while [ ! -e " + gate + " ]; do sleep 0.01; done; ";
  auto dir = d.component(
      name, "[run]\ncommand = " + fixture_command({"print:up", "forever"}) +
                "\n[ready]\nmarker = \"up\"\n[install]\ncommand = \"echo $$ >> " + runs.string() +
                "; " + wait + "mkdir -p vendor && cp deps.txt vendor/lib.txt\"\n" +
                "inputs = [\"deps.txt\"]\noutputs = [\"vendor\"]\n");
  std::ofstream(dir / "deps.txt") << "left-pad 1.3.0\n";
  return dir;
}

size_t lines_in(const fs::path& p) {
  std::ifstream in(p);
  size_t n = 0;
  for (std::string l; std::getline(in, l);) ++n;
  return n;
}

// Follows a deployment's events until one contains `text` (true) or the deployment ends.
bool saw_event(TestDaemon& d, const std::string& id, const std::string& text) {
  http::Client c("127.0.0.1", d.port(), d.token());
  bool seen = false;
  c.follow("/v1/deployments/" + id + "/events", [&](const http::SseEvent& ev) {
    seen = ev.data.find(text) != std::string::npos;
    return !seen;
  });
  return seen;
}

json install_of(TestDaemon& d, const std::string& id) {
  return d.api("GET", "/v1/deployments/" + id).body["install"];
}

TEST(Cache, ASecondDeployWithTheSameInputsLinksTheCachedInstall) {
  TestDaemon d;
  auto runs = d.work() / "runs";
  auto dir = cached_component(d, "app", runs);
  auto first = deploy_no_follow(d, dir, "app");
  EXPECT_EQ(wait_ended(d, first)["status"], "success");
  EXPECT_EQ(install_of(d, first)["cache"], "miss");
  std::ofstream(dir / "server.js") << "changed code, same dependencies\n";
  auto second = deploy_no_follow(d, dir, "app");
  EXPECT_EQ(wait_ended(d, second)["status"], "success");
  auto info = install_of(d, second);
  EXPECT_EQ(info["cache"], "hit");
  EXPECT_EQ(info["key"], install_of(d, first)["key"]);
  EXPECT_EQ(info["files"], 1);
  EXPECT_EQ(lines_in(runs), 1u);
  EXPECT_TRUE(fs::exists(d.home() / "components/app/vendor/lib.txt"));
  // A changed input is another key: it installs again.
  std::ofstream(dir / "deps.txt") << "left-pad 1.3.1\n";
  auto third = deploy_no_follow(d, dir, "app");
  EXPECT_EQ(wait_ended(d, third)["status"], "success");
  EXPECT_EQ(install_of(d, third)["cache"], "miss");
  EXPECT_EQ(lines_in(runs), 2u);
}

TEST(Cache, LeaseFileLocksServeTheSameProtocol) {
  TestDaemon d;
  std::ofstream(d.home() / "config.toml")
      << "[cache]\nlock = \"lease-file\"\nlease_heartbeat = \"100ms\"\nlease_stale = \"1s\"\n";
  d.terminate();
  d.start();
  auto runs = d.work() / "runs";
  auto dir = cached_component(d, "app", runs);
  std::vector<std::string> results;
  for (int i = 0; i < 2; ++i) {
    auto id = deploy_no_follow(d, dir, "app");
    EXPECT_EQ(wait_ended(d, id)["status"], "success");
    results.push_back(install_of(d, id)["cache"]);
  }
  EXPECT_EQ(results, (std::vector<std::string>{"miss", "hit"}));
  EXPECT_EQ(lines_in(runs), 1u);
  EXPECT_EQ(d.api("GET", "/v1/cache").body["lock"], "lease-file");
  // The lease is gone once the install is stored.
  for (auto& f : fs::directory_iterator(d.home() / "cache/.locks"))
    EXPECT_NE(f.path().extension(), ".lease") << f.path();
}

TEST(Cache, TwoDaemonsSharingACacheInstallOnce) {
  TempDir shared;
  TestDaemon a({{"BERTH_CACHE_DIR", shared.path.string()}});
  TestDaemon b({{"BERTH_CACHE_DIR", shared.path.string()}});
  auto runs = a.work() / "runs";
  auto gate = a.work() / "go";
  auto dir = cached_component(a, "app", runs, gate.string());
  auto on_a = deploy_no_follow(a, dir, "app");
  ASSERT_TRUE(poll_until([&] { return lines_in(runs) == 1; }));  // a holds the key's lock
  auto on_b = deploy_no_follow(b, dir, "app");
  // b says it waits for a; then a finishes and b links a's result.
  EXPECT_TRUE(saw_event(b, on_b, "waiting for another installer"));
  std::ofstream(gate) << "go";
  EXPECT_EQ(wait_ended(a, on_a)["status"], "success");
  EXPECT_EQ(wait_ended(b, on_b)["status"], "success");
  EXPECT_EQ(lines_in(runs), 1u);
  EXPECT_EQ(install_of(a, on_a)["cache"], "miss");
  auto info = install_of(b, on_b);
  EXPECT_EQ(info["cache"], "hit");
  EXPECT_EQ(info["waited"], true);
  EXPECT_TRUE(fs::exists(b.home() / "components/app/vendor/lib.txt"));
}

TEST(Cache, AFailedInstallStoresNothing) {
  TestDaemon d;
  auto dir = d.component("bad", "[run]\ncommand = " + fixture_command({"print:up", "forever"}) +
                                    "\n[install]\ncommand = \"mkdir vendor; exit 4\"\n"
                                    "inputs = [\"berth.toml\"]\noutputs = [\"vendor\"]\n");
  auto id = deploy_no_follow(d, dir, "bad");
  auto end = wait_ended(d, id);
  EXPECT_EQ(end["status"], "failed");
  EXPECT_EQ(end["error"]["code"], "install_failed");
  EXPECT_EQ(d.api("GET", "/v1/cache").body["entries"].size(), 0u);
  EXPECT_TRUE(fs::is_empty(d.home() / "cache/.partial"));
}

TEST(Cache, EntriesInUseSurviveARestartAndPruning) {
  TestDaemon d;
  auto dir = cached_component(d, "app", d.work() / "runs");
  auto id = deploy_no_follow(d, dir, "app");
  ASSERT_EQ(wait_ended(d, id)["status"], "success");
  const std::string key = install_of(d, id)["key"];
  d.terminate();
  d.start();
  auto listed = d.api("GET", "/v1/cache").body;
  ASSERT_EQ(listed["entries"].size(), 1u);
  EXPECT_EQ(listed["entries"][0]["in_use"], true);
  auto ls = d.cli({"cache", "ls"});
  EXPECT_EQ(ls.code, 0);
  EXPECT_NE(ls.out.find(key.substr(0, 12)), std::string::npos) << ls.out;
  // In use: prune keeps it, rm refuses it.
  auto pruned = d.cli({"cache", "prune", "--all", "--json"});
  ASSERT_EQ(pruned.code, 0) << pruned.err;
  EXPECT_EQ(json::parse(pruned.out)["kept_in_use"], json::array({key}));
  auto rm = d.api("DELETE", "/v1/cache/" + key.substr(0, 8));
  EXPECT_EQ(rm.status, 409);
  EXPECT_EQ(rm.body["error"]["code"], "cache_entry_in_use");
  // Once the component is destroyed nothing uses it, and prune removes it.
  ASSERT_EQ(d.cli({"rm", "app"}).code, 0);
  pruned = d.cli({"cache", "prune", "--all", "--json"});
  EXPECT_EQ(json::parse(pruned.out)["removed"], json::array({key}));
  EXPECT_FALSE(fs::exists(d.home() / "cache" / key));
}

TEST(Cache, CacheRoutesRefuseBadInput) {
  TestDaemon d;
  auto r = d.api("DELETE", "/v1/cache/abcdef012345");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body["error"]["code"], "cache_entry_not_found");
  r = d.api("DELETE", "/v1/cache/..");
  EXPECT_EQ(r.body["error"]["code"], "cache_entry_not_found");
  r = d.api("POST", "/v1/cache/prune", R"({"max_size": "lots"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body["error"]["code"], "bad_size");
  r = d.api("POST", "/v1/cache/prune", R"([1])");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body["error"]["code"], "bad_request");
  auto rm = d.cli({"cache", "rm", "abcdef012345"});
  EXPECT_EQ(rm.code, 1);
  EXPECT_NE(rm.err.find("cache_entry_not_found"), std::string::npos) << rm.err;
}

TEST(Cache, WithTheCacheOffInstallsRunAndTheRoutesSaySo) {
  TestDaemon d;
  std::ofstream(d.home() / "config.toml") << "[cache]\nenabled = false\n";
  d.terminate();
  d.start();
  auto runs = d.work() / "runs";
  auto dir = cached_component(d, "app", runs);
  for (int i = 0; i < 2; ++i) {
    auto id = deploy_no_follow(d, dir, "app");
    EXPECT_EQ(wait_ended(d, id)["status"], "success");
    EXPECT_TRUE(install_of(d, id).is_null());
  }
  EXPECT_EQ(lines_in(runs), 2u);
  auto r = d.api("GET", "/v1/cache");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body["error"]["code"], "cache_off");
}

}  // namespace
}  // namespace berth::testing
