// The daemon as a whole: auth on every route, one daemon per home, crash recovery that never
// touches a process that merely reuses a recorded PID, request limits.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "core/fs_util.h"
#include "harness.h"
#include "proc/proc_stat.h"
#include "store/db.h"
#include "store/tree_repo.h"

namespace berth::testing {
namespace {

TEST(Daemon, EveryRouteButHealthzNeedsTheToken) {
  TestDaemon d;
  const std::vector<std::pair<std::string, std::string>> routes = {
      {"GET", "/v1/components"},         {"POST", "/v1/components"},
      {"GET", "/v1/components/x"},       {"POST", "/v1/components/x/start"},
      {"POST", "/v1/components/x/stop"}, {"POST", "/v1/components/x/restart"},
      {"GET", "/v1/components/x/logs"},  {"POST", "/v1/shutdown"},
      {"GET", "/v1/no-such-route"},
  };
  for (const std::string& token : {std::string(), std::string("wrong")}) {
    http::Client c("127.0.0.1", d.port(), token);
    for (auto& [method, path] : routes) {
      auto r = c.request(method, path, "{}");
      ASSERT_TRUE(r) << r.error().message;
      EXPECT_EQ(r->status, 401) << method << " " << path;
      auto j = json::parse(r->body);
      EXPECT_EQ(j["error"]["code"], "unauthorized") << method << " " << path;
    }
  }
  http::Client anon("127.0.0.1", d.port(), "");
  auto h = anon.request("GET", "/healthz");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  auto hj = json::parse(h->body);
  EXPECT_TRUE(hj["isolation"] == "cgroup" || hj["isolation"] == "process-group");
  // The daemon is still running after all that.
  EXPECT_TRUE(pid_alive(d.pid()));
}

TEST(Daemon, TokenFileIsPrivate) {
  TestDaemon d;
  struct stat st {};
  ASSERT_EQ(::stat((d.home() / "token").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  EXPECT_EQ(d.token().size(), 64u);
}

TEST(Daemon, SecondDaemonOnTheSameHomeRefuses) {
  TestDaemon d;
  auto r = run_command({BERTH_BIN, "daemon"}, d.env());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("already runs with home"), std::string::npos) << r.err;
  EXPECT_TRUE(pid_alive(d.pid()));
  EXPECT_EQ(d.api("GET", "/v1/components").status, 200);
}

// A daemon that holds its home but does not answer (stopped here) is waited for by the CLI,
// never joined by a second daemon started beside it.
TEST(Daemon, ACliDoesNotStartASecondDaemonBesideOneThatDoesNotAnswer) {
  TestDaemon d;
  ASSERT_EQ(::kill(d.pid(), SIGSTOP), 0);
  auto r = d.cli({"ls"});
  ASSERT_EQ(::kill(d.pid(), SIGCONT), 0);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("holds " + d.home().string() + " but did not answer"), std::string::npos)
      << r.err;
  EXPECT_EQ(read_file(d.home() / "daemon.log").value_or("").find("already runs with home"),
            std::string::npos);
  EXPECT_EQ(d.api("GET", "/v1/components").status, 200);
}

TEST(Daemon, HomeLockIsReleasedWhenTheHolderDies) {
  TestDaemon d;
  d.kill9();
  d.start();  // would fail if the dead daemon's lock were still held
  EXPECT_EQ(d.api("GET", "/v1/components").status, 200);
}

TEST(Daemon, BadManifestErrorNamesFileAndKey) {
  TestDaemon d;
  auto dir =
      d.component("bad", "[run]\ncommand = \"true\"\n[ready]\nidle_timeout = \"ten seconds\"\n");
  auto r = d.api("POST", "/v1/components", json{{"dir", dir}}.dump());
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body["error"]["code"], "bad_manifest");
  auto msg = r.body["error"]["message"].get<std::string>();
  EXPECT_NE(msg.find("berth.toml"), std::string::npos) << msg;
  EXPECT_NE(msg.find("ready.idle_timeout"), std::string::npos) << msg;
  // Nothing was registered.
  EXPECT_EQ(d.api("GET", "/v1/components").body["components"].size(), 0u);
}

TEST(Daemon, UnknownComponentIsNotFound) {
  TestDaemon d;
  auto r = d.api("POST", "/v1/components/ghost/start");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body["error"]["code"], "not_found");
}

TEST(Daemon, OversizedBodyIsRefusedWith413) {
  TestDaemon d;
  std::string big(2 * 1024 * 1024, 'x');
  auto r = d.api("POST", "/v1/components", big);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.body["error"]["code"], "payload_too_large");
}

// A tree row whose PID now names an unrelated process (different start time) must not lead the
// next daemon to kill that process; a row with the right identity must.
TEST(Daemon, RecoveryKillsByIdentityNeverByPidAlone) {
  TestDaemon d(std::map<std::string, std::string>{{"BERTH_CGROUP", "off"}});
  EXPECT_EQ(d.shutdown(), 0);

  auto spawn_sleeper = [] {
    pid_t p = ::fork();
    if (p == 0) {
      ::setsid();
      ::execl("/bin/sleep", "sleep", "300", nullptr);
      ::_exit(127);
    }
    return p;
  };
  pid_t stranger = spawn_sleeper();
  pid_t ours = spawn_sleeper();
  // Wait until both have exec'd and lead their own sessions.
  for (pid_t p : {stranger, ours})
    while (!(read_proc_stat(p) && read_proc_stat(p)->session == p)) ::usleep(1000);
  {
    auto db = Db::open(d.home() / "berth.db");
    ASSERT_TRUE(db);
    TreeRepo trees(**db);
    auto st_stranger = read_proc_stat(stranger);
    auto st_ours = read_proc_stat(ours);
    ASSERT_TRUE(
        trees.put({"reused", 0, stranger, st_stranger->start_time + 1, stranger, std::nullopt}));
    ASSERT_TRUE(trees.put({"leftover", 0, ours, st_ours->start_time, ours, std::nullopt}));
  }
  d.start();
  EXPECT_TRUE(pid_alive(stranger)) << "a process that reused a recorded PID was killed";
  int status = 0;
  ASSERT_EQ(::waitpid(ours, &status, 0), ours);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  ::kill(stranger, SIGKILL);
  ::waitpid(stranger, &status, 0);
}

TEST(Daemon, AutostartsOnFirstCommand) {
  TempDir home;
  std::map<std::string, std::string> env = {{"BERTH_HOME", home.path.string()},
                                            {"BERTH_PORT", "0"}};
  auto r = run_command({BERTH_BIN, "ls", "--json"}, env);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out), (json{{"components", json::array()}}));
  auto s = run_command({BERTH_BIN, "shutdown"}, env);
  EXPECT_EQ(s.code, 0) << s.err;
  EXPECT_FALSE(std::filesystem::exists(home.path / "daemon.json"));
}

}  // namespace
}  // namespace berth::testing
