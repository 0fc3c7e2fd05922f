// Zero configuration through a real daemon: a directory without berth.toml runs what its
// Procfile, package.json or entry file says; `berth run FILE` and `berth run -- COMMAND` work
// like `pm2 start`, and what they asked for is kept across daemon restarts.
#include <gtest/gtest.h>

#include <fstream>

#include "harness.h"

namespace berth::testing {
namespace {
namespace fs = std::filesystem;

std::string fixture(const std::string& actions) {
  return std::string(FIXTURE_BIN) + " " + actions;
}

bool logged(TestDaemon& d, const std::string& name, const std::string& text) {
  return poll_until([&] {
    auto r = d.api("GET", "/v1/components/" + name + "/logs?n=100");
    return r.status == 200 && r.body.dump().find(text) != std::string::npos;
  });
}

TEST(ZeroConfig, AProcfileRunsEachProcessTypeAsNameType) {
  TestDaemon d;
  auto dir = d.work() / "shop";
  fs::create_directories(dir);
  std::ofstream(dir / "Procfile") << "worker: " << fixture("print:working forever") << "\n"
                                  << "web: " << fixture("print:serving forever") << "\n";
  auto r = d.cli({"run", dir.string()});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("shop-web"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("from Procfile web"), std::string::npos) << r.err;
  EXPECT_TRUE(logged(d, "shop-web", "serving"));
  EXPECT_TRUE(logged(d, "shop-worker", "working"));
  auto web = d.api("GET", "/v1/components/shop-web").body;
  EXPECT_EQ(web["inferred"], "Procfile web");

  // The Procfile is read again at every start, like berth.toml.
  std::ofstream(dir / "Procfile") << "worker: " << fixture("print:changed forever") << "\n"
                                  << "web: " << fixture("print:serving forever") << "\n";
  ASSERT_EQ(d.cli({"restart", "shop-worker"}).code, 0);
  EXPECT_TRUE(logged(d, "shop-worker", "changed"));
}

TEST(ZeroConfig, PackageJsonMainRunsWithNodeAndDeploysToo) {
  if (std::system("node --version >/dev/null 2>&1") != 0) GTEST_SKIP() << "node is not installed";
  TestDaemon d;
  auto dir = d.work() / "api";
  fs::create_directories(dir);
  std::ofstream(dir / "package.json") << R"({"name": "api", "main": "lib/start.js"})";
  fs::create_directories(dir / "lib");
  std::ofstream(dir / "lib" / "start.js")
      << "console.log('api up', process.env.BERTH_COMPONENT); setInterval(() => {}, 1000);\n";
  auto r = d.cli({"run", dir.string()});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.err.find("runs `node lib/start.js` (from package.json main"), std::string::npos)
      << r.err;
  EXPECT_TRUE(logged(d, "api", "api up api"));

  // A deploy infers the same way from the release (and installs nothing: no lockfile).
  ASSERT_EQ(d.cli({"rm", "api"}).code, 0);
  auto id = deploy_no_follow(d, dir, "api");
  auto end = wait_ended(d, id);
  EXPECT_EQ(end["status"], "success") << end.dump();
  EXPECT_TRUE(logged(d, "api", "api up api"));
}

TEST(ZeroConfig, RunACommandOrAScriptAndKeepItAcrossADaemonRestart) {
  TestDaemon d;
  auto r = run_command(
      {BERTH_BIN, "run", "--name", "ticker", "--", FIXTURE_BIN, "print:tick", "forever"}, d.env());
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(logged(d, "ticker", "tick"));

  auto script = d.work() / "job.sh";
  std::ofstream(script) << "echo job ran in $(pwd)\nexec sleep 600\n";
  auto s = d.cli({"run", script.string()});
  ASSERT_EQ(s.code, 0) << s.out << s.err;
  EXPECT_TRUE(logged(d, "job", "job ran in " + d.work().string()));

  ASSERT_EQ(d.shutdown(), 0);
  d.start();
  EXPECT_TRUE(logged(d, "ticker", "tick"));
  auto t = d.wait_state("ticker", "ready");
  EXPECT_EQ(t["command"][0], FIXTURE_BIN);
  EXPECT_EQ(t["inferred"], "the command given to berth run");
}

TEST(ZeroConfig, BerthInitWritesWhatWouldBeInferred) {
  TestDaemon d;
  auto dir = d.work() / "svc";
  fs::create_directories(dir);
  std::ofstream(dir / "Procfile") << "web: " << fixture("print:from-init forever") << "\n";
  auto init = d.cli({"init", dir.string()});
  ASSERT_EQ(init.code, 0) << init.err;
  ASSERT_TRUE(fs::exists(dir / "berth.toml"));
  EXPECT_NE(d.cli({"init", dir.string()}).code, 0);  // never overwrites
  ASSERT_EQ(d.cli({"run", dir.string()}).code, 0);
  EXPECT_TRUE(logged(d, "svc", "from-init"));  // named by berth.toml, not svc-web
  EXPECT_TRUE(d.api("GET", "/v1/components/svc").body["inferred"].is_null());
}

}  // namespace
}  // namespace berth::testing
