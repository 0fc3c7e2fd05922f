// Lesson 3: a process is gone only when its whole tree is gone. Each test runs with cgroup
// isolation ("auto") and with plain process groups ("off").
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include "harness.h"
#include "proc/port_check.h"

namespace berth::testing {
namespace {
namespace fs = std::filesystem;

class TreeTest : public ::testing::TestWithParam<std::string> {
 protected:
  // The cgroup case is skipped, with the daemon's reason, where cgroups cannot be used: it
  // would otherwise pass on process groups and prove nothing about cgroups.
  void SetUp() override {
    auto h = d.api("GET", "/healthz").body;
    if (GetParam() == "auto" && h.value("isolation", "") != "cgroup")
      GTEST_SKIP() << "no cgroup v2 here: " << h.value("isolation_reason", "");
  }
  TestDaemon d{std::map<std::string, std::string>{{"BERTH_CGROUP", GetParam()}}};
};

TEST_P(TreeTest, StopKillsGrandchildHoldingAPortAndFreesIt) {
  uint16_t port = free_port();
  auto pidfile = d.work() / "grandchild.pid";
  auto dir = d.component(
      "tree", "[run]\ncommand = " +
                  fixture_command({"pidfile:" + (d.work() / "child.pid").string(),
                                   "fork-listen:" + std::to_string(port) + ":" + pidfile.string(),
                                   "print:up", "forever"}) +
                  "\n[ready]\nmarker = \"up\"\n");
  ASSERT_EQ(d.api("POST", "/v1/components", json{{"dir", dir}}.dump()).status, 201);
  d.wait_state("tree", "ready");
  pid_t child = read_pidfile(d.work() / "child.pid");
  pid_t grandchild = read_pidfile(pidfile);
  ASSERT_TRUE(pid_alive(child));
  ASSERT_TRUE(pid_alive(grandchild));
  EXPECT_FALSE(port_is_free("127.0.0.1", port));

  auto r = d.api("POST", "/v1/components/tree/stop");
  ASSERT_EQ(r.status, 200) << r.body.dump();
  // The stop answers only after the whole tree is gone.
  EXPECT_EQ(r.body["state"], "stopped");
  EXPECT_FALSE(pid_alive(child));
  EXPECT_FALSE(pid_alive(grandchild));
  EXPECT_TRUE(port_is_free("127.0.0.1", port));
  EXPECT_EQ(r.body["processes"], 0);
}

TEST_P(TreeTest, ChildIgnoringTermIsKilledAfterGrace) {
  auto dir = d.component("stubborn",
                         "[run]\ncommand = " +
                             fixture_command({"ignore-term", "pidfile:" + (d.work() / "p").string(),
                                              "print:up", "forever"}) +
                             "\n[ready]\nmarker = \"up\"\n[stop]\ngrace = \"300ms\"\n");
  ASSERT_EQ(d.api("POST", "/v1/components", json{{"dir", dir}}.dump()).status, 201);
  d.wait_state("stubborn", "ready");
  pid_t pid = read_pidfile(d.work() / "p");
  auto r = d.api("POST", "/v1/components/stubborn/stop");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body["last_exit"]["signal"], "SIGKILL");
  EXPECT_FALSE(pid_alive(pid));
}

TEST_P(TreeTest, TreeMembersLeftByAnExitedLeaderAreStoppedBeforeRestart) {
  // The leader exits, a double-forked grandchild keeps running: the run is not over until the
  // grandchild is gone too, so a restart never finds the old port taken.
  uint16_t port = free_port();
  auto gpid = d.work() / "g.pid";
  auto dir = d.component(
      "leaky",
      "[run]\ncommand = " +
          fixture_command(
              {"fork-listen:" + std::to_string(port) + ":" + gpid.string(), "print:up", "exit:1"}) +
          "\n[ready]\nmarker = \"up\"\n[restart]\npolicy = \"never\"\n[stop]\ngrace = \"5s\"\n");
  ASSERT_EQ(d.api("POST", "/v1/components", json{{"dir", dir}}.dump()).status, 201);
  auto s = d.wait_for("leaky", [](const json& s) { return s["state"] == "failed"; });
  EXPECT_FALSE(pid_alive(read_pidfile(gpid)));
  EXPECT_TRUE(port_is_free("127.0.0.1", port));
  EXPECT_EQ(s["last_exit"]["code"], 1);
}

TEST_P(TreeTest, SigkilledDaemonLeavesNoOrphanAndComponentRunsOnce) {
  auto gpid = d.work() / "g.pid";
  uint16_t port = free_port();
  auto dir = d.component(
      "survivor", "[run]\ncommand = " +
                      fixture_command({"pidfile:" + (d.work() / "c.pid").string(),
                                       "fork-listen:" + std::to_string(port) + ":" + gpid.string(),
                                       "print:up", "forever"}) +
                      "\n[ready]\nmarker = \"up\"\n");
  ASSERT_EQ(d.api("POST", "/v1/components", json{{"dir", dir}}.dump()).status, 201);
  d.wait_state("survivor", "ready");
  pid_t child = read_pidfile(d.work() / "c.pid");
  pid_t grandchild = read_pidfile(gpid);
  std::filesystem::remove(gpid);
  std::filesystem::remove(d.work() / "c.pid");

  d.kill9();
  ASSERT_TRUE(pid_alive(child));  // nobody killed the tree yet
  d.start();
  // The new daemon killed the old tree before starting the component again: the new
  // grandchild could bind the same port only because the old one is gone.
  auto s = d.wait_state("survivor", "ready");
  EXPECT_FALSE(pid_alive(child));
  EXPECT_FALSE(pid_alive(grandchild));
  pid_t new_child = read_pidfile(d.work() / "c.pid");
  EXPECT_NE(new_child, child);
  EXPECT_EQ(s["pid"], new_child);
  EXPECT_EQ(s["processes"], 2);
}

TEST_P(TreeTest, DaemonShutdownStopsEveryTree) {
  std::vector<std::filesystem::path> pidfiles;
  for (int i = 0; i < 3; ++i) {
    auto pf = d.work() / ("p" + std::to_string(i));
    pidfiles.push_back(pf);
    auto dir = d.component(
        "c" + std::to_string(i),
        "[run]\ncommand = " + fixture_command({"pidfile:" + pf.string(), "print:up", "forever"}) +
            "\n[ready]\nmarker = \"up\"\n");
    ASSERT_EQ(d.api("POST", "/v1/components", json{{"dir", dir}}.dump()).status, 201);
  }
  std::vector<pid_t> pids;
  for (int i = 0; i < 3; ++i) {
    d.wait_state("c" + std::to_string(i), "ready");
    pids.push_back(read_pidfile(pidfiles[i]));
  }
  EXPECT_EQ(d.shutdown(), 0);
  for (pid_t p : pids) EXPECT_FALSE(pid_alive(p));
}

TEST_P(TreeTest, SigtermToTheDaemonStopsEveryTreeAndExits) {
  auto pf = d.work() / "p";
  auto dir = d.component(
      "t",
      "[run]\ncommand = " + fixture_command({"pidfile:" + pf.string(), "print:up", "forever"}) +
          "\n[ready]\nmarker = \"up\"\n");
  ASSERT_EQ(d.api("POST", "/v1/components", json{{"dir", dir}}.dump()).status, 201);
  d.wait_state("t", "ready");
  pid_t child = read_pidfile(pf);
  int status = d.terminate();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_FALSE(pid_alive(child));
  EXPECT_FALSE(std::filesystem::exists(d.home() / "daemon.json"));
}

// A grandchild that starts its own session escapes a process group but not a cgroup. Where it
// escapes, the stop still completes and the port check names the port it kept.
TEST_P(TreeTest, EscapedProcessIsCaughtByCgroupOrReportedByPortCheck) {
  uint16_t port = free_port();
  auto gpid = d.work() / "g.pid";
  auto dir = d.component(
      "escapee", "[run]\ncommand = " +
                     fixture_command({"escape-listen:" + std::to_string(port) + ":" + gpid.string(),
                                      "print:up", "forever"}) +
                     "\n[ready]\nmarker = \"up\"\nport = " + std::to_string(port) + "\n");
  ASSERT_EQ(d.api("POST", "/v1/components", json{{"dir", dir}}.dump()).status, 201);
  auto ready = d.wait_state("escapee", "ready");
  pid_t escaped = read_pidfile(gpid);
  auto r = d.api("POST", "/v1/components/escapee/stop");
  ASSERT_EQ(r.status, 200);
  if (ready["isolation"] == "cgroup") {
    EXPECT_FALSE(pid_alive(escaped));
    EXPECT_TRUE(r.body["warnings"].empty()) << r.body.dump();
  } else {
    EXPECT_TRUE(pid_alive(escaped));
    ASSERT_EQ(r.body["warnings"].size(), 1u) << r.body.dump();
    EXPECT_NE(r.body["warnings"][0].get<std::string>().find(std::to_string(port)),
              std::string::npos);
    ::kill(escaped, SIGKILL);
  }
}

// A member that moves itself out of the tree's cgroup (root may) is found by its process
// group and parentage, killed with the tree, and the stop says so.
TEST_P(TreeTest, AMemberThatLeavesTheCgroupIsStillStoppedAndReported) {
  if (GetParam() == "off") GTEST_SKIP() << "about cgroups";
  auto pidfile = d.work() / "out.pid";
  auto dir = d.component(
      "leaver", "[run]\ncommand = " +
                    fixture_command({"escape-cgroup:" + pidfile.string(), "print:up", "forever"}) +
                    "\n[ready]\nmarker = \"up\"\n");
  ASSERT_EQ(d.api("POST", "/v1/components", json{{"dir", dir}}.dump()).status, 201);
  auto ready = d.wait_state("leaver", "ready");
  if (fs::exists(pidfile.string() + ".failed"))
    GTEST_SKIP() << "this process may not move itself between cgroups";
  pid_t out = read_pidfile(pidfile);
  auto r = d.api("POST", "/v1/components/leaver/stop");
  ASSERT_EQ(r.status, 200);
  EXPECT_FALSE(pid_alive(out));
  ASSERT_EQ(r.body["warnings"].size(), 1u) << r.body.dump();
  EXPECT_NE(r.body["warnings"][0].get<std::string>().find("left the tree's cgroup"),
            std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Isolation, TreeTest, ::testing::Values("auto", "off"),
                         [](const auto& info) {
                           return info.param == "auto" ? "cgroup" : "pgroup";
                         });

}  // namespace
}  // namespace berth::testing
