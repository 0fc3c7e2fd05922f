// Readiness: marker (split across writes), port, notify, settle; idle timeout, max cap and
// exit before ready are startup failures that kill the tree and say why.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/unique_fd.h"
#include "harness.h"

namespace berth::testing {
namespace {

class ReadyTest : public ::testing::Test {
 protected:
  json run(const std::string& name, const std::vector<std::string>& actions,
           const std::string& extra) {
    auto dir = d.component(name, "[run]\ncommand = " + fixture_command(actions) + "\n" + extra);
    auto r = d.api("POST", "/v1/components", json{{"dir", dir}}.dump());
    EXPECT_EQ(r.status, 201) << r.body.dump();
    return r.body;
  }
  TestDaemon d;
};

TEST_F(ReadyTest, MarkerWrittenInTwoHalvesCounts) {
  run("split", {"write:listen", "sleep:150", "write:ing on 80\n", "forever"},
      "[ready]\nmarker = \"listening\"\n");
  auto s = d.wait_for("split", [](const json& s) { return s["state"] != "starting"; });
  EXPECT_EQ(s["state"], "ready");
}

TEST_F(ReadyTest, MarkerRegexMatchesALine) {
  run("rx", {"print:boot", "print:server on port 4000", "forever"},
      "[ready]\nmarker_regex = \"on port [0-9]+\"\n");
  EXPECT_EQ(d.wait_for("rx", [](const json& s) { return s["state"] != "starting"; })["state"],
            "ready");
}

// Under std::regex the first overflowed the daemon's stack and the second pinned its loop for
// minutes; RE2 answers both at once. The daemon goes on serving, and a later line that does
// match still makes the component ready.
TEST_F(ReadyTest, PathologicalMarkerRegexesNeitherCrashNorStall) {
  run("deep", {"repeat:8192:ab", "print:", "forever"},
      "[ready]\nmarker_regex = \"(a|b)*c\"\nidle_timeout = \"300ms\"\n[restart]\npolicy = "
      "\"never\"\n");
  run("nested", {"repeat:34:a", "print:!", "sleep:100", "print:aaaa", "forever"},
      "[ready]\nmarker_regex = \"^(a+)+$\"\n");
  auto deep = d.wait_for("deep", [](const json& s) { return s["state"] != "starting"; });
  EXPECT_EQ(deep["state"], "failed");
  EXPECT_EQ(deep["last_error"]["code"], "startup_idle_timeout");
  auto nested = d.wait_for("nested", [](const json& s) { return s["state"] != "starting"; });
  EXPECT_EQ(nested["state"], "ready");
  EXPECT_EQ(d.api("GET", "/healthz").status, 200);
}

TEST_F(ReadyTest, AMarkerRegexRe2CannotRunIsABadManifest) {
  auto dir = d.component("backref",
                         "[run]\ncommand = \"true\"\n[ready]\nmarker_regex = "
                         "'(a)\\1'\n");
  auto r = d.api("POST", "/v1/components", json{{"dir", dir}}.dump());
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body["error"]["code"], "bad_manifest");
}

TEST_F(ReadyTest, SilentHangFailsWithIdleTimeout) {
  run("silent", {"pidfile:" + (d.work() / "p").string(), "forever"},
      "[ready]\nmarker = \"never\"\nidle_timeout = \"300ms\"\n[restart]\npolicy = \"never\"\n");
  auto s = d.wait_for("silent", [](const json& s) { return s["state"] == "failed"; });
  EXPECT_EQ(s["last_error"]["code"], "startup_idle_timeout");
  EXPECT_FALSE(pid_alive(read_pidfile(d.work() / "p")));
}

TEST_F(ReadyTest, ChattyNeverReadyHitsTheMaxCap) {
  // Output keeps resetting the idle timer; only the absolute cap can end this.
  run("chatty", {"pidfile:" + (d.work() / "p").string(), "chatty:20"},
      "[ready]\nmarker = \"never\"\nidle_timeout = \"5s\"\nmax = \"600ms\"\n[restart]\npolicy = "
      "\"never\"\n");
  auto s = d.wait_for("chatty", [](const json& s) { return s["state"] == "failed"; });
  EXPECT_EQ(s["last_error"]["code"], "startup_max_exceeded");
  EXPECT_FALSE(s["last_error"]["tail"].empty());
  EXPECT_FALSE(pid_alive(read_pidfile(d.work() / "p")));
}

TEST_F(ReadyTest, ExitBeforeReadyReportsStatusAndLastLines) {
  run("quitter", {"print:loading config", "stderr:config missing", "exit:3"},
      "[ready]\nmarker = \"up\"\n[restart]\npolicy = \"never\"\n");
  auto s = d.wait_for("quitter", [](const json& s) { return s["state"] == "failed"; });
  EXPECT_EQ(s["last_error"]["code"], "exited_before_ready");
  EXPECT_NE(s["last_error"]["message"].get<std::string>().find("exit code 3"), std::string::npos);
  auto tail = s["last_error"]["tail"].dump();
  EXPECT_NE(tail.find("config missing"), std::string::npos) << tail;
  EXPECT_EQ(s["last_exit"]["code"], 3);
}

// Node prints its version last: the summary quotes the `Error:` line, with the last beside it,
// in the status and in the deployment record.
TEST_F(ReadyTest, ANodeRequireFailureIsSummarisedByItsErrorLine) {
  if (run_command({"/bin/sh", "-c", "command -v node"}, {{"PATH", std::getenv("PATH")}}).code != 0)
    GTEST_SKIP() << "node is not installed";
  auto dir = d.component("noder",
                         "[run]\ncommand = \"node -e \\\"require('nosuch-berth-module')\\\"\"\n"
                         "[ready]\nmarker = \"up\"\n[restart]\npolicy = \"never\"\n");
  auto r = d.cli({"deploy", dir.string(), "--name", "noder"});
  EXPECT_NE(r.code, 0);
  const std::string want = "Error: Cannot find module 'nosuch-berth-module'";
  EXPECT_NE((r.out + r.err).find(want), std::string::npos) << r.out << r.err;
  auto list = d.api("GET", "/v1/deployments?component=noder").body;
  const std::string recorded = list["deployments"][0]["error"]["message"];
  EXPECT_NE(recorded.find(want), std::string::npos) << recorded;
  EXPECT_NE(recorded.find("(last output: Node.js"), std::string::npos) << recorded;
  auto s = d.api("GET", "/v1/components/noder").body;
  EXPECT_NE(s["last_error"]["message"].get<std::string>().find(want), std::string::npos)
      << s.dump();
}

TEST_F(ReadyTest, PortAcceptingConnectionsMeansReady) {
  uint16_t port = free_port();
  run("porty", {"sleep:100", "listen:" + std::to_string(port), "forever"},
      "[ready]\nport = " + std::to_string(port) + "\nidle_timeout = \"30s\"\n");
  EXPECT_EQ(d.wait_for("porty", [](const json& s) { return s["state"] != "starting"; })["state"],
            "ready");
}

// An outsider (this test) listening on `port` at every address, as a stray dev server would.
UniqueFd outsider_on(uint16_t port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
      ::listen(fd.get(), 16) != 0)
    return UniqueFd();
  return fd;
}

