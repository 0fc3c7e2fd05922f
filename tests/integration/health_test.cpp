// [health]: http, tcp and command checks repeated while a tree serves; `retries` failures in
// a row restart it (reason: unhealthy), and with [serve] a replacement must pass a check
// before it takes over, else the old tree goes on serving.
#include <gtest/gtest.h>

#include <fstream>

#include "harness.h"
#include "integration/load_client.h"

namespace berth::testing {
namespace {

class HealthTest : public ::testing::Test {
 protected:
  void run(const std::string& name, const std::string& toml) {
    auto dir = d.component(name, toml);
    auto r = d.cli({"run", dir.string(), "--wait"});
    ASSERT_EQ(r.code, 0) << r.out << r.err;
  }
  json health_is(const std::string& name, const std::string& state) {
    return d.wait_for(name, [&](const json& s) {
      return s["health"].is_object() && s["health"]["state"] == state;
    });
  }
  TestDaemon d;
  uint16_t port = free_port();
  std::filesystem::path sick = d.work() / "sick";
  std::string checks = "interval = \"100ms\"\ntimeout = \"2s\"\nretries = 3\n";
};

TEST_F(HealthTest, FailingHttpChecksRestartItAsUnhealthy) {
  run("web", "[run]\ncommand = " +
                 fixture_command({"http-health:" + std::to_string(port) + ":" + sick.string(),
                                  "print:up", "forever"}) +
                 "\n[ready]\nmarker = \"up\"\n[health]\nhttp = \"/healthz\"\nport = " +
                 std::to_string(port) + "\n" + checks);
  auto healthy = health_is("web", "healthy");
  EXPECT_EQ(healthy["health"]["kind"], "http");
  ASSERT_FALSE(healthy["health"]["last"].empty());
  EXPECT_EQ(healthy["health"]["last"].back()["ok"], true);
  const int pid = healthy["pid"].get<int>();
  std::ofstream(sick) << "1";
  auto restarted = d.wait_for("web", [&](const json& s) {
    return s["health"]["unhealthy_restarts"].get<int>() >= 1 && s["pid"].is_number() &&
           s["pid"] != pid;
  });
  EXPECT_GE(restarted["restarts"].get<int>(), 1);
  std::filesystem::remove(sick);
  auto again = health_is("web", "healthy");
  auto shown = d.cli({"status", "web"}).out;
  EXPECT_NE(shown.find("healthy (http check), "), std::string::npos) << shown;
  auto logs = d.cli({"logs", "web", "-n", "200"}).out;
  EXPECT_NE(logs.find("unhealthy: 3 checks in a row failed"), std::string::npos) << logs;
  EXPECT_NE(logs.find("answered 503"), std::string::npos) << logs;
}

TEST_F(HealthTest, TcpAndCommandChecks) {
  // Nothing listens on `port`: every tcp check fails, so it restarts.
  run("tcp", "[run]\ncommand = " + fixture_command({"print:up", "forever"}) +
                 "\n[ready]\nmarker = \"up\"\n[health]\ntcp = true\nport = " +
                 std::to_string(port) + "\n" + checks);
  d.wait_for("tcp", [](const json& s) { return s["health"]["unhealthy_restarts"] >= 1; });
  // The restart began a new run, whose results start afresh: the reason is in the log.
  auto tcp_logs = d.cli({"logs", "tcp", "-n", "200"}).out;
  EXPECT_NE(tcp_logs.find("unhealthy: 3 checks in a row failed, the last: tcp 127.0.0.1:"),
            std::string::npos)
      << tcp_logs;
  ASSERT_EQ(d.cli({"stop", "tcp"}).code, 0);
  run("cmd", "[run]\ncommand = " + fixture_command({"print:up", "forever"}) +
                 "\n[ready]\nmarker = \"up\"\n[health]\ncommand = \"test ! -e " + sick.string() +
                 "\"\n" + checks);
  health_is("cmd", "healthy");
  std::ofstream(sick) << "1";
  d.wait_for("cmd", [](const json& s) { return s["health"]["unhealthy_restarts"] >= 1; });
  auto logs = d.cli({"logs", "cmd", "-n", "200"}).out;
  EXPECT_NE(logs.find("command: exit code 1"), std::string::npos) << logs;
}

// The replacement answers its readiness marker but fails its health check: it never takes
// over (it is killed, the old tree is never told to stop), the restart says why, and no
// request failed. In socket mode the replacement accepts from the moment it listens, so some
// requests may have been its own.
TEST_F(HealthTest, AnUnhealthyReplacementNeverTakesOver) {
  const uint16_t serve = free_port();
  auto manifest = [&](const std::string& text, const std::filesystem::path& file) {
    return "[run]\naddress = \"lease\"\ncommand = " +
           fixture_command(
               {"http-health:" + std::to_string(port) + ":" + file.string(), "serve-fd:" + text}) +
           "\n[ready]\nmarker = \"serving\"\n[serve]\nport = " + std::to_string(serve) +
           "\n[health]\nhttp = \"/\"\nport = " + std::to_string(port) + "\n" + checks;
  };
  run("web", manifest("v1", d.work() / "absent"));
  health_is("web", "healthy");
  const int pid = d.api("GET", "/v1/components/web").body["pid"].get<int>();
  LoadClient load(serve);
  load.wait_for_more(20);
  std::ofstream(sick) << "1";
  d.component("web", manifest("v2", sick));
  auto r = d.cli({"restart", "web"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("keeps serving"), std::string::npos) << r.err;
  auto s = d.wait_for("web", [](const json& s) { return s["replacement_pid"].is_null(); });
  EXPECT_EQ(s["pid"], pid);
  EXPECT_EQ(s["last_error"]["code"], "unhealthy");
  // Every answer since the replacement ended is the old tree's.
  const uint64_t v2 = load.counts().bodies["v2"];
  load.wait_for_more(20);
  auto counts = load.stop();
  EXPECT_EQ(counts.bodies["v2"], v2);
  EXPECT_EQ(counts.failed + counts.refused, 0u);
}

}  // namespace
}  // namespace berth::testing
