// [serve] mode = "proxy": the app binds BERTH_HOST:PORT itself (its own leased loopback
// address) and berth relays each connection from the socket it holds to the instance serving
// now. Under a steady load, restarts, deploys, a failed deploy and a rollback lose no request
// and refuse no connection; a replaced instance is stopped only once it has taken every
// connection sent to it; a crashed one's connections wait for its restart instead of failing.
#include <gtest/gtest.h>

#include <csignal>

#include "harness.h"
#include "integration/load_client.h"

namespace berth::testing {
namespace {

std::string proxy_manifest(uint16_t port, const std::string& text, const std::string& extra = "") {
  return "[run]\ncommand = " + fixture_command({"serve-port:" + text}) +
         "\n[serve]\nmode = \"proxy\"\nport = " + std::to_string(port) +
         "\n[deploy]\nhealthy_for = \"0s\"\n" + extra;
}

std::string env_of(const json& s, const std::string& name) {
  for (const auto& e : s["env"])
    if (e["name"] == name) return e["value"];
  return "";
}

class ProxyTest : public ::testing::Test {
 protected:
  void run(const std::string& name, const std::string& toml) {
    auto dir = d.component(name, toml);
    auto r = d.cli({"run", dir.string(), "--wait"});
    ASSERT_EQ(r.code, 0) << r.out << r.err;
  }
  json drained(const std::string& name) {
    return d.wait_for(name, [](const json& s) {
      return s["draining_pids"].empty() && s["replacement_pid"].is_null();
    });
  }
  TestDaemon d;
  uint16_t port = free_port();
};

TEST_F(ProxyTest, TwentyRestartsUnderLoadLoseNoRequest) {
  run("web", proxy_manifest(port, "v1"));
  auto s = d.api("GET", "/v1/components/web").body;
  EXPECT_EQ(s["serve"]["mode"], "proxy");
  EXPECT_TRUE(s["serve"]["listening"].get<bool>());
  // The instance listens on its own leased address, on PORT; berth relays to it.
  const std::string host = env_of(s, "BERTH_HOST");
  EXPECT_NE(host, "127.0.0.1");
  EXPECT_EQ(env_of(s, "PORT"), std::to_string(port));
  EXPECT_EQ(s["serve"]["proxy"]["backends"], json::array({host + ":" + std::to_string(port)}))
      << s.dump();
  auto shown = d.cli({"status", "web"}).out;
  EXPECT_NE(shown.find("(proxy mode, listening)"), std::string::npos) << shown;
  EXPECT_NE(shown.find("to " + host + ":" + std::to_string(port) + ", "), std::string::npos)
      << shown;

  LoadClient load(port);
  load.wait_for_more(20);
  std::vector<int> pids{s["pid"].get<int>()};
  std::set<std::string> hosts{host};
  for (int i = 0; i < 20; ++i) {
    if (i == 19) d.component("web", proxy_manifest(port, "v2"));
    auto r = d.cli({"restart", "web"});
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    auto now = d.api("GET", "/v1/components/web").body;
    EXPECT_EQ(now["state"], "ready");
    pids.push_back(now["pid"].get<int>());
    hosts.insert(env_of(now, "BERTH_HOST"));
    load.wait_for_more(5);
  }
  load.wait_for_body("v2");
  auto end = drained("web");
  auto counts = load.stop();
  expect_no_loss(counts);
  EXPECT_EQ(end["restarts"], 20);
  EXPECT_GE(hosts.size(), 2u);  // the old and the new instance overlap on two addresses
  EXPECT_EQ(std::set<int>(pids.begin(), pids.end()).size(), 21u);
  for (size_t i = 0; i + 1 < pids.size(); ++i) EXPECT_FALSE(pid_alive(pids[i])) << pids[i];
  const auto proxy = d.api("GET", "/v1/components/web").body["serve"]["proxy"];
  EXPECT_GE(proxy["accepted"].get<uint64_t>(), counts.ok);
  EXPECT_EQ(proxy["dropped"], 0);
}

// An app closing its listener on SIGTERM drops what waits in its backlog. With answers that
// take 50 ms and four clients, connections always wait there: the replaced instance must be
// told to stop only once it has taken every connection the proxy sent it.
TEST_F(ProxyTest, AReplacedInstanceStopsOnlyOnceItTookItsConnections) {
  auto slow = [&](const std::string& text) {
    return "[run]\ncommand = " + fixture_command({"work:50", "serve-port:" + text}) +
           "\n[serve]\nmode = \"proxy\"\nport = " + std::to_string(port) + "\n";
  };
  run("web", slow("v1"));
  LoadClient load(port, 4);
  load.wait_for_more(8);
  for (int i = 0; i < 5; ++i) {
    auto r = d.cli({"restart", "web"});
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    load.wait_for_more(8);
  }
  drained("web");
  expect_no_loss(load.stop());
}

TEST_F(ProxyTest, AReplacementThatFailsLeavesTheOldOneServing) {
  run("web", proxy_manifest(port, "v1"));
  const int pid = d.api("GET", "/v1/components/web").body["pid"].get<int>();
  LoadClient load(port);
  load.wait_for_more(20);
  d.component("web", "[run]\ncommand = " + fixture_command({"print:booting", "exit:3"}) +
                         "\n[serve]\nmode = \"proxy\"\nport = " + std::to_string(port) + "\n");
  auto r = d.cli({"restart", "web"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("keeps serving"), std::string::npos) << r.err;
  load.wait_for_more(20);
  auto s = drained("web");
  EXPECT_EQ(s["state"], "ready");
  EXPECT_EQ(s["pid"], pid);
  auto counts = load.stop();
  expect_no_loss(counts);
  EXPECT_EQ(counts.bodies.size(), 1u);
}

TEST_F(ProxyTest, DeploysAFailedDeployAndARollbackUnderLoadLoseNoRequest) {
  auto dir = d.component("site", proxy_manifest(port, "v1"));
  auto first = d.cli({"deploy", dir.string(), "--name", "site"});
  ASSERT_EQ(first.code, 0) << first.out << first.err;
  LoadClient load(port);
  load.wait_for_more(20);
  for (const std::string v : {"v2", "v3", "v4"}) {
    d.component("site", proxy_manifest(port, v));
    auto r = d.cli({"deploy", dir.string(), "--name", "site"});
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    load.wait_for_body(v);
  }
  d.component("site", "[run]\ncommand = " + fixture_command({"exit:1"}) +
                          "\n[serve]\nmode = \"proxy\"\nport = " + std::to_string(port) + "\n");
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

// An answer larger than the relay's buffer switches it to splicing: it arrives whole.
TEST_F(ProxyTest, ALargeAnswerArrivesWhole) {
  std::string big;
  for (int i = 0; big.size() < 100'000; ++i) big += std::to_string(i) + ",";
  run("web", proxy_manifest(port, big));
  LoadClient load(port, 2);
  load.wait_for_more(50);
  auto counts = load.stop();
  expect_no_loss(counts);
  EXPECT_EQ(counts.bodies[big], counts.ok);
}

// A crash is not a restart berth chose: requests in flight on the dead instance fail, but
// connections that arrive while it is restarted wait for it instead of being refused.
TEST_F(ProxyTest, ConnectionsWaitForACrashedInstanceToComeBack) {
  run("web", proxy_manifest(port, "v1", "[restart]\nbackoff = \"300ms\"\n"));
  const int pid = d.api("GET", "/v1/components/web").body["pid"].get<int>();
  LoadClient load(port);
  load.wait_for_more(20);
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  d.wait_for("web", [&](const json& s) {
    return s["state"] == "ready" && s["pid"].is_number() && s["pid"] != pid;
  });
  load.wait_for_more(20);
  auto counts = load.stop();
  EXPECT_EQ(counts.refused, 0u);
  EXPECT_GT(counts.ok, 0u);
  auto s = d.api("GET", "/v1/components/web").body;
  EXPECT_EQ(s["serve"]["proxy"]["dropped"], 0);
}

// Stopped, nothing listens: a connection is refused rather than left waiting; started again,
// the proxy is back on the same port.
TEST_F(ProxyTest, StopClosesTheSocketAndTheProxy) {
  run("web", proxy_manifest(port, "v1"));
  ASSERT_EQ(d.cli({"stop", "web"}).code, 0);
  auto s = d.api("GET", "/v1/components/web").body;
  EXPECT_FALSE(s["serve"]["listening"].get<bool>());
  EXPECT_TRUE(s["serve"]["proxy"].is_null());
  LoadClient probe(port, 1);
  probe.wait_for_more(1);
  EXPECT_GT(probe.stop().refused, 0u);
  ASSERT_EQ(d.cli({"start", "web", "--wait"}).code, 0);
  LoadClient load(port, 1);
  load.wait_for_body("v1");
}

// [serve] taken out of berth.toml: the next start lets the port go (nobody would accept on it).
TEST_F(ProxyTest, AManifestWithoutServeLetsThePortGo) {
  run("web", proxy_manifest(port, "v1"));
  d.component("web", "[run]\ncommand = " + fixture_command({"print:up", "forever"}) +
                         "\n[ready]\nmarker = \"up\"\n");
  auto r = d.cli({"restart", "web"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(d.api("GET", "/v1/components/web").body["serve"].is_null());
  LoadClient probe(port, 1);
  probe.wait_for_more(1);
  EXPECT_GT(probe.stop().refused, 0u);
}

}  // namespace
}  // namespace berth::testing