// [ready] port is the app's own: a port someone else holds at start is port_in_use at once,
// naming the holder, and the app is never called ready on the outsider's say-so.
TEST_F(ReadyTest, APortHeldByAnotherProcessAtStartIsPortInUseNamingIt) {
  const uint16_t port = free_port();
  auto held = outsider_on(port);
  ASSERT_TRUE(held) << "cannot listen on port " << port;
  auto dir = d.component(
      "taken",
      "[run]\ncommand = " + fixture_command({"listen:" + std::to_string(port), "forever"}) +
          "\n[ready]\nport = " + std::to_string(port) + "\n");
  auto r = d.cli({"run", dir.string(), "--wait"});
  EXPECT_NE(r.code, 0);
  const auto said = r.out + r.err;
  EXPECT_NE(said.find("port_in_use"), std::string::npos) << said;
  EXPECT_NE(said.find("pid " + std::to_string(::getpid())), std::string::npos) << said;
  auto s = d.api("GET", "/v1/components/taken").body;
  EXPECT_EQ(s["state"], "failed") << s.dump();
  EXPECT_EQ(s["last_error"]["code"], "port_in_use") << s.dump();
}

// The port is free at start and an outsider takes it before the app binds: connections now
// succeed, but to the outsider, so the app stays starting until its idle timeout fails it
// (without the check it would be ready at the outsider's first accept).
TEST_F(ReadyTest, APortTakenByAnOutsiderAfterStartNeverMakesTheAppReady) {
  const uint16_t port = free_port();
  run("late", {"print:booting", "forever"},
      "[ready]\nport = " + std::to_string(port) +
          "\nidle_timeout = \"3s\"\n[restart]\npolicy = \"never\"\n");
  d.wait_state("late", "starting");
  auto held = outsider_on(port);
  ASSERT_TRUE(held) << "cannot listen on port " << port;
  auto s = d.wait_for("late", [](const json& s) { return s["state"] != "starting"; });
  EXPECT_EQ(s["state"], "failed") << s.dump();
  EXPECT_EQ(s["last_error"]["code"], "startup_idle_timeout") << s.dump();
}

TEST_F(ReadyTest, NotifySocketReadyMeansReady) {
  run("notifier", {"sleep:50", "notify", "forever"},
      "[ready]\nnotify = true\nidle_timeout = \"30s\"\n");
  EXPECT_EQ(d.wait_for("notifier", [](const json& s) { return s["state"] != "starting"; })["state"],
            "ready");
}

TEST_F(ReadyTest, WithoutConditionsQuietOutputSettlesToReady) {
  run("plain", {"print:hello", "forever"}, "[ready]\nsettle = \"100ms\"\n");
  EXPECT_EQ(d.wait_for("plain", [](const json& s) { return s["state"] != "starting"; })["state"],
            "ready");
}

}  // namespace
}  // namespace berth::testing
