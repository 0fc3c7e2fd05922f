// [serve]: the daemon holds the listening socket (socket mode: every instance inherits it as
// fd 3 with LISTEN_FDS/LISTEN_PID), and restarts overlap: the replacement starts beside the
// serving tree, which is told to stop only once the replacement is ready. Under a steady
// client load, restarts, watched changes, deploys, a failed deploy and a rollback lose no
// request and refuse no connection; a replacement that fails leaves the old one serving.
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "harness.h"
#include "integration/load_client.h"

namespace berth::testing {
namespace {

std::string serve_manifest(uint16_t port, const std::string& text, const std::string& extra = "") {
  return "[run]\ncommand = " + fixture_command({"serve-fd:" + text}) +
         "\n[ready]\nmarker = \"serving\"\n[serve]\nport = " + std::to_string(port) +
         "\n[deploy]\nhealthy_for = \"0s\"\n" + extra;
}

class ServeTest : public ::testing::Test {
 protected:
  // Runs it in place and waits until it is ready.
  void run(const std::string& name, const std::string& toml) {
    auto dir = d.component(name, toml);
    auto r = d.cli({"run", dir.string(), "--wait"});
    ASSERT_EQ(r.code, 0) << r.out << r.err;
  }
  // Until every tree it replaced has ended.
  json drained(const std::string& name) {
    return d.wait_for(name, [](const json& s) {
      return s["draining_pids"].empty() && s["replacement_pid"].is_null();
    });
  }
  TestDaemon d;
  uint16_t port = free_port();
};

TEST_F(ServeTest, TwentyRestartsUnderLoadLoseNoRequest) {
  run("web", serve_manifest(port, "v1"));
  auto s = d.api("GET", "/v1/components/web").body;
  EXPECT_EQ(s["serve"]["port"], port);
  EXPECT_EQ(s["serve"]["mode"], "socket");
  EXPECT_TRUE(s["serve"]["listening"].get<bool>());
  EXPECT_TRUE(std::any_of(s["env"].begin(), s["env"].end(), [&](const json& e) {
    return e["name"] == "PORT" && e["value"] == std::to_string(port);
  }));
  auto shown = d.cli({"status", "web"}).out;
  EXPECT_NE(shown.find("127.0.0.1:" + std::to_string(port) + " (socket mode, listening)"),
            std::string::npos)
      << shown;
  LoadClient load(port);
  load.wait_for_more(20);
  std::vector<int> pids{s["pid"].get<int>()};
  for (int i = 0; i < 20; ++i) {
    if (i == 19) d.component("web", serve_manifest(port, "v2"));
    auto r = d.cli({"restart", "web"});
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    auto now = d.api("GET", "/v1/components/web").body;
    EXPECT_EQ(now["state"], "ready");
    pids.push_back(now["pid"].get<int>());
    load.wait_for_more(5);
  }
  load.wait_for_body("v2");
  auto end = drained("web");
  auto counts = load.stop();
  expect_no_loss(counts);
  EXPECT_EQ(end["restarts"], 20);
  // Every restart was a new tree, and every tree it replaced is gone.
  EXPECT_EQ(std::set<int>(pids.begin(), pids.end()).size(), 21u);
  for (size_t i = 0; i + 1 < pids.size(); ++i) EXPECT_FALSE(pid_alive(pids[i])) << pids[i];
}

// The replacement boots for as long as the test holds its gate: meanwhile the old tree goes on
// answering, so a slow boot costs no request any latency either.
TEST_F(ServeTest, TheOldOneServesWhileTheReplacementBoots) {
  run("web", serve_manifest(port, "v1"));
  LoadClient load(port);
  load.wait_for_more(20);
  const auto gate = d.work() / "gate";
  d.component(
      "web", "[run]\ncommand = " + fixture_command({"wait-file:" + gate.string(), "serve-fd:v2"}) +
                 "\n[ready]\nmarker = \"serving\"\n[serve]\nport = " + std::to_string(port) + "\n");
  CmdResult restarted;
  std::thread restart([&] { restarted = d.cli({"restart", "web"}); });
  d.wait_for("web", [](const json& s) { return s["replacement_pid"].is_number(); });
  const uint64_t before = load.counts().bodies["v1"];
  EXPECT_TRUE(poll_until([&] { return load.counts().bodies["v1"] >= before + 20; }))
      << "the old tree stopped answering while its replacement booted";
  std::ofstream(gate) << "go\n";
  restart.join();
  EXPECT_EQ(restarted.code, 0) << restarted.err;
  load.wait_for_body("v2");
  expect_no_loss(load.stop());
}

TEST_F(ServeTest, AReplacementThatFailsLeavesTheOldOneServing) {
  run("web", serve_manifest(port, "v1"));
  const int pid = d.api("GET", "/v1/components/web").body["pid"].get<int>();
  LoadClient load(port);
  load.wait_for_more(20);
  d.component(
      "web", "[run]\ncommand = " + fixture_command({"print:booting", "exit:3"}) +
                 "\n[ready]\nmarker = \"serving\"\n[serve]\nport = " + std::to_string(port) + "\n");
  auto r = d.cli({"restart", "web"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("keeps serving"), std::string::npos) << r.err;
  load.wait_for_more(20);
  auto s = drained("web");
  EXPECT_EQ(s["state"], "ready");
  EXPECT_EQ(s["pid"], pid);
  EXPECT_EQ(s["last_error"]["code"], "exited_before_ready");
  auto counts = load.stop();
  expect_no_loss(counts);
  EXPECT_EQ(counts.bodies.size(), 1u);
}

TEST_F(ServeTest, AWatchedChangeRestartsWithoutLoss) {
  run("web", serve_manifest(port, "v1", "[watch]\nenabled = true\n"));
  LoadClient load(port);
  load.wait_for_more(20);
  std::ofstream(d.work() / "web" / "page.html") << "new\n";
  d.wait_for("web", [](const json& s) { return s["restarts"] == 1; });
  auto s = drained("web");
  load.wait_for_more(20);
  EXPECT_EQ(s["state"], "ready");
  expect_no_loss(load.stop());
}

TEST_F(ServeTest, DeploysAFailedDeployAndARollbackUnderLoadLoseNoRequest) {
  auto dir = d.component("site", serve_manifest(port, "v1"));
  auto first = d.cli({"deploy", dir.string(), "--name", "site"});
  ASSERT_EQ(first.code, 0) << first.out << first.err;
  LoadClient load(port);
  load.wait_for_more(20);
  for (const std::string v : {"v2", "v3", "v4"}) {
    d.component("site", serve_manifest(port, v));
    auto r = d.cli({"deploy", dir.string(), "--name", "site"});
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    load.wait_for_body(v);
  }
  // A release that never gets ready: rolled back, and v4 served throughout.
  d.component("site", "[run]\ncommand = " + fixture_command({"exit:1"}) +
                          "\n[ready]\nmarker = \"serving\"\n[serve]\nport = " +
                          std::to_string(port) + "\n");
  auto bad = d.cli({"deploy", dir.string(), "--name", "site"});
  EXPECT_NE(bad.code, 0) << bad.out;
  load.wait_for_more(20);
  auto back = d.cli({"rollback", "site"});
  ASSERT_EQ(back.code, 0) << back.out << back.err;
  load.wait_for_body("v3");
  drained("site");
  load.wait_for_more(20);
  auto counts = load.stop();
  expect_no_loss(counts);
  for (const std::string v : {"v1", "v2", "v3", "v4"}) EXPECT_TRUE(counts.bodies.contains(v)) << v;
}

TEST_F(ServeTest, StopClosesTheSocketAndStartBindsItAgain) {
  run("web", serve_manifest(port, "v1"));
  ASSERT_EQ(d.cli({"stop", "web"}).code, 0);
  auto s = d.api("GET", "/v1/components/web").body;
  EXPECT_FALSE(s["serve"]["listening"].get<bool>());
  // Nothing listens: a connection is refused rather than left waiting.
  LoadClient probe(port, 1);
  probe.wait_for_more(1);
  EXPECT_GT(probe.stop().refused, 0u);
  ASSERT_EQ(d.cli({"start", "web", "--wait"}).code, 0);
  LoadClient load(port, 1);
  load.wait_for_body("v1");
}

TEST_F(ServeTest, APortSomeoneElseHoldsIsRefusedWithPortInUse) {
  run("first", serve_manifest(port, "v1"));
  auto dir = d.component("second", serve_manifest(port, "v2"));
  auto r = d.api("POST", "/v1/components", json{{"dir", dir}}.dump());
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body["error"]["code"], "port_in_use") << r.body.dump();
  auto s = d.api("GET", "/v1/components/second").body;
  EXPECT_EQ(s["state"], "failed");
  EXPECT_FALSE(s["serve"]["listening"].get<bool>());
}

TEST_F(ServeTest, SignalReachesTheTree) {
  auto dir = d.component(
      "sig", "[run]\ncommand = " + fixture_command({"trap-hup", "print:up", "forever"}) +
                 "\n[ready]\nmarker = \"up\"\n");
  ASSERT_EQ(d.cli({"run", dir.string(), "--wait"}).code, 0);
  auto got = [&](size_t want) {
    return poll_until([&] {
      auto logs = d.cli({"logs", "sig"}).out;
      size_t n = 0;
      for (size_t at = logs.find("got SIGHUP"); at != std::string::npos;
           at = logs.find("got SIGHUP", at + 1))
        ++n;
      return n == want;
    });
  };
  auto r = d.cli({"signal", "sig", "HUP"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("sent HUP"), std::string::npos) << r.out;
  // Seen before the next is sent: two pending SIGHUPs would merge into one.
  ASSERT_TRUE(got(1));
  ASSERT_EQ(d.cli({"signal", "sig", "SIGHUP", "--leader"}).code, 0);
  ASSERT_TRUE(got(2));
  auto bad = d.cli({"signal", "sig", "NOPE", "--json"});
  EXPECT_NE(bad.code, 0);
  EXPECT_EQ(json::parse(bad.err)["error"]["code"], "bad_request") << bad.err;
  ASSERT_EQ(d.cli({"stop", "sig"}).code, 0);
  auto stopped = d.cli({"signal", "sig", "HUP", "--json"});
  EXPECT_EQ(json::parse(stopped.err)["error"]["code"], "not_running") << stopped.err;
}

// The examples a user copies: Node's server.listen({fd: 3}) and Python's
// socket.socket(fileno=3), and a plain Node server behind the proxy, each restarted five
// times under load.
class ServeExample : public ServeTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(ServeExample, RestartsUnderLoadLoseNoRequest) {
  const std::string example = GetParam();
  const std::string runtime = example == "serve-python" ? "python3" : "node";
  if (run_command({"/bin/sh", "-c", "command -v " + runtime}, {}).code != 0)
    GTEST_SKIP() << runtime << " is not installed";
  namespace fs = std::filesystem;
  const fs::path dir = d.work() / example;
  fs::copy(fs::path(BERTH_SOURCE_DIR) / "examples" / example, dir);
  std::string toml;
  {
    std::ifstream in(dir / "berth.toml");
    toml.assign(std::istreambuf_iterator<char>(in), {});
  }
  const auto at = toml.find("port = ");
  toml.replace(at, toml.find('\n', at) - at, "port = " + std::to_string(port));
  std::ofstream(dir / "berth.toml") << toml;
  auto r = d.cli({"run", dir.string(), "--wait"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  LoadClient load(port);
  load.wait_for_more(20);
  for (int i = 0; i < 5; ++i) {
    auto again = d.cli({"restart", example});
    ASSERT_EQ(again.code, 0) << again.err;
    load.wait_for_more(10);
  }
  drained(example);
  auto counts = load.stop();
  expect_no_loss(counts);
  EXPECT_GE(counts.bodies.size(), 2u);  // answers from more than one pid
}

INSTANTIATE_TEST_SUITE_P(Examples, ServeExample,
                         ::testing::Values("serve-node", "serve-python", "proxy-node"));

}  // namespace
}  // namespace berth::testing
